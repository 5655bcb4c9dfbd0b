// Parses CEL source text into an AST (ast.h).
#ifndef CENTRIC_LIBS_CEL_PARSER_H_
#define CENTRIC_LIBS_CEL_PARSER_H_

#include <memory>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "libs/cel/ast.h"

namespace centric::cel {

// Longest accepted source, in bytes, and deepest accepted nesting of
// sub-expressions (parentheses, operands of one operator chain, calls, ...).
// Both keep parsing and the recursive evaluator within a bounded stack whatever
// the input.
inline constexpr size_t kMaxSourceBytes = 100 * 1024;
inline constexpr int kMaxNesting = 250;

// Returns the AST of `source`, or INVALID_ARGUMENT with a message of the form
// "<line>:<column>: expected <what> but found <token>" (line and column
// 1-based, columns counted in code points). Macros (has, all, exists,
// exists_one, map, filter) are expanded here, so a malformed macro call is a
// parse error.
absl::StatusOr<std::unique_ptr<Expr>> Parse(absl::string_view source);

}  // namespace centric::cel

#endif  // CENTRIC_LIBS_CEL_PARSER_H_
