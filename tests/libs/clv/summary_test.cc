#include "libs/clv/summary.h"

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace centric::clv {
namespace {

using ::testing::HasSubstr;

absl::Time At(int y, int m, int d, int hh = 12) {
  return absl::FromCivil(absl::CivilSecond(y, m, d, hh, 0, 0), absl::UTCTimeZone());
}

SummaryOptions EndOfJanuary() {
  SummaryOptions options;
  options.calibration_end = absl::CivilDay(2024, 1, 31);
  return options;
}

TEST(SummarizePurchasesTest, CountsPurchaseDaysAfterTheFirstInWeeks) {
  const std::vector<Purchase> purchases = {
      {"b", At(2024, 1, 3), 10},    {"a", At(2024, 1, 1), 5},
      {"a", At(2024, 1, 8, 9), 20}, {"a", At(2024, 1, 8, 17), 4},  // same day: one, 24
      {"a", At(2024, 1, 15), 12},   {"a", At(2024, 2, 1), 99},     // after the end
      {"c", At(2024, 2, 2), 7},                                    // born after the end
  };
  absl::StatusOr<std::vector<CustomerSummary>> s = SummarizePurchases(purchases, EndOfJanuary());
  ASSERT_TRUE(s.ok()) << s.status();
  ASSERT_EQ(s->size(), 2u);
  const CustomerSummary& a = (*s)[0];
  EXPECT_EQ(a.customer_id, "a");
  EXPECT_EQ(a.repeat_purchases, 2);
  EXPECT_DOUBLE_EQ(a.last_purchase_time, 2);         // Jan 15 - Jan 1 = 14 days
  EXPECT_DOUBLE_EQ(a.observation_length, 30.0 / 7);  // Jan 31 - Jan 1
  EXPECT_DOUBLE_EQ(a.mean_repeat_spend, (24.0 + 12) / 2);
  const CustomerSummary& b = (*s)[1];
  EXPECT_EQ(b.customer_id, "b");
  EXPECT_EQ(b.repeat_purchases, 0);
  EXPECT_EQ(b.last_purchase_time, 0);
  EXPECT_DOUBLE_EQ(b.observation_length, 28.0 / 7);
  EXPECT_EQ(b.mean_repeat_spend, 0);
}

TEST(SummarizePurchasesTest, IncludesTheLastCalibrationDay) {
  absl::StatusOr<std::vector<CustomerSummary>> s = SummarizePurchases(
      {{"a", At(2024, 1, 31, 0), 1}, {"a", At(2024, 1, 31, 23), 1}}, EndOfJanuary());
  ASSERT_TRUE(s.ok()) << s.status();
  ASSERT_EQ(s->size(), 1u);
  EXPECT_EQ((*s)[0].repeat_purchases, 0);
  EXPECT_EQ((*s)[0].observation_length, 0);
}

TEST(SummarizePurchasesTest, DecidesTheDayInTheGivenTimeZoneAndPeriod) {
  SummaryOptions options = EndOfJanuary();
  options.time_zone = absl::FixedTimeZone(2 * 60 * 60);
  options.days_per_period = 1;
  // 23:30 UTC on Jan 1 is already Jan 2 at UTC+2, so these are two purchase days.
  absl::StatusOr<std::vector<CustomerSummary>> s = SummarizePurchases(
      {{"a", At(2024, 1, 1, 10), 1},
       {"a", absl::FromCivil(absl::CivilSecond(2024, 1, 1, 23, 30, 0), absl::UTCTimeZone()), 3}},
      options);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ((*s)[0].repeat_purchases, 1);
  EXPECT_EQ((*s)[0].last_purchase_time, 1);
  EXPECT_EQ((*s)[0].observation_length, 30);
}

TEST(SummarizePurchasesTest, RejectsBadPurchasesNamingThem) {
  absl::StatusOr<std::vector<CustomerSummary>> s =
      SummarizePurchases({{"a", At(2024, 1, 1), 1}, {"", At(2024, 1, 2), 1}}, EndOfJanuary());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.status().message(), HasSubstr("purchases[1].customer_id"));

  s = SummarizePurchases({{"a", At(2024, 1, 1), -3}}, EndOfJanuary());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.status().message(), HasSubstr("purchases[0].amount must be finite and >= 0"));

  SummaryOptions options = EndOfJanuary();
  options.days_per_period = 0;
  s = SummarizePurchases({}, options);
  EXPECT_THAT(s.status().message(), HasSubstr("options.days_per_period"));
}

TEST(SummarizePurchasesTest, ReturnsNoSummariesForNoPurchases) {
  absl::StatusOr<std::vector<CustomerSummary>> s = SummarizePurchases({}, EndOfJanuary());
  ASSERT_TRUE(s.ok());
  EXPECT_TRUE(s->empty());
}

CustomerSummary Valid() { return {"c", 2, 30.43, 38.86, 22.35}; }

TEST(ValidateSummaryTest, AcceptsAConsistentSummary) {
  EXPECT_TRUE(ValidateSummary(Valid(), "customer").ok());
  EXPECT_TRUE(ValidateSummary({"new", 0, 0, 0, 0}, "customer").ok());
}

TEST(ValidateSummaryTest, NamesTheFieldAndTheLimit) {
  struct Case {
    CustomerSummary summary;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{"c", -1, 0, 10, 0}, "customer.repeat_purchases (x) must be in [0, 1000000], got -1"},
      {{"c", 2, 40, 38.86, 1},
       "customer.last_purchase_time (t_x) must be in [0, "
       "observation_length (T) = 38.86], got 40"},
      {{"c", 2, -1, 38.86, 1}, "customer.last_purchase_time (t_x) must be in [0"},
      {{"c", 0, 3, 38.86, 0}, "customer.last_purchase_time (t_x) must be 0 when"},
      {{"c", 0, 0, -1, 0}, "customer.observation_length (T) must be finite and >= 0, got -1"},
      {{"c", 0, 0, NAN, 0}, "customer.observation_length (T) must be finite"},
      {{"c", 1, 1, 2, -5}, "customer.mean_repeat_spend (m_x) must be finite and >= 0, got -5"},
  };
  for (const Case& c : cases) {
    absl::Status s = ValidateSummary(c.summary, "customer");
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << c.message;
    EXPECT_THAT(s.message(), HasSubstr(c.message));
  }
}

TEST(ValidateSummariesTest, NamesTheIndexOfTheFirstBadSummary) {
  std::vector<CustomerSummary> customers = {Valid(), Valid(), Valid()};
  customers[1].repeat_purchases = -2;
  absl::Status s = ValidateSummaries(customers);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("customers[1].repeat_purchases"));
}

}  // namespace
}  // namespace centric::clv
