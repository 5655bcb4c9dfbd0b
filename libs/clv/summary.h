// Per-customer purchase summaries, the input of every model in libs/clv, and the function
// that builds them from raw purchases.
//
// Time is measured in periods (weeks by default) from the customer's first purchase, as in
// Fader, Hardie & Lee (2005): a customer is "born" at the first purchase, which is not a
// repeat purchase. Several purchases on the same day count as one transaction whose amount
// is their sum, as the papers do with the CDNOW data.
#ifndef CENTRIC_LIBS_CLV_SUMMARY_H_
#define CENTRIC_LIBS_CLV_SUMMARY_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "absl/types/span.h"

namespace centric::clv {

// A customer's calibration-period history (the papers' x, t_x, T and m_x).
struct CustomerSummary {
  std::string customer_id;
  // x: number of repeat transactions (purchase days after the first one). At least 0.
  int64_t repeat_purchases = 0;
  // t_x: periods from the first purchase to the last repeat purchase; 0 when x = 0.
  double last_purchase_time = 0;
  // T: periods from the first purchase to the end of the calibration period; >= t_x.
  double observation_length = 0;
  // m_x: mean amount of the repeat transactions (currency units); ignored when x = 0.
  double mean_repeat_spend = 0;
};

// Upper bound on x, far beyond one purchase day per day for a century, so that the
// models' sums and series stay within double precision.
inline constexpr int64_t kMaxRepeatPurchases = 1000000;

// Checks one summary; errors are INVALID_ARGUMENT naming `field` (e.g. "customers[3]")
// and the limit broken: x in [0, kMaxRepeatPurchases]; t_x, T finite with
// 0 <= t_x <= T; t_x = 0 when x = 0; m_x finite and >= 0.
absl::Status ValidateSummary(const CustomerSummary& customer, absl::string_view field);

// ValidateSummary for every element, naming the first bad one as "customers[i]".
absl::Status ValidateSummaries(absl::Span<const CustomerSummary> customers);

// One purchase as the service records it.
struct Purchase {
  std::string customer_id;
  absl::Time time;
  // Amount spent, in currency units; finite and >= 0.
  double amount = 0;
};

struct SummaryOptions {
  // Last day of the calibration period, inclusive, in `time_zone`. Purchases after it are
  // ignored, and customers whose first purchase is after it are left out.
  absl::CivilDay calibration_end;
  // Decides which calendar day a purchase falls on.
  absl::TimeZone time_zone = absl::UTCTimeZone();
  // Length of the model's time unit in days (7: weeks, as in the papers).
  double days_per_period = 7;
};

// Builds one summary per customer with a purchase on or before options.calibration_end,
// sorted by customer_id. t_x and T are whole days divided by days_per_period; m_x is the
// mean of the repeat days' totals. Errors: INVALID_ARGUMENT naming "purchases[i]" for an
// empty customer_id or a negative or non-finite amount, or "options.days_per_period" when
// it is not positive.
absl::StatusOr<std::vector<CustomerSummary>> SummarizePurchases(
    absl::Span<const Purchase> purchases, const SummaryOptions& options);

}  // namespace centric::clv

#endif  // CENTRIC_LIBS_CLV_SUMMARY_H_
