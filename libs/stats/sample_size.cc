#include "libs/stats/sample_size.h"

#include <algorithm>
#include <cmath>
#include <cstddef>

#include "absl/strings/str_cat.h"
#include "libs/stats/distributions.h"
#include "libs/stats/validate.h"

namespace centric::stats {

absl::StatusOr<int64_t> RequiredSampleSizePerVariant(double baseline_rate,
                                                     double minimum_detectable_effect, double alpha,
                                                     double power) {
  if (absl::Status s = ValidateOpenUnitInterval("baseline_rate", baseline_rate); !s.ok()) {
    return s;
  }
  if (!(minimum_detectable_effect > 0 && baseline_rate + minimum_detectable_effect < 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("minimum_detectable_effect must be in (0, 1 - baseline_rate) = (0, ",
                     1 - baseline_rate, "), got ", minimum_detectable_effect));
  }
  if (absl::Status s = ValidateOpenUnitInterval("alpha", alpha); !s.ok()) return s;
  if (absl::Status s = ValidateOpenUnitInterval("power", power); !s.ok()) return s;

  const double p1 = baseline_rate;
  const double p2 = baseline_rate + minimum_detectable_effect;
  const double p_bar = (p1 + p2) / 2;
  const double root = NormalQuantile(1 - alpha / 2) * std::sqrt(2 * p_bar * (1 - p_bar)) +
                      NormalQuantile(power) * std::sqrt(p1 * (1 - p1) + p2 * (1 - p2));
  const double n = std::ceil(root * root / (minimum_detectable_effect * minimum_detectable_effect));
  if (!(n <= static_cast<double>(kMaxCount))) {
    return absl::InvalidArgumentError(
        absl::StrCat("minimum_detectable_effect ", minimum_detectable_effect,
                     " is too small: it needs more than ", kMaxCount, " exposures per variant"));
  }
  return std::max<int64_t>(1, static_cast<int64_t>(n));
}

absl::StatusOr<SampleSizeProgress> RemainingExposures(int64_t required_per_variant,
                                                      absl::Span<const int64_t> exposures) {
  if (absl::Status s = ValidateCount("required_per_variant", required_per_variant); !s.ok()) {
    return s;
  }
  if (exposures.empty() || exposures.size() > static_cast<size_t>(kMaxVariants)) {
    return absl::InvalidArgumentError(
        absl::StrCat("exposures must hold 1 to ", kMaxVariants, " counts, got ", exposures.size()));
  }
  SampleSizeProgress progress;
  progress.required_per_variant = required_per_variant;
  for (size_t i = 0; i < exposures.size(); ++i) {
    if (absl::Status s = ValidateCount(absl::StrCat("exposures[", i, "]"), exposures[i]); !s.ok()) {
      return s;
    }
    const int64_t remaining = std::max<int64_t>(0, required_per_variant - exposures[i]);
    progress.remaining_per_variant.push_back(remaining);
    progress.remaining_total += remaining;
  }
  return progress;
}

}  // namespace centric::stats
