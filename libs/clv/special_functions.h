// The special functions the BG/NBD and Gamma-Gamma formulas need, for positive arguments.
#ifndef CENTRIC_LIBS_CLV_SPECIAL_FUNCTIONS_H_
#define CENTRIC_LIBS_CLV_SPECIAL_FUNCTIONS_H_

#include "absl/status/statusor.h"

namespace centric::clv {

// ln Γ(x) for x > 0. Thread-safe (std::lgamma writes the global signgam).
double LogGamma(double x);

// ln B(a, b) = ln Γ(a) + ln Γ(b) - ln Γ(a + b) for a, b > 0.
double LogBeta(double a, double b);

// ln 2F1(a, b; c; z), the Gaussian hypergeometric function
//   2F1(a, b; c; z) = sum_{n>=0} (a)_n (b)_n / ((c)_n n!) z^n,
// summed as its power series. Preconditions: a, b, c > 0 and 0 <= z < 1; then every term
// is positive, so the sum has no cancellation. The logarithm is returned because the
// BG/NBD expectations multiply 2F1 by (1 - z)^(r + x), and for large x both factors
// overflow a double on their own.
//
// Stops once a bound on the remaining tail is below 1e-15 of the sum. Errors:
// INVALID_ARGUMENT for arguments outside the preconditions; OUT_OF_RANGE when the series
// needs more than 10^7 terms (z within about (a + b) * 1e-7 of 1).
absl::StatusOr<double> LogHypergeometric2F1(double a, double b, double c, double z);

}  // namespace centric::clv

#endif  // CENTRIC_LIBS_CLV_SPECIAL_FUNCTIONS_H_
