#include "libs/clv/mle.h"

#include <cmath>
#include <limits>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "libs/clv/nelder_mead.h"

namespace centric::clv {

absl::Status ValidatePositiveParam(double value, absl::string_view name) {
  if (std::isfinite(value) && value > 0) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("params.", name, " must be finite and > 0, got ", value));
}

absl::StatusOr<MleResult> MaximizeLogLikelihood(
    const std::function<double(absl::Span<const double>)>& log_likelihood,
    std::vector<double> start, const std::vector<std::string>& names, absl::string_view model) {
  std::vector<double> params(start.size());
  auto objective = [&](absl::Span<const double> log_ratios) {
    for (size_t i = 0; i < log_ratios.size(); ++i) {
      if (!(std::abs(log_ratios[i]) <= kMaxLogRatio)) {
        return std::numeric_limits<double>::infinity();
      }
      params[i] = start[i] * std::exp(log_ratios[i]);
    }
    const double ll = log_likelihood(params);
    return std::isfinite(ll) ? -ll : std::numeric_limits<double>::infinity();
  };
  const NelderMeadResult best = MinimizeNelderMead(objective, std::vector<double>(start.size()));
  if (!std::isfinite(best.value)) {
    return absl::FailedPreconditionError(
        absl::StrCat(model, " fit: the log-likelihood is not finite at the start"));
  }
  for (size_t i = 0; i < best.point.size(); ++i) {
    if (std::abs(best.point[i]) > kRunOffLogRatio) {
      return absl::FailedPreconditionError(absl::StrCat(
          model, " fit did not converge: ", names[i], " runs off towards ",
          best.point[i] > 0 ? "infinity" : "0", " (reached ", start[i] * std::exp(best.point[i]),
          "); the data do not identify the model, e.g. too few repeat purchases or no "
          "customer who stopped buying"));
    }
  }
  if (!best.converged) {
    return absl::FailedPreconditionError(absl::StrCat(model, " fit did not converge in ",
                                                      best.evaluations, " likelihood evaluations"));
  }
  MleResult result;
  result.log_likelihood = -best.value;
  result.evaluations = best.evaluations;
  for (size_t i = 0; i < best.point.size(); ++i) {
    result.params.push_back(start[i] * std::exp(best.point[i]));
  }
  return result;
}

}  // namespace centric::clv
