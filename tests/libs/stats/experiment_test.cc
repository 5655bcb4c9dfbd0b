#include "libs/stats/experiment.h"

#include <cmath>
#include <limits>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace centric::stats {
namespace {

using ::testing::HasSubstr;

// control 1000 exposures / 100 conversions, variant 1000 / 130, alpha 0.05, z_0.975 =
// 1.959963984540054. Worked by hand and checked with python3 (math.erfc):
//   pooled p = 230/2000 = 0.115; SE0 = √(0.115·0.885·(1/1000 + 1/1000)) = 0.014267095
//   z = 0.03 / 0.014267095 = 2.1027406;  p = erfc(z/√2) = 0.0354885
//   Wald SE = √(0.1·0.9/1000 + 0.13·0.87/1000) = √0.0002031 = 0.014251316
//   abs CI = 0.03 ± 1.959964·0.014251316 = [0.0020679, 0.0579321]
//   relative = 0.13/0.1 - 1 = 0.3; delta SE = √(0.0001131/0.01 + 1.3²·0.00009/0.01)
//            = √0.02652 = 0.16284962;  rel CI = 0.3 ± 0.3191794 = [-0.0191794, 0.6191794]
TEST(CompareToControlTest, ReferenceExample) {
  absl::StatusOr<Comparison> c = CompareToControl({1000, 100}, {1000, 130});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_DOUBLE_EQ(c->control_rate, 0.1);
  EXPECT_DOUBLE_EQ(c->variant_rate, 0.13);
  EXPECT_NEAR(c->absolute_uplift, 0.03, 1e-15);
  EXPECT_NEAR(c->absolute_uplift_interval.low, 0.0020679344, 1e-9);
  EXPECT_NEAR(c->absolute_uplift_interval.high, 0.0579320656, 1e-9);
  ASSERT_TRUE(c->relative_uplift.has_value());
  EXPECT_NEAR(*c->relative_uplift, 0.3, 1e-14);
  ASSERT_TRUE(c->relative_uplift_interval.has_value());
  EXPECT_NEAR(c->relative_uplift_interval->low, -0.0191793977, 1e-9);
  EXPECT_NEAR(c->relative_uplift_interval->high, 0.6191793977, 1e-9);
  EXPECT_NEAR(c->z, 2.1027406056, 1e-9);
  EXPECT_NEAR(c->p_value, 0.0354884505, 1e-9);
}

TEST(CompareToControlTest, AlphaWidensTheInterval) {
  // alpha 0.01: z_0.995 = 2.5758293; half-width = 2.5758293·0.014251316 = 0.03670896.
  absl::StatusOr<Comparison> c = CompareToControl({1000, 100}, {1000, 130}, 0.01);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_NEAR(c->absolute_uplift_interval.low, 0.03 - 0.03670896, 1e-8);
  EXPECT_NEAR(c->absolute_uplift_interval.high, 0.03 + 0.03670896, 1e-8);
}

TEST(CompareToControlTest, SwappingArmsNegatesZAndKeepsP) {
  absl::StatusOr<Comparison> ab = CompareToControl({1000, 100}, {1000, 130});
  absl::StatusOr<Comparison> ba = CompareToControl({1000, 130}, {1000, 100});
  ASSERT_TRUE(ab.ok() && ba.ok());
  EXPECT_DOUBLE_EQ(ab->z, -ba->z);
  EXPECT_DOUBLE_EQ(ab->p_value, ba->p_value);
}

TEST(CompareToControlTest, NoConversionsAnywhereIsNoEvidence) {
  absl::StatusOr<Comparison> c = CompareToControl({500, 0}, {400, 0});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->z, 0);
  EXPECT_EQ(c->p_value, 1);
  EXPECT_FALSE(c->relative_uplift.has_value());  // control rate 0: undefined
  EXPECT_FALSE(c->relative_uplift_interval.has_value());
}

TEST(ConversionRateTest, Rate) {
  EXPECT_DOUBLE_EQ(*ConversionRate({200, 50}), 0.25);
  EXPECT_DOUBLE_EQ(*ConversionRate({7, 0}), 0.0);
}

TEST(ExperimentErrorsTest, ConversionsAboveExposures) {
  absl::Status s = CompareToControl({1000, 100}, {10, 11}).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "variant.conversions must be at most variant.exposures (10), got 11");
}

TEST(ExperimentErrorsTest, NegativeCounts) {
  absl::Status s = CompareToControl({-1, 0}, {10, 1}).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "control.exposures must not be negative, got -1");
  EXPECT_EQ(ConversionRate({10, -2}).status().message(),
            "counts.conversions must not be negative, got -2");
}

TEST(ExperimentErrorsTest, ZeroExposuresAndTooLargeCounts) {
  EXPECT_EQ(CompareToControl({0, 0}, {10, 1}).status().message(),
            "control.exposures must be positive, got 0");
  EXPECT_THAT(CompareToControl({10, 1}, {2'000'000'000'000, 1}).status().message(),
              HasSubstr("variant.exposures must be at most 1000000000000"));
}

TEST(ExperimentErrorsTest, AlphaOutsideOpenUnitInterval) {
  for (double alpha : {0.0, 1.0, -0.1, 1.5, std::numeric_limits<double>::quiet_NaN()}) {
    absl::Status s = CompareToControl({100, 10}, {100, 12}, alpha).status();
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << alpha;
    EXPECT_THAT(s.message(), HasSubstr("alpha must be in (0, 1)")) << alpha;
  }
}

}  // namespace
}  // namespace centric::stats
