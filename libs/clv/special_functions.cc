#include "libs/clv/special_functions.h"

#include <algorithm>
#include <cmath>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace centric::clv {
namespace {

constexpr double kRelativeTolerance = 1e-15;
constexpr int kMaxTerms = 10000000;
// The running sum is rescaled by this factor before it could overflow.
constexpr double kRescale = 1e250;

}  // namespace

double LogGamma(double x) {
  int sign;
  return lgamma_r(x, &sign);
}

double LogBeta(double a, double b) { return LogGamma(a) + LogGamma(b) - LogGamma(a + b); }

absl::StatusOr<double> LogHypergeometric2F1(double a, double b, double c, double z) {
  if (!(a > 0 && b > 0 && c > 0) || !std::isfinite(a + b + c)) {
    return absl::InvalidArgumentError(
        absl::StrCat("2F1 needs finite a, b, c > 0, got a = ", a, ", b = ", b, ", c = ", c));
  }
  if (!(z >= 0 && z < 1)) {
    return absl::InvalidArgumentError(absl::StrCat("2F1 needs 0 <= z < 1, got z = ", z));
  }
  // The ratio of consecutive terms is z * g(n) with
  //   g(n) = (a + n)(b + n) / ((c + n)(n + 1)),
  //   g(n) - 1 = (ab - c + n (a + b - c - 1)) / ((c + n)(n + 1)),
  // so for every m >= n, g(m) <= 1 + max(0, ab - c) / ((c + n)(n + 1))
  //                                 + max(0, a + b - c - 1) / (c + n) =: G(n).
  // Once R = z G(n) < 1, the terms after t_n sum to at most t_n R / (1 - R).
  const double excess_constant = std::max(0.0, a * b - c);
  const double excess_slope = std::max(0.0, a + b - c - 1);
  double term = 1;
  double sum = 1;
  double log_scale = 0;
  for (int n = 0; n < kMaxTerms; ++n) {
    term *= z * (a + n) * (b + n) / ((c + n) * (n + 1.0));
    sum += term;
    if (sum > kRescale) {
      sum /= kRescale;
      term /= kRescale;
      log_scale += std::log(kRescale);
    }
    const double m = n + 1.0;  // index of `term`
    const double ratio_bound =
        z * (1 + excess_constant / ((c + m) * (m + 1)) + excess_slope / (c + m));
    if (ratio_bound < 1 && term * ratio_bound / (1 - ratio_bound) <= kRelativeTolerance * sum) {
      return log_scale + std::log(sum);
    }
  }
  return absl::OutOfRangeError(absl::StrCat("2F1(", a, ", ", b, "; ", c, "; ", z,
                                            ") did not converge in ", kMaxTerms, " terms"));
}

}  // namespace centric::clv
