// Static checking of a parsed CEL expression against declared variables, before it is
// saved or run: unknown variables, fields and functions, operands of the wrong types and
// expressions that could cost too much to evaluate are INVALID_ARGUMENT with the
// position ("1:23: ...").
//
// The checker knows the types of CEL values, lists and maps, and declared objects (a
// fixed set of named fields, e.g. `profile`); at run time an object is a CEL map with
// string keys. `dyn` (for instance the values of a free-form map) defers the check of
// everything it flows into to evaluation.
#ifndef CENTRIC_LIBS_CEL_CHECKER_H_
#define CENTRIC_LIBS_CEL_CHECKER_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "libs/cel/ast.h"
#include "libs/cel/eval.h"
#include "libs/cel/value.h"

namespace centric::cel {

struct Type;
using TypePtr = std::shared_ptr<const Type>;
struct ObjectType;

struct Type {
  enum class Kind {
    kDyn,
    kNull,
    kBool,
    kInt,
    kUint,
    kDouble,
    kString,
    kBytes,
    kTimestamp,
    kDuration,
    kList,
    kMap,
    kObject,
    kType,
  };
  Kind kind = Kind::kDyn;
  // Element type of a list; key and value types of a map.
  TypePtr key;
  TypePtr elem;
  // Objects only; not owned (declared objects outlive every check).
  const ObjectType* object = nullptr;
  // Lists and maps: the most entries a value can have, for the cost estimate.
  int64_t max_size = 0;

  static TypePtr Of(Kind kind);
  static TypePtr Dyn() { return Of(Kind::kDyn); }
  static TypePtr List(TypePtr elem, int64_t max_size);
  static TypePtr Map(TypePtr key, TypePtr value, int64_t max_size);
  static TypePtr Object(const ObjectType* object);
  // "int", "list(string)", "map(string, dyn)", "profile.aggregates", ...
  std::string Name() const;
};

// A declared object: its fields, each with a type.
struct ObjectType {
  struct Field {
    TypePtr type;
    // has(x.field) is accepted only for fields that can be absent; for fields read
    // with a default when unset (e.g. a time), `has` compares with `unset_value`.
    bool can_be_absent = false;
    std::optional<Value> unset_value;
  };
  std::string name;
  std::map<std::string, Field> fields;
};

// What an expression may refer to.
class Declarations {
 public:
  void AddVariable(std::string name, TypePtr type) { variables_[std::move(name)] = type; }
  // A named constant, e.g. GRANTED = 1; BindConstants puts them in an activation.
  void AddConstant(std::string name, Value value);
  void BindConstants(Activation& activation) const;

  const TypePtr* FindVariable(const std::string& name) const;
  const Value* FindConstant(const std::string& name) const;
  std::vector<std::string> VariableNames() const;

 private:
  std::map<std::string, TypePtr> variables_;
  std::map<std::string, Value> constants_;
};

struct CheckOptions {
  // Estimated evaluation cost above which a rule is rejected (see CheckResult).
  int64_t max_estimated_cost = 100000;
  // Size assumed for a list or map whose size is not declared (a dyn value).
  int64_t assumed_dyn_size = 1000;
};

struct CheckResult {
  TypePtr type;
  // The fields the expression reads, as dotted paths from a variable
  // ("profile.aggregates.revenue_total", "profile.traits.country"); a map or object
  // read as a whole (iterated, indexed with a computed key) appears as its own path
  // ("profile.traits").
  std::set<std::string> fields;
  // Variables read (e.g. "now", "profile").
  std::set<std::string> variables;
  // Upper bound of evaluated nodes, with comprehensions multiplying by the most
  // elements their range can have.
  int64_t estimated_cost = 0;
};

// Checks `expr` and rewrites `has()` of fields with an unset value into a comparison.
// Errors: INVALID_ARGUMENT "<line>:<column>: <what is wrong>".
absl::StatusOr<CheckResult> Check(Expr& expr, const Declarations& declarations,
                                  const CheckOptions& options = {});

}  // namespace centric::cel

#endif  // CENTRIC_LIBS_CEL_CHECKER_H_
