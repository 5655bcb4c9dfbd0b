#include "libs/cel/checker.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "libs/cel/parser.h"

namespace centric::cel {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using TK = Type::Kind;

class CheckerTest : public ::testing::Test {
 protected:
  CheckerTest() {
    stats_.name = "customer.stats";
    stats_.fields["orders"] = {Type::Of(TK::kInt), false, std::nullopt};
    stats_.fields["last_order"] = {Type::Of(TK::kTimestamp), false,
                                   Value::Timestamp(absl::UnixEpoch())};
    customer_.name = "customer";
    customer_.fields["country"] = {Type::Of(TK::kString), false, std::nullopt};
    customer_.fields["stats"] = {Type::Object(&stats_), false, std::nullopt};
    customer_.fields["tags"] = {Type::List(Type::Of(TK::kString), 10), false, std::nullopt};
    customer_.fields["attrs"] = {Type::Map(Type::Of(TK::kString), Type::Dyn(), 50), false,
                                 std::nullopt};
    decls_.AddVariable("customer", Type::Object(&customer_));
    decls_.AddVariable("now", Type::Of(TK::kTimestamp));
    decls_.AddConstant("GOLD", Value::Int(3));
  }

  absl::StatusOr<CheckResult> CheckSource(absl::string_view source, CheckOptions options = {}) {
    auto ast = Parse(source);
    if (!ast.ok()) return ast.status();
    ast_ = std::move(*ast);
    return Check(*ast_, decls_, options);
  }

  ObjectType stats_;
  ObjectType customer_;
  Declarations decls_;
  std::unique_ptr<Expr> ast_;
};

TEST_F(CheckerTest, TypesAWellFormedRuleAndListsTheFieldsItReads) {
  auto r = CheckSource(
      "customer.country == 'DE' && customer.stats.orders > GOLD && "
      "now - customer.stats.last_order < duration('720h') && customer.attrs.vip == true");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->type->kind, TK::kBool);
  EXPECT_THAT(r->fields, ElementsAre("customer.attrs.vip", "customer.country",
                                     "customer.stats.last_order", "customer.stats.orders"));
  EXPECT_THAT(r->variables, ElementsAre("customer", "now"));
}

TEST_F(CheckerTest, UnknownFieldNamesTheFieldAndListsTheKnownOnes) {
  auto r = CheckSource("customer.stats.revenue > 10");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(), HasSubstr("1:16: unknown field 'revenue' of customer.stats"));
  EXPECT_THAT(r.status().message(), HasSubstr("last_order, orders"));
}

TEST_F(CheckerTest, UnknownVariableAndFunctionAreErrors) {
  EXPECT_THAT(CheckSource("custmer.country == 'DE'").status().message(),
              HasSubstr("undeclared reference to 'custmer'"));
  EXPECT_THAT(CheckSource("customer.country.lower() == 'de'").status().message(),
              HasSubstr("unknown function 'lower'"));
}

TEST_F(CheckerTest, WrongOperandTypesAreErrorsWithTheTypes) {
  EXPECT_THAT(CheckSource("customer.country > 3").status().message(),
              HasSubstr("no matching overload for '>' applied to (string, int)"));
  EXPECT_THAT(CheckSource("customer.country == 3").status().message(),
              HasSubstr("'==' applied to (string, int)"));
  EXPECT_THAT(CheckSource("customer.stats.orders + 1.5 > 2.0").status().message(),
              HasSubstr("CEL does not mix number types"));
  EXPECT_THAT(CheckSource("customer.stats.orders && true").status().message(),
              HasSubstr("'&&' applied to (int, bool)"));
  EXPECT_THAT(CheckSource("customer.tags.exists(t, t + 1)").status().message(),
              HasSubstr("'+' applied to (string, int)"));
}

TEST_F(CheckerTest, NumbersCompareAcrossTypesAndDynDefersToEvaluation) {
  EXPECT_TRUE(CheckSource("customer.stats.orders > 2.5").ok());
  EXPECT_TRUE(CheckSource("customer.attrs.age > 30 && customer.attrs.name.startsWith('A')").ok());
  EXPECT_TRUE(CheckSource("'vip' in customer.tags").ok());
  EXPECT_FALSE(CheckSource("1 in customer.tags").ok());
}

TEST_F(CheckerTest, HasAppliesToMapsAndTimesButNotToPlainFields) {
  EXPECT_TRUE(CheckSource("has(customer.attrs.vip)").ok());
  EXPECT_THAT(CheckSource("has(customer.country)").status().message(),
              HasSubstr("has() does not apply to customer.country"));
  // A time reads as the epoch when unset; has() becomes a comparison with it.
  auto r = CheckSource("has(customer.stats.last_order)");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(ast_->kind, Expr::Kind::kCall);
  EXPECT_EQ(ast_->op, Op::kNotEqual);
  Activation a;
  a.Bind("customer", Value::Map({{Value::String("stats"),
                                  Value::Map({{Value::String("last_order"),
                                               Value::Timestamp(absl::UnixEpoch())}})}}));
  EXPECT_FALSE(Evaluate(*ast_, a).bool_value());
}

TEST_F(CheckerTest, NestedMacrosOverLargeListsExceedTheCostEstimate) {
  CheckOptions options;
  options.max_estimated_cost = 10000;
  options.assumed_dyn_size = 1000;
  EXPECT_TRUE(CheckSource("customer.attrs.items.exists(i, i > 3)", options).ok());
  auto r = CheckSource("customer.attrs.items.exists(i, customer.attrs.items.exists(j, i == j))",
                       options);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("limit 10000"));
  // Declared small lists are cheap even when nested.
  EXPECT_TRUE(CheckSource("customer.tags.all(a, customer.tags.exists(b, a == b))", options).ok());
}

TEST_F(CheckerTest, ComprehensionVariablesAreScoped) {
  EXPECT_TRUE(CheckSource("customer.tags.exists(t, t.startsWith('a'))").ok());
  EXPECT_THAT(CheckSource("customer.tags.exists(t, t == 'a') && t == 'b'").status().message(),
              HasSubstr("undeclared reference to 't'"));
  EXPECT_THAT(CheckSource("customer.tags.exists(t, t)").status().message(),
              HasSubstr("predicate must be bool"));
}

TEST_F(CheckerTest, ResultTypeIsReported) {
  auto r = CheckSource("customer.stats.orders * 2");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->type->kind, TK::kInt);
  r = CheckSource("customer.tags.map(t, size(t))");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->type->Name(), "list(int)");
}

}  // namespace
}  // namespace centric::cel
