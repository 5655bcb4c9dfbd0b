#include "libs/clv/lifetime_value.h"

#include <cmath>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace centric::clv {
namespace {

using ::testing::HasSubstr;

constexpr BgNbdParams kPurchases = {0.243, 4.414, 0.793, 2.426};
constexpr GammaGammaParams kSpend = {6.25, 3.74, 15.44};
const CustomerSummary kCustomer = {"1", 2, 30.43, 38.86, 22.35};

CustomerValue Compute(const ClvOptions& options, const CustomerSummary& c = kCustomer) {
  absl::StatusOr<CustomerValue> v = CustomerLifetimeValue(kPurchases, kSpend, c, options);
  EXPECT_TRUE(v.ok()) << v.status();
  return v.ok() ? *v : CustomerValue{};
}

TEST(CustomerLifetimeValueTest, WithoutDiscountingIsSpendTimesExpectedPurchases) {
  ClvOptions options;
  options.horizon = 39;
  options.annual_discount_rate = 0;
  const CustomerValue v = Compute(options);
  EXPECT_NEAR(v.probability_alive, 0.726579, 1e-6);
  EXPECT_NEAR(v.expected_purchases, 1.226, 5e-4);
  EXPECT_NEAR(v.expected_average_spend, *ExpectedAverageSpend(kSpend, kCustomer), 1e-12);
  EXPECT_NEAR(v.lifetime_value, v.expected_average_spend * v.expected_purchases, 1e-9);
}

TEST(CustomerLifetimeValueTest, DiscountsEachStepFromItsEnd) {
  ClvOptions options;
  options.horizon = 104;
  options.step = 104;  // one step: everything discounted by two years
  options.annual_discount_rate = 0.1;
  options.periods_per_year = 52;
  const CustomerValue one_step = Compute(options);
  EXPECT_NEAR(one_step.lifetime_value,
              one_step.expected_average_spend * one_step.expected_purchases / (1.1 * 1.1), 1e-9);
  // Finer steps discount earlier purchases less.
  options.step = 1;
  const CustomerValue weekly = Compute(options);
  EXPECT_GT(weekly.lifetime_value, one_step.lifetime_value);
  EXPECT_LT(weekly.lifetime_value, weekly.expected_average_spend * weekly.expected_purchases);
  // A last step shorter than `step` ends at the horizon.
  options.step = 5;
  EXPECT_NEAR(Compute(options).expected_purchases, weekly.expected_purchases, 1e-12);
}

TEST(CustomerLifetimeValueTest, GrowsWithTheHorizonAndFallsWithTheRate) {
  ClvOptions options;
  double previous = 0;
  for (double horizon : {13.0, 52.0, 260.0}) {
    options.horizon = horizon;
    const double value = Compute(options).lifetime_value;
    EXPECT_GT(value, previous);
    previous = value;
  }
  options.annual_discount_rate = 0.3;
  EXPECT_LT(Compute(options).lifetime_value, previous);
}

TEST(CustomerLifetimeValueTest, ValuesANewCustomerWithThePopulationModels) {
  ClvOptions options;
  options.horizon = 52;
  options.annual_discount_rate = 0;
  const CustomerValue v = Compute(options, {"new", 0, 0, 0, 0});
  EXPECT_EQ(v.probability_alive, 1);
  EXPECT_NEAR(v.expected_purchases, *ExpectedPurchasesNewCustomer(kPurchases, 52), 1e-12);
  EXPECT_NEAR(v.expected_average_spend, kSpend.p * kSpend.gamma / (kSpend.q - 1), 1e-12);
}

TEST(CustomerLifetimeValueTest, RejectsBadOptionsNamingThem) {
  struct Case {
    ClvOptions options;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{0, 1, 0.1, 52}, "options.horizon must be > 0 and at most 100 years (5200 periods), got 0"},
      {{6000, 1, 0.1, 52}, "options.horizon must be > 0 and at most 100 years"},
      {{52, 0, 0.1, 52}, "options.step must be > 0"},
      {{5200, 0.01, 0.1, 52}, "options.step must be > 0 and at least horizon / 100000"},
      {{52, 1, -0.1, 52}, "options.annual_discount_rate must be in [0, 10], got -0.1"},
      {{52, 1, NAN, 52}, "options.annual_discount_rate must be in [0, 10]"},
      {{52, 1, 0.1, 0}, "options.periods_per_year must be finite and > 0, got 0"},
  };
  for (const Case& c : cases) {
    absl::Status s = CustomerLifetimeValue(kPurchases, kSpend, kCustomer, c.options).status();
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << c.message;
    EXPECT_THAT(s.message(), HasSubstr(c.message));
  }
  absl::Status s = CustomerLifetimeValue(kPurchases, kSpend, {"c", 1, 5, 2, 1}).status();
  EXPECT_THAT(s.message(), HasSubstr("customer.last_purchase_time"));
  s = CustomerLifetimeValue(kPurchases, {1, 0.5, 1}, kCustomer).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace centric::clv
