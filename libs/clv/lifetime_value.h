// Customer lifetime value: the discounted expected spend of a customer's future repeat
// purchases over a horizon, combining BG/NBD (how many) and Gamma-Gamma (how much each).
// docs/CLV.md explains the formula and its assumptions.
#ifndef CENTRIC_LIBS_CLV_LIFETIME_VALUE_H_
#define CENTRIC_LIBS_CLV_LIFETIME_VALUE_H_

#include "absl/status/statusor.h"
#include "libs/clv/bg_nbd.h"
#include "libs/clv/gamma_gamma.h"
#include "libs/clv/summary.h"

namespace centric::clv {

struct ClvOptions {
  // How far ahead to look, in periods after the end of the calibration period (T).
  // Finite, > 0 and at most 100 years.
  double horizon = 52;
  // Purchases are grouped into steps of this many periods and discounted from the end of
  // their step (e.g. 1 for weekly, 365.25 / 12 / 7 for monthly steps when periods are
  // weeks). Finite, > 0, at most 100,000 steps per horizon.
  double step = 1;
  // Yearly discount rate, e.g. 0.1 for 10 % a year; in [0, 10].
  double annual_discount_rate = 0.1;
  // Periods in a year: 365.25 / 7 for weeks. Finite and > 0.
  double periods_per_year = 365.25 / 7;
};

struct CustomerValue {
  double probability_alive = 0;       // P(alive | x, t_x, T)
  double expected_purchases = 0;      // E[Y(horizon) | x, t_x, T], undiscounted
  double expected_average_spend = 0;  // E[M | m_x, x] per future transaction
  double lifetime_value = 0;          // discounted expected spend over the horizon
};

// With t_k = min(k · step, horizon), K = ceil(horizon / step) and d the annual rate,
//   lifetime_value = E[M] · sum_{k=1..K} (E[Y(t_k)] - E[Y(t_{k-1})]) · (1 + d)^(-t_k / P)
// where P = periods_per_year. A summary with x = 0 and T = 0 is a customer who has
// just made a first purchase. Errors: INVALID_ARGUMENT naming "options.<field>" or from
// the models' validators; FAILED_PRECONDITION when the spend model has q <= 1;
// OUT_OF_RANGE from ExpectedRepeatPurchases.
absl::StatusOr<CustomerValue> CustomerLifetimeValue(const BgNbdParams& purchases,
                                                    const GammaGammaParams& spend,
                                                    const CustomerSummary& customer,
                                                    const ClvOptions& options = {});

}  // namespace centric::clv

#endif  // CENTRIC_LIBS_CLV_LIFETIME_VALUE_H_
