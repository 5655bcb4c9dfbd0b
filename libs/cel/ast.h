// The abstract syntax tree produced by the CEL parser (parser.h) and walked by
// the evaluator (eval.h).
#ifndef CENTRIC_LIBS_CEL_AST_H_
#define CENTRIC_LIBS_CEL_AST_H_

#include <memory>
#include <string>
#include <vector>

#include "libs/cel/value.h"

namespace centric::cel {

// Operators and macros get their own tag so the evaluator switches instead of
// comparing function names; kNone marks an ordinary function call.
enum class Op {
  kNone,
  kConditional,  // args: condition, then, else
  kOr,
  kAnd,
  kNot,
  kNegate,
  kEqual,
  kNotEqual,
  kLess,
  kLessEqual,
  kGreater,
  kGreaterEqual,
  kIn,
  kAdd,
  kSubtract,
  kMultiply,
  kDivide,
  kModulo,
  kIndex,  // args: operand, index
};

// Comprehension macros over lists (elements) and maps (keys).
enum class Macro { kAll, kExists, kExistsOne, kMap, kFilter };

struct Expr {
  enum class Kind {
    kLiteral,        // literal
    kIdent,          // name
    kSelect,         // args[0].name; has(args[0].name) when test_only
    kCall,           // op, or name(args...) / target.name(args...)
    kList,           // [args...]
    kMap,            // {args[0]: args[1], args[2]: args[3], ...}
    kComprehension,  // target.macro(iter_var, args...) (see below)
  };

  Kind kind = Kind::kLiteral;
  // 1-based position of the expression's first (or operator) character, in code
  // points.
  int line = 1;
  int column = 1;

  Value literal;
  std::string name;
  Op op = Op::kNone;
  bool test_only = false;
  // Receiver of a method call (`x.f(y)`) or range of a comprehension; null
  // otherwise.
  std::unique_ptr<Expr> target;
  std::vector<std::unique_ptr<Expr>> args;

  // Comprehensions: all/exists/exists_one/filter take args[0] as the predicate;
  // map takes args[0] as the transform, or args[0] as a filter and args[1] as
  // the transform.
  Macro macro = Macro::kAll;
  std::string iter_var;
};

}  // namespace centric::cel

#endif  // CENTRIC_LIBS_CEL_AST_H_
