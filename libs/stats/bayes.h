// Bayesian "probability to beat control" for conversion rates.
#ifndef CENTRIC_LIBS_STATS_BAYES_H_
#define CENTRIC_LIBS_STATS_BAYES_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "libs/stats/experiment.h"

namespace centric::stats {

// The exact sum below has min(α_c, β_c, α_v, β_v) terms; larger inputs are refused
// rather than tying up a request (10^7 terms take about 0.15 s on one core).
inline constexpr int64_t kMaxBayesTerms = 10'000'000;

// P(rate_variant > rate_control) when each rate has the posterior Beta(1 + conversions,
// 1 + exposures - conversions) of a uniform prior. Computed exactly with Evan Miller's
// closed-form sum (docs/STATISTICS.md), term by term in log space; the absolute error is
// about 1e-16 · n·ln(n) for the largest exposure count n (< 1e-8 for n = 10^6).
// Zero exposures are allowed (the posterior is then the prior).
// Errors (INVALID_ARGUMENT): counts invalid; more than kMaxBayesTerms terms needed.
absl::StatusOr<double> ProbabilityToBeatControl(const VariantCounts& control,
                                                const VariantCounts& variant);

}  // namespace centric::stats

#endif  // CENTRIC_LIBS_STATS_BAYES_H_
