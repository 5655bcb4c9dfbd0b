// Frequentist comparison of a variant's conversion rate with the control's: absolute and
// relative uplift with confidence intervals, and the two-proportion z-test.
// docs/STATISTICS.md states each formula and its source.
#ifndef CENTRIC_LIBS_STATS_EXPERIMENT_H_
#define CENTRIC_LIBS_STATS_EXPERIMENT_H_

#include <cstdint>
#include <optional>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace centric::stats {

// What one variant (or the control) of an experiment has counted so far.
struct VariantCounts {
  // Profiles exposed to the variant, each counted once. In [0, kMaxCount].
  int64_t exposures = 0;
  // Exposed profiles that converted. In [0, exposures].
  int64_t conversions = 0;
};

// A closed interval [low, high] in the unit of the estimate it belongs to.
struct Interval {
  double low = 0;
  double high = 0;
};

// INVALID_ARGUMENT naming `name`.exposures or `name`.conversions when a count is negative,
// above kMaxCount, or conversions exceed exposures.
absl::Status ValidateVariantCounts(absl::string_view name, const VariantCounts& counts);

// conversions / exposures, in [0, 1]. Errors: counts invalid, or exposures == 0.
absl::StatusOr<double> ConversionRate(const VariantCounts& counts);

// Variant against control. Rates and uplifts are fractions (0.03 = 3 percentage points
// absolute; 0.3 = +30 % relative).
struct Comparison {
  double control_rate = 0;
  double variant_rate = 0;
  // variant_rate - control_rate.
  double absolute_uplift = 0;
  // Wald (1 - alpha) interval of the difference of two independent proportions.
  Interval absolute_uplift_interval;
  // variant_rate / control_rate - 1; absent when control_rate is 0.
  std::optional<double> relative_uplift;
  // (1 - alpha) interval of relative_uplift by the delta method; absent with it.
  std::optional<Interval> relative_uplift_interval;
  // Two-proportion z statistic with the pooled rate; 0 when the pooled rate is 0 or 1.
  double z = 0;
  // Two-sided p-value of z under the null hypothesis of equal rates.
  double p_value = 1;
};

// Preconditions (else INVALID_ARGUMENT): both counts valid with exposures > 0;
// 0 < alpha < 1.
absl::StatusOr<Comparison> CompareToControl(const VariantCounts& control,
                                            const VariantCounts& variant, double alpha = 0.05);

}  // namespace centric::stats

#endif  // CENTRIC_LIBS_STATS_EXPERIMENT_H_
