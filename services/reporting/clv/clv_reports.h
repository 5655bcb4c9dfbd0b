// The CLV part of the Reporting service: FitClvModel, GetClvModel and GetCustomerValue as
// plain methods (no gRPC here). Purchases come from reporting_purchases (one row per
// profile, interaction type, UTC day and channel; see services/reporting/schema.h); the
// models are libs/clv's BG/NBD and Gamma-Gamma (docs/CLV.md); fitted models are kept in
// reporting_clv_models so every replica serves them, also after a restart.
//
// Days are UTC days. A purchase day is a (profile, day) with at least one purchase row,
// whatever the channels: its amount is the sum over channels, and it counts once, as in
// the papers.
#ifndef CENTRIC_SERVICES_REPORTING_CLV_CLV_REPORTS_H_
#define CENTRIC_SERVICES_REPORTING_CLV_CLV_REPORTS_H_

#include <cstddef>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "centric/reporting/v1/reporting_service.pb.h"
#include "libs/runtime/clock.h"
#include "libs/store/store.h"

namespace centric::reporting {

class ClvReports {
 public:
  // Documented limits and defaults (also in reporting_service.proto).
  static constexpr double kDefaultDaysPerPeriod = 7;
  static constexpr double kMinDaysPerPeriod = 1;
  static constexpr double kMaxDaysPerPeriod = 365;
  static constexpr double kDefaultHorizonPeriods = 52;
  static constexpr double kMinHorizonPeriods = 1;
  static constexpr double kMaxHorizonPeriods = 520;
  // libs/clv values at most 100 years ahead, whatever the period length.
  static constexpr double kMaxHorizonDays = 100 * 365.25;
  static constexpr double kDefaultAnnualDiscountRate = 0.10;
  static constexpr double kMaxAnnualDiscountRate = 10;
  static constexpr char kDefaultPurchaseType[] = "purchase";
  // Interaction types are 1 to 64 bytes of [a-z0-9_], as Profiles accepts them.
  static constexpr size_t kMaxPurchaseTypeBytes = 64;
  // HoldoutCheck buckets: calibration repeat purchases 0, 1, ..., 6 and 7 or more.
  static constexpr int kHoldoutBuckets = 8;

  struct Deps {
    store::Database* db = nullptr;
    // Decides "now" (the latest day GetCustomerValue reads, the future check of the fit
    // dates) and create_time. fit_duration is measured on the real clock.
    runtime::Clock* clock = nullptr;
    runtime::IdGenerator* ids = nullptr;
  };

  // Migrations of service "reporting_clv": table reporting_clv_models (seq, id,
  // create_micros, model = the serialized ClvModel). Apply with
  // store::Migrate(db, "reporting_clv", ClvReports::Migrations()); reporting_purchases
  // comes from ReportingMigrations().
  static std::vector<store::Migration> Migrations();

  // All pointers in `deps` must be non-null and outlive this object. Thread-safe.
  explicit ClvReports(Deps deps);

  // Reads the purchase days of `purchase_type` up to the end of the calibration day (and
  // of the holdout when asked for) with one query, fits BG/NBD and, when it can,
  // Gamma-Gamma (on the customers with a repeat purchase and a positive mean repeat
  // spend; gamma_gamma stays unset, with a log line saying why, when fewer than 10 such
  // customers exist, the fit fails or its q <= 1 makes the mean spend infinite), checks
  // the predictions on the holdout, stores the model and returns it.
  // Calibration and holdout are whole UTC days: the calibration ends with the day of
  // calibration_end_time (returned as that day's 00:00); the holdout is the days after
  // it that end at or before holdout_end_time (returned rounded down to 00:00).
  // Errors: INVALID_ARGUMENT naming the field: calibration_end_time missing, invalid or
  // in the future; holdout_end_time invalid, in the future or less than one whole day
  // after the calibration; days_per_period outside [1, 365] (0 means 7); purchase_type
  // not 1 to 64 bytes of [a-z0-9_] (empty means "purchase"); fewer than 10 customers with
  // a purchase up to the calibration end (on calibration_end_time). FAILED_PRECONDITION
  // (reason CLV_FIT_FAILED) when BG/NBD cannot be fitted (no repeat purchase, no
  // convergence, a parameter running off). DEADLINE_EXCEEDED, and store errors.
  absl::StatusOr<v1::ClvModel> FitClvModel(const v1::FitClvModelRequest& request,
                                           absl::Time deadline);

  // "clvModels/{id}", or "clvModels/latest" for the most recently created one. Errors:
  // INVALID_ARGUMENT on name; NOT_FOUND (reason CLV_MODEL_NOT_FOUND).
  absl::StatusOr<v1::ClvModel> GetClvModel(const v1::GetClvModelRequest& request,
                                           absl::Time deadline);

  // Values the profile from its purchase days of the model's purchase_type up to today
  // (clock, UTC): x, t_x and T in the model's periods with T measured to today, P(alive),
  // expected purchases over horizon_periods, expected spend per purchase (Gamma-Gamma
  // posterior mean; without a spend model the profile's mean repeat spend, or its first
  // purchase day's amount when it has no repeat purchase) and the discounted CLV in
  // steps of one period. Errors: INVALID_ARGUMENT naming profile ("profiles/{id}"),
  // model, horizon_periods (1 to 520, 0 means 52, and at most 100 years of the model's
  // periods) or annual_discount_rate (0 to 10; unset means 0.10); NOT_FOUND for an
  // unknown model (reason CLV_MODEL_NOT_FOUND) or a profile without such a purchase
  // (reason NO_PURCHASES); OUT_OF_RANGE from libs/clv when the horizon is thousands of
  // times the customer's history (docs/CLV.md).
  absl::StatusOr<v1::CustomerValue> GetCustomerValue(const v1::GetCustomerValueRequest& request,
                                                     absl::Time deadline);

 private:
  Deps deps_;
};

}  // namespace centric::reporting

#endif  // CENTRIC_SERVICES_REPORTING_CLV_CLV_REPORTS_H_
