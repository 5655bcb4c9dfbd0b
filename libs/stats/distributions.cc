#include "libs/stats/distributions.h"

#include <boost/math/distributions/chi_squared.hpp>
#include <boost/math/distributions/normal.hpp>
#include <boost/math/special_functions/gamma.hpp>

namespace centric::stats {
namespace {

namespace policies = boost::math::policies;

// Boost.Math throws on bad arguments by default; Centric code does not use exceptions,
// so errors become NaN (or infinity) and errno instead.
using NoThrow = policies::policy<policies::domain_error<policies::errno_on_error>,
                                 policies::pole_error<policies::errno_on_error>,
                                 policies::overflow_error<policies::errno_on_error>,
                                 policies::evaluation_error<policies::errno_on_error>>;

using Normal = boost::math::normal_distribution<double, NoThrow>;
using ChiSquared = boost::math::chi_squared_distribution<double, NoThrow>;

}  // namespace

double NormalCdf(double x) { return boost::math::cdf(Normal(), x); }

double NormalUpperTail(double x) { return boost::math::cdf(boost::math::complement(Normal(), x)); }

double NormalQuantile(double p) { return boost::math::quantile(Normal(), p); }

double ChiSquareUpperTail(double x, double degrees_of_freedom) {
  return boost::math::cdf(boost::math::complement(ChiSquared(degrees_of_freedom), x));
}

double LogGamma(double x) { return boost::math::lgamma(x, NoThrow()); }

}  // namespace centric::stats
