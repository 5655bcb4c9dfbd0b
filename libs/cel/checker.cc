#include "libs/cel/checker.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace centric::cel {
namespace {

using TK = Type::Kind;

bool IsDyn(const TypePtr& t) { return t->kind == TK::kDyn; }
bool IsNumeric(const TypePtr& t) {
  return t->kind == TK::kInt || t->kind == TK::kUint || t->kind == TK::kDouble;
}
bool Is(const TypePtr& t, TK kind) { return t->kind == kind || IsDyn(t); }

// Values of these two types can be compared with == (CEL equality across numbers, null
// against anything, dyn deferred to run time).
bool Comparable(const TypePtr& a, const TypePtr& b) {
  if (IsDyn(a) || IsDyn(b) || a->kind == TK::kNull || b->kind == TK::kNull) return true;
  if (IsNumeric(a) && IsNumeric(b)) return true;
  if (a->kind == TK::kObject || b->kind == TK::kObject) {
    return (a->kind == TK::kObject || a->kind == TK::kMap) &&
           (b->kind == TK::kObject || b->kind == TK::kMap);
  }
  return a->kind == b->kind;
}

// Types with an ordering (< <= > >=) between them.
bool Ordered(const TypePtr& a, const TypePtr& b) {
  if (IsDyn(a) || IsDyn(b)) return true;
  if (IsNumeric(a) && IsNumeric(b)) return true;
  if (a->kind != b->kind) return false;
  switch (a->kind) {
    case TK::kBool:
    case TK::kString:
    case TK::kBytes:
    case TK::kTimestamp:
    case TK::kDuration:
      return true;
    default:
      return false;
  }
}

// The common type of list elements or conditional branches: the type when all agree,
// dyn otherwise.
TypePtr Join(const TypePtr& a, const TypePtr& b) {
  if (a->kind == b->kind && a->kind != TK::kList && a->kind != TK::kMap &&
      a->kind != TK::kObject) {
    return a;
  }
  return Type::Dyn();
}

int64_t SizeOf(const TypePtr& t, const CheckOptions& options) {
  return t->max_size > 0 ? t->max_size : options.assumed_dyn_size;
}

struct Typed {
  TypePtr type;
  int64_t cost = 1;
  // Set when the expression is a variable or a field path ("profile.traits.country").
  std::optional<std::string> path;
};

class Checker {
 public:
  Checker(const Declarations& declarations, const CheckOptions& options, CheckResult& result)
      : decls_(declarations), options_(options), result_(result) {}

  absl::StatusOr<Typed> Check(Expr& e, bool extended = false) {
    absl::StatusOr<Typed> t = CheckNode(e, extended);
    if (t.ok() && t->cost > kCostCap) t->cost = kCostCap;
    return t;
  }

 private:
  static constexpr int64_t kCostCap = int64_t{1} << 50;

  absl::Status Error(const Expr& e, absl::string_view message) {
    return absl::InvalidArgumentError(absl::StrCat(e.line, ":", e.column, ": ", message));
  }

  // A path is read as a value unless a selection extends it.
  void Record(const Typed& t, bool extended) {
    if (t.path.has_value() && !extended) result_.fields.insert(*t.path);
  }

  absl::StatusOr<Typed> CheckNode(Expr& e, bool extended) {
    switch (e.kind) {
      case Expr::Kind::kLiteral:
        return Typed{LiteralType(e.literal), 1, std::nullopt};
      case Expr::Kind::kIdent:
        return Ident(e, extended);
      case Expr::Kind::kSelect:
        return Select(e, extended);
      case Expr::Kind::kCall:
        return Call(e);
      case Expr::Kind::kList:
        return ListLiteral(e);
      case Expr::Kind::kMap:
        return MapLiteral(e);
      case Expr::Kind::kComprehension:
        return Comprehension(e);
    }
    return Error(e, "unknown expression");
  }

  static TypePtr LiteralType(const Value& v) {
    switch (v.kind()) {
      case Value::Kind::kNull: return Type::Of(TK::kNull);
      case Value::Kind::kBool: return Type::Of(TK::kBool);
      case Value::Kind::kInt: return Type::Of(TK::kInt);
      case Value::Kind::kUint: return Type::Of(TK::kUint);
      case Value::Kind::kDouble: return Type::Of(TK::kDouble);
      case Value::Kind::kString: return Type::Of(TK::kString);
      case Value::Kind::kBytes: return Type::Of(TK::kBytes);
      case Value::Kind::kTimestamp: return Type::Of(TK::kTimestamp);
      case Value::Kind::kDuration: return Type::Of(TK::kDuration);
      case Value::Kind::kType: return Type::Of(TK::kType);
      default: return Type::Dyn();
    }
  }

  absl::StatusOr<Typed> Ident(const Expr& e, bool extended) {
    for (auto it = scopes_.rbegin(); it != scopes_.rend(); ++it) {
      if (it->first == e.name) return Typed{it->second, 1, std::nullopt};
    }
    if (const Value* c = decls_.FindConstant(e.name)) return Typed{LiteralType(*c), 1, std::nullopt};
    if (const TypePtr* t = decls_.FindVariable(e.name)) {
      result_.variables.insert(e.name);
      Typed typed{*t, 1, e.name};
      // A scalar variable (e.g. `now`) is listed in `variables` only.
      TK k = (*t)->kind;
      if (k == TK::kObject || k == TK::kMap || k == TK::kList || k == TK::kDyn) {
        Record(typed, extended);
      }
      return typed;
    }
    if (IsTypeName(e.name)) return Typed{Type::Of(TK::kType), 1, std::nullopt};
    return Error(e, absl::StrCat("undeclared reference to '", e.name, "'", KnownVariables()));
  }

  static bool IsTypeName(const std::string& name) {
    static const std::set<std::string>* names = new std::set<std::string>{
        "bool", "int", "uint", "double", "string", "bytes", "list", "map", "null_type", "type",
        "google.protobuf.Timestamp", "google.protobuf.Duration"};
    return names->contains(name);
  }

  std::string KnownVariables() const {
    std::vector<std::string> names = decls_.VariableNames();
    if (names.empty()) return "";
    return absl::StrCat(" (variables: ", absl::StrJoin(names, ", "), ")");
  }

  absl::StatusOr<Typed> Select(Expr& e, bool extended) {
    Expr& operand = *e.args[0];
    auto base = Check(operand, /*extended=*/true);
    if (!base.ok()) return base.status();
    const TypePtr& t = base->type;
    Typed out{Type::Dyn(), base->cost + 1, std::nullopt};
    if (t->kind == TK::kObject) {
      auto it = t->object->fields.find(e.name);
      if (it == t->object->fields.end()) {
        std::vector<std::string> names;
        for (const auto& [name, field] : t->object->fields) names.push_back(name);
        return Error(e, absl::StrCat("unknown field '", e.name, "' of ", t->object->name,
                                     " (fields: ", absl::StrJoin(names, ", "), ")"));
      }
      out.type = it->second.type;
      if (base->path.has_value()) out.path = absl::StrCat(*base->path, ".", e.name);
      if (e.test_only) return HasField(e, it->second, out);
    } else if (t->kind == TK::kMap) {
      if (!Is(t->key, TK::kString)) {
        return Error(e, absl::StrCat("cannot select '", e.name, "' from ", t->Name()));
      }
      out.type = t->elem;
      if (base->path.has_value()) out.path = absl::StrCat(*base->path, ".", e.name);
    } else if (!IsDyn(t)) {
      return Error(e, absl::StrCat("cannot select field '", e.name, "' from a value of type ",
                                   t->Name()));
    } else if (base->path.has_value()) {
      // A field of a dyn value: recorded as the dyn path itself.
      result_.fields.insert(*base->path);
    }
    if (e.test_only) {
      if (out.path.has_value()) result_.fields.insert(*out.path);
      return Typed{Type::Of(TK::kBool), out.cost, std::nullopt};
    }
    Record(out, extended);
    return out;
  }

  // has(x.f) on a declared object's field.
  absl::StatusOr<Typed> HasField(Expr& e, const ObjectType::Field& field, const Typed& selected) {
    if (field.unset_value.has_value()) {
      // Rewrite has(x.f) into x.f != <unset value>.
      auto select = std::make_unique<Expr>();
      select->kind = Expr::Kind::kSelect;
      select->line = e.line;
      select->column = e.column;
      select->name = e.name;
      select->args = std::move(e.args);
      auto literal = std::make_unique<Expr>();
      literal->kind = Expr::Kind::kLiteral;
      literal->line = e.line;
      literal->column = e.column;
      literal->literal = *field.unset_value;
      e.kind = Expr::Kind::kCall;
      e.op = Op::kNotEqual;
      e.name = "_!=_";
      e.test_only = false;
      e.args.clear();
      e.args.push_back(std::move(select));
      e.args.push_back(std::move(literal));
    } else if (!field.can_be_absent) {
      return Error(e, absl::StrCat("has() does not apply to ",
                                   selected.path.value_or(e.name),
                                   ": the field always has a value"));
    }
    if (selected.path.has_value()) result_.fields.insert(*selected.path);
    return Typed{Type::Of(TK::kBool), selected.cost + 1, std::nullopt};
  }

  absl::StatusOr<Typed> ListLiteral(Expr& e) {
    TypePtr elem;
    int64_t cost = 1;
    for (auto& arg : e.args) {
      auto t = Check(*arg);
      if (!t.ok()) return t.status();
      elem = elem == nullptr ? t->type : Join(elem, t->type);
      cost += t->cost;
    }
    return Typed{Type::List(elem == nullptr ? Type::Dyn() : elem,
                            std::max<int64_t>(1, static_cast<int64_t>(e.args.size()))),
                 cost, std::nullopt};
  }

  absl::StatusOr<Typed> MapLiteral(Expr& e) {
    TypePtr key;
    TypePtr value;
    int64_t cost = 1;
    for (size_t i = 0; i < e.args.size(); ++i) {
      auto t = Check(*e.args[i]);
      if (!t.ok()) return t.status();
      TypePtr& slot = i % 2 == 0 ? key : value;
      slot = slot == nullptr ? t->type : Join(slot, t->type);
      cost += t->cost;
    }
    return Typed{Type::Map(key == nullptr ? Type::Dyn() : key, value == nullptr ? Type::Dyn() : value,
                           std::max<int64_t>(1, static_cast<int64_t>(e.args.size() / 2))),
                 cost, std::nullopt};
  }

  absl::StatusOr<Typed> Comprehension(Expr& e) {
    auto range = Check(*e.target);
    if (!range.ok()) return range.status();
    TypePtr var_type;
    if (range->type->kind == TK::kList) {
      var_type = range->type->elem;
    } else if (range->type->kind == TK::kMap) {
      var_type = range->type->key;
    } else if (IsDyn(range->type)) {
      var_type = Type::Dyn();
    } else {
      return Error(e, absl::StrCat("a macro needs a list or map, not ", range->type->Name()));
    }
    int64_t n = SizeOf(range->type, options_);
    scopes_.emplace_back(e.iter_var, var_type);
    int64_t body_cost = 1;
    std::vector<TypePtr> arg_types;
    for (auto& arg : e.args) {
      auto t = Check(*arg);
      if (!t.ok()) {
        scopes_.pop_back();
        return t.status();
      }
      body_cost += t->cost;
      arg_types.push_back(t->type);
    }
    scopes_.pop_back();
    int64_t cost = range->cost + Saturate(n, body_cost);
    switch (e.macro) {
      case Macro::kAll:
      case Macro::kExists:
      case Macro::kExistsOne:
        if (!Is(arg_types[0], TK::kBool)) {
          return Error(*e.args[0], absl::StrCat("the predicate must be bool, not ",
                                                arg_types[0]->Name()));
        }
        return Typed{Type::Of(TK::kBool), cost, std::nullopt};
      case Macro::kFilter:
        if (!Is(arg_types[0], TK::kBool)) {
          return Error(*e.args[0], absl::StrCat("the filter must be bool, not ",
                                                arg_types[0]->Name()));
        }
        return Typed{Type::List(var_type, n), cost, std::nullopt};
      case Macro::kMap:
        if (arg_types.size() == 2 && !Is(arg_types[0], TK::kBool)) {
          return Error(*e.args[0], absl::StrCat("the filter must be bool, not ",
                                                arg_types[0]->Name()));
        }
        return Typed{Type::List(arg_types.back(), n), cost, std::nullopt};
    }
    return Error(e, "unknown macro");
  }

  static int64_t Saturate(int64_t a, int64_t b) {
    if (a != 0 && b > kCostCap / a) return kCostCap;
    return a * b;
  }

  absl::StatusOr<Typed> Call(Expr& e) {
    if (e.op == Op::kNone) return Function(e);
    std::vector<Typed> args;
    int64_t cost = 1;
    for (auto& arg : e.args) {
      auto t = Check(*arg);
      if (!t.ok()) return t.status();
      cost += t->cost;
      args.push_back(std::move(*t));
    }
    auto result = Operator(e, args);
    if (!result.ok()) return result.status();
    int64_t size = 0;
    if ((*result)->kind == TK::kList) size = (*result)->max_size;
    return Typed{*result, cost + size / 64, std::nullopt};
  }

  absl::StatusOr<TypePtr> Operator(const Expr& e, const std::vector<Typed>& args) {
    auto mismatch = [&](absl::string_view op) {
      std::vector<std::string> names;
      for (const Typed& a : args) names.push_back(a.type->Name());
      return Error(e, absl::StrCat("no matching overload for '", op, "' applied to (",
                                   absl::StrJoin(names, ", "), ")"));
    };
    const TypePtr& a = args[0].type;
    switch (e.op) {
      case Op::kConditional:
        if (!Is(a, TK::kBool)) return mismatch("_?_:_");
        return Join(args[1].type, args[2].type);
      case Op::kOr:
      case Op::kAnd:
        if (!Is(a, TK::kBool) || !Is(args[1].type, TK::kBool)) {
          return mismatch(e.op == Op::kOr ? "||" : "&&");
        }
        return Type::Of(TK::kBool);
      case Op::kNot:
        if (!Is(a, TK::kBool)) return mismatch("!");
        return Type::Of(TK::kBool);
      case Op::kNegate:
        if (IsDyn(a) || a->kind == TK::kInt || a->kind == TK::kDouble ||
            a->kind == TK::kDuration) {
          return a;
        }
        return mismatch("-");
      case Op::kEqual:
      case Op::kNotEqual:
        if (!Comparable(a, args[1].type)) return mismatch(e.op == Op::kEqual ? "==" : "!=");
        return Type::Of(TK::kBool);
      case Op::kLess:
      case Op::kLessEqual:
      case Op::kGreater:
      case Op::kGreaterEqual:
        if (!Ordered(a, args[1].type)) return mismatch(OpName(e.op));
        return Type::Of(TK::kBool);
      case Op::kIn: {
        const TypePtr& c = args[1].type;
        if (IsDyn(c)) return Type::Of(TK::kBool);
        if (c->kind == TK::kList && Comparable(a, c->elem)) return Type::Of(TK::kBool);
        if (c->kind == TK::kMap && Comparable(a, c->key)) return Type::Of(TK::kBool);
        return mismatch("in");
      }
      case Op::kAdd:
      case Op::kSubtract:
      case Op::kMultiply:
      case Op::kDivide:
      case Op::kModulo:
        return Arithmetic(e, args, mismatch);
      case Op::kIndex:
        return Index(e, args, mismatch);
      case Op::kNone:
        break;
    }
    return Error(e, "unknown operator");
  }

  static const char* OpName(Op op) {
    switch (op) {
      case Op::kLess: return "<";
      case Op::kLessEqual: return "<=";
      case Op::kGreater: return ">";
      case Op::kGreaterEqual: return ">=";
      case Op::kAdd: return "+";
      case Op::kSubtract: return "-";
      case Op::kMultiply: return "*";
      case Op::kDivide: return "/";
      case Op::kModulo: return "%";
      default: return "?";
    }
  }

  template <typename Mismatch>
  absl::StatusOr<TypePtr> Arithmetic(const Expr& e, const std::vector<Typed>& args,
                                     Mismatch& mismatch) {
    const TypePtr& a = args[0].type;
    const TypePtr& b = args[1].type;
    const char* op = OpName(e.op);
    if (IsDyn(a) && IsDyn(b)) return Type::Dyn();
    if (IsDyn(a) || IsDyn(b)) {
      const TypePtr& known = IsDyn(a) ? b : a;
      // The result has the known operand's type unless times and durations mix.
      if (known->kind == TK::kTimestamp || known->kind == TK::kDuration) return Type::Dyn();
      if (known->kind == TK::kList) return Type::List(Type::Dyn(), SizeOf(known, options_) * 2);
      return known;
    }
    TK ka = a->kind;
    TK kb = b->kind;
    bool numeric_same = IsNumeric(a) && ka == kb;
    switch (e.op) {
      case Op::kAdd:
        if (numeric_same || (ka == kb && (ka == TK::kString || ka == TK::kBytes ||
                                          ka == TK::kDuration))) {
          return a;
        }
        if (ka == TK::kList && kb == TK::kList) {
          return Type::List(Join(a->elem, b->elem), SizeOf(a, options_) + SizeOf(b, options_));
        }
        if ((ka == TK::kTimestamp && kb == TK::kDuration) ||
            (ka == TK::kDuration && kb == TK::kTimestamp)) {
          return Type::Of(TK::kTimestamp);
        }
        break;
      case Op::kSubtract:
        if (numeric_same || (ka == TK::kDuration && kb == TK::kDuration)) return a;
        if (ka == TK::kTimestamp && kb == TK::kTimestamp) return Type::Of(TK::kDuration);
        if (ka == TK::kTimestamp && kb == TK::kDuration) return Type::Of(TK::kTimestamp);
        break;
      case Op::kMultiply:
      case Op::kDivide:
        if (numeric_same) return a;
        break;
      case Op::kModulo:
        if (numeric_same && ka != TK::kDouble) return a;
        break;
      default:
        break;
    }
    if (IsNumeric(a) && IsNumeric(b)) {
      return Error(e, absl::StrCat("no matching overload for '", op, "' applied to (", a->Name(),
                                   ", ", b->Name(), "): CEL does not mix number types in "
                                   "arithmetic; write both as ", a->Name(), " (e.g. 2.0) or "
                                   "convert with ", b->Name(), "()"));
    }
    return mismatch(op);
  }

  template <typename Mismatch>
  absl::StatusOr<TypePtr> Index(const Expr& e, const std::vector<Typed>& args,
                                Mismatch& mismatch) {
    const TypePtr& c = args[0].type;
    const TypePtr& i = args[1].type;
    if (IsDyn(c)) return Type::Dyn();
    if (c->kind == TK::kList) {
      if (!IsDyn(i) && !IsNumeric(i)) return mismatch("_[_]");
      return c->elem;
    }
    if (c->kind == TK::kMap) {
      if (!Comparable(c->key, i)) return mismatch("_[_]");
      return c->elem;
    }
    if (c->kind == TK::kObject) {
      if (!Is(i, TK::kString)) return mismatch("_[_]");
      return Type::Dyn();
    }
    return mismatch("_[_]");
  }

  absl::StatusOr<Typed> Function(Expr& e) {
    std::vector<Typed> args;
    int64_t cost = 1;
    if (e.target != nullptr) {
      auto t = Check(*e.target);
      if (!t.ok()) return t.status();
      cost += t->cost;
      args.push_back(std::move(*t));
    }
    for (auto& arg : e.args) {
      auto t = Check(*arg);
      if (!t.ok()) return t.status();
      cost += t->cost;
      args.push_back(std::move(*t));
    }
    auto type = FunctionType(e, args);
    if (!type.ok()) return type.status();
    // Functions over a string or list cost its size; matches compiles a pattern.
    int64_t extra = 0;
    if (!args.empty() && (args[0].type->kind == TK::kList || args[0].type->kind == TK::kMap)) {
      extra = SizeOf(args[0].type, options_);
    }
    if (e.name == "matches") extra += 10;
    return Typed{*type, cost + extra, std::nullopt};
  }

  absl::StatusOr<TypePtr> FunctionType(const Expr& e, const std::vector<Typed>& args) {
    bool receiver = e.target != nullptr;
    auto mismatch = [&]() {
      std::vector<std::string> names;
      for (const Typed& a : args) names.push_back(a.type->Name());
      return Error(e, absl::StrCat("no matching overload for '", e.name, "' applied to (",
                                   absl::StrJoin(names, ", "), ")"));
    };
    const std::string& n = e.name;
    if (!receiver && args.size() == 1) {
      static const std::map<std::string, TK>* conversions = new std::map<std::string, TK>{
          {"int", TK::kInt},       {"uint", TK::kUint},     {"double", TK::kDouble},
          {"string", TK::kString}, {"bytes", TK::kBytes},   {"bool", TK::kBool},
          {"type", TK::kType},     {"dyn", TK::kDyn},       {"timestamp", TK::kTimestamp},
          {"duration", TK::kDuration}};
      if (auto it = conversions->find(n); it != conversions->end()) {
        if (n == "timestamp" && !Is(args[0].type, TK::kString) &&
            !Is(args[0].type, TK::kInt) && args[0].type->kind != TK::kTimestamp) {
          return mismatch();
        }
        if (n == "duration" && !Is(args[0].type, TK::kString) &&
            args[0].type->kind != TK::kDuration) {
          return mismatch();
        }
        return Type::Of(it->second);
      }
    }
    if (n == "size" && args.size() == 1) {
      TK k = args[0].type->kind;
      if (k == TK::kDyn || k == TK::kString || k == TK::kBytes || k == TK::kList ||
          k == TK::kMap) {
        return Type::Of(TK::kInt);
      }
      return mismatch();
    }
    if ((n == "startsWith" || n == "endsWith" || n == "contains" || n == "matches") &&
        receiver && args.size() == 2) {
      if (!Is(args[0].type, TK::kString) || !Is(args[1].type, TK::kString)) return mismatch();
      return Type::Of(TK::kBool);
    }
    if (n == "matches" && !receiver && args.size() == 2) {
      if (!Is(args[0].type, TK::kString) || !Is(args[1].type, TK::kString)) return mismatch();
      return Type::Of(TK::kBool);
    }
    static const std::set<std::string>* accessors = new std::set<std::string>{
        "getFullYear", "getMonth",   "getDate",    "getDayOfMonth",  "getDayOfYear",
        "getDayOfWeek", "getHours",  "getMinutes", "getSeconds",     "getMilliseconds"};
    if (receiver && accessors->contains(n) && (args.size() == 1 || args.size() == 2)) {
      TK k = args[0].type->kind;
      bool duration_ok = k == TK::kDuration && args.size() == 1 &&
                         (n == "getHours" || n == "getMinutes" || n == "getSeconds" ||
                          n == "getMilliseconds");
      if (!(k == TK::kDyn || k == TK::kTimestamp || duration_ok)) return mismatch();
      if (args.size() == 2 && !Is(args[1].type, TK::kString)) return mismatch();
      return Type::Of(TK::kInt);
    }
    return Error(e, absl::StrCat("unknown function '", n, "' with ", args.size(),
                                 " argument(s) (docs/CEL.md lists the functions)"));
  }

  const Declarations& decls_;
  const CheckOptions& options_;
  CheckResult& result_;
  std::vector<std::pair<std::string, TypePtr>> scopes_;
};

}  // namespace

TypePtr Type::Of(Kind kind) {
  auto t = std::make_shared<Type>();
  t->kind = kind;
  return t;
}

TypePtr Type::List(TypePtr elem, int64_t max_size) {
  auto t = std::make_shared<Type>();
  t->kind = Kind::kList;
  t->elem = std::move(elem);
  t->max_size = max_size;
  return t;
}

TypePtr Type::Map(TypePtr key, TypePtr value, int64_t max_size) {
  auto t = std::make_shared<Type>();
  t->kind = Kind::kMap;
  t->key = std::move(key);
  t->elem = std::move(value);
  t->max_size = max_size;
  return t;
}

TypePtr Type::Object(const ObjectType* object) {
  auto t = std::make_shared<Type>();
  t->kind = Kind::kObject;
  t->object = object;
  return t;
}

std::string Type::Name() const {
  switch (kind) {
    case Kind::kDyn: return "dyn";
    case Kind::kNull: return "null_type";
    case Kind::kBool: return "bool";
    case Kind::kInt: return "int";
    case Kind::kUint: return "uint";
    case Kind::kDouble: return "double";
    case Kind::kString: return "string";
    case Kind::kBytes: return "bytes";
    case Kind::kTimestamp: return "google.protobuf.Timestamp";
    case Kind::kDuration: return "google.protobuf.Duration";
    case Kind::kList: return absl::StrCat("list(", elem->Name(), ")");
    case Kind::kMap: return absl::StrCat("map(", key->Name(), ", ", elem->Name(), ")");
    case Kind::kObject: return object->name;
    case Kind::kType: return "type";
  }
  return "?";
}

void Declarations::AddConstant(std::string name, Value value) {
  constants_[std::move(name)] = std::move(value);
}

void Declarations::BindConstants(Activation& activation) const {
  for (const auto& [name, value] : constants_) activation.Bind(name, value);
}

std::vector<std::string> Declarations::VariableNames() const {
  std::vector<std::string> names;
  for (const auto& [name, type] : variables_) names.push_back(name);
  return names;
}

const TypePtr* Declarations::FindVariable(const std::string& name) const {
  auto it = variables_.find(name);
  return it == variables_.end() ? nullptr : &it->second;
}

const Value* Declarations::FindConstant(const std::string& name) const {
  auto it = constants_.find(name);
  return it == constants_.end() ? nullptr : &it->second;
}

absl::StatusOr<CheckResult> Check(Expr& expr, const Declarations& declarations,
                                  const CheckOptions& options) {
  CheckResult result;
  Checker checker(declarations, options, result);
  auto typed = checker.Check(expr);
  if (!typed.ok()) return typed.status();
  result.type = typed->type;
  result.estimated_cost = typed->cost;
  if (result.estimated_cost > options.max_estimated_cost) {
    return absl::InvalidArgumentError(absl::StrCat(
        expr.line, ":", expr.column, ": the rule could cost up to ", result.estimated_cost,
        " steps per evaluation (limit ", options.max_estimated_cost,
        "); nested macros over lists multiply: iterate fewer or smaller lists"));
  }
  return result;
}

}  // namespace centric::cel
