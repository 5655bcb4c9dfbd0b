// The compiled form of a rule (internal to rule.cc and rule_eval.cc): a tree of nodes,
// each saying how the column evaluator decides its part of the rule over a block of
// rows. docs/SEGMENTATION.md, "Evaluation", describes the planner.
#ifndef CENTRIC_SERVICES_SEGMENTATION_RULE_PROGRAM_H_
#define CENTRIC_SERVICES_SEGMENTATION_RULE_PROGRAM_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "libs/cel/cel.h"
#include "services/segmentation/rule.h"
#include "services/segmentation/table.h"

namespace centric::segmentation {

// A numeric expression over fixed columns of one row, evaluated 64 rows at a time
// (column kernels): literals, int, double, enum and score columns, double(),
// negation and + - * / % with CEL's types and errors.
struct KernelExpr {
  enum class Kind { kInt, kDouble, kColumn, kToDouble, kNegate, kArithmetic };
  Kind kind = Kind::kInt;
  bool is_double = false;  // the expression's type: double, else int
  int64_t int_value = 0;
  double double_value = 0;
  Field field = Field::kKind;
  cel::Op op = cel::Op::kNone;
  std::vector<KernelExpr> args;
};

struct Rule::Node {
  enum class Kind {
    kAnd,
    kOr,
    kNot,
    kTernary,   // children: condition, then, else
    kCompare,   // `column op constant` (mirrored when written the other way round)
    kColumn,    // an expression reading one column: decided once per distinct value
    kKernel,    // `a op b` over numeric expressions of fixed columns (KernelExpr)
    kInvariant, // reads no column: evaluated once
    kFallback,  // anything else: the interpreter, row by row
  };
  Kind kind = Kind::kFallback;
  std::vector<std::shared_ptr<const Node>> children;
  std::string column;
  cel::Op op = cel::Op::kEqual;
  const cel::Expr* constant = nullptr;
  const cel::Expr* expr = nullptr;
  // A constant built when compiling (see TimeDifference in rule.cc), owned here.
  std::unique_ptr<cel::Expr> owned_constant;
  // kKernel: the two sides of the comparison.
  std::vector<KernelExpr> kernel;
};

namespace rule_internal {

// For tests: makes every column kernel answer `<` where `<=` was asked, so the
// equivalence tests can show they catch a wrong kernel.
void BreakKernelsForTesting(bool broken);

}  // namespace rule_internal
}  // namespace centric::segmentation

#endif  // CENTRIC_SERVICES_SEGMENTATION_RULE_PROGRAM_H_
