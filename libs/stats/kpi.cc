#include "libs/stats/kpi.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <vector>

#include "absl/strings/str_cat.h"
#include "libs/stats/distributions.h"
#include "libs/stats/validate.h"

namespace centric::stats {

absl::StatusOr<NpsScore> Nps(int64_t promoters, int64_t passives, int64_t detractors,
                             double alpha) {
  if (absl::Status s = ValidateCount("promoters", promoters); !s.ok()) return s;
  if (absl::Status s = ValidateCount("passives", passives); !s.ok()) return s;
  if (absl::Status s = ValidateCount("detractors", detractors); !s.ok()) return s;
  if (absl::Status s = ValidateOpenUnitInterval("alpha", alpha); !s.ok()) return s;
  const int64_t total = promoters + passives + detractors;
  if (total == 0) {
    return absl::InvalidArgumentError("promoters + passives + detractors must be positive, got 0");
  }
  const double n = static_cast<double>(total);
  const double p_promoters = static_cast<double>(promoters) / n;
  const double p_detractors = static_cast<double>(detractors) / n;
  const double difference = p_promoters - p_detractors;
  // Multinomial: Var(pP - pD) = (pP(1-pP) + pD(1-pD) + 2·pP·pD)/n.
  const double variance = (p_promoters + p_detractors - difference * difference) / n;
  NpsScore nps;
  nps.score = 100 * difference;
  nps.margin_of_error = NormalQuantile(1 - alpha / 2) * 100 * std::sqrt(std::max(0.0, variance));
  nps.responses = total;
  return nps;
}

absl::StatusOr<Interval> WilsonInterval(int64_t successes, int64_t trials, double alpha) {
  if (absl::Status s = ValidateCount("successes", successes); !s.ok()) return s;
  if (absl::Status s = ValidateCount("trials", trials); !s.ok()) return s;
  if (trials == 0) return absl::InvalidArgumentError("trials must be positive, got 0");
  if (successes > trials) {
    return absl::InvalidArgumentError(
        absl::StrCat("successes must be at most trials (", trials, "), got ", successes));
  }
  if (absl::Status s = ValidateOpenUnitInterval("alpha", alpha); !s.ok()) return s;
  const double n = static_cast<double>(trials);
  const double p = static_cast<double>(successes) / n;
  const double z = NormalQuantile(1 - alpha / 2);
  const double z2 = z * z;
  const double center = (p + z2 / (2 * n)) / (1 + z2 / n);
  const double half = z / (1 + z2 / n) * std::sqrt(p * (1 - p) / n + z2 / (4 * n * n));
  return Interval{std::max(0.0, center - half), std::min(1.0, center + half)};
}

absl::StatusOr<CsatScore> Csat(int64_t satisfied, int64_t responses, double alpha) {
  absl::StatusOr<Interval> interval = WilsonInterval(satisfied, responses, alpha);
  if (!interval.ok()) return interval.status();
  CsatScore csat;
  csat.percent_satisfied = 100 * static_cast<double>(satisfied) / static_cast<double>(responses);
  csat.interval = {100 * interval->low, 100 * interval->high};
  csat.responses = responses;
  return csat;
}

absl::StatusOr<MeanEstimate> MeanWithStandardError(absl::Span<const double> values) {
  if (values.empty()) return absl::InvalidArgumentError("values must not be empty");
  double sum = 0;
  for (size_t i = 0; i < values.size(); ++i) {
    if (!std::isfinite(values[i])) {
      return absl::InvalidArgumentError(
          absl::StrCat("values[", i, "] must be finite, got ", values[i]));
    }
    sum += values[i];
  }
  const double n = static_cast<double>(values.size());
  MeanEstimate estimate;
  estimate.mean = sum / n;
  estimate.count = static_cast<int64_t>(values.size());
  if (values.size() >= 2) {
    double squares = 0;  // second pass: no cancellation from Σx² - n·mean²
    for (double v : values) squares += (v - estimate.mean) * (v - estimate.mean);
    estimate.standard_error = std::sqrt(squares / (n - 1) / n);
  }
  return estimate;
}

absl::StatusOr<absl::Duration> MedianDuration(absl::Span<const absl::Duration> durations) {
  if (durations.empty()) return absl::InvalidArgumentError("durations must not be empty");
  for (size_t i = 0; i < durations.size(); ++i) {
    if (durations[i] == absl::InfiniteDuration() || durations[i] == -absl::InfiniteDuration()) {
      return absl::InvalidArgumentError(absl::StrCat("durations[", i, "] must be finite"));
    }
  }
  std::vector<absl::Duration> sorted(durations.begin(), durations.end());
  const size_t mid = sorted.size() / 2;
  std::nth_element(sorted.begin(), sorted.begin() + mid, sorted.end());
  const absl::Duration upper = sorted[mid];
  if (sorted.size() % 2 == 1) return upper;
  const absl::Duration lower = *std::max_element(sorted.begin(), sorted.begin() + mid);
  return lower + (upper - lower) / 2;  // no overflow, unlike (lower + upper) / 2
}

}  // namespace centric::stats
