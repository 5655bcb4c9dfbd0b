#include "services/segmentation/rfm.h"

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "services/segmentation/rule.h"

namespace centric::segmentation {
namespace {

namespace pv1 = profiles::v1;

void Add(Table& table, int i, int orders, double revenue, int64_t last_purchase_seconds) {
  pv1::Profile p;
  p.set_name(absl::StrCat("profiles/c", i));
  p.set_version(1);
  p.mutable_aggregates()->set_order_count(orders);
  p.mutable_aggregates()->set_revenue_total(revenue);
  if (orders > 0) p.mutable_aggregates()->mutable_last_purchase_time()->set_seconds(last_purchase_seconds);
  table.Upsert(p);
}

TEST(RfmTest, QuintilesOfDistinctValuesGiveOneFifthEach) {
  Table table;
  for (int i = 0; i < 100; ++i) Add(table, i, i + 1, 10.0 * i, 1700000000 + i * 3600);
  RfmBoundaries b = ComputeRfmBoundaries(table);
  EXPECT_EQ(b.population, 100);
  int per_score[6] = {};
  for (Row row = 0; row < table.row_count(); ++row) ++per_score[ScoreRow(table, row, b).f];
  for (int s = 1; s <= 5; ++s) EXPECT_EQ(per_score[s], 20) << "score " << s;
  // The most recent, most frequent, biggest spender scores 5/5/5; the first 1/1/1.
  EXPECT_EQ(ScoreRow(table, 99, b), (RfmScore{5, 5, 5}));
  EXPECT_EQ(ScoreRow(table, 0, b), (RfmScore{1, 1, 1}));
}

TEST(RfmTest, TiesShareAScoreAndNonBuyersScoreZero) {
  Table table;
  // 60 one-time buyers and 40 repeat buyers: every one-time buyer has the same frequency.
  for (int i = 0; i < 100; ++i) Add(table, i, i < 60 ? 1 : 2 + i % 5, 50.0, 1700000000);
  Add(table, 100, 0, 0.0, 0);
  RfmBoundaries b = ComputeRfmBoundaries(table);
  EXPECT_EQ(b.population, 100);
  uint8_t first = ScoreRow(table, 0, b).f;
  for (Row row = 1; row < 60; ++row) EXPECT_EQ(ScoreRow(table, row, b).f, first);
  EXPECT_EQ(ScoreRow(table, 100, b), (RfmScore{0, 0, 0}));
}

TEST(RfmTest, EveryTemplateCompiles) {
  for (const SegmentTemplate& t : SegmentTemplates()) {
    auto rule = Rule::Compile(t.rule, RuleKind::kSegment);
    EXPECT_TRUE(rule.ok()) << t.id << ": " << rule.status();
    EXPECT_TRUE((*rule)->reads_rfm()) << t.id;
  }
  EXPECT_NE(FindTemplate("rfm-champions"), nullptr);
  EXPECT_EQ(FindTemplate("rfm-unknown"), nullptr);
}

}  // namespace
}  // namespace centric::segmentation
