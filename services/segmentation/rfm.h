// RFM scores: recency, frequency and monetary quintiles (1 = lowest fifth, 5 = highest)
// of every profile with at least one purchase, over the whole population. Profiles
// without a purchase score 0 on all three.
//
// Recency is the time of the last purchase (more recent scores higher), frequency the
// order count, monetary the revenue total. Boundaries are the values at the 20th, 40th,
// 60th and 80th percentile ranks; a value scores 1 plus the number of boundaries it
// reaches, so equal values always share a score.
#ifndef CENTRIC_SERVICES_SEGMENTATION_RFM_H_
#define CENTRIC_SERVICES_SEGMENTATION_RFM_H_

#include <array>
#include <cstdint>
#include <vector>

#include "services/segmentation/table.h"

namespace centric::segmentation {

struct RfmBoundaries {
  std::array<double, 4> recency{};   // last purchase, microseconds since the epoch
  std::array<double, 4> frequency{};
  std::array<double, 4> monetary{};
  int64_t population = 0;  // profiles with a purchase when computed
};

struct RfmScore {
  uint8_t r = 0;
  uint8_t f = 0;
  uint8_t m = 0;
  bool operator==(const RfmScore&) const = default;
};

// Boundaries over the live rows of `table`.
RfmBoundaries ComputeRfmBoundaries(const Table& table);

// The same in steps: the purchase figures of live rows [begin, end) are collected into a
// sample (so that a caller can let go of the table between blocks of rows), then the
// boundaries are taken from the sample (which is reordered).
struct RfmSample {
  std::vector<double> recency, frequency, monetary;
};
void CollectRfm(const Table& table, Row begin, Row end, RfmSample& sample);
RfmBoundaries BoundariesOf(RfmSample& sample);

// The score of one row against `boundaries` (0,0,0 without a purchase, or before any
// boundaries exist).
RfmScore ScoreRow(const Table& table, Row row, const RfmBoundaries& boundaries);

// Writes rfm.r/f/m of `row`; true when they changed.
bool StoreRfm(Table& table, Row row, RfmScore score);

// The built-in segment templates over RFM scores: id ("rfm-champions"), display name,
// rule.
struct SegmentTemplate {
  const char* id;
  const char* display_name;
  const char* description;
  const char* rule;
};
const std::vector<SegmentTemplate>& SegmentTemplates();
const SegmentTemplate* FindTemplate(absl::string_view id);

}  // namespace centric::segmentation

#endif  // CENTRIC_SERVICES_SEGMENTATION_RFM_H_
