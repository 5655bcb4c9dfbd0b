// How many exposures an experiment needs before it can detect the effect it was planned
// for, and how many more it still needs.
#ifndef CENTRIC_LIBS_STATS_SAMPLE_SIZE_H_
#define CENTRIC_LIBS_STATS_SAMPLE_SIZE_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace centric::stats {

// Exposures needed in each variant (control included) for a two-sided two-proportion
// z-test at level `alpha` to detect, with probability `power`, a change of the conversion
// rate from `baseline_rate` to baseline_rate + minimum_detectable_effect (absolute, e.g.
// 0.02 for +2 percentage points). The standard formula with the pooled variance under the
// null (Fleiss; R's power.prop.test), rounded up:
//   n = (z_{1-α/2}·√(2·p̄(1-p̄)) + z_{power}·√(p1(1-p1) + p2(1-p2)))² / δ²,  p̄ = (p1+p2)/2.
// Preconditions (else INVALID_ARGUMENT): baseline_rate, alpha and power in (0, 1);
// minimum_detectable_effect > 0 with baseline_rate + minimum_detectable_effect < 1; the
// result at most kMaxCount.
absl::StatusOr<int64_t> RequiredSampleSizePerVariant(double baseline_rate,
                                                     double minimum_detectable_effect,
                                                     double alpha = 0.05, double power = 0.8);

struct SampleSizeProgress {
  int64_t required_per_variant = 0;
  // max(0, required_per_variant - exposures[i]) for each variant, in the input's order.
  std::vector<int64_t> remaining_per_variant;
  // Sum of remaining_per_variant: exposures still needed before the planned analysis.
  int64_t remaining_total = 0;
};

// What is left to collect, given the current exposures of every variant (control
// included). Errors (INVALID_ARGUMENT): required_per_variant or an exposure count negative
// or above kMaxCount; exposures empty or longer than kMaxVariants.
absl::StatusOr<SampleSizeProgress> RemainingExposures(int64_t required_per_variant,
                                                      absl::Span<const int64_t> exposures);

}  // namespace centric::stats

#endif  // CENTRIC_LIBS_STATS_SAMPLE_SIZE_H_
