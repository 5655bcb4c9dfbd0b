#include "libs/stats/srm.h"

#include <cmath>
#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "gtest/gtest.h"

namespace centric::stats {
namespace {

// Two variants (1 degree of freedom): p = erfc(√(χ²/2)); three (2 degrees): p = exp(-χ²/2).
// Values worked by hand, p-values from python3 math.erfc / math.exp.

TEST(CheckSampleRatioTest, FiftyFiftyWithinNoise) {
  // 5000 vs 5100, expected 5050 each: χ² = 2·50²/5050 = 0.990099, p = 0.3197182.
  absl::StatusOr<SampleRatioCheck> c = CheckSampleRatio({5000, 5100}, {1, 1});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_NEAR(c->chi_square, 0.9900990099, 1e-9);
  EXPECT_EQ(c->degrees_of_freedom, 1);
  EXPECT_NEAR(c->p_value, 0.3197181768, 1e-9);
  EXPECT_FALSE(c->mismatch);
}

TEST(CheckSampleRatioTest, SuspiciousButBelowTheThresholdDoesNotFlag) {
  // 5000 vs 5300, expected 5150: χ² = 2·150²/5150 = 8.737864, p = 0.0031167 > 0.001.
  absl::StatusOr<SampleRatioCheck> c = CheckSampleRatio({5000, 5300}, {50, 50});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_NEAR(c->chi_square, 8.7378640777, 1e-9);
  EXPECT_NEAR(c->p_value, 0.0031166938, 1e-9);
  EXPECT_FALSE(c->mismatch);
}

TEST(CheckSampleRatioTest, ClearMismatchFlags) {
  // 5000 vs 5500, expected 5250: χ² = 2·250²/5250 = 23.809524, p = 1.0635493e-6.
  absl::StatusOr<SampleRatioCheck> c = CheckSampleRatio({5000, 5500}, {1, 1});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_NEAR(c->chi_square, 23.8095238095, 1e-9);
  EXPECT_NEAR(c->p_value / 1.0635492679527e-6, 1.0, 1e-9);
  EXPECT_TRUE(c->mismatch);
}

TEST(CheckSampleRatioTest, UnequalWeightsThreeVariants) {
  // Weights 2:1:1 of 10000: expected 5000, 2500, 2500.
  // 5100/2450/2450: χ² = 100²/5000 + 2·50²/2500 = 2 + 2 = 4, p = e^-2 = 0.1353353.
  absl::StatusOr<SampleRatioCheck> ok = CheckSampleRatio({5100, 2450, 2450}, {2, 1, 1});
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_NEAR(ok->chi_square, 4.0, 1e-12);
  EXPECT_EQ(ok->degrees_of_freedom, 2);
  EXPECT_NEAR(ok->p_value, std::exp(-2.0), 1e-12);
  EXPECT_FALSE(ok->mismatch);
  // 5000/2300/2700: χ² = 0 + 2·200²/2500 = 32, p = e^-16 = 1.1253517e-7.
  absl::StatusOr<SampleRatioCheck> bad = CheckSampleRatio({5000, 2300, 2700}, {2, 1, 1});
  ASSERT_TRUE(bad.ok()) << bad.status();
  EXPECT_NEAR(bad->chi_square, 32.0, 1e-12);
  EXPECT_NEAR(bad->p_value / std::exp(-16.0), 1.0, 1e-9);
  EXPECT_TRUE(bad->mismatch);
}

TEST(CheckSampleRatioTest, NoExposuresYetIsNotAMismatch) {
  absl::StatusOr<SampleRatioCheck> c = CheckSampleRatio({0, 0}, {1, 1});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->p_value, 1.0);
  EXPECT_FALSE(c->mismatch);
}

TEST(CheckSampleRatioTest, Errors) {
  auto message = [](std::vector<int64_t> exposures, std::vector<int64_t> weights) {
    absl::Status s = CheckSampleRatio(exposures, weights).status();
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
    return std::string(s.message());
  };
  EXPECT_EQ(message({10, 10}, {1, 0}), "weights[1] must be positive, got 0");
  EXPECT_EQ(message({10, 10}, {-5, 5}), "weights[0] must be positive, got -5");
  EXPECT_EQ(message({10, 10}, {1, 2'000'000}), "weights[1] must be at most 1000000, got 2000000");
  EXPECT_EQ(message({10}, {1}), "weights must hold 2 to 100 variants, got 1");
  EXPECT_EQ(message({10, 10, 10}, {1, 1}), "exposures must hold one count per weight (2), got 3");
  EXPECT_EQ(message({10, -1}, {1, 1}), "exposures[1] must not be negative, got -1");
}

}  // namespace
}  // namespace centric::stats
