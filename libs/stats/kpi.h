// Survey KPIs with their uncertainty: NPS, CSAT, CES (a mean) and median durations.
// Intervals use a (1 - alpha) confidence level; alpha = 0.05 gives the usual 95 %.
#ifndef CENTRIC_LIBS_STATS_KPI_H_
#define CENTRIC_LIBS_STATS_KPI_H_

#include <cstdint>
#include <optional>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "libs/stats/experiment.h"

namespace centric::stats {

struct NpsScore {
  // %promoters - %detractors, in points from -100 to 100.
  double score = 0;
  // Half-width of the (1 - alpha) interval, in points: z · 100 · √((pP + pD - (pP - pD)²)/n).
  double margin_of_error = 0;
  int64_t responses = 0;
};

// NPS from response counts (promoters answered 9-10, passives 7-8, detractors 0-6).
// Errors (INVALID_ARGUMENT): a count negative or above kMaxCount; no responses;
// alpha outside (0, 1).
absl::StatusOr<NpsScore> Nps(int64_t promoters, int64_t passives, int64_t detractors,
                             double alpha = 0.05);

// Wilson score interval for the proportion successes / trials, as fractions in [0, 1].
// Errors (INVALID_ARGUMENT): counts negative or above kMaxCount; trials == 0;
// successes > trials; alpha outside (0, 1).
absl::StatusOr<Interval> WilsonInterval(int64_t successes, int64_t trials, double alpha = 0.05);

struct CsatScore {
  // Satisfied responses / responses, in percent.
  double percent_satisfied = 0;
  // Wilson (1 - alpha) interval of percent_satisfied, in percent.
  Interval interval;
  int64_t responses = 0;
};

// CSAT: the share of responses counted as satisfied (e.g. 4-5 on a 1-5 scale).
// Errors as WilsonInterval.
absl::StatusOr<CsatScore> Csat(int64_t satisfied, int64_t responses, double alpha = 0.05);

struct MeanEstimate {
  double mean = 0;
  // Sample standard deviation / √n (n - 1 in the variance); absent for a single value.
  std::optional<double> standard_error;
  int64_t count = 0;
};

// Mean with its standard error, e.g. the CES of a set of responses.
// Errors (INVALID_ARGUMENT): values empty; a value not finite.
absl::StatusOr<MeanEstimate> MeanWithStandardError(absl::Span<const double> values);

// The median; for an even count, the midpoint of the two middle durations.
// Errors (INVALID_ARGUMENT): durations empty; a duration infinite.
absl::StatusOr<absl::Duration> MedianDuration(absl::Span<const absl::Duration> durations);

}  // namespace centric::stats

#endif  // CENTRIC_LIBS_STATS_KPI_H_
