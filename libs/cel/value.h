// The dynamic value model of the CEL evaluator: every expression evaluates to a
// Value. Evaluation errors (division by zero, no such key, ...) are Values too,
// so that `||` and `&&` can absorb them the way the CEL specification requires.
#ifndef CENTRIC_LIBS_CEL_VALUE_H_
#define CENTRIC_LIBS_CEL_VALUE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace centric::cel {

class Value;
using ValueList = std::vector<Value>;
// Map entries in insertion order. Keys are bool, int, uint or string; lookups
// use CEL's heterogeneous numeric equality, so a map holds at most one of 1, 1u
// and 1.0.
using ValueMap = std::vector<std::pair<Value, Value>>;

// A byte string, kept apart from std::string so that strings (UTF-8) and bytes
// never mix.
struct Bytes {
  std::string data;
};

// A CEL type as a value, e.g. the result of type(1) is the type named "int".
struct TypeName {
  std::string name;
};

class Value {
 public:
  // The order matches the alternatives of the variant below.
  enum class Kind {
    kNull,
    kBool,
    kInt,
    kUint,
    kDouble,
    kString,
    kBytes,
    kList,
    kMap,
    kTimestamp,
    kDuration,
    kType,
    kError,
  };

  Value() = default;  // null
  static Value Null() { return Value(); }
  static Value Bool(bool b) { return Value(Rep(std::in_place_index<1>, b)); }
  static Value Int(int64_t i) { return Value(Rep(std::in_place_index<2>, i)); }
  static Value Uint(uint64_t u) { return Value(Rep(std::in_place_index<3>, u)); }
  static Value Double(double d) { return Value(Rep(std::in_place_index<4>, d)); }
  static Value String(std::string s) { return Value(Rep(std::in_place_index<5>, std::move(s))); }
  static Value BytesOf(std::string b) {
    return Value(Rep(std::in_place_index<6>, Bytes{std::move(b)}));
  }
  static Value List(ValueList l) {
    return Value(Rep(std::in_place_index<7>, std::make_shared<const ValueList>(std::move(l))));
  }
  // Precondition: keys are distinct and of a supported key kind (see BuildMap
  // for checked construction).
  static Value Map(ValueMap m) {
    return Value(Rep(std::in_place_index<8>, std::make_shared<const ValueMap>(std::move(m))));
  }
  static Value Timestamp(absl::Time t) { return Value(Rep(std::in_place_index<9>, t)); }
  static Value Duration(absl::Duration d) { return Value(Rep(std::in_place_index<10>, d)); }
  static Value Type(std::string name) {
    return Value(Rep(std::in_place_index<11>, TypeName{std::move(name)}));
  }
  // Precondition: !status.ok().
  static Value Error(absl::Status status) {
    return Value(Rep(std::in_place_index<12>, std::move(status)));
  }

  Kind kind() const { return static_cast<Kind>(rep_.index()); }
  bool is_error() const { return kind() == Kind::kError; }

  // Accessors; each has the precondition that kind() matches.
  bool bool_value() const { return std::get<1>(rep_); }
  int64_t int_value() const { return std::get<2>(rep_); }
  uint64_t uint_value() const { return std::get<3>(rep_); }
  double double_value() const { return std::get<4>(rep_); }
  const std::string& string_value() const { return std::get<5>(rep_); }
  const std::string& bytes_value() const { return std::get<6>(rep_).data; }
  const ValueList& list_value() const { return *std::get<7>(rep_); }
  const ValueMap& map_value() const { return *std::get<8>(rep_); }
  absl::Time timestamp_value() const { return std::get<9>(rep_); }
  absl::Duration duration_value() const { return std::get<10>(rep_); }
  const std::string& type_value() const { return std::get<11>(rep_).name; }
  const absl::Status& error() const { return std::get<12>(rep_); }

  // The CEL type name of this value: "int", "list",
  // "google.protobuf.Timestamp", ...
  std::string TypeNameOf() const;
  // A CEL-like rendering for test failures and error messages, e.g. [1, "a",
  // b"\x00"].
  std::string DebugString() const;

 private:
  using Rep = std::variant<std::monostate, bool, int64_t, uint64_t, double, std::string, Bytes,
                           std::shared_ptr<const ValueList>, std::shared_ptr<const ValueMap>,
                           absl::Time, absl::Duration, TypeName, absl::Status>;
  explicit Value(Rep rep) : rep_(std::move(rep)) {}
  Rep rep_;
};

// Shortest text that reads back as `d` ("123.456", "1e+21"; "NaN", "+Inf", "-Inf"), the
// form string(double) produces.
std::string DoubleToString(double d);

// CEL equality: numbers compare by value across int, uint and double (1 == 1u
// == 1.0), lists and maps element-wise, values of different kinds are unequal.
// Returns an error Value when either side is an error; otherwise a bool Value.
Value Equal(const Value& a, const Value& b);

// CEL ordering for < <= > >=: -1, 0 or 1; nullopt when the values are not
// ordered (NaN) and an error status when no ordering overload exists for the
// two kinds.
absl::Status Compare(const Value& a, const Value& b, std::optional<int>* result);

// Looks `key` up with heterogeneous numeric equality; nullptr when absent.
const Value* MapFind(const ValueMap& map, const Value& key);

// Builds a map literal: INVALID_ARGUMENT for a key of an unsupported kind
// ("unsupported key type") or a repeated key.
absl::Status BuildMap(ValueMap entries, Value* out);

}  // namespace centric::cel

#endif  // CENTRIC_LIBS_CEL_VALUE_H_
