// Maximum-likelihood estimation over strictly positive parameters, shared by the model
// fits. The optimiser works on the logarithms of the parameters relative to a start that
// gives each its natural scale (e.g. α starts at the mean observation length), inside a
// box of e^±kMaxLogRatio around the start.
#ifndef CENTRIC_LIBS_CLV_MLE_H_
#define CENTRIC_LIBS_CLV_MLE_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace centric::clv {

inline constexpr double kMaxLogRatio = 20;
// A fitted parameter more than e^kRunOffLogRatio (about 22,000) times above or below its
// start is taken as running off to infinity or 0.
inline constexpr double kRunOffLogRatio = 10;

// INVALID_ARGUMENT "params.<name> must be finite and > 0, got <value>" unless it is.
absl::Status ValidatePositiveParam(double value, absl::string_view name);

struct MleResult {
  std::vector<double> params;
  double log_likelihood = 0;
  int evaluations = 0;
};

// Maximises `log_likelihood` (of the parameters themselves, not their logs) from `start`
// (all > 0, each on its natural scale). `names` name the parameters in errors. Errors:
// FAILED_PRECONDITION naming `model` when the start has no finite likelihood, when a
// parameter runs off (the likelihood keeps rising as it goes to 0 or infinity, so there
// is no maximum to report), or when the optimiser does not converge.
absl::StatusOr<MleResult> MaximizeLogLikelihood(
    const std::function<double(absl::Span<const double>)>& log_likelihood,
    std::vector<double> start, const std::vector<std::string>& names, absl::string_view model);

}  // namespace centric::clv

#endif  // CENTRIC_LIBS_CLV_MLE_H_
