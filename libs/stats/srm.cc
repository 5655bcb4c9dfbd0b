#include "libs/stats/srm.h"

#include <cstddef>

#include "absl/strings/str_cat.h"
#include "libs/stats/distributions.h"
#include "libs/stats/validate.h"

namespace centric::stats {

absl::StatusOr<SampleRatioCheck> CheckSampleRatio(absl::Span<const int64_t> exposures,
                                                  absl::Span<const int64_t> weights) {
  if (absl::Status s = ValidateWeights("weights", weights); !s.ok()) return s;
  if (exposures.size() != weights.size()) {
    return absl::InvalidArgumentError(absl::StrCat("exposures must hold one count per weight (",
                                                   weights.size(), "), got ", exposures.size()));
  }
  int64_t total = 0;
  int64_t weight_total = 0;
  for (size_t i = 0; i < exposures.size(); ++i) {
    if (absl::Status s = ValidateCount(absl::StrCat("exposures[", i, "]"), exposures[i]); !s.ok()) {
      return s;
    }
    total += exposures[i];
    weight_total += weights[i];
  }
  SampleRatioCheck check;
  check.degrees_of_freedom = static_cast<int>(weights.size()) - 1;
  if (total == 0) return check;
  for (size_t i = 0; i < exposures.size(); ++i) {
    const double expected = static_cast<double>(total) * static_cast<double>(weights[i]) /
                            static_cast<double>(weight_total);
    const double diff = static_cast<double>(exposures[i]) - expected;
    check.chi_square += diff * diff / expected;
  }
  check.p_value = ChiSquareUpperTail(check.chi_square, check.degrees_of_freedom);
  check.mismatch = check.p_value < kSampleRatioMismatchThreshold;
  return check;
}

}  // namespace centric::stats
