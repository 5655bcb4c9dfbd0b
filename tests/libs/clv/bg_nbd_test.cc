#include "libs/clv/bg_nbd.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/clv/special_functions.h"

namespace centric::clv {
namespace {

using ::testing::HasSubstr;

// Published CDNOW estimates (FHL 2005, Section 4).
constexpr BgNbdParams kCdnow = {0.243, 4.414, 0.793, 2.426};

double Value(const absl::StatusOr<double>& v) {
  EXPECT_TRUE(v.ok()) << v.status();
  return v.ok() ? *v : NAN;
}

// E[(1 - (s / (s + p t))^k) / p] for p ~ Beta(a, b) by the midpoint rule, an independent
// check of the hypergeometric closed form. On [0, 1/2] the substitution p = u^(1/e),
// e = min(a, 1), turns p^(a-1) dp into u^(a/e - 1) du / e, which is smooth; [1/2, 1] is
// handled the same way in 1 - p.
double ExpectedWhileAliveByQuadrature(double a, double b, double s, double k, double t) {
  const int n = 20000;
  auto g = [&](double p) { return -std::expm1(-k * std::log1p(p * t / s)) / p; };
  // Integral over the half of [0, 1] next to the end where the density is y^(shape - 1),
  // with `y_to_p` mapping the distance y from that end to p.
  auto half = [&](double shape, double other, auto y_to_p) {
    const double e = std::min(shape, 1.0);
    const double end = std::pow(0.5, e), h = end / n;
    double sum = 0;
    for (int i = 0; i < n; ++i) {
      const double u = (i + 0.5) * h;
      const double y = std::pow(u, 1 / e);
      sum += g(y_to_p(y)) * std::pow(1 - y, other - 1) * std::pow(u, shape / e - 1) / e * h;
    }
    return sum;
  };
  const double integral =
      half(a, b, [](double y) { return y; }) + half(b, a, [](double y) { return 1 - y; });
  return integral / std::exp(LogBeta(a, b));
}

TEST(BgNbdTest, LogLikelihoodMatchesHandComputation) {
  // x = 0: L = (α / (α + T))^r.
  const CustomerSummary none = {"n", 0, 0, 30, 0};
  EXPECT_NEAR(Value(BgNbdLogLikelihood(kCdnow, {none})),
              kCdnow.r * std::log(kCdnow.alpha / (kCdnow.alpha + 30)), 1e-12);
  // x = 1, r = α = a = b = 1: B(1,2)/B(1,1) = 1/2, Γ(2)/Γ(1) = 1, B(2,1)/B(1,1) = 1/2, so
  // L = 1/2 · 1/(1+T)^2 + 1/2 · 1/(1+t_x)^2.
  const CustomerSummary one = {"o", 1, 2, 4, 10};
  EXPECT_NEAR(Value(BgNbdLogLikelihood({1, 1, 1, 1}, {one})), std::log(0.5 / 25 + 0.5 / 9), 1e-12);
  EXPECT_NEAR(
      Value(BgNbdLogLikelihood(kCdnow, {none, one, one})),
      Value(BgNbdLogLikelihood(kCdnow, {none})) + 2 * Value(BgNbdLogLikelihood(kCdnow, {one})),
      1e-12);
}

// FHL 2005, Section 4: a customer with x = 2, t_x = 30.43, T = 38.86. By hand:
// a / (b + x - 1) = 0.793 / 3.426 = 0.231466; ((α + T) / (α + t_x))^(r + x) =
// (43.274 / 34.844)^2.243 = 1.625791; P(alive) = 1 / (1 + 0.231466 · 1.625791) = 0.726579.
TEST(BgNbdTest, MatchesThePapersWorkedCustomer) {
  const CustomerSummary c = {"1", 2, 30.43, 38.86, 22.35};
  EXPECT_NEAR(Value(ProbabilityAlive(kCdnow, c)), 0.726579, 1e-6);
  // The paper reports 1.226 expected purchases in the next 39 weeks.
  EXPECT_NEAR(Value(ExpectedRepeatPurchases(kCdnow, c, 39)), 1.226, 5e-4);
}

TEST(BgNbdTest, ACustomerWithoutRepeatPurchasesIsAlive) {
  EXPECT_EQ(Value(ProbabilityAlive(kCdnow, {"n", 0, 0, 38, 0})), 1);
}

TEST(BgNbdTest, LongSilenceLowersProbabilityAlive) {
  const double recent = Value(ProbabilityAlive(kCdnow, {"r", 5, 37, 38, 0}));
  const double silent = Value(ProbabilityAlive(kCdnow, {"s", 5, 5, 38, 0}));
  EXPECT_GT(recent, 0.85);
  EXPECT_LT(silent, 0.2);
}

TEST(BgNbdTest, ExpectationsMatchQuadrature) {
  // a > 1, a < 1, a within 1e-5 of 1 (averaged), and a + b < 1 (contiguous relation).
  const std::vector<BgNbdParams> params = {
      kCdnow, {1.5, 10, 2.5, 4}, {0.5, 2, 1.000004, 3}, {0.5, 4, 0.3, 0.6}};
  for (const BgNbdParams& p : params) {
    for (double t : {0.5, 10.0, 78.0, 520.0}) {
      const double expected = ExpectedWhileAliveByQuadrature(p.a, p.b, p.alpha, p.r, t);
      EXPECT_NEAR(Value(ExpectedPurchasesNewCustomer(p, t)), expected, 1e-6 * expected)
          << "a = " << p.a << ", b = " << p.b << ", t = " << t;
    }
    // Conditional on a history: posterior λ ~ Gamma(r + x, α + T), p ~ Beta(a, b + x).
    const CustomerSummary c = {"c", 3, 20, 30, 0};
    const double while_alive =
        ExpectedWhileAliveByQuadrature(p.a, p.b + 3, p.alpha + 30, p.r + 3, 52);
    EXPECT_NEAR(Value(ExpectedRepeatPurchases(p, c, 52)),
                Value(ProbabilityAlive(p, c)) * while_alive, 1e-6 * while_alive);
  }
}

TEST(BgNbdTest, ExpectationsStartAtTheInitialPurchaseRate) {
  // A new customer is alive, so E[X(t)] ≈ E[λ] t = r t / α for small t.
  const double t = 1e-6;
  EXPECT_NEAR(Value(ExpectedPurchasesNewCustomer(kCdnow, t)), kCdnow.r / kCdnow.alpha * t,
              1e-4 * kCdnow.r / kCdnow.alpha * t);
  EXPECT_EQ(Value(ExpectedPurchasesNewCustomer(kCdnow, 0)), 0);
  EXPECT_EQ(Value(ExpectedRepeatPurchases(kCdnow, {"c", 2, 3, 4, 0}, 0)), 0);
}

TEST(BgNbdTest, ANewCustomersConditionalExpectationIsTheUnconditionalOne) {
  for (double t : {1.0, 39.0, 260.0}) {
    EXPECT_NEAR(Value(ExpectedRepeatPurchases(kCdnow, {"new", 0, 0, 0, 0}, t)),
                Value(ExpectedPurchasesNewCustomer(kCdnow, t)), 1e-12);
  }
}

TEST(BgNbdTest, HandlesHeavyBuyersAndLongHorizons) {
  // x = 5000 would overflow (α + T)^(r + x) and 2F1 taken separately. With the posterior
  // means λ = (r + x) / (α + T) and p = a / (a + b + x) plugged into the individual-level
  // expectation (1 - e^(-λ p t)) / p, about 2059 purchases in 52 weeks.
  const CustomerSummary heavy = {"h", 5000, 99.9, 100, 0};
  const double lambda = (kCdnow.r + 5000) / (kCdnow.alpha + 100);
  const double p = kCdnow.a / (kCdnow.a + kCdnow.b + 5000);
  const double plug_in = -std::expm1(-lambda * p * 52) / p;
  EXPECT_NEAR(Value(ExpectedRepeatPurchases(kCdnow, heavy, 52)), plug_in, 0.02 * plug_in);
  EXPECT_GT(Value(ExpectedPurchasesNewCustomer(kCdnow, 5200)),
            Value(ExpectedPurchasesNewCustomer(kCdnow, 520)));
}

// Simulates the BG/NBD story: purchases at Poisson rate λ; after each repeat purchase the
// customer drops out with probability p.
std::vector<CustomerSummary> Simulate(const BgNbdParams& truth, int customers, double length,
                                      std::mt19937_64& rng) {
  std::gamma_distribution<double> rate(truth.r, 1 / truth.alpha);
  std::gamma_distribution<double> beta_a(truth.a, 1), beta_b(truth.b, 1);
  std::uniform_real_distribution<double> uniform(0, 1);
  std::vector<CustomerSummary> out;
  for (int i = 0; i < customers; ++i) {
    const double lambda = rate(rng);
    const double ga = beta_a(rng);
    const double p = ga / (ga + beta_b(rng));
    CustomerSummary c{"c", 0, 0, length, 0};
    double t = 0;
    while (true) {
      t += std::exponential_distribution<double>(lambda)(rng);
      if (t > length) break;
      ++c.repeat_purchases;
      c.last_purchase_time = t;
      if (uniform(rng) < p) break;
    }
    out.push_back(c);
  }
  return out;
}

TEST(BgNbdTest, FitRecoversSimulatedParameters) {
  const BgNbdParams truth = {0.5, 5, 0.8, 2.5};
  std::mt19937_64 rng(20240601);
  const std::vector<CustomerSummary> customers = Simulate(truth, 10000, 78, rng);
  absl::StatusOr<BgNbdFit> fit = FitBgNbd(customers);
  ASSERT_TRUE(fit.ok()) << fit.status();
  // The maximum is at least as likely as the truth, and the estimates are within sampling
  // error of it (this seed gives 0.494, 4.94, 0.767, 2.41; a and b are the least precise).
  EXPECT_GE(fit->log_likelihood, Value(BgNbdLogLikelihood(truth, customers)));
  EXPECT_NEAR(fit->params.r, truth.r, 0.05 * truth.r);
  EXPECT_NEAR(fit->params.alpha, truth.alpha, 0.1 * truth.alpha);
  EXPECT_NEAR(fit->params.a, truth.a, 0.15 * truth.a);
  EXPECT_NEAR(fit->params.b, truth.b, 0.15 * truth.b);
}

TEST(BgNbdTest, RejectsBadParametersNamingThem) {
  for (BgNbdParams p : {BgNbdParams{0, 1, 1, 1}, BgNbdParams{1, -2, 1, 1},
                        BgNbdParams{1, 1, NAN, 1}, BgNbdParams{1, 1, 1, INFINITY}}) {
    absl::Status s = ProbabilityAlive(p, {"c", 0, 0, 1, 0}).status();
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(s.message(), HasSubstr("must be finite and > 0"));
  }
  EXPECT_THAT(ExpectedPurchasesNewCustomer({1, -2, 1, 1}, 1).status().message(),
              HasSubstr("params.alpha must be finite and > 0, got -2"));
}

TEST(BgNbdTest, RejectsBadHorizonsAndSummaries) {
  absl::Status s = ExpectedRepeatPurchases(kCdnow, {"c", 1, 1, 2, 0}, -1).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("t must be finite and >= 0, got -1"));
  s = ExpectedRepeatPurchases(kCdnow, {"c", 1, 3, 2, 0}, 1).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("customer.last_purchase_time (t_x) must be in [0, "));
  s = BgNbdLogLikelihood(kCdnow, {{"c", -1, 0, 2, 0}}).status();
  EXPECT_THAT(s.message(), HasSubstr("customers[0].repeat_purchases (x)"));
}

TEST(BgNbdTest, FitNeedsEnoughCustomersWithRepeatPurchases) {
  std::vector<CustomerSummary> few(kMinBgNbdCustomers - 1, {"c", 1, 1, 2, 0});
  absl::Status s = FitBgNbd(few).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(), HasSubstr("at least 10 customers, got 9"));

  std::vector<CustomerSummary> no_repeats(50, {"c", 0, 0, 20, 0});
  s = FitBgNbd(no_repeats).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(), HasSubstr("repeat purchase"));

  std::vector<CustomerSummary> bad(20, {"c", 1, 1, 2, 0});
  bad[7].observation_length = -1;
  s = FitBgNbd(bad).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("customers[7].observation_length"));
}

TEST(BgNbdTest, FitReportsParametersThatRunOff) {
  // Everyone bought steadily until the end at the same pace: no heterogeneity in rates
  // and no evidence of dropping out, so r and α run off to infinity together.
  std::vector<CustomerSummary> loyal;
  for (int i = 0; i < 40; ++i) loyal.push_back({"c", 10 + i % 3, 39.5, 40, 0});
  absl::Status s = FitBgNbd(loyal).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_THAT(s.message(), HasSubstr("did not converge: params."));
  EXPECT_THAT(s.message(), HasSubstr("runs off towards"));

  // Everyone who came back once then stopped: the dropout probability goes to 1.
  std::vector<CustomerSummary> one_and_gone(30, {"c", 1, 5, 30, 0});
  one_and_gone.resize(40, {"d", 0, 0, 30, 0});
  s = FitBgNbd(one_and_gone).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_THAT(s.message(), HasSubstr("runs off towards"));
}

}  // namespace
}  // namespace centric::clv
