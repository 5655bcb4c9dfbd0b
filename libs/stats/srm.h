// Sample ratio mismatch (SRM): are exposures split the way the variant weights say? A
// mismatch means assignment or exposure logging is broken, and the experiment's results
// should not be trusted until it is explained.
#ifndef CENTRIC_LIBS_STATS_SRM_H_
#define CENTRIC_LIBS_STATS_SRM_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace centric::stats {

// p-values below this flag a mismatch (the usual SRM threshold; a false alarm about once
// in 1000 healthy experiments).
inline constexpr double kSampleRatioMismatchThreshold = 0.001;

struct SampleRatioCheck {
  // Pearson's Σ (observed - expected)² / expected, expected = total · weight / Σ weights.
  double chi_square = 0;
  // Number of variants - 1.
  int degrees_of_freedom = 0;
  // P(χ² >= chi_square) under the configured split.
  double p_value = 1;
  // p_value < kSampleRatioMismatchThreshold.
  bool mismatch = false;
};

// Chi-square goodness-of-fit test of `exposures` (one count per variant, control
// included) against `weights` (the configured integer weights, same order). With no
// exposures at all there is nothing to test: chi_square 0, p_value 1, no mismatch. The
// chi-square approximation wants every expected count to be at least 5; below that the
// p-value is rough.
// Errors (INVALID_ARGUMENT): sizes differ; weights invalid (ValidateWeights); an exposure
// count negative or above kMaxCount.
absl::StatusOr<SampleRatioCheck> CheckSampleRatio(absl::Span<const int64_t> exposures,
                                                  absl::Span<const int64_t> weights);

}  // namespace centric::stats

#endif  // CENTRIC_LIBS_STATS_SRM_H_
