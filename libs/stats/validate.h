// Argument checks shared by the statistics functions. Each returns INVALID_ARGUMENT whose
// message names the argument, the allowed range and the value received, e.g.
// "alpha must be in (0, 1), got 1.5".
#ifndef CENTRIC_LIBS_STATS_VALIDATE_H_
#define CENTRIC_LIBS_STATS_VALIDATE_H_

#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace centric::stats {

// Largest count (exposures, conversions, responses) accepted anywhere. It keeps sums of
// counts far from int64 overflow and exact in a double.
inline constexpr int64_t kMaxCount = 1'000'000'000'000;  // 10^12

// Limits on variant weights: at most kMaxVariants entries, each in [1, kMaxWeight].
inline constexpr int kMaxVariants = 100;
inline constexpr int64_t kMaxWeight = 1'000'000;

// `value` must lie strictly between 0 and 1 (alpha, power, a rate).
absl::Status ValidateOpenUnitInterval(absl::string_view name, double value);

// `value` must be in [0, kMaxCount].
absl::Status ValidateCount(absl::string_view name, int64_t value);

// 2 to kMaxVariants weights, each in [1, kMaxWeight]; `name` is the argument's name, and
// violations name the entry, e.g. "weights[1] must be positive, got 0".
absl::Status ValidateWeights(absl::string_view name, absl::Span<const int64_t> weights);

}  // namespace centric::stats

#endif  // CENTRIC_LIBS_STATS_VALIDATE_H_
