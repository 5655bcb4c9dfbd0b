#include "libs/cel/value.h"

#include <charconv>
#include <cmath>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace centric::cel {
namespace {

// int and uint compare with double after conversion to double, as the CEL
// conformance tests require (9223372036854775807 == 9223372036854775808.0
// holds).
std::optional<int> CompareIntDouble(int64_t i, double d) {
  if (std::isnan(d)) return std::nullopt;
  double x = static_cast<double>(i);
  return x < d ? -1 : (x > d ? 1 : 0);
}

std::optional<int> CompareUintDouble(uint64_t u, double d) {
  if (std::isnan(d)) return std::nullopt;
  double x = static_cast<double>(u);
  return x < d ? -1 : (x > d ? 1 : 0);
}

template <typename T>
int Cmp(const T& a, const T& b) {
  return a < b ? -1 : (b < a ? 1 : 0);
}

bool IsNumber(Value::Kind k) {
  return k == Value::Kind::kInt || k == Value::Kind::kUint || k == Value::Kind::kDouble;
}

// Numeric comparison across int, uint and double; precondition: both are
// numbers.
std::optional<int> CompareNumbers(const Value& a, const Value& b) {
  using K = Value::Kind;
  switch (a.kind()) {
    case K::kInt:
      if (b.kind() == K::kInt) return Cmp(a.int_value(), b.int_value());
      if (b.kind() == K::kUint) {
        if (a.int_value() < 0) return -1;
        return Cmp(static_cast<uint64_t>(a.int_value()), b.uint_value());
      }
      return CompareIntDouble(a.int_value(), b.double_value());
    case K::kUint:
      if (b.kind() == K::kUint) return Cmp(a.uint_value(), b.uint_value());
      if (b.kind() == K::kInt) {
        if (b.int_value() < 0) return 1;
        return Cmp(a.uint_value(), static_cast<uint64_t>(b.int_value()));
      }
      return CompareUintDouble(a.uint_value(), b.double_value());
    default: {
      if (b.kind() == K::kDouble) {
        double x = a.double_value(), y = b.double_value();
        if (std::isnan(x) || std::isnan(y)) return std::nullopt;
        return Cmp(x, y);
      }
      auto r = b.kind() == K::kInt ? CompareIntDouble(b.int_value(), a.double_value())
                                   : CompareUintDouble(b.uint_value(), a.double_value());
      if (!r.has_value()) return r;
      return -*r;
    }
  }
}

}  // namespace

std::string DoubleToString(double d) {
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d > 0 ? "+Inf" : "-Inf";
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof(buf), d);
  return std::string(buf, res.ptr);
}

std::string Value::TypeNameOf() const {
  switch (kind()) {
    case Kind::kNull:
      return "null_type";
    case Kind::kBool:
      return "bool";
    case Kind::kInt:
      return "int";
    case Kind::kUint:
      return "uint";
    case Kind::kDouble:
      return "double";
    case Kind::kString:
      return "string";
    case Kind::kBytes:
      return "bytes";
    case Kind::kList:
      return "list";
    case Kind::kMap:
      return "map";
    case Kind::kTimestamp:
      return "google.protobuf.Timestamp";
    case Kind::kDuration:
      return "google.protobuf.Duration";
    case Kind::kType:
      return "type";
    case Kind::kError:
      return "error";
  }
  return "unknown";
}

std::string Value::DebugString() const {
  switch (kind()) {
    case Kind::kNull:
      return "null";
    case Kind::kBool:
      return bool_value() ? "true" : "false";
    case Kind::kInt:
      return absl::StrCat(int_value());
    case Kind::kUint:
      return absl::StrCat(uint_value(), "u");
    case Kind::kDouble:
      return DoubleToString(double_value());
    case Kind::kString:
      return absl::StrCat("\"", absl::CHexEscape(string_value()), "\"");
    case Kind::kBytes:
      return absl::StrCat("b\"", absl::CHexEscape(bytes_value()), "\"");
    case Kind::kList:
      return absl::StrCat("[",
                          absl::StrJoin(list_value(), ", ",
                                        [](std::string* out, const Value& v) {
                                          absl::StrAppend(out, v.DebugString());
                                        }),
                          "]");
    case Kind::kMap:
      return absl::StrCat("{",
                          absl::StrJoin(map_value(), ", ",
                                        [](std::string* out, const auto& e) {
                                          absl::StrAppend(out, e.first.DebugString(), ": ",
                                                          e.second.DebugString());
                                        }),
                          "}");
    case Kind::kTimestamp:
      return absl::StrCat(
          "timestamp(\"",
          absl::FormatTime(absl::RFC3339_full, timestamp_value(), absl::UTCTimeZone()), "\")");
    case Kind::kDuration:
      return absl::StrCat("duration(\"", absl::FormatDuration(duration_value()), "\")");
    case Kind::kType:
      return type_value();
    case Kind::kError:
      return absl::StrCat("error(", error().ToString(), ")");
  }
  return "?";
}

Value Equal(const Value& a, const Value& b) {
  using K = Value::Kind;
  if (a.is_error()) return a;
  if (b.is_error()) return b;
  if (IsNumber(a.kind()) && IsNumber(b.kind())) {
    auto r = CompareNumbers(a, b);
    return Value::Bool(r.has_value() && *r == 0);
  }
  if (a.kind() != b.kind()) return Value::Bool(false);
  switch (a.kind()) {
    case K::kNull:
      return Value::Bool(true);
    case K::kBool:
      return Value::Bool(a.bool_value() == b.bool_value());
    case K::kString:
      return Value::Bool(a.string_value() == b.string_value());
    case K::kBytes:
      return Value::Bool(a.bytes_value() == b.bytes_value());
    case K::kTimestamp:
      return Value::Bool(a.timestamp_value() == b.timestamp_value());
    case K::kDuration:
      return Value::Bool(a.duration_value() == b.duration_value());
    case K::kType:
      return Value::Bool(a.type_value() == b.type_value());
    case K::kList: {
      const ValueList& x = a.list_value();
      const ValueList& y = b.list_value();
      if (x.size() != y.size()) return Value::Bool(false);
      for (size_t i = 0; i < x.size(); ++i) {
        Value e = Equal(x[i], y[i]);
        if (e.is_error() || !e.bool_value()) return e;
      }
      return Value::Bool(true);
    }
    case K::kMap: {
      const ValueMap& x = a.map_value();
      const ValueMap& y = b.map_value();
      if (x.size() != y.size()) return Value::Bool(false);
      for (const auto& [key, value] : x) {
        const Value* other = MapFind(y, key);
        if (other == nullptr) return Value::Bool(false);
        Value e = Equal(value, *other);
        if (e.is_error() || !e.bool_value()) return e;
      }
      return Value::Bool(true);
    }
    default:
      return Value::Bool(false);
  }
}

absl::Status Compare(const Value& a, const Value& b, std::optional<int>* result) {
  using K = Value::Kind;
  if (IsNumber(a.kind()) && IsNumber(b.kind())) {
    *result = CompareNumbers(a, b);
    return absl::OkStatus();
  }
  if (a.kind() == b.kind()) {
    switch (a.kind()) {
      case K::kBool:
        *result = Cmp(a.bool_value(), b.bool_value());
        return absl::OkStatus();
      case K::kString:
        *result = Cmp(a.string_value(), b.string_value());
        return absl::OkStatus();
      case K::kBytes:
        *result = Cmp(a.bytes_value(), b.bytes_value());
        return absl::OkStatus();
      case K::kTimestamp:
        *result = Cmp(a.timestamp_value(), b.timestamp_value());
        return absl::OkStatus();
      case K::kDuration:
        *result = Cmp(a.duration_value(), b.duration_value());
        return absl::OkStatus();
      default:
        break;
    }
  }
  return absl::InvalidArgumentError(absl::StrCat("no matching overload for ordering of ",
                                                 a.TypeNameOf(), " and ", b.TypeNameOf()));
}

const Value* MapFind(const ValueMap& map, const Value& key) {
  for (const auto& entry : map) {
    Value e = Equal(entry.first, key);
    if (!e.is_error() && e.bool_value()) return &entry.second;
  }
  return nullptr;
}

absl::Status BuildMap(ValueMap entries, Value* out) {
  for (size_t i = 0; i < entries.size(); ++i) {
    Value::Kind k = entries[i].first.kind();
    if (k != Value::Kind::kBool && k != Value::Kind::kInt && k != Value::Kind::kUint &&
        k != Value::Kind::kString) {
      return absl::InvalidArgumentError(
          absl::StrCat("unsupported key type ", entries[i].first.TypeNameOf()));
    }
    for (size_t j = 0; j < i; ++j) {
      Value e = Equal(entries[j].first, entries[i].first);
      if (!e.is_error() && e.bool_value()) {
        return absl::InvalidArgumentError(
            absl::StrCat("Failed with repeated key ", entries[i].first.DebugString()));
      }
    }
  }
  *out = Value::Map(std::move(entries));
  return absl::OkStatus();
}

}  // namespace centric::cel
