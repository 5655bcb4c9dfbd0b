// Evaluates a parsed CEL expression against an activation (variable name ->
// value).
#ifndef CENTRIC_LIBS_CEL_EVAL_H_
#define CENTRIC_LIBS_CEL_EVAL_H_

#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "libs/cel/ast.h"
#include "libs/cel/value.h"

namespace centric::cel {

// The variables an expression may read. Names may be qualified ("a.b.c"): a
// selection chain resolves to the longest bound prefix, as CEL's name
// resolution requires.
class Activation {
 public:
  void Bind(std::string name, Value value) { vars_[std::move(name)] = std::move(value); }
  const Value* Find(absl::string_view name) const {
    auto it = vars_.find(name);
    return it == vars_.end() ? nullptr : &it->second;
  }

 private:
  absl::flat_hash_map<std::string, Value> vars_;
};

// Bounds on one evaluation, so a short rule cannot run for minutes or exhaust memory
// (nested macros multiply: l.map(a, l.map(b, ...)) costs size^depth).
struct EvalLimits {
  // Every evaluated node costs 1 plus the size of the value it produces (elements of a
  // list or map, bytes / 64 of a string or bytes). Past this, evaluation stops with a
  // RESOURCE_EXHAUSTED error value.
  int64_t max_cost = 1000000;
};

// Evaluates `expr`. Evaluation errors (division by zero, integer overflow, no
// such key, no matching overload, unknown variable or function, out-of-range
// conversions) come back as an error Value rather than a crash, so callers see
// them like any other result.
Value Evaluate(const Expr& expr, const Activation& activation, const EvalLimits& limits = {});

// Evaluate, with an error Value turned into its status (INVALID_ARGUMENT
// mostly).
absl::StatusOr<Value> EvaluateOrStatus(const Expr& expr, const Activation& activation,
                                       const EvalLimits& limits = {});

}  // namespace centric::cel

#endif  // CENTRIC_LIBS_CEL_EVAL_H_
