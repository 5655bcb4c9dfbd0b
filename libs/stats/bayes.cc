#include "libs/stats/bayes.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "libs/stats/distributions.h"

namespace centric::stats {
namespace {

struct Beta {
  double a;
  double b;
};

double LogBeta(double a, double b) { return LogGamma(a) + LogGamma(b) - LogGamma(a + b); }

// P(X_y > X_x) for X_x ~ Beta(x.a, x.b), X_y ~ Beta(y.a, y.b), by Evan Miller's sum
//   Σ_{i=0}^{y.a-1} B(x.a+i, x.b+y.b) / ((y.b+i) · B(1+i, y.b) · B(x.a, x.b)),
// which needs an integer y.a. Term 0 is B(x.a, x.b+y.b) / B(x.a, x.b); the ratio of
// consecutive terms is (x.a+i)(y.b+i) / ((x.a+x.b+y.b+i)(1+i)). Terms are summed in log
// space (running maximum), so none underflows before it is added.
double MillerSum(Beta x, Beta y) {
  double log_term = LogBeta(x.a, x.b + y.b) - LogBeta(x.a, x.b);
  double log_max = log_term;
  double scaled_sum = 0;  // Σ exp(log_term - log_max)
  const auto terms = static_cast<int64_t>(y.a);
  for (int64_t i = 0; i < terms; ++i) {
    if (log_term > log_max) {
      scaled_sum *= std::exp(log_max - log_term);
      log_max = log_term;
    }
    scaled_sum += std::exp(log_term - log_max);
    const auto di = static_cast<double>(i);
    log_term += std::log((x.a + di) / (x.a + x.b + y.b + di) * ((y.b + di) / (1 + di)));
  }
  return std::exp(log_max + std::log(scaled_sum));
}

Beta Posterior(const VariantCounts& counts) {
  return {1 + static_cast<double>(counts.conversions),
          1 + static_cast<double>(counts.exposures - counts.conversions)};
}

}  // namespace

absl::StatusOr<double> ProbabilityToBeatControl(const VariantCounts& control,
                                                const VariantCounts& variant) {
  if (absl::Status s = ValidateVariantCounts("control", control); !s.ok()) return s;
  if (absl::Status s = ValidateVariantCounts("variant", variant); !s.ok()) return s;
  const Beta c = Posterior(control);
  const Beta v = Posterior(variant);
  // The sum runs over one integer parameter; four equivalent forms let it run over the
  // smallest. With p' = 1 - p ~ Beta(b, a): P(v > c) = P(c' > v').
  const double smallest = std::min({c.a, c.b, v.a, v.b});
  if (smallest > static_cast<double>(kMaxBayesTerms)) {
    return absl::InvalidArgumentError(
        absl::StrCat("min(conversions, exposures - conversions) + 1 over control and variant "
                     "must be at most ",
                     kMaxBayesTerms, " for the exact sum, got ", static_cast<int64_t>(smallest)));
  }
  double p;
  if (smallest == v.a) {
    p = MillerSum(c, v);  // P(v > c), sum over v.a
  } else if (smallest == c.a) {
    p = 1 - MillerSum(v, c);  // 1 - P(c > v), sum over c.a
  } else if (smallest == c.b) {
    p = MillerSum({v.b, v.a}, {c.b, c.a});  // P(c' > v'), sum over c.b
  } else {
    p = 1 - MillerSum({c.b, c.a}, {v.b, v.a});  // 1 - P(v' > c'), sum over v.b
  }
  return std::clamp(p, 0.0, 1.0);
}

}  // namespace centric::stats
