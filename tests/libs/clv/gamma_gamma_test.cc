#include "libs/clv/gamma_gamma.h"

#include <cmath>
#include <random>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace centric::clv {
namespace {

using ::testing::HasSubstr;

// Published CDNOW estimates (Fader & Hardie 2013).
constexpr GammaGammaParams kCdnow = {6.25, 3.74, 15.44};

double Value(const absl::StatusOr<double>& v) {
  EXPECT_TRUE(v.ok()) << v.status();
  return v.ok() ? *v : NAN;
}

TEST(GammaGammaTest, LogLikelihoodMatchesHandComputation) {
  // p = q = γ = 1, x = 1: f(m) = Γ(2) / (Γ(1) Γ(1)) · m^0 · 1 / (1 + m)^2 = 1 / (1 + m)^2.
  EXPECT_NEAR(Value(GammaGammaLogLikelihood({1, 1, 1}, {{"c", 1, 1, 2, 3}})), std::log(1.0 / 16),
              1e-12);
  // p = 1, q = 2, γ = 3, x = 2, m = 4: Γ(4) / (Γ(2) Γ(2)) · 3^2 · 4 · 2^2 / (3 + 8)^4.
  EXPECT_NEAR(Value(GammaGammaLogLikelihood({1, 2, 3}, {{"c", 2, 1, 2, 4}})),
              std::log(6.0 * 9 * 4 * 4 / std::pow(11, 4)), 1e-12);
  // Customers without repeat purchases carry no spend information.
  EXPECT_EQ(Value(GammaGammaLogLikelihood(kCdnow, {{"c", 0, 0, 2, 0}})), 0);
}

TEST(GammaGammaTest, ExpectedSpendShrinksTheCustomersMeanTowardsThePopulationMean) {
  const double population = kCdnow.p * kCdnow.gamma / (kCdnow.q - 1);  // 35.22
  EXPECT_NEAR(Value(ExpectedAverageSpend(kCdnow, {"n", 0, 0, 38, 0})), population, 1e-12);
  // x = 2, m_x = 22.35: weights (q - 1) / (px + q - 1) = 2.74 / 15.24 on the population
  // mean and px / (px + q - 1) = 12.5 / 15.24 on m_x.
  const double expected = (2.74 * population + 12.5 * 22.35) / 15.24;
  EXPECT_NEAR(Value(ExpectedAverageSpend(kCdnow, {"c", 2, 30.43, 38.86, 22.35})), expected, 1e-9);
  // The more transactions, the closer to the customer's own mean.
  const double many = Value(ExpectedAverageSpend(kCdnow, {"c", 200, 30, 38, 22.35}));
  EXPECT_NEAR(many, 22.35, 0.1);
}

TEST(GammaGammaTest, ExpectedSpendNeedsAFiniteMean) {
  absl::Status s = ExpectedAverageSpend({1, 0.9, 1}, {"c", 1, 1, 2, 3}).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(), HasSubstr("params.q > 1"));
  s = ExpectedAverageSpend({1, 2, -1}, {"c", 1, 1, 2, 3}).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("params.gamma must be finite and > 0, got -1"));
}

TEST(GammaGammaTest, RejectsZeroSpendOnRepeatPurchases) {
  absl::Status s = GammaGammaLogLikelihood(kCdnow, {{"a", 1, 1, 2, 3}, {"b", 2, 1, 2, 0}}).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("customers[1].mean_repeat_spend (m_x) must be > 0"));
}

TEST(GammaGammaTest, FitNeedsEnoughCustomersWithRepeatPurchases) {
  std::vector<CustomerSummary> customers(50, {"n", 0, 0, 10, 0});
  for (int i = 0; i < kMinGammaGammaCustomers - 1; ++i) customers[i] = {"c", 1, 1, 10, 5.0 + i};
  absl::Status s = FitGammaGamma(customers).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(),
              HasSubstr("at least 10 customers with a repeat purchase (x >= 1), got 9"));
}

TEST(GammaGammaTest, FitRecoversSimulatedParameters) {
  const GammaGammaParams truth = {4, 5, 60};
  std::mt19937_64 rng(7);
  std::gamma_distribution<double> nu_dist(truth.q, 1 / truth.gamma);
  std::vector<CustomerSummary> customers;
  for (int i = 0; i < 5000; ++i) {
    const double nu = nu_dist(rng);
    std::gamma_distribution<double> amount(truth.p, 1 / nu);
    const int x = 1 + i % 6;
    double sum = 0;
    for (int j = 0; j < x; ++j) sum += amount(rng);
    customers.push_back({"c", x, 1, 2, sum / x});
  }
  customers.push_back({"n", 0, 0, 2, 0});  // ignored
  absl::StatusOr<GammaGammaFit> fit = FitGammaGamma(customers);
  ASSERT_TRUE(fit.ok()) << fit.status();
  EXPECT_EQ(fit->customers_used, 5000);
  // At least as likely as the truth, and within sampling error of it (this seed gives
  // 4.15, 4.93, 57.4).
  EXPECT_GE(fit->log_likelihood, Value(GammaGammaLogLikelihood(truth, customers)));
  EXPECT_NEAR(fit->params.p, truth.p, 0.1 * truth.p);
  EXPECT_NEAR(fit->params.q, truth.q, 0.1 * truth.q);
  EXPECT_NEAR(fit->params.gamma, truth.gamma, 0.1 * truth.gamma);
}

}  // namespace
}  // namespace centric::clv
