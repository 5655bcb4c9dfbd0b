#include "libs/stats/kpi.h"

#include <cmath>
#include <limits>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace centric::stats {
namespace {

// 50 promoters, 30 passives, 20 detractors: pP = 0.5, pD = 0.2, NPS = 30 points.
// var = (0.5 + 0.2 - 0.3²)/100 = 0.0061; MoE = 1.959964·100·√0.0061 = 15.30781 points
// (15.308 with the rounded 1.96).
TEST(NpsTest, ScoreAndMarginOfError) {
  absl::StatusOr<NpsScore> nps = Nps(50, 30, 20);
  ASSERT_TRUE(nps.ok()) << nps.status();
  EXPECT_NEAR(nps->score, 30.0, 1e-12);
  EXPECT_NEAR(nps->margin_of_error, 15.3078080750, 1e-8);
  EXPECT_EQ(nps->responses, 100);
}

TEST(NpsTest, ExtremesAndNinetyPercent) {
  // Only promoters: +100 with no spread; only detractors: -100.
  EXPECT_DOUBLE_EQ(Nps(10, 0, 0)->score, 100.0);
  EXPECT_DOUBLE_EQ(Nps(10, 0, 0)->margin_of_error, 0.0);
  EXPECT_DOUBLE_EQ(Nps(0, 0, 7)->score, -100.0);
  // alpha 0.1: z_0.95 = 1.6448536; MoE = 1.6448536·100·√0.0061 = 12.846718.
  EXPECT_NEAR(Nps(50, 30, 20, 0.1)->margin_of_error, 12.846718, 1e-6);
}

TEST(NpsTest, Errors) {
  EXPECT_EQ(Nps(-1, 0, 0).status().message(), "promoters must not be negative, got -1");
  EXPECT_EQ(Nps(1, 0, -3).status().message(), "detractors must not be negative, got -3");
  EXPECT_EQ(Nps(0, 0, 0).status().message(),
            "promoters + passives + detractors must be positive, got 0");
  EXPECT_EQ(Nps(1, 1, 1, 0).status().code(), absl::StatusCode::kInvalidArgument);
}

// Newcombe, "Two-sided confidence intervals for the single proportion: comparison of
// seven methods", Statistics in Medicine 17 (1998), Table II, Wilson score method
// (95 %, 4 decimals): 81/263 -> 0.2553-0.3662, 15/148 -> 0.0624-0.1605,
// 0/20 -> 0-0.1611, 1/29 -> 0.0061-0.1718.
TEST(WilsonIntervalTest, NewcombeExamples) {
  struct Case {
    int64_t successes, trials;
    double low, high;
  };
  for (const Case& c : std::vector<Case>{{81, 263, 0.2553, 0.3662},
                                         {15, 148, 0.0624, 0.1605},
                                         {0, 20, 0.0, 0.1611},
                                         {1, 29, 0.0061, 0.1718}}) {
    absl::StatusOr<Interval> i = WilsonInterval(c.successes, c.trials);
    ASSERT_TRUE(i.ok()) << i.status();
    EXPECT_NEAR(i->low, c.low, 5e-5) << c.successes << "/" << c.trials;
    EXPECT_NEAR(i->high, c.high, 5e-5) << c.successes << "/" << c.trials;
  }
}

TEST(CsatTest, PercentWithWilsonInterval) {
  // 81 of 263 satisfied = 30.798 %; interval from Newcombe's example above, in percent.
  absl::StatusOr<CsatScore> csat = Csat(81, 263);
  ASSERT_TRUE(csat.ok()) << csat.status();
  EXPECT_NEAR(csat->percent_satisfied, 30.7984790875, 1e-9);
  EXPECT_NEAR(csat->interval.low, 25.53, 5e-3);
  EXPECT_NEAR(csat->interval.high, 36.62, 5e-3);
  EXPECT_EQ(csat->responses, 263);
  // Everyone satisfied: the interval stays inside [0, 100].
  EXPECT_DOUBLE_EQ(Csat(20, 20)->interval.high, 100.0);
}

TEST(CsatTest, Errors) {
  EXPECT_EQ(Csat(5, 0).status().message(), "trials must be positive, got 0");
  EXPECT_EQ(Csat(6, 5).status().message(), "successes must be at most trials (5), got 6");
  EXPECT_EQ(Csat(-1, 5).status().message(), "successes must not be negative, got -1");
  EXPECT_EQ(Csat(1, 5, 1.5).status().message(), "alpha must be in (0, 1), got 1.5");
}

// CES answers 2, 4, 4, 4, 5, 5, 7, 9: mean 5; Σ(x - 5)² = 9+1+1+1+0+0+4+16 = 32;
// s² = 32/7; SE = √(32/7/8) = √(4/7) = 0.7559289.
TEST(MeanWithStandardErrorTest, Example) {
  absl::StatusOr<MeanEstimate> m = MeanWithStandardError({2, 4, 4, 4, 5, 5, 7, 9});
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_DOUBLE_EQ(m->mean, 5.0);
  ASSERT_TRUE(m->standard_error.has_value());
  EXPECT_NEAR(*m->standard_error, std::sqrt(4.0 / 7.0), 1e-12);
  EXPECT_EQ(m->count, 8);
}

TEST(MeanWithStandardErrorTest, OneValueHasNoStandardError) {
  absl::StatusOr<MeanEstimate> m = MeanWithStandardError({6});
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_DOUBLE_EQ(m->mean, 6.0);
  EXPECT_FALSE(m->standard_error.has_value());
}

TEST(MeanWithStandardErrorTest, Errors) {
  EXPECT_EQ(MeanWithStandardError({}).status().message(), "values must not be empty");
  EXPECT_EQ(MeanWithStandardError({1, std::numeric_limits<double>::quiet_NaN()}).status().message(),
            "values[1] must be finite, got nan");
}

TEST(MedianDurationTest, OddAndEvenCounts) {
  EXPECT_EQ(*MedianDuration({absl::Minutes(3), absl::Minutes(1), absl::Minutes(2)}),
            absl::Minutes(2));
  EXPECT_EQ(
      *MedianDuration({absl::Seconds(4), absl::Seconds(1), absl::Seconds(3), absl::Seconds(2)}),
      absl::Milliseconds(2500));
  EXPECT_EQ(*MedianDuration({absl::Hours(5)}), absl::Hours(5));
}

TEST(MedianDurationTest, Errors) {
  EXPECT_EQ(MedianDuration({}).status().message(), "durations must not be empty");
  EXPECT_EQ(MedianDuration({absl::Seconds(1), absl::InfiniteDuration()}).status().message(),
            "durations[1] must be finite");
}

}  // namespace
}  // namespace centric::stats
