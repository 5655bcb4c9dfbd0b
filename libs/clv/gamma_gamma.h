// The Gamma-Gamma model of spend per transaction (Fader, Hardie & Lee 2005, "RFM and
// CLV: Using Iso-Value Curves for Customer Base Analysis", JMR 42(4); Fader & Hardie 2013,
// "The Gamma-Gamma Model of Monetary Value"). A customer's transaction amounts are
// Gamma(shape p, rate ν) around their own mean p/ν, and ν ~ Gamma(shape q, rate γ) across
// customers. Spend is assumed independent of the purchase process (check on your data that
// mean spend and x are uncorrelated before relying on it).
#ifndef CENTRIC_LIBS_CLV_GAMMA_GAMMA_H_
#define CENTRIC_LIBS_CLV_GAMMA_GAMMA_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "libs/clv/summary.h"

namespace centric::clv {

struct GammaGammaParams {
  double p = 1;      // shape of one customer's transaction amounts
  double q = 1;      // shape of the rate ν across customers
  double gamma = 1;  // rate of ν across customers, in currency units
};

// INVALID_ARGUMENT naming "params.<name>" unless every parameter is finite and > 0.
absl::Status ValidateGammaGammaParams(const GammaGammaParams& params);

// Sum over customers with x >= 1 of ln f(m_x | p, q, γ, x), the density of a mean of x
// amounts (Fader & Hardie 2013); customers with x = 0 carry no spend information and are
// skipped. Errors: INVALID_ARGUMENT from the validators, or for m_x = 0 with x >= 1.
absl::StatusOr<double> GammaGammaLogLikelihood(const GammaGammaParams& params,
                                               absl::Span<const CustomerSummary> customers);

// The fewest customers with x >= 1 that FitGammaGamma accepts.
inline constexpr int kMinGammaGammaCustomers = 10;

struct GammaGammaFit {
  GammaGammaParams params;
  double log_likelihood = 0;
  int customers_used = 0;  // those with x >= 1
  int evaluations = 0;
};

// Maximum-likelihood fit over (ln p, ln q, ln γ) on the customers with x >= 1. Errors:
// INVALID_ARGUMENT as GammaGammaLogLikelihood; FAILED_PRECONDITION for fewer than
// kMinGammaGammaCustomers such customers, or when the fit does not converge.
absl::StatusOr<GammaGammaFit> FitGammaGamma(absl::Span<const CustomerSummary> customers);

// E[M | m_x, x]: expected spend per future transaction of this customer, the posterior
// mean  p (γ + x m_x) / (p x + q - 1), a weighted average of the population mean
// p γ / (q - 1) and the customer's own mean m_x. For x = 0 it is the population mean.
// Errors: INVALID_ARGUMENT for bad input; FAILED_PRECONDITION when q <= 1 (the model's
// mean spend is infinite).
absl::StatusOr<double> ExpectedAverageSpend(const GammaGammaParams& params,
                                            const CustomerSummary& customer);

}  // namespace centric::clv

#endif  // CENTRIC_LIBS_CLV_GAMMA_GAMMA_H_
