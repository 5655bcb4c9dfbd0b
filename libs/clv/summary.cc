#include "libs/clv/summary.h"

#include <cmath>
#include <iterator>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"

namespace centric::clv {
namespace {

absl::Status Invalid(absl::string_view field, absl::string_view member, absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat(field, ".", member, " ", problem));
}

// The purchase days of one customer, each with the day's total amount.
using DailyTotals = std::map<absl::CivilDay, double>;

}  // namespace

absl::Status ValidateSummary(const CustomerSummary& customer, absl::string_view field) {
  const double t_x = customer.last_purchase_time;
  const double t = customer.observation_length;
  if (customer.repeat_purchases < 0 || customer.repeat_purchases > kMaxRepeatPurchases) {
    return Invalid(field, "repeat_purchases",
                   absl::StrCat("(x) must be in [0, ", kMaxRepeatPurchases, "], got ",
                                customer.repeat_purchases));
  }
  if (!std::isfinite(t) || t < 0) {
    return Invalid(field, "observation_length",
                   absl::StrCat("(T) must be finite and >= 0, got ", t));
  }
  if (!std::isfinite(t_x) || t_x < 0 || t_x > t) {
    return Invalid(
        field, "last_purchase_time",
        absl::StrCat("(t_x) must be in [0, observation_length (T) = ", t, "], got ", t_x));
  }
  if (customer.repeat_purchases == 0 && t_x != 0) {
    return Invalid(field, "last_purchase_time",
                   absl::StrCat("(t_x) must be 0 when repeat_purchases (x) is 0, got ", t_x));
  }
  if (!std::isfinite(customer.mean_repeat_spend) || customer.mean_repeat_spend < 0) {
    return Invalid(field, "mean_repeat_spend",
                   absl::StrCat("(m_x) must be finite and >= 0, got ", customer.mean_repeat_spend));
  }
  return absl::OkStatus();
}

absl::Status ValidateSummaries(absl::Span<const CustomerSummary> customers) {
  for (size_t i = 0; i < customers.size(); ++i) {
    if (absl::Status s = ValidateSummary(customers[i], absl::StrCat("customers[", i, "]"));
        !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<CustomerSummary>> SummarizePurchases(
    absl::Span<const Purchase> purchases, const SummaryOptions& options) {
  if (!(options.days_per_period > 0) || !std::isfinite(options.days_per_period)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "options.days_per_period must be finite and > 0, got ", options.days_per_period));
  }
  std::map<std::string, DailyTotals> days_by_customer;
  for (size_t i = 0; i < purchases.size(); ++i) {
    const Purchase& p = purchases[i];
    if (p.customer_id.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("purchases[", i, "].customer_id must not be empty"));
    }
    if (!std::isfinite(p.amount) || p.amount < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("purchases[", i, "].amount must be finite and >= 0, got ", p.amount));
    }
    const absl::CivilDay day = absl::ToCivilDay(p.time, options.time_zone);
    if (day > options.calibration_end) continue;
    days_by_customer[p.customer_id][day] += p.amount;
  }

  std::vector<CustomerSummary> summaries;
  summaries.reserve(days_by_customer.size());
  for (const auto& [customer_id, days] : days_by_customer) {
    const absl::CivilDay first = days.begin()->first;
    const absl::CivilDay last = days.rbegin()->first;
    double repeat_spend = 0;
    for (auto it = std::next(days.begin()); it != days.end(); ++it) repeat_spend += it->second;
    CustomerSummary s;
    s.customer_id = customer_id;
    s.repeat_purchases = static_cast<int64_t>(days.size()) - 1;
    s.last_purchase_time = static_cast<double>(last - first) / options.days_per_period;
    s.observation_length =
        static_cast<double>(options.calibration_end - first) / options.days_per_period;
    s.mean_repeat_spend =
        s.repeat_purchases > 0 ? repeat_spend / static_cast<double>(s.repeat_purchases) : 0;
    summaries.push_back(std::move(s));
  }
  return summaries;
}

}  // namespace centric::clv
