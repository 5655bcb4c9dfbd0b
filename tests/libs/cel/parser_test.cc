#include "libs/cel/parser.h"

#include <string>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/cel/eval.h"

namespace centric::cel {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

absl::Status ParseError(const std::string& source) {
  auto ast = Parse(source);
  if (ast.ok()) return absl::OkStatus();
  return ast.status();
}

std::string ParseMessage(const std::string& source) {
  return std::string(ParseError(source).message());
}

Value Eval(const std::string& source, const Activation& activation = Activation()) {
  auto ast = Parse(source);
  EXPECT_TRUE(ast.ok()) << ast.status();
  if (!ast.ok()) return Value::Error(ast.status());
  return Evaluate(**ast, activation);
}

TEST(CelParserTest, MissingOperandNamesLineColumnAndWhatWasExpected) {
  absl::Status s = ParseError("a &&");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "1:5: expected an expression but found end of input");
}

TEST(CelParserTest, UnclosedParenthesisOnSecondLine) {
  absl::Status s = ParseError("x == 1 &&\n  (y > 2");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "2:9: expected ')' but found end of input");
}

TEST(CelParserTest, ColumnsCountCodePoints) {
  EXPECT_EQ(ParseError("'ü' == 'ü' )").message(),
            "1:12: expected an operator or the end of the expression but found ')'");
}

TEST(CelParserTest, ReservedWordAsIdentifier) {
  EXPECT_THAT(ParseMessage("if > 1"),
              StartsWith("1:1: expected an identifier but found reserved word 'if'"));
}

TEST(CelParserTest, SingleEqualsSuggestsDoubleEquals) {
  EXPECT_THAT(ParseMessage("a = 1"), StartsWith("1:3: unexpected '='"));
}

TEST(CelParserTest, UnterminatedString) {
  EXPECT_THAT(ParseMessage("name == 'abc"), StartsWith("1:9: expected the closing"));
}

TEST(CelParserTest, HasNeedsFieldSelection) {
  EXPECT_THAT(ParseMessage("has(x)"), HasSubstr("1:1: expected a field selection"));
}

TEST(CelParserTest, MessageConstructionIsRejected) {
  EXPECT_THAT(ParseMessage("Foo{a: 1}"), HasSubstr("not supported"));
}

TEST(CelParserTest, IntegerLiteralRange) {
  EXPECT_TRUE(ParseError("-9223372036854775808").ok());
  EXPECT_THAT(ParseMessage("9223372036854775808"), StartsWith("1:1: integer literal out of range"));
}

TEST(CelParserTest, NestingIsBounded) {
  std::string deep(kMaxNesting + 10, '(');
  deep += "1";
  deep += std::string(kMaxNesting + 10, ')');
  EXPECT_THAT(ParseMessage(deep), HasSubstr("nests deeper than"));
  std::string chain = "1";
  for (int i = 0; i < kMaxNesting + 10; ++i) chain += " + 1";
  EXPECT_THAT(ParseMessage(chain), HasSubstr("nests deeper than"));
}

TEST(CelParserTest, PrecedenceFollowsCel) {
  EXPECT_EQ(Eval("1 + 2 * 3 - 4 % 3").int_value(), 6);
  EXPECT_TRUE(Eval("true || false && false").bool_value());
  EXPECT_EQ(Eval("false ? 1 : true ? 2 : 3").int_value(), 2);
  EXPECT_TRUE(Eval("!false == true").bool_value());
  EXPECT_EQ(Eval("-[1, 2][1]").int_value(), -2);
}

Value Map(std::initializer_list<std::pair<const char*, Value>> entries) {
  ValueMap map;
  for (const auto& [key, value] : entries) map.emplace_back(Value::String(key), value);
  return Value::Map(std::move(map));
}

TEST(CelEvalTest, ProfileRuleOverMapActivation) {
  const std::string rule =
      "profile.traits.country == \"DE\" && "
      "profile.aggregates.revenue_total > 500.0 && "
      "rfm.r >= 4";
  auto ast = Parse(rule);
  ASSERT_TRUE(ast.ok()) << ast.status();

  auto activation_for = [](const char* country, double revenue, int64_t r) {
    Activation a;
    a.Bind("profile", Map({{"traits", Map({{"country", Value::String(country)}})},
                           {"aggregates", Map({{"revenue_total", Value::Double(revenue)}})}}));
    a.Bind("rfm", Map({{"r", Value::Int(r)}, {"f", Value::Int(2)}}));
    return a;
  };
  Value match = Evaluate(**ast, activation_for("DE", 812.5, 5));
  ASSERT_EQ(match.kind(), Value::Kind::kBool) << match.DebugString();
  EXPECT_TRUE(match.bool_value());
  EXPECT_FALSE(Evaluate(**ast, activation_for("FR", 812.5, 5)).bool_value());
  EXPECT_FALSE(Evaluate(**ast, activation_for("DE", 100.0, 5)).bool_value());
  EXPECT_FALSE(Evaluate(**ast, activation_for("DE", 812.5, 3)).bool_value());
}

TEST(CelEvalTest, MissingFieldIsAnErrorThatFalseAbsorbs) {
  Activation a;
  a.Bind("profile", Map({{"traits", Map({})}}));
  Value missing = Eval("profile.traits.country == 'DE'", a);
  ASSERT_TRUE(missing.is_error());
  EXPECT_THAT(std::string(missing.error().message()), HasSubstr("no such key"));
  EXPECT_FALSE(Eval("profile.traits.country == 'DE' && false", a).bool_value());
  EXPECT_TRUE(Eval("has(profile.traits) && !has(profile.traits.country)", a).bool_value());
}

TEST(CelEvalTest, ErrorsAreValuesNotCrashes) {
  EXPECT_TRUE(Eval("1 / 0").is_error());
  EXPECT_TRUE(Eval("1 % 0").is_error());
  EXPECT_TRUE(Eval("9223372036854775807 + 1").is_error());
  EXPECT_TRUE(Eval("unknown_var").is_error());
  EXPECT_TRUE(Eval("1 + 'a'").is_error());
  EXPECT_TRUE(Eval("{'a': 1}['b']").is_error());
  EXPECT_TRUE(Eval("1 / 0 > 1 || true").bool_value());
}

TEST(CelEvalTest, LastPurchaseWithinThirtyDays) {
  Activation a;
  a.Bind("now", Value::Timestamp(absl::FromUnixSeconds(1700000000)));
  a.Bind("last_purchase_at", Value::Timestamp(absl::FromUnixSeconds(1700000000 - 86400 * 3)));
  EXPECT_TRUE(Eval("now - last_purchase_at < duration('720h')", a).bool_value());
  EXPECT_TRUE(Eval("last_purchase_at > now - duration('720h')", a).bool_value());
  EXPECT_EQ(Eval("timestamp('2024-03-01T10:00:00Z').getMonth()").int_value(), 2);
}

TEST(CelEvalTest, MacrosAndStrings) {
  EXPECT_EQ(Eval("[1, 2, 3, 4].filter(x, x % 2 == 0).map(x, x * 10)").DebugString(), "[20, 40]");
  EXPECT_EQ(Eval("[1, 2, 3].map(x, x > 1, x + 1)").DebugString(), "[3, 4]");
  EXPECT_TRUE(Eval("['a@x.de', 'b@y.com'].exists(e, e.endsWith('.de'))").bool_value());
  EXPECT_TRUE(Eval("'DE-1234'.matches('^[A-Z]{2}-[0-9]+$')").bool_value());
  EXPECT_EQ(Eval("size('größe')").int_value(), 5);
}

}  // namespace
}  // namespace centric::cel

namespace centric::cel {
namespace {

// A list literal of `n` small ints, e.g. "[0, 1, 2]".
std::string IntList(int n) {
  std::string out = "[";
  for (int i = 0; i < n; ++i) out += (i ? ", " : "") + std::to_string(i);
  return out + "]";
}

TEST(CelBudgetTest, NestedMacrosOverLargeListsStopWithResourceExhausted) {
  // 100^4 = 10^8 inner evaluations if unbounded; a few hundred bytes of source.
  const std::string l = IntList(100);
  const std::string source = l + ".map(a, " + l + ".map(b, " + l + ".map(c, " + l +
                             ".map(d, a + b + c + d))))";
  auto ast = Parse(source);
  ASSERT_TRUE(ast.ok()) << ast.status();
  auto result = EvaluateOrStatus(**ast, Activation());
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(result.status().message().find("cost budget"), absl::string_view::npos);
}

TEST(CelBudgetTest, OrdinaryRulesStayWellInsideTheBudgetAndLimitsAreConfigurable) {
  auto ast = Parse(IntList(50) + ".exists(x, x == 49)");
  ASSERT_TRUE(ast.ok());
  auto fine = EvaluateOrStatus(**ast, Activation());
  ASSERT_TRUE(fine.ok()) << fine.status();
  EXPECT_TRUE(fine->bool_value());
  auto tight = EvaluateOrStatus(**ast, Activation(), EvalLimits{.max_cost = 20});
  EXPECT_EQ(tight.status().code(), absl::StatusCode::kResourceExhausted);
}

}  // namespace
}  // namespace centric::cel
