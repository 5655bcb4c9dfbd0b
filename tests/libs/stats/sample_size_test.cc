#include "libs/stats/sample_size.h"

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace centric::stats {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// The example in R's documentation of power.prop.test (same formula):
// power.prop.test(p1 = .50, p2 = .75, power = .90) gives n = 76.7 per group.
// By hand: p̄ = 0.625, z_0.975 = 1.959964, z_0.9 = 1.281552;
// (1.959964·√(2·0.625·0.375) + 1.281552·√(0.25 + 0.1875))² / 0.25² = 76.707 -> 77.
TEST(RequiredSampleSizeTest, TextbookExample) {
  absl::StatusOr<int64_t> n = RequiredSampleSizePerVariant(0.5, 0.25, 0.05, 0.9);
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(*n, 77);
}

// A typical web experiment: baseline 10 %, detect +2 points, alpha 0.05, power 0.8.
// p̄ = 0.11: (1.959964·√0.1958 + 0.841621·√(0.09 + 0.1056))² / 0.02² = 3840.85 -> 3841.
TEST(RequiredSampleSizeTest, TypicalWebExperiment) {
  absl::StatusOr<int64_t> n = RequiredSampleSizePerVariant(0.10, 0.02);
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(*n, 3841);
}

TEST(RequiredSampleSizeTest, SmallerEffectsNeedMore) {
  EXPECT_GT(*RequiredSampleSizePerVariant(0.10, 0.01), *RequiredSampleSizePerVariant(0.10, 0.02));
  EXPECT_GT(*RequiredSampleSizePerVariant(0.10, 0.02, 0.05, 0.9),
            *RequiredSampleSizePerVariant(0.10, 0.02, 0.05, 0.8));
}

TEST(RequiredSampleSizeTest, Errors) {
  EXPECT_EQ(RequiredSampleSizePerVariant(0.1, 0.02, 1.0, 0.8).status().message(),
            "alpha must be in (0, 1), got 1");
  EXPECT_EQ(RequiredSampleSizePerVariant(0.1, 0.02, 0.05, 0.0).status().message(),
            "power must be in (0, 1), got 0");
  EXPECT_EQ(RequiredSampleSizePerVariant(0.0, 0.02).status().message(),
            "baseline_rate must be in (0, 1), got 0");
  EXPECT_EQ(RequiredSampleSizePerVariant(0.9, 0.2).status().message(),
            "minimum_detectable_effect must be in (0, 1 - baseline_rate) = (0, 0.1), got 0.2");
  EXPECT_EQ(RequiredSampleSizePerVariant(0.1, -0.01).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(RequiredSampleSizePerVariant(0.5, 1e-9).status().message(),
              HasSubstr("is too small: it needs more than 1000000000000 exposures"));
}

TEST(RemainingExposuresTest, CountsWhatEachVariantStillNeeds) {
  // 3841 per variant; control has 1000, variant B 2500, variant C already 4000.
  absl::StatusOr<SampleSizeProgress> p = RemainingExposures(3841, {1000, 2500, 4000});
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->required_per_variant, 3841);
  EXPECT_THAT(p->remaining_per_variant, ElementsAre(2841, 1341, 0));
  EXPECT_EQ(p->remaining_total, 4182);
}

TEST(RemainingExposuresTest, Errors) {
  EXPECT_EQ(RemainingExposures(-1, {1, 2}).status().message(),
            "required_per_variant must not be negative, got -1");
  EXPECT_EQ(RemainingExposures(10, {1, -2}).status().message(),
            "exposures[1] must not be negative, got -2");
  EXPECT_EQ(RemainingExposures(10, {}).status().message(),
            "exposures must hold 1 to 100 counts, got 0");
}

}  // namespace
}  // namespace centric::stats
