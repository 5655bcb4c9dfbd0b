#include "libs/cel/eval.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/civil_time.h"
#include "libs/cel/utf8.h"
#include "re2/re2.h"

namespace centric::cel {
namespace {

using K = Value::Kind;

constexpr double kTwo63 = 9223372036854775808.0;
constexpr double kTwo64 = 18446744073709551616.0;

// Compiled patterns of recent `matches` calls, per thread: a rule evaluated over many
// profiles compiles its pattern once, not once per profile.
std::shared_ptr<const RE2> CompiledPattern(const std::string& pattern) {
  constexpr size_t kMaxCached = 64;
  thread_local absl::flat_hash_map<std::string, std::shared_ptr<const RE2>> cache;
  auto it = cache.find(pattern);
  if (it != cache.end()) return it->second;
  if (cache.size() >= kMaxCached) cache.clear();
  auto re = std::make_shared<const RE2>(pattern, RE2::Quiet);
  cache.emplace(pattern, re);
  return re;
}

Value Err(absl::string_view message) { return Value::Error(absl::InvalidArgumentError(message)); }

Value NoOverload(absl::string_view function, const Value& a) {
  return Err(absl::StrCat("no matching overload for ", function, "(", a.TypeNameOf(), ")"));
}

Value NoOverload(absl::string_view function, const Value& a, const Value& b) {
  return Err(absl::StrCat("no matching overload for ", function, "(", a.TypeNameOf(), ", ",
                          b.TypeNameOf(), ")"));
}

// Timestamps span years 1 to 9999 (as google.protobuf.Timestamp); durations
// span the int64-nanosecond range (about ±292 years), as cel-go and cel-cpp
// evaluate them.
absl::Time MinTimestamp() {
  return absl::FromCivil(absl::CivilSecond(1, 1, 1, 0, 0, 0), absl::UTCTimeZone());
}
absl::Time MaxTimestamp() {
  return absl::FromCivil(absl::CivilSecond(9999, 12, 31, 23, 59, 59), absl::UTCTimeZone()) +
         absl::Nanoseconds(999999999);
}

Value CheckedTimestamp(absl::Time t) {
  if (t < MinTimestamp() || t > MaxTimestamp()) return Err("timestamp out of range");
  return Value::Timestamp(t);
}

Value CheckedDuration(absl::Duration d) {
  if (d < absl::Nanoseconds(INT64_MIN) || d > absl::Nanoseconds(INT64_MAX)) {
    return Err("duration out of range");
  }
  return Value::Duration(d);
}

std::string CelDurationString(absl::Duration d) {
  int64_t nanos = absl::ToInt64Nanoseconds(d);
  std::string sign = nanos < 0 ? "-" : "";
  uint64_t abs = nanos < 0 ? 0 - static_cast<uint64_t>(nanos) : static_cast<uint64_t>(nanos);
  std::string out = absl::StrCat(sign, abs / 1000000000);
  if (uint64_t frac = abs % 1000000000; frac != 0) {
    std::string digits = absl::StrCat(frac + 1000000000).substr(1);
    while (digits.back() == '0') digits.pop_back();
    absl::StrAppend(&out, ".", digits);
  }
  return absl::StrCat(out, "s");
}

// "UTC", an IANA name, or a fixed offset "[+-]HH:MM".
bool ParseTimeZone(absl::string_view name, absl::TimeZone* tz) {
  if (!name.empty() && (name[0] == '+' || name[0] == '-' || absl::ascii_isdigit(name[0]))) {
    int sign = name[0] == '-' ? -1 : 1;
    if (name[0] == '+' || name[0] == '-') name.remove_prefix(1);
    std::vector<absl::string_view> parts = absl::StrSplit(name, ':');
    int hours = 0, minutes = 0;
    if (parts.size() != 2 || !absl::SimpleAtoi(parts[0], &hours) ||
        !absl::SimpleAtoi(parts[1], &minutes)) {
      return false;
    }
    *tz = absl::FixedTimeZone(sign * (hours * 3600 + minutes * 60));
    return true;
  }
  return absl::LoadTimeZone(std::string(name), tz);
}

class Evaluator {
 public:
  Evaluator(const Activation& activation, const EvalLimits& limits)
      : activation_(activation), limits_(limits) {}

  // Evaluates one node and charges its cost (see EvalLimits).
  Value Eval(const Expr& e) {
    if (cost_ > limits_.max_cost) return OverBudget();
    Value v = EvalNode(e);
    cost_ += 1 + Weight(v);
    if (cost_ > limits_.max_cost) return OverBudget();
    return v;
  }

  Value EvalNode(const Expr& e) {
    switch (e.kind) {
      case Expr::Kind::kLiteral:
        return e.literal;
      case Expr::Kind::kIdent:
        return Ident(e.name);
      case Expr::Kind::kSelect:
        return Select(e);
      case Expr::Kind::kCall:
        return e.op == Op::kNone ? Function(e) : Operator(e);
      case Expr::Kind::kList: {
        ValueList items;
        items.reserve(e.args.size());
        for (const auto& arg : e.args) {
          Value v = Eval(*arg);
          if (v.is_error()) return v;
          items.push_back(std::move(v));
        }
        return Value::List(std::move(items));
      }
      case Expr::Kind::kMap: {
        ValueMap entries;
        for (size_t i = 0; i + 1 < e.args.size(); i += 2) {
          Value k = Eval(*e.args[i]);
          if (k.is_error()) return k;
          Value v = Eval(*e.args[i + 1]);
          if (v.is_error()) return v;
          entries.emplace_back(std::move(k), std::move(v));
        }
        Value out;
        if (absl::Status s = BuildMap(std::move(entries), &out); !s.ok()) {
          return Value::Error(s);
        }
        return out;
      }
      case Expr::Kind::kComprehension:
        return Comprehension(e);
    }
    return Err("unknown expression kind");
  }

 private:
  static int64_t Weight(const Value& v) {
    switch (v.kind()) {
      case K::kList:
        return static_cast<int64_t>(v.list_value().size());
      case K::kMap:
        return static_cast<int64_t>(v.map_value().size());
      case K::kString:
        return static_cast<int64_t>(v.string_value().size() / 64);
      case K::kBytes:
        return static_cast<int64_t>(v.bytes_value().size() / 64);
      default:
        return 0;
    }
  }

  Value OverBudget() const {
    return Value::Error(absl::ResourceExhaustedError(
        absl::StrCat("evaluation exceeded its cost budget of ", limits_.max_cost,
                     " (nested macros over large lists?); see docs/CEL.md")));
  }

  const Value* FindLocal(absl::string_view name) const {
    for (auto it = locals_.rbegin(); it != locals_.rend(); ++it) {
      if (*it->first == name) return &it->second;
    }
    return nullptr;
  }

  static std::optional<Value> TypeByName(absl::string_view name) {
    static constexpr absl::string_view kTypes[] = {"int",
                                                   "uint",
                                                   "double",
                                                   "bool",
                                                   "string",
                                                   "bytes",
                                                   "list",
                                                   "map",
                                                   "null_type",
                                                   "type",
                                                   "google.protobuf.Timestamp",
                                                   "google.protobuf.Duration"};
    for (absl::string_view t : kTypes) {
      if (t == name) return Value::Type(std::string(t));
    }
    return std::nullopt;
  }

  Value Ident(const std::string& name) {
    if (const Value* v = FindLocal(name)) return *v;
    if (const Value* v = activation_.Find(name)) return *v;
    if (auto t = TypeByName(name)) return *t;
    return Err(absl::StrCat("undeclared reference to '", name, "'"));
  }

  // For a chain like a.b.c made only of identifiers, the longest bound prefix
  // wins.
  std::optional<Value> QualifiedName(const Expr& e) {
    std::vector<const std::string*> parts;
    const Expr* cur = &e;
    while (cur->kind == Expr::Kind::kSelect && !cur->test_only) {
      parts.push_back(&cur->name);
      cur = cur->args[0].get();
    }
    if (cur->kind != Expr::Kind::kIdent || FindLocal(cur->name) != nullptr) return std::nullopt;
    parts.push_back(&cur->name);
    std::reverse(parts.begin(), parts.end());
    for (size_t n = parts.size(); n >= 2; --n) {
      std::string name =
          absl::StrJoin(parts.begin(), parts.begin() + n, ".",
                        [](std::string* out, const std::string* p) { out->append(*p); });
      const Value* bound = activation_.Find(name);
      std::optional<Value> v;
      if (bound != nullptr) {
        v = *bound;
      } else if (n == parts.size()) {
        v = TypeByName(name);
      }
      if (!v.has_value()) continue;
      Value result = *v;
      for (size_t i = n; i < parts.size() && !result.is_error(); ++i) {
        result = Field(result, *parts[i], /*test_only=*/false);
      }
      return result;
    }
    return std::nullopt;
  }

  static Value Field(const Value& operand, const std::string& field, bool test_only) {
    if (operand.kind() != K::kMap) {
      return Err(
          absl::StrCat("type '", operand.TypeNameOf(), "' does not support field selection"));
    }
    const Value* v = MapFind(operand.map_value(), Value::String(field));
    if (test_only) return Value::Bool(v != nullptr);
    if (v == nullptr) return Err(absl::StrCat("no such key: '", field, "'"));
    return *v;
  }

  Value Select(const Expr& e) {
    if (!e.test_only) {
      if (auto v = QualifiedName(e)) return *v;
    }
    Value operand = Eval(*e.args[0]);
    if (operand.is_error()) return operand;
    return Field(operand, e.name, e.test_only);
  }

  Value Logical(const Expr& e, bool is_and) {
    // false && x == false and true || x == true whatever x is, errors included;
    // the first error wins otherwise.
    Value left = Eval(*e.args[0]);
    if (left.kind() == K::kBool && left.bool_value() != is_and) return left;
    Value right = Eval(*e.args[1]);
    if (right.kind() == K::kBool && right.bool_value() != is_and) return right;
    if (left.is_error()) return left;
    if (left.kind() != K::kBool) return NoOverload(is_and ? "_&&_" : "_||_", left, right);
    if (right.is_error()) return right;
    if (right.kind() != K::kBool) return NoOverload(is_and ? "_&&_" : "_||_", left, right);
    return Value::Bool(is_and);
  }

  Value Operator(const Expr& e) {
    switch (e.op) {
      case Op::kAnd:
        return Logical(e, true);
      case Op::kOr:
        return Logical(e, false);
      case Op::kConditional: {
        Value cond = Eval(*e.args[0]);
        if (cond.is_error()) return cond;
        if (cond.kind() != K::kBool) return NoOverload("_?_:_", cond);
        return Eval(*e.args[cond.bool_value() ? 1 : 2]);
      }
      default:
        break;
    }
    Value a = Eval(*e.args[0]);
    if (a.is_error()) return a;
    if (e.op == Op::kNot) {
      if (a.kind() != K::kBool) return NoOverload("!_", a);
      return Value::Bool(!a.bool_value());
    }
    if (e.op == Op::kNegate) return Negate(a);
    Value b = Eval(*e.args[1]);
    if (b.is_error()) return b;
    switch (e.op) {
      case Op::kEqual:
        return Equal(a, b);
      case Op::kNotEqual: {
        Value eq = Equal(a, b);
        return eq.is_error() ? eq : Value::Bool(!eq.bool_value());
      }
      case Op::kLess:
      case Op::kLessEqual:
      case Op::kGreater:
      case Op::kGreaterEqual: {
        std::optional<int> c;
        if (absl::Status s = Compare(a, b, &c); !s.ok()) return Value::Error(s);
        if (!c.has_value()) return Value::Bool(false);
        switch (e.op) {
          case Op::kLess:
            return Value::Bool(*c < 0);
          case Op::kLessEqual:
            return Value::Bool(*c <= 0);
          case Op::kGreater:
            return Value::Bool(*c > 0);
          default:
            return Value::Bool(*c >= 0);
        }
      }
      case Op::kIn:
        return In(a, b);
      case Op::kIndex:
        return Index(a, b);
      default:
        return Arithmetic(e.op, a, b);
    }
  }

  static Value Negate(const Value& a) {
    switch (a.kind()) {
      case K::kInt:
        if (a.int_value() == INT64_MIN) return Err("integer overflow in negation");
        return Value::Int(-a.int_value());
      case K::kDouble:
        return Value::Double(-a.double_value());
      case K::kDuration:
        return CheckedDuration(-a.duration_value());
      default:
        return NoOverload("-_", a);
    }
  }

  static Value In(const Value& a, const Value& b) {
    if (b.kind() == K::kList) {
      for (const Value& item : b.list_value()) {
        Value eq = Equal(a, item);
        if (!eq.is_error() && eq.bool_value()) return Value::Bool(true);
      }
      return Value::Bool(false);
    }
    if (b.kind() == K::kMap) return Value::Bool(MapFind(b.map_value(), a) != nullptr);
    return NoOverload("@in", a, b);
  }

  static Value Index(const Value& a, const Value& b) {
    if (a.kind() == K::kList) {
      const ValueList& list = a.list_value();
      int64_t i;
      if (b.kind() == K::kInt) {
        i = b.int_value();
      } else if (b.kind() == K::kUint && b.uint_value() <= INT64_MAX) {
        i = static_cast<int64_t>(b.uint_value());
      } else if (b.kind() == K::kDouble && std::trunc(b.double_value()) == b.double_value() &&
                 std::fabs(b.double_value()) < kTwo63) {
        i = static_cast<int64_t>(b.double_value());
      } else {
        return Err(absl::StrCat("invalid_argument: list index of type ", b.TypeNameOf()));
      }
      if (i < 0 || static_cast<uint64_t>(i) >= list.size()) {
        return Err(absl::StrCat("invalid_argument: index ", i, " out of range for a list of ",
                                list.size()));
      }
      return list[static_cast<size_t>(i)];
    }
    if (a.kind() == K::kMap) {
      const Value* v = MapFind(a.map_value(), b);
      if (v == nullptr) return Err(absl::StrCat("no such key: ", b.DebugString()));
      return *v;
    }
    return NoOverload("_[_]", a, b);
  }

  // int64 and uint64 arithmetic with CEL's rules: overflow and division or modulus by
  // zero are errors (for int64 also INT64_MIN / -1).
  template <typename T>
  static Value CheckedArithmetic(Op op, T x, T y, absl::string_view name) {
    T r = 0;
    bool overflow = false;
    switch (op) {
      case Op::kAdd:
        overflow = __builtin_add_overflow(x, y, &r);
        break;
      case Op::kSubtract:
        overflow = __builtin_sub_overflow(x, y, &r);
        break;
      case Op::kMultiply:
        overflow = __builtin_mul_overflow(x, y, &r);
        break;
      case Op::kDivide:
      case Op::kModulo:
        if (y == 0) return Err(op == Op::kDivide ? "divide by zero" : "modulus by zero");
        if (std::is_signed_v<T> && x == std::numeric_limits<T>::min() && y == static_cast<T>(-1)) {
          overflow = true;
        } else {
          r = op == Op::kDivide ? x / y : x % y;
        }
        break;
      default:
        break;
    }
    if constexpr (std::is_signed_v<T>) {
      if (overflow) return Err(absl::StrCat("integer overflow in ", name));
      return Value::Int(r);
    } else {
      if (overflow) return Err(absl::StrCat("unsigned integer overflow in ", name));
      return Value::Uint(r);
    }
  }

  static Value Arithmetic(Op op, const Value& a, const Value& b) {
    static constexpr absl::string_view kNames[] = {"_+_", "_-_", "_*_", "_/_", "_%_"};
    absl::string_view name = kNames[static_cast<int>(op) - static_cast<int>(Op::kAdd)];
    if (a.kind() == K::kInt && b.kind() == K::kInt) {
      return CheckedArithmetic<int64_t>(op, a.int_value(), b.int_value(), name);
    }
    if (a.kind() == K::kUint && b.kind() == K::kUint) {
      return CheckedArithmetic<uint64_t>(op, a.uint_value(), b.uint_value(), name);
    }
    if (a.kind() == K::kDouble && b.kind() == K::kDouble) {
      double x = a.double_value(), y = b.double_value();
      switch (op) {
        case Op::kAdd:
          return Value::Double(x + y);
        case Op::kSubtract:
          return Value::Double(x - y);
        case Op::kMultiply:
          return Value::Double(x * y);
        case Op::kDivide:
          return Value::Double(x / y);
        default:
          return NoOverload(name, a, b);
      }
    }
    if (op == Op::kAdd && a.kind() == b.kind()) {
      switch (a.kind()) {
        case K::kString:
          return Value::String(absl::StrCat(a.string_value(), b.string_value()));
        case K::kBytes:
          return Value::BytesOf(absl::StrCat(a.bytes_value(), b.bytes_value()));
        case K::kList: {
          ValueList out = a.list_value();
          out.insert(out.end(), b.list_value().begin(), b.list_value().end());
          return Value::List(std::move(out));
        }
        default:
          break;
      }
    }
    if (a.kind() == K::kDuration && b.kind() == K::kDuration) {
      if (op == Op::kAdd) return CheckedDuration(a.duration_value() + b.duration_value());
      if (op == Op::kSubtract) return CheckedDuration(a.duration_value() - b.duration_value());
    }
    if (a.kind() == K::kTimestamp && b.kind() == K::kDuration) {
      if (op == Op::kAdd) return CheckedTimestamp(a.timestamp_value() + b.duration_value());
      if (op == Op::kSubtract) return CheckedTimestamp(a.timestamp_value() - b.duration_value());
    }
    if (a.kind() == K::kDuration && b.kind() == K::kTimestamp && op == Op::kAdd) {
      return CheckedTimestamp(b.timestamp_value() + a.duration_value());
    }
    if (a.kind() == K::kTimestamp && b.kind() == K::kTimestamp && op == Op::kSubtract) {
      return CheckedDuration(a.timestamp_value() - b.timestamp_value());
    }
    return NoOverload(name, a, b);
  }

  Value Comprehension(const Expr& e) {
    Value range = Eval(*e.target);
    if (range.is_error()) return range;
    ValueList keys;
    const ValueList* items;
    if (range.kind() == K::kList) {
      items = &range.list_value();
    } else if (range.kind() == K::kMap) {
      for (const auto& entry : range.map_value()) keys.push_back(entry.first);
      items = &keys;
    } else {
      return Err(absl::StrCat("expected a list or map to iterate over, got ", range.TypeNameOf()));
    }
    std::optional<Value> error;
    int64_t matches = 0;
    ValueList out;
    for (const Value& item : *items) {
      if (cost_ > limits_.max_cost) return OverBudget();
      locals_.emplace_back(&e.iter_var, item);
      Value v = Eval(*e.args[0]);
      Value mapped;
      bool want_map = e.macro == Macro::kMap;
      bool include = true;
      if (want_map && e.args.size() == 2) {
        // map(x, filter, transform): args[0] filters.
        if (v.is_error() || v.kind() != K::kBool) {
          locals_.pop_back();
          return v.is_error() ? v : NoOverload("map filter", v);
        }
        include = v.bool_value();
        if (include) mapped = Eval(*e.args[1]);
      } else if (want_map) {
        mapped = v;
      }
      locals_.pop_back();
      if (want_map) {
        if (!include) continue;
        if (mapped.is_error()) return mapped;
        out.push_back(std::move(mapped));
        continue;
      }
      if (v.is_error() || v.kind() != K::kBool) {
        Value err = v.is_error() ? v : NoOverload(".all/.exists predicate", v);
        if (e.macro == Macro::kAll || e.macro == Macro::kExists) {
          if (!error.has_value()) error = err;
          continue;
        }
        return err;
      }
      bool b = v.bool_value();
      switch (e.macro) {
        case Macro::kAll:
          if (!b) return Value::Bool(false);
          break;
        case Macro::kExists:
          if (b) return Value::Bool(true);
          break;
        case Macro::kExistsOne:
          matches += b ? 1 : 0;
          break;
        case Macro::kFilter:
          if (b) out.push_back(item);
          break;
        case Macro::kMap:
          break;
      }
    }
    switch (e.macro) {
      case Macro::kAll:
        return error.has_value() ? *error : Value::Bool(true);
      case Macro::kExists:
        return error.has_value() ? *error : Value::Bool(false);
      case Macro::kExistsOne:
        return Value::Bool(matches == 1);
      default:
        return Value::List(std::move(out));
    }
  }

  Value Function(const Expr& e) {
    std::vector<Value> args;
    args.reserve(e.args.size() + 1);
    if (e.target != nullptr) {
      args.push_back(Eval(*e.target));
      if (args.back().is_error()) return args.back();
    }
    for (const auto& arg : e.args) {
      args.push_back(Eval(*arg));
      if (args.back().is_error()) return args.back();
    }
    return CallFunction(e.name, e.target != nullptr, args);
  }

  static Value CallFunction(const std::string& name, bool receiver,
                            const std::vector<Value>& args) {
    if (args.size() == 1 && !receiver) {
      const Value& a = args[0];
      if (name == "int") return ToInt(a);
      if (name == "uint") return ToUint(a);
      if (name == "double") return ToDouble(a);
      if (name == "string") return ToString(a);
      if (name == "bytes") return ToBytes(a);
      if (name == "bool") return ToBool(a);
      if (name == "type") return Value::Type(a.TypeNameOf());
      if (name == "dyn") return a;
      if (name == "timestamp") return ToTimestamp(a);
      if (name == "duration") return ToDuration(a);
    }
    if (name == "size" && args.size() == 1) {
      const Value& a = args[0];
      switch (a.kind()) {
        case K::kString:
          return Value::Int(CodePointCount(a.string_value()));
        case K::kBytes:
          return Value::Int(static_cast<int64_t>(a.bytes_value().size()));
        case K::kList:
          return Value::Int(static_cast<int64_t>(a.list_value().size()));
        case K::kMap:
          return Value::Int(static_cast<int64_t>(a.map_value().size()));
        default:
          return NoOverload("size", a);
      }
    }
    if (args.size() == 2 &&
        (name == "startsWith" || name == "endsWith" || name == "contains" || name == "matches")) {
      const Value& a = args[0];
      const Value& b = args[1];
      if (a.kind() != K::kString || b.kind() != K::kString) return NoOverload(name, a, b);
      if (name == "startsWith")
        return Value::Bool(absl::StartsWith(a.string_value(), b.string_value()));
      if (name == "endsWith")
        return Value::Bool(absl::EndsWith(a.string_value(), b.string_value()));
      if (name == "contains")
        return Value::Bool(absl::StrContains(a.string_value(), b.string_value()));
      std::shared_ptr<const RE2> re = CompiledPattern(b.string_value());
      if (!re->ok()) return Err(absl::StrCat("invalid regular expression: ", re->error()));
      return Value::Bool(RE2::PartialMatch(a.string_value(), *re));
    }
    if (receiver && absl::StartsWith(name, "get") && !args.empty() && args.size() <= 2) {
      return TimeAccessor(name, args);
    }
    return Err(absl::StrCat("unbound function '", name, "' with ", args.size(), " argument(s)"));
  }

  static Value TimeAccessor(const std::string& name, const std::vector<Value>& args) {
    const Value& a = args[0];
    if (a.kind() == K::kDuration && args.size() == 1) {
      absl::Duration d = a.duration_value();
      if (name == "getHours") return Value::Int(absl::ToInt64Hours(d));
      if (name == "getMinutes") return Value::Int(absl::ToInt64Minutes(d));
      if (name == "getSeconds") return Value::Int(absl::ToInt64Seconds(d));
      if (name == "getMilliseconds") return Value::Int(absl::ToInt64Milliseconds(d) % 1000);
      return NoOverload(name, a);
    }
    if (a.kind() != K::kTimestamp) return NoOverload(name, a);
    absl::TimeZone tz = absl::UTCTimeZone();
    if (args.size() == 2) {
      if (args[1].kind() != K::kString) return NoOverload(name, a, args[1]);
      if (!ParseTimeZone(args[1].string_value(), &tz)) {
        return Err(absl::StrCat("unknown time zone '", args[1].string_value(), "'"));
      }
    }
    absl::TimeZone::CivilInfo info = tz.At(a.timestamp_value());
    const absl::CivilSecond& cs = info.cs;
    if (name == "getFullYear") return Value::Int(cs.year());
    if (name == "getMonth") return Value::Int(cs.month() - 1);
    if (name == "getDate") return Value::Int(cs.day());
    if (name == "getDayOfMonth") return Value::Int(cs.day() - 1);
    if (name == "getDayOfYear") return Value::Int(absl::GetYearDay(absl::CivilDay(cs)) - 1);
    if (name == "getDayOfWeek") {
      // absl numbers Monday..Sunday as 0..6; CEL counts from Sunday = 0.
      int wd = static_cast<int>(absl::GetWeekday(absl::CivilDay(cs)));
      return Value::Int((wd + 1) % 7);
    }
    if (name == "getHours") return Value::Int(cs.hour());
    if (name == "getMinutes") return Value::Int(cs.minute());
    if (name == "getSeconds") return Value::Int(cs.second());
    if (name == "getMilliseconds") {
      return Value::Int(absl::ToInt64Milliseconds(info.subsecond));
    }
    return NoOverload(name, a);
  }

  static Value ToInt(const Value& a) {
    switch (a.kind()) {
      case K::kInt:
        return a;
      case K::kUint:
        if (a.uint_value() > INT64_MAX) return Err("int() range error: uint too large");
        return Value::Int(static_cast<int64_t>(a.uint_value()));
      case K::kDouble: {
        double d = a.double_value();
        // Both ends exclusive: -2^63 itself is representable, but cel-go rejects
        // it too.
        if (!(d > -kTwo63 && d < kTwo63)) return Err("int() range error: double out of range");
        return Value::Int(static_cast<int64_t>(d));
      }
      case K::kString: {
        int64_t v;
        if (!absl::SimpleAtoi(a.string_value(), &v)) return Err("int() conversion error");
        return Value::Int(v);
      }
      case K::kTimestamp:
        return Value::Int(absl::ToUnixSeconds(a.timestamp_value()));
      default:
        return NoOverload("int", a);
    }
  }

  static Value ToUint(const Value& a) {
    switch (a.kind()) {
      case K::kUint:
        return a;
      case K::kInt:
        if (a.int_value() < 0) return Err("uint() range error: negative int");
        return Value::Uint(static_cast<uint64_t>(a.int_value()));
      case K::kDouble: {
        double d = a.double_value();
        if (!(d > -1 && d < kTwo64)) return Err("uint() range error: double out of range");
        return Value::Uint(static_cast<uint64_t>(d));
      }
      case K::kString: {
        uint64_t v;
        if (!absl::SimpleAtoi(a.string_value(), &v)) return Err("uint() conversion error");
        return Value::Uint(v);
      }
      default:
        return NoOverload("uint", a);
    }
  }

  static Value ToDouble(const Value& a) {
    switch (a.kind()) {
      case K::kDouble:
        return a;
      case K::kInt:
        return Value::Double(static_cast<double>(a.int_value()));
      case K::kUint:
        return Value::Double(static_cast<double>(a.uint_value()));
      case K::kString: {
        const std::string& s = a.string_value();
        double d = 0;
        auto res = std::from_chars(s.data(), s.data() + s.size(), d);
        if (res.ec != std::errc() || res.ptr != s.data() + s.size()) {
          return Err("double() conversion error");
        }
        return Value::Double(d);
      }
      default:
        return NoOverload("double", a);
    }
  }

  static Value ToString(const Value& a) {
    switch (a.kind()) {
      case K::kString:
        return a;
      case K::kInt:
        return Value::String(absl::StrCat(a.int_value()));
      case K::kUint:
        return Value::String(absl::StrCat(a.uint_value()));
      case K::kDouble:
        return Value::String(DoubleToString(a.double_value()));
      case K::kBool:
        return Value::String(a.bool_value() ? "true" : "false");
      case K::kBytes:
        if (!IsValidUtf8(a.bytes_value())) return Err("string() of bytes: invalid UTF-8");
        return Value::String(a.bytes_value());
      case K::kTimestamp:
        return Value::String(
            absl::FormatTime("%Y-%m-%d%ET%H:%M:%E*SZ", a.timestamp_value(), absl::UTCTimeZone()));
      case K::kDuration:
        return Value::String(CelDurationString(a.duration_value()));
      default:
        return NoOverload("string", a);
    }
  }

  static Value ToBytes(const Value& a) {
    if (a.kind() == K::kBytes) return a;
    if (a.kind() == K::kString) return Value::BytesOf(a.string_value());
    return NoOverload("bytes", a);
  }

  static Value ToBool(const Value& a) {
    if (a.kind() == K::kBool) return a;
    if (a.kind() != K::kString) return NoOverload("bool", a);
    static constexpr absl::string_view kTrue[] = {"1", "t", "true", "TRUE", "True"};
    static constexpr absl::string_view kFalse[] = {"0", "f", "false", "FALSE", "False"};
    for (absl::string_view s : kTrue) {
      if (a.string_value() == s) return Value::Bool(true);
    }
    for (absl::string_view s : kFalse) {
      if (a.string_value() == s) return Value::Bool(false);
    }
    return Err(absl::StrCat("Type conversion error: bool('", a.string_value(), "')"));
  }

  static Value ToTimestamp(const Value& a) {
    switch (a.kind()) {
      case K::kTimestamp:
        return a;
      case K::kInt:
        return CheckedTimestamp(absl::FromUnixSeconds(a.int_value()));
      case K::kString: {
        absl::Time t;
        std::string err;
        if (!absl::ParseTime(absl::RFC3339_full, a.string_value(), &t, &err)) {
          return Err(absl::StrCat("timestamp() cannot parse '", a.string_value(), "': ", err));
        }
        return CheckedTimestamp(t);
      }
      default:
        return NoOverload("timestamp", a);
    }
  }

  static Value ToDuration(const Value& a) {
    switch (a.kind()) {
      case K::kDuration:
        return a;
      case K::kString: {
        absl::Duration d;
        if (!absl::ParseDuration(a.string_value(), &d)) {
          return Err(absl::StrCat("duration() cannot parse '", a.string_value(), "'"));
        }
        return CheckedDuration(d);
      }
      default:
        return NoOverload("duration", a);
    }
  }

  const Activation& activation_;
  const EvalLimits& limits_;
  int64_t cost_ = 0;
  // Comprehension variables, innermost last; they shadow the activation.
  std::vector<std::pair<const std::string*, Value>> locals_;
};

}  // namespace

Value Evaluate(const Expr& expr, const Activation& activation, const EvalLimits& limits) {
  Evaluator evaluator(activation, limits);
  return evaluator.Eval(expr);
}

absl::StatusOr<Value> EvaluateOrStatus(const Expr& expr, const Activation& activation,
                                       const EvalLimits& limits) {
  Value v = Evaluate(expr, activation, limits);
  if (v.is_error()) return v.error();
  return v;
}

}  // namespace centric::cel
