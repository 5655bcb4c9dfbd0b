#include "libs/stats/bayes.h"

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace centric::stats {
namespace {

using ::testing::HasSubstr;

double Beat(VariantCounts control, VariantCounts variant) {
  absl::StatusOr<double> p = ProbabilityToBeatControl(control, variant);
  EXPECT_TRUE(p.ok()) << p.status();
  return p.value_or(-1);
}

TEST(ProbabilityToBeatControlTest, EqualDataIsAHalf) {
  EXPECT_NEAR(Beat({0, 0}, {0, 0}), 0.5, 1e-12);
  EXPECT_NEAR(Beat({1000, 100}, {1000, 100}), 0.5, 1e-9);
  EXPECT_NEAR(Beat({50000, 49000}, {50000, 49000}), 0.5, 1e-9);
}

// Small cases integrated by hand. Variant 1 of 1 converted: p_v ~ Beta(2, 1), density 2x.
//   control 0 exposures, p_c ~ U(0, 1):      P = ∫ 2x · x dx = 2/3
//   control 0 of 1, p_c ~ Beta(1, 2), CDF 1-(1-x)²: P = ∫ 2x (2x - x²) dx = 4/3 - 1/2 = 5/6
TEST(ProbabilityToBeatControlTest, HandIntegratedValues) {
  EXPECT_NEAR(Beat({0, 0}, {1, 1}), 2.0 / 3.0, 1e-12);
  EXPECT_NEAR(Beat({1, 0}, {1, 1}), 5.0 / 6.0, 1e-12);
  EXPECT_NEAR(Beat({1, 1}, {1, 0}), 1.0 / 6.0, 1e-12);
}

// control 1000/100 vs variant 1000/130: Beta(101, 901) vs Beta(131, 871). Python:
// Evan Miller's sum term by term with math.lgamma gives 0.9821650661; an independent
// midpoint-rule integral of f_v(x)·F_c(x) over 400,000 cells gives 0.9821650659.
// The four calls below take the four forms of the sum (each over a different one of
// the Beta parameters, 101 in every case); mirrored rates (p -> 1 - p) swap the roles.
TEST(ProbabilityToBeatControlTest, KnownValueThroughEveryForm) {
  const double p = 0.9821650661;
  EXPECT_NEAR(Beat({1000, 100}, {1000, 130}), p, 1e-9);      // sum over control α
  EXPECT_NEAR(Beat({1000, 130}, {1000, 100}), 1 - p, 1e-9);  // over variant α
  EXPECT_NEAR(Beat({1000, 900}, {1000, 870}), 1 - p, 1e-9);  // over control β
  EXPECT_NEAR(Beat({1000, 870}, {1000, 900}), p, 1e-9);      // over variant β
}

// 100000/10000 vs 100000/10250: Python's Miller sum gives 0.96806688745, the midpoint
// integral over 2,000,000 cells 0.96806688582. 10,001 terms in log space.
TEST(ProbabilityToBeatControlTest, LargeCounts) {
  EXPECT_NEAR(Beat({100000, 10000}, {100000, 10250}), 0.96806688745, 1e-8);
}

TEST(ProbabilityToBeatControlTest, UnequalExposures) {
  // 200/20 vs 180/25; Python Miller sum 0.8782089435, integral 0.8782089434.
  EXPECT_NEAR(Beat({200, 20}, {180, 25}), 0.8782089435, 1e-9);
}

TEST(ProbabilityToBeatControlTest, Errors) {
  absl::Status s = ProbabilityToBeatControl({10, 11}, {10, 1}).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "control.conversions must be at most control.exposures (10), got 11");
  EXPECT_EQ(ProbabilityToBeatControl({10, 1}, {10, -1}).status().message(),
            "variant.conversions must not be negative, got -1");
  s = ProbabilityToBeatControl({40'000'000, 20'000'000}, {40'000'000, 20'000'000}).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("must be at most 10000000 for the exact sum, got 20000001"));
}

}  // namespace
}  // namespace centric::stats
