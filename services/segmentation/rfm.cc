#include "services/segmentation/rfm.h"

#include <algorithm>
#include <vector>

namespace centric::segmentation {
namespace {

// The values at the 20th, 40th, 60th and 80th percentile ranks (as if sorted).
std::array<double, 4> Quintiles(std::vector<double>& values) {
  std::array<double, 4> out{};
  if (values.empty()) return out;
  auto begin = values.begin();
  for (size_t k = 1; k <= 4; ++k) {
    auto nth = values.begin() + static_cast<std::ptrdiff_t>(k * values.size() / 5);
    std::nth_element(begin, nth, values.end());
    out[k - 1] = *nth;
    begin = nth;
  }
  return out;
}

uint8_t Score(double v, const std::array<double, 4>& b) {
  uint8_t s = 1;
  for (double boundary : b) s += v >= boundary ? 1 : 0;
  return s;
}

}  // namespace

void CollectRfm(const Table& table, Row begin, Row end, RfmSample& sample) {
  end = std::min(end, table.row_count());
  for (Row row = begin; row < end; ++row) {
    if (!table.live(row) || table.IntAt(Field::kOrderCount, row) <= 0) continue;
    sample.recency.push_back(static_cast<double>(table.TimeMicrosAt(Field::kLastPurchaseTime, row)));
    sample.frequency.push_back(static_cast<double>(table.IntAt(Field::kOrderCount, row)));
    sample.monetary.push_back(table.DoubleAt(Field::kRevenueTotal, row));
  }
}

RfmBoundaries BoundariesOf(RfmSample& sample) {
  RfmBoundaries b;
  b.population = static_cast<int64_t>(sample.recency.size());
  b.recency = Quintiles(sample.recency);
  b.frequency = Quintiles(sample.frequency);
  b.monetary = Quintiles(sample.monetary);
  return b;
}

RfmBoundaries ComputeRfmBoundaries(const Table& table) {
  RfmSample sample;
  CollectRfm(table, 0, table.row_count(), sample);
  return BoundariesOf(sample);
}

RfmScore ScoreRow(const Table& table, Row row, const RfmBoundaries& b) {
  if (b.population == 0 || !table.live(row) || table.IntAt(Field::kOrderCount, row) <= 0) return {};
  return {Score(static_cast<double>(table.TimeMicrosAt(Field::kLastPurchaseTime, row)), b.recency),
          Score(static_cast<double>(table.IntAt(Field::kOrderCount, row)), b.frequency),
          Score(table.DoubleAt(Field::kRevenueTotal, row), b.monetary)};
}

bool StoreRfm(Table& table, Row row, RfmScore score) {
  RfmScore old{table.EnumAt(Field::kRfmR, row), table.EnumAt(Field::kRfmF, row),
               table.EnumAt(Field::kRfmM, row)};
  if (old == score) return false;
  table.SetEnum(Field::kRfmR, row, score.r);
  table.SetEnum(Field::kRfmF, row, score.f);
  table.SetEnum(Field::kRfmM, row, score.m);
  return true;
}

// The usual RFM classes, as rules over the quintile scores (rfm.r >= 1 means the
// profile has purchased).
const std::vector<SegmentTemplate>& SegmentTemplates() {
  static const auto* templates = new std::vector<SegmentTemplate>{
      {"rfm-champions", "Champions", "Bought recently, buy often and spend the most.",
       "rfm.r >= 4 && rfm.f >= 4 && rfm.m >= 4"},
      {"rfm-loyal", "Loyal customers", "Buy often and recently enough; respond to loyalty offers.",
       "rfm.r >= 3 && rfm.f >= 4 && !(rfm.r >= 4 && rfm.m >= 4)"},
      {"rfm-potential-loyalists", "Potential loyalists",
       "Recent customers with average frequency; could become loyal.",
       "rfm.r >= 4 && rfm.f >= 2 && rfm.f <= 3"},
      {"rfm-new", "New customers", "Bought for the first time, recently.",
       "rfm.r >= 4 && rfm.f == 1"},
      {"rfm-need-attention", "Need attention", "Average recency, frequency and spend.",
       "rfm.r == 3 && rfm.f <= 3"},
      {"rfm-at-risk", "At risk", "Used to buy often and spend well, but not recently.",
       "rfm.r <= 2 && rfm.r >= 1 && rfm.f >= 3"},
      {"rfm-cant-lose", "Can't lose them", "Were among the best customers; long since gone quiet.",
       "rfm.r == 1 && rfm.f >= 4 && rfm.m >= 4"},
      {"rfm-hibernating", "Hibernating", "Last bought long ago, rarely and for little.",
       "rfm.r == 2 && rfm.f <= 2"},
      {"rfm-lost", "Lost", "Lowest recency and frequency.", "rfm.r == 1 && rfm.f <= 2"},
  };
  return *templates;
}

const SegmentTemplate* FindTemplate(absl::string_view id) {
  for (const SegmentTemplate& t : SegmentTemplates()) {
    if (id == t.id) return &t;
  }
  return nullptr;
}

}  // namespace centric::segmentation
