// The BG/NBD model of repeat purchasing (Fader, Hardie & Lee 2005, "'Counting Your
// Customers' the Easy Way: An Alternative to the Pareto/NBD Model", Marketing Science
// 24(2); "FHL 2005" below). While alive, a customer buys at Poisson rate λ; after each
// purchase they become inactive with probability p. Across customers
// λ ~ Gamma(shape r, rate α) and p ~ Beta(a, b).
//
// Times are in the periods of the summaries (weeks in the papers); α is in those periods.
#ifndef CENTRIC_LIBS_CLV_BG_NBD_H_
#define CENTRIC_LIBS_CLV_BG_NBD_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "libs/clv/summary.h"

namespace centric::clv {

struct BgNbdParams {
  double r = 1;      // shape of the purchase-rate distribution
  double alpha = 1;  // rate (inverse scale) of the purchase-rate distribution, in periods
  double a = 1;      // Beta shape of the dropout probability
  double b = 1;      // Beta shape of the dropout probability
};

// INVALID_ARGUMENT naming "params.<name>" unless every parameter is finite and > 0.
absl::Status ValidateBgNbdParams(const BgNbdParams& params);

// Sum over customers of the log of FHL 2005 eq. (6), i.e. the sample log-likelihood
// (FHL 2005 eq. 7). Errors: INVALID_ARGUMENT from the validators.
absl::StatusOr<double> BgNbdLogLikelihood(const BgNbdParams& params,
                                          absl::Span<const CustomerSummary> customers);

// The fewest customers FitBgNbd accepts: four parameters need a sample well beyond four.
inline constexpr int kMinBgNbdCustomers = 10;

struct BgNbdFit {
  BgNbdParams params;
  double log_likelihood = 0;
  int evaluations = 0;  // of the log-likelihood, for diagnostics
};

// Maximum-likelihood fit: Nelder-Mead over (ln r, ln α, ln a, ln b), so the parameters
// stay positive. Uses x, t_x and T (not the spend). Errors: INVALID_ARGUMENT for a bad
// summary; FAILED_PRECONDITION for fewer than kMinBgNbdCustomers customers, for no
// customer with a repeat purchase (the likelihood then has no maximum), or when the
// optimiser does not converge or a parameter runs off towards 0 or infinity.
absl::StatusOr<BgNbdFit> FitBgNbd(absl::Span<const CustomerSummary> customers);

// P(alive | x, t_x, T): the probability that the customer is still active at T (Fader,
// Hardie & Lee 2008, "Computing P(alive) Using the BG/NBD Model"). 1 when x = 0.
absl::StatusOr<double> ProbabilityAlive(const BgNbdParams& params, const CustomerSummary& customer);

// E[Y(t) | x, t_x, T]: expected repeat purchases in (T, T + t] for this customer (FHL 2005
// eq. 10). t in periods, finite and >= 0. Errors: INVALID_ARGUMENT for bad input;
// OUT_OF_RANGE when t is so long that the hypergeometric series does not converge.
absl::StatusOr<double> ExpectedRepeatPurchases(const BgNbdParams& params,
                                               const CustomerSummary& customer, double t);

// E[X(t)]: expected repeat purchases in the first t periods after the first purchase of a
// new, randomly chosen customer (FHL 2005 eq. 9). Errors as ExpectedRepeatPurchases.
absl::StatusOr<double> ExpectedPurchasesNewCustomer(const BgNbdParams& params, double t);

}  // namespace centric::clv

#endif  // CENTRIC_LIBS_CLV_BG_NBD_H_
