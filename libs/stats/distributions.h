// The few distribution functions the statistics need, computed by Boost.Math (no
// exceptions: out-of-domain arguments give NaN). Callers validate arguments first.
#ifndef CENTRIC_LIBS_STATS_DISTRIBUTIONS_H_
#define CENTRIC_LIBS_STATS_DISTRIBUTIONS_H_

namespace centric::stats {

// P(Z <= x) for a standard normal Z.
double NormalCdf(double x);

// P(Z >= x) for a standard normal Z, accurate far into the tail (no 1 - NormalCdf(x)).
double NormalUpperTail(double x);

// The x with P(Z <= x) = p. Precondition: 0 < p < 1.
double NormalQuantile(double p);

// P(X >= x) for X chi-square distributed with `degrees_of_freedom` (> 0); x >= 0.
double ChiSquareUpperTail(double x, double degrees_of_freedom);

// ln Γ(x) for x > 0; thread-safe, unlike std::lgamma, which writes the global signgam.
double LogGamma(double x);

}  // namespace centric::stats

#endif  // CENTRIC_LIBS_STATS_DISTRIBUTIONS_H_
