#include "libs/stats/validate.h"

#include <cstddef>

#include "absl/strings/str_cat.h"

namespace centric::stats {

absl::Status ValidateOpenUnitInterval(absl::string_view name, double value) {
  if (value > 0 && value < 1) return absl::OkStatus();  // also refuses NaN
  return absl::InvalidArgumentError(absl::StrCat(name, " must be in (0, 1), got ", value));
}

absl::Status ValidateCount(absl::string_view name, int64_t value) {
  if (value < 0) {
    return absl::InvalidArgumentError(absl::StrCat(name, " must not be negative, got ", value));
  }
  if (value > kMaxCount) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, " must be at most ", kMaxCount, ", got ", value));
  }
  return absl::OkStatus();
}

absl::Status ValidateWeights(absl::string_view name, absl::Span<const int64_t> weights) {
  if (weights.size() < 2 || weights.size() > static_cast<size_t>(kMaxVariants)) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, " must hold 2 to ", kMaxVariants, " variants, got ", weights.size()));
  }
  for (size_t i = 0; i < weights.size(); ++i) {
    if (weights[i] <= 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(name, "[", i, "] must be positive, got ", weights[i]));
    }
    if (weights[i] > kMaxWeight) {
      return absl::InvalidArgumentError(
          absl::StrCat(name, "[", i, "] must be at most ", kMaxWeight, ", got ", weights[i]));
    }
  }
  return absl::OkStatus();
}

}  // namespace centric::stats
