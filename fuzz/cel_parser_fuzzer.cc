// libFuzzer target for the CEL parser, checker and evaluator (libs/cel). Built only with
// -DCENTRIC_FUZZ=ON and Clang; docs/HARDENING.md has the build and run lines.
//
// Every input is parsed; an input that parses is evaluated against a small activation and
// its result rendered, then checked against declarations of the same variables and, when
// the checker accepts it, evaluated again. Invariants, beyond never crashing, hanging or
// leaking:
//   - a parse or check error of UTF-8 source is INVALID_ARGUMENT with a UTF-8 message
//     (it is shown to callers as a field violation);
//   - the checker is sound: a value of the type it computed, or an error; and checking
//     (which only rewrites has() on declared objects, of which there are none here)
//     does not change the result.
//
// Bounds: the evaluator has no step or memory budget, and nested comprehensions
// multiply (`l.map(a, l.map(b, l.map(c, ...)))` over an n-element list costs n^depth),
// so a rule of a few hundred bytes can take minutes or exhaust memory (input size alone
// does not bound it). To keep every run fast the target
//   - ignores inputs longer than kMaxInput (4 KiB, the segment rule limit; pass
//     -max_len=4096 too), and
//   - evaluates only when the expression's comprehension count fits the input size
//     (see EvaluationIsBounded), which keeps the worst case around 10^7 steps.
// Parsing itself is always exercised on the whole input.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "fuzz/fuzz_support.h"
#include "libs/cel/cel.h"
#include "libs/cel/checker.h"

namespace {

using ::centric::cel::Activation;
using ::centric::cel::Declarations;
using ::centric::cel::Expr;
using ::centric::cel::Type;
using ::centric::cel::Value;
using TK = ::centric::cel::Type::Kind;

constexpr size_t kMaxInput = 4096;

const Activation& FuzzActivation() {
  static const Activation* activation = [] {
    auto* a = new Activation();
    a->Bind("x", Value::Int(42));
    a->Bind("y", Value::Int(-7));
    a->Bind("u", Value::Uint(7));
    a->Bind("f", Value::Double(2.5));
    a->Bind("s", Value::String("hello"));
    a->Bind("name", Value::String("Zoë Müller"));
    a->Bind("b", Value::BytesOf(std::string("\x00\xff", 2)));
    a->Bind("l", Value::List({Value::Int(1), Value::Int(2), Value::Int(3), Value::String("x")}));
    Value m;
    (void)centric::cel::BuildMap({{Value::String("a"), Value::Int(1)},
                                  {Value::String("b"), Value::String("two")},
                                  {Value::Int(3), Value::Bool(true)},
                                  {Value::String("l"), Value::List({Value::Double(0.5)})}},
                                 &m);
    a->Bind("m", m);
    a->Bind("profile.traits.country", Value::String("DE"));
    a->Bind("profile.aggregates.revenue_total", Value::Double(612.5));
    a->Bind("rfm.r", Value::Int(4));
    a->Bind("now", Value::Timestamp(absl::FromUnixSeconds(1700000000)));
    a->Bind("last_purchase_at", Value::Timestamp(absl::FromUnixSeconds(1700000000 - 86400 * 3)));
    a->Bind("d", Value::Duration(absl::Hours(720)));
    return a;
  }();
  return *activation;
}

// The variables of FuzzActivation with their types; the dotted ones stay undeclared, so
// rules reading them are refused by the checker and only evaluated unchecked.
const Declarations& FuzzDeclarations() {
  static const Declarations* declarations = [] {
    auto* d = new Declarations();
    for (const char* name : {"x", "y"}) d->AddVariable(name, Type::Of(TK::kInt));
    d->AddVariable("u", Type::Of(TK::kUint));
    d->AddVariable("f", Type::Of(TK::kDouble));
    for (const char* name : {"s", "name"}) d->AddVariable(name, Type::Of(TK::kString));
    d->AddVariable("b", Type::Of(TK::kBytes));
    d->AddVariable("l", Type::List(Type::Dyn(), 4));
    d->AddVariable("m", Type::Map(Type::Dyn(), Type::Dyn(), 4));
    for (const char* name : {"now", "last_purchase_at"}) {
      d->AddVariable(name, Type::Of(TK::kTimestamp));
    }
    d->AddVariable("d", Type::Of(TK::kDuration));
    return d;
  }();
  return *declarations;
}

int CountComprehensions(const Expr& e) {
  int n = e.kind == Expr::Kind::kComprehension ? 1 : 0;
  if (e.target) n += CountComprehensions(*e.target);
  for (const auto& arg : e.args) n += CountComprehensions(*arg);
  return n;
}

// Comprehension cost is roughly (range size)^nesting * body size, and ranges and
// bodies share the input's bytes, so: any input with at most one comprehension,
// up to two in 1 KiB, up to three in 256 bytes.
bool EvaluationIsBounded(const Expr& expr, size_t size) {
  int n = CountComprehensions(expr);
  return n <= 1 || (n <= 2 && size <= 1024) || (n <= 3 && size <= 256);
}

// Whether `value` can be the result of an expression of static type `type`.
bool HasType(const Value& value, TK type) {
  if (value.is_error() || type == TK::kDyn) return true;
  switch (value.kind()) {
    case Value::Kind::kNull: return type == TK::kNull;
    case Value::Kind::kBool: return type == TK::kBool;
    case Value::Kind::kInt: return type == TK::kInt;
    case Value::Kind::kUint: return type == TK::kUint;
    case Value::Kind::kDouble: return type == TK::kDouble;
    case Value::Kind::kString: return type == TK::kString;
    case Value::Kind::kBytes: return type == TK::kBytes;
    case Value::Kind::kList: return type == TK::kList;
    case Value::Kind::kMap: return type == TK::kMap || type == TK::kObject;
    case Value::Kind::kTimestamp: return type == TK::kTimestamp;
    case Value::Kind::kDuration: return type == TK::kDuration;
    case Value::Kind::kType: return type == TK::kType;
    case Value::Kind::kError: return true;
  }
  return false;
}

void CheckError(const absl::Status& status, bool utf8_source) {
  CENTRIC_FUZZ_CHECK(status.code() == absl::StatusCode::kInvalidArgument, status.ToString());
  if (utf8_source) {
    CENTRIC_FUZZ_CHECK(centric::fuzz::IsValidUtf8(status.message()),
                       "error message is not UTF-8: ", status.message());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > kMaxInput) return -1;  // -1: not added to the corpus
  absl::string_view source(reinterpret_cast<const char*>(data), size);
  bool utf8_source = centric::fuzz::IsValidUtf8(source);
  auto ast = centric::cel::Parse(source);
  if (!ast.ok()) {
    CheckError(ast.status(), utf8_source);
    return 0;
  }
  bool bounded = EvaluationIsBounded(**ast, size);
  Value unchecked;
  if (bounded) {
    unchecked = centric::cel::Evaluate(**ast, FuzzActivation());
    (void)unchecked.DebugString();
    (void)unchecked.TypeNameOf();
  }
  auto checked = centric::cel::Check(**ast, FuzzDeclarations());
  if (!checked.ok()) {
    CheckError(checked.status(), utf8_source);
    return 0;
  }
  if (!bounded) return 0;
  Value result = centric::cel::Evaluate(**ast, FuzzActivation());
  CENTRIC_FUZZ_CHECK(HasType(result, checked->type->kind), "checked as ",
                     checked->type->Name(), ", evaluates to ", result.TypeNameOf(), " ",
                     result.DebugString());
  CENTRIC_FUZZ_CHECK(result.DebugString() == unchecked.DebugString(),
                     "checking changed the result from ", unchecked.DebugString(), " to ",
                     result.DebugString());
  return 0;
}
