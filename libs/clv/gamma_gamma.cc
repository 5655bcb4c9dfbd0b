#include "libs/clv/gamma_gamma.h"

#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "libs/clv/mle.h"
#include "libs/clv/special_functions.h"

namespace centric::clv {
namespace {

// Checks the summaries and that every customer with x >= 1 has positive spend; sets
// `used` to the number of those customers.
absl::Status ValidateSpend(absl::Span<const CustomerSummary> customers, int& used) {
  if (absl::Status s = ValidateSummaries(customers); !s.ok()) return s;
  used = 0;
  for (size_t i = 0; i < customers.size(); ++i) {
    if (customers[i].repeat_purchases == 0) continue;
    if (!(customers[i].mean_repeat_spend > 0)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "customers[", i, "].mean_repeat_spend (m_x) must be > 0 when repeat_purchases (x) ",
          ">= 1: the Gamma-Gamma model needs positive amounts"));
    }
    ++used;
  }
  return absl::OkStatus();
}

// The mean m_x of x Gamma(p, ν) amounts is Gamma(px, νx); integrating ν out over
// Gamma(q, γ) gives
//   f(m_x | p, q, γ, x) = Γ(px + q) / (Γ(px) Γ(q)) · γ^q m_x^(px-1) x^(px) / (γ + x m_x)^(px+q).
double CustomerLogLikelihood(const GammaGammaParams& g, const CustomerSummary& c) {
  const double x = static_cast<double>(c.repeat_purchases);
  const double px = g.p * x;
  return LogGamma(px + g.q) - LogGamma(px) - LogGamma(g.q) + g.q * std::log(g.gamma) +
         (px - 1) * std::log(c.mean_repeat_spend) + px * std::log(x) -
         (px + g.q) * std::log(g.gamma + x * c.mean_repeat_spend);
}

double SumLogLikelihood(const GammaGammaParams& g, absl::Span<const CustomerSummary> customers) {
  double sum = 0;
  for (const CustomerSummary& c : customers) {
    if (c.repeat_purchases > 0) sum += CustomerLogLikelihood(g, c);
  }
  return sum;
}

}  // namespace

absl::Status ValidateGammaGammaParams(const GammaGammaParams& params) {
  for (auto [value, name] :
       {std::pair{params.p, "p"}, std::pair{params.q, "q"}, std::pair{params.gamma, "gamma"}}) {
    if (absl::Status s = ValidatePositiveParam(value, name); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::StatusOr<double> GammaGammaLogLikelihood(const GammaGammaParams& params,
                                               absl::Span<const CustomerSummary> customers) {
  if (absl::Status s = ValidateGammaGammaParams(params); !s.ok()) return s;
  int used;
  if (absl::Status s = ValidateSpend(customers, used); !s.ok()) return s;
  return SumLogLikelihood(params, customers);
}

absl::StatusOr<GammaGammaFit> FitGammaGamma(absl::Span<const CustomerSummary> customers) {
  int used;
  if (absl::Status s = ValidateSpend(customers, used); !s.ok()) return s;
  if (used < kMinGammaGammaCustomers) {
    return absl::FailedPreconditionError(
        absl::StrCat("Gamma-Gamma fit needs at least ", kMinGammaGammaCustomers,
                     " customers with a repeat purchase (x >= 1), got ", used));
  }
  double total_spend = 0;
  for (const CustomerSummary& c : customers) {
    if (c.repeat_purchases > 0) total_spend += c.mean_repeat_spend;
  }
  auto log_likelihood = [&](absl::Span<const double> v) {
    return SumLogLikelihood({v[0], v[1], v[2]}, customers);
  };
  // γ has the units of money, so it starts at the mean spend (with p = 1, q = 2 the
  // population mean p γ / (q - 1) then equals the sample mean).
  absl::StatusOr<MleResult> mle =
      MaximizeLogLikelihood(log_likelihood, {1, 2, total_spend / used},
                            {"params.p", "params.q", "params.gamma"}, "Gamma-Gamma");
  if (!mle.ok()) return mle.status();
  const std::vector<double>& v = mle->params;
  return GammaGammaFit{{v[0], v[1], v[2]}, mle->log_likelihood, used, mle->evaluations};
}

absl::StatusOr<double> ExpectedAverageSpend(const GammaGammaParams& params,
                                            const CustomerSummary& customer) {
  if (absl::Status s = ValidateGammaGammaParams(params); !s.ok()) return s;
  if (absl::Status s = ValidateSummary(customer, "customer"); !s.ok()) return s;
  if (params.q <= 1) {
    return absl::FailedPreconditionError(absl::StrCat(
        "Gamma-Gamma expected spend needs params.q > 1 (else the mean is infinite), got ",
        params.q));
  }
  const double x = static_cast<double>(customer.repeat_purchases);
  const double m_x = customer.repeat_purchases > 0 ? customer.mean_repeat_spend : 0;
  return params.p * (params.gamma + x * m_x) / (params.p * x + params.q - 1);
}

}  // namespace centric::clv
