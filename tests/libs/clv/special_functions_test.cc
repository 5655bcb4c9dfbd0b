#include "libs/clv/special_functions.h"

#include <cmath>

#include "absl/status/status.h"
#include "gtest/gtest.h"

namespace centric::clv {
namespace {

double Log2F1(double a, double b, double c, double z) {
  absl::StatusOr<double> v = LogHypergeometric2F1(a, b, c, z);
  EXPECT_TRUE(v.ok()) << v.status();
  return v.ok() ? *v : NAN;
}

TEST(LogGammaTest, MatchesFactorialsAndBeta) {
  EXPECT_NEAR(LogGamma(5), std::log(24.0), 1e-13);
  EXPECT_NEAR(LogGamma(0.5), 0.5 * std::log(M_PI), 1e-13);
  EXPECT_NEAR(LogBeta(2, 3), std::log(1.0 / 12), 1e-13);
}

TEST(LogHypergeometric2F1Test, IsZeroAtZero) { EXPECT_EQ(Log2F1(2, 3, 4, 0), 0); }

// 2F1(1, 1; 2; z) = -ln(1 - z) / z (DLMF 15.4.2), up to z close to 1, where millions of
// terms accumulate rounding errors of about 1e-16 each.
TEST(LogHypergeometric2F1Test, MatchesLogarithmClosedForm) {
  for (double z : {0.1, 0.5, 0.9, 0.999}) {
    EXPECT_NEAR(Log2F1(1, 1, 2, z), std::log(-std::log1p(-z) / z), 1e-13) << "z = " << z;
  }
  EXPECT_NEAR(Log2F1(1, 1, 2, 0.99999), std::log(-std::log1p(-0.99999) / 0.99999), 1e-10);
}

// 2F1(1/2, 1/2; 3/2; z^2) = arcsin(z) / z (DLMF 15.4.4).
TEST(LogHypergeometric2F1Test, MatchesArcsinClosedForm) {
  for (double z : {0.2, 0.7, 0.99}) {
    EXPECT_NEAR(Log2F1(0.5, 0.5, 1.5, z * z), std::log(std::asin(z) / z), 1e-12);
  }
}

// 2F1(a, b; b; z) = (1 - z)^-a: terms first grow when a is large, and for a = 2000 the
// value (1e2000) only fits a double as a logarithm.
TEST(LogHypergeometric2F1Test, MatchesBinomialSeriesWithoutOverflow) {
  EXPECT_NEAR(Log2F1(0.3, 2, 2, 0.6), -0.3 * std::log(0.4), 1e-13);
  EXPECT_NEAR(Log2F1(50, 3, 3, 0.95), -50 * std::log(0.05), 1e-10);
  EXPECT_NEAR(Log2F1(2000, 5, 5, 0.9), -2000 * std::log(0.1), 1e-8);
}

// Gauss's contiguous relation (DLMF 15.5.18), checked with every F from the series:
// c(c-1)(z-1) F(c-1) + c[c-1-(2c-a-b-1)z] F(c) + (c-a)(c-b) z F(c+1) = 0.
TEST(LogHypergeometric2F1Test, SatisfiesContiguousRelation) {
  const double a = 1.3, b = 2.7, c = 2.2, z = 0.8;
  const double f_minus = std::exp(Log2F1(a, b, c - 1, z));
  const double f = std::exp(Log2F1(a, b, c, z));
  const double f_plus = std::exp(Log2F1(a, b, c + 1, z));
  const double lhs = c * (c - 1) * (z - 1) * f_minus + c * (c - 1 - (2 * c - a - b - 1) * z) * f +
                     (c - a) * (c - b) * z * f_plus;
  EXPECT_NEAR(lhs / (c * (c - 1) * f_minus), 0, 1e-13);
}

TEST(LogHypergeometric2F1Test, RejectsArgumentsOutsideItsDomain) {
  EXPECT_EQ(LogHypergeometric2F1(1, 1, 2, 1).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(LogHypergeometric2F1(1, 1, 2, -0.5).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(LogHypergeometric2F1(0, 1, 2, 0.5).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(LogHypergeometric2F1(1, 1, -0.5, 0.5).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(LogHypergeometric2F1(1, NAN, 2, 0.5).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(LogHypergeometric2F1Test, ReportsSeriesThatDoNotConverge) {
  absl::StatusOr<double> v = LogHypergeometric2F1(1, 1, 2, 1 - 1e-12);
  EXPECT_EQ(v.status().code(), absl::StatusCode::kOutOfRange) << v.status();
}

}  // namespace
}  // namespace centric::clv
