// centric_clv: customer lifetime value for the reporting service's FitClvModel and
// GetCustomerValue RPCs. docs/CLV.md is the user-facing summary.
//
// Usage:
//   1. SummarizePurchases() turns purchases into one CustomerSummary per customer
//      (x repeat purchases, last purchase t_x, observation length T, mean repeat spend).
//   2. FitBgNbd() fits how often customers buy and when they stop (bg_nbd.h);
//      FitGammaGamma() fits how much they spend per transaction (gamma_gamma.h).
//   3. CustomerLifetimeValue() combines both into a discounted value over a horizon
//      (lifetime_value.h); ProbabilityAlive() and ExpectedRepeatPurchases() answer the
//      parts on their own.
//
// Everything returns absl::Status: INVALID_ARGUMENT naming the bad field and its limit,
// FAILED_PRECONDITION when the data cannot support a fit.
#ifndef CENTRIC_LIBS_CLV_CLV_H_
#define CENTRIC_LIBS_CLV_CLV_H_

#include "libs/clv/bg_nbd.h"          // IWYU pragma: export
#include "libs/clv/gamma_gamma.h"     // IWYU pragma: export
#include "libs/clv/lifetime_value.h"  // IWYU pragma: export
#include "libs/clv/summary.h"         // IWYU pragma: export

#endif  // CENTRIC_LIBS_CLV_CLV_H_
