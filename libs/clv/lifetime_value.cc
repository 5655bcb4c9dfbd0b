#include "libs/clv/lifetime_value.h"

#include <algorithm>
#include <cmath>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace centric::clv {
namespace {

constexpr double kMaxYears = 100;
constexpr double kMaxSteps = 100000;
constexpr double kMaxDiscountRate = 10;

absl::Status ValidateOptions(const ClvOptions& o) {
  auto invalid = [](absl::string_view field, absl::string_view limit, double got) {
    return absl::InvalidArgumentError(
        absl::StrCat("options.", field, " must be ", limit, ", got ", got));
  };
  if (!std::isfinite(o.periods_per_year) || o.periods_per_year <= 0) {
    return invalid("periods_per_year", "finite and > 0", o.periods_per_year);
  }
  if (!std::isfinite(o.horizon) || o.horizon <= 0 || o.horizon > kMaxYears * o.periods_per_year) {
    return invalid("horizon",
                   absl::StrCat("> 0 and at most ", kMaxYears, " years (",
                                kMaxYears * o.periods_per_year, " periods)"),
                   o.horizon);
  }
  if (!std::isfinite(o.step) || o.step <= 0 || o.horizon / o.step > kMaxSteps) {
    return invalid("step", absl::StrCat("> 0 and at least horizon / ", kMaxSteps), o.step);
  }
  if (!std::isfinite(o.annual_discount_rate) || o.annual_discount_rate < 0 ||
      o.annual_discount_rate > kMaxDiscountRate) {
    return invalid("annual_discount_rate", absl::StrCat("in [0, ", kMaxDiscountRate, "]"),
                   o.annual_discount_rate);
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<CustomerValue> CustomerLifetimeValue(const BgNbdParams& purchases,
                                                    const GammaGammaParams& spend,
                                                    const CustomerSummary& customer,
                                                    const ClvOptions& options) {
  if (absl::Status s = ValidateOptions(options); !s.ok()) return s;
  CustomerValue value;
  absl::StatusOr<double> alive = ProbabilityAlive(purchases, customer);
  if (!alive.ok()) return alive.status();
  value.probability_alive = *alive;
  absl::StatusOr<double> average_spend = ExpectedAverageSpend(spend, customer);
  if (!average_spend.ok()) return average_spend.status();
  value.expected_average_spend = *average_spend;

  const double log_discount = std::log1p(options.annual_discount_rate) / options.periods_per_year;
  const int steps = static_cast<int>(std::ceil(options.horizon / options.step));
  double previous = 0;  // E[Y(t_{k-1})]
  double discounted_purchases = 0;
  for (int k = 1; k <= steps; ++k) {
    const double t = std::min(k * options.step, options.horizon);
    absl::StatusOr<double> cumulative = ExpectedRepeatPurchases(purchases, customer, t);
    if (!cumulative.ok()) return cumulative.status();
    discounted_purchases += (*cumulative - previous) * std::exp(-log_discount * t);
    previous = *cumulative;
  }
  value.expected_purchases = previous;
  value.lifetime_value = value.expected_average_spend * discounted_purchases;
  return value;
}

}  // namespace centric::clv
