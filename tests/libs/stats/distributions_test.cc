#include "libs/stats/distributions.h"

#include <cmath>
#include <numbers>

#include "gtest/gtest.h"

namespace centric::stats {
namespace {

// Reference values from Python's math.erfc and statistics.NormalDist (independent of
// Boost): Φ(x) = erfc(-x/√2)/2, and for one degree of freedom P(χ² >= x) = erfc(√(x/2)),
// for two P(χ² >= x) = exp(-x/2).

TEST(DistributionsTest, NormalCdfAndQuantile) {
  EXPECT_DOUBLE_EQ(NormalCdf(0), 0.5);
  EXPECT_NEAR(NormalCdf(1.959963984540054), 0.975, 1e-15);
  EXPECT_NEAR(NormalQuantile(0.975), 1.959963984540054, 1e-14);
  EXPECT_NEAR(NormalQuantile(0.8), 0.8416212335729144, 1e-14);
  EXPECT_NEAR(NormalQuantile(0.5), 0.0, 1e-15);
}

TEST(DistributionsTest, NormalUpperTailKeepsPrecisionFarOut) {
  // erfc(10/√2)/2 = 7.619853024160e-24; 1 - NormalCdf(10) would be 0.
  EXPECT_NEAR(NormalUpperTail(10) / 7.619853024160593e-24, 1.0, 1e-12);
}

TEST(DistributionsTest, ChiSquareUpperTail) {
  // 3.841458820694124 = 1.959963984540054², the 95 % point of χ²(1).
  EXPECT_NEAR(ChiSquareUpperTail(3.841458820694124, 1), 0.05, 1e-14);
  EXPECT_NEAR(ChiSquareUpperTail(4.0, 2), std::exp(-2.0), 1e-15);
  EXPECT_DOUBLE_EQ(ChiSquareUpperTail(0.0, 3), 1.0);
}

TEST(DistributionsTest, OutOfDomainGivesNanNotAnException) {
  EXPECT_TRUE(std::isnan(NormalQuantile(1.5)));
  EXPECT_TRUE(std::isnan(ChiSquareUpperTail(1.0, -1)));
}

TEST(DistributionsTest, LogGamma) {
  EXPECT_NEAR(LogGamma(5), std::log(24.0), 1e-14);                      // Γ(5) = 4! = 24
  EXPECT_NEAR(LogGamma(0.5), 0.5 * std::log(std::numbers::pi), 1e-14);  // Γ(1/2) = √π
}

}  // namespace
}  // namespace centric::stats
