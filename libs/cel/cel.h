// centric_cel: the subset of the Common Expression Language (github.com/google/cel-spec)
// in which segment, persona and follow-up rules are written, e.g.
//
//   profile.traits.country == "DE" && profile.aggregates.revenue_total > 500.0
//   && rfm.r >= 4 && now - profile.last_purchase_at < duration("720h")
//
// Usage: Parse() the source once (parser.h), then Evaluate() the AST against an
// Activation holding the variables (eval.h). docs/CEL.md is the user-facing summary.
//
// Supported:
// - Syntax: the full CEL operator grammar with CEL precedence (?: || && relations + - * /
//   % ! unary -), `in`, member selection (also a.`quoted-name`), indexing, global and
//   receiver calls, list and map literals, all CEL literal forms (int, hex, uint, double,
//   string and bytes with raw, triple-quoted and escape forms, true/false/null), comments.
// - Values: null, bool, int (int64; overflow is an error), uint, double, string, bytes,
//   list, map (bool/int/uint/string keys), google.protobuf.Timestamp and Duration, types.
// - Semantics: error-absorbing && and ||; heterogeneous numeric equality and ordering
//   (1 == 1u == 1.0); + on strings, bytes, lists, timestamps and durations; has() on
//   maps; the macros all, exists, exists_one, filter, map (2 and 3 arguments); size,
//   startsWith, endsWith, contains, matches (RE2); conversions int, uint, double, string,
//   bytes, bool, type, dyn, timestamp, duration; timestamp and duration accessors
//   (getFullYear, ..., with an optional time zone); qualified variable names ("a.b.c").
//
// Unsupported (the conformance test skips cases that need these, by the rules given):
// - Protocol buffer messages: message construction `T{...}`, the conformance message types
//   (TestAllTypes, NestedTestAllTypes), google.protobuf.* wrapper, Any, Struct, Value and
//   ListValue types, proto enums. Rule: the expression names a message type or a
//   google.protobuf type other than Timestamp/Duration, or an input or expected value is
//   an object_value or enum_value.
// - Containers (namespace-relative name resolution). Rule: the case sets `container`.
// - Static type checking against declarations: evaluation is dynamic, so type errors
//   surface as error values at evaluation time. (Issue 3 adds a checker against the
//   profile schema.)
// - Optional values (`.?`, `[?`, optional.of) and functions outside the list above (the
//   string, math and encoder extension libraries). Rule: the expression uses `.?`, `[?`
//   or `optional.`, or evaluation reports "unbound function" where a value was expected.
// - Durations beyond the int64-nanosecond range (about ±292 years) are range errors.
//
// Limits: source at most 100 KiB; nesting at most 250 levels.
#ifndef CENTRIC_LIBS_CEL_CEL_H_
#define CENTRIC_LIBS_CEL_CEL_H_

#include "libs/cel/ast.h"     // IWYU pragma: export
#include "libs/cel/eval.h"    // IWYU pragma: export
#include "libs/cel/parser.h"  // IWYU pragma: export
#include "libs/cel/value.h"   // IWYU pragma: export

#endif  // CENTRIC_LIBS_CEL_CEL_H_
