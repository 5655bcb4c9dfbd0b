#include "services/reporting/clv/clv_reports.h"

#include <google/protobuf/util/time_util.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/clock.h"
#include "libs/clv/clv.h"
#include "libs/runtime/errors.h"
#include "libs/runtime/log.h"
#include "libs/runtime/resource.h"
#include "services/reporting/schema.h"

namespace centric::reporting {
namespace {

using google::protobuf::util::TimeUtil;
using runtime::FieldViolation;

constexpr absl::string_view kModels = "clvModels";
constexpr absl::string_view kLatest = "clvModels/latest";

std::string FormatDay(int64_t day) {
  return absl::FormatTime("%Y-%m-%d", DayStart(day), absl::UTCTimeZone());
}

absl::CivilDay CivilDayOf(int64_t day) {
  return absl::ToCivilDay(DayStart(day), absl::UTCTimeZone());
}

bool ValidPurchaseType(absl::string_view type) {
  return !type.empty() && type.size() <= ClvReports::kMaxPurchaseTypeBytes &&
         std::all_of(type.begin(), type.end(), [](char c) {
           return absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '_';
         });
}

// Moves the field violations of `status` (from runtime::IdOfName) into `out`.
void AddViolations(const absl::Status& status, std::vector<FieldViolation>& out) {
  for (FieldViolation& v : runtime::FieldViolations(status)) out.push_back(std::move(v));
}

absl::Status ModelNotFound(absl::string_view message) {
  return runtime::Error(absl::StatusCode::kNotFound, "CLV_MODEL_NOT_FOUND", message);
}

// `name` is "clvModels/latest" or "clvModels/{id}" (already checked).
absl::StatusOr<v1::ClvModel> ReadModel(store::Tx& tx, const std::string& name) {
  absl::StatusOr<store::Rows> rows;
  if (name == kLatest) {
    rows = tx.Query(
        "SELECT model FROM reporting_clv_models ORDER BY create_micros DESC, seq DESC LIMIT 1");
  } else {
    rows = tx.Query("SELECT model FROM reporting_clv_models WHERE id = $1",
                    {name.substr(kModels.size() + 1)});
  }
  if (!rows.ok()) return rows.status();
  if (rows->empty()) {
    return ModelNotFound(name == kLatest
                             ? "no CLV model has been fitted yet; call FitClvModel first"
                             : absl::StrCat("CLV model ", name, " does not exist"));
  }
  v1::ClvModel model;
  if (!model.ParseFromString((*rows)[0].GetString(0))) {
    return absl::DataLossError(absl::StrCat("stored CLV model ", name, " is corrupt"));
  }
  return model;
}

// Checks a model name field: "clvModels/latest" or "clvModels/{id}".
void CheckModelName(absl::string_view field, const std::string& name,
                    std::vector<FieldViolation>& violations) {
  if (name == kLatest) return;
  absl::StatusOr<std::string> id = runtime::IdOfName(field, name, kModels);
  if (!id.ok()) AddViolations(id.status(), violations);
}

// A purchase day as libs/clv takes it: `amount` is the day's sum over channels.
clv::Purchase ToPurchase(std::string profile, int64_t day, double amount) {
  return {std::move(profile), DayStart(day), amount};
}

// Gamma-Gamma on the customers it can use, or the reason it cannot be fitted (logged
// by the caller; the model then has no spend part).
struct SpendFit {
  std::optional<clv::GammaGammaFit> fit;
  std::string skipped_because;
};

absl::StatusOr<SpendFit> FitSpend(const std::vector<clv::CustomerSummary>& customers) {
  // A repeat customer whose repeat days all have amount 0 carries no spend information
  // the model can use (its density needs m_x > 0).
  std::vector<clv::CustomerSummary> spenders;
  for (const clv::CustomerSummary& c : customers) {
    if (c.repeat_purchases >= 1 && c.mean_repeat_spend > 0) spenders.push_back(c);
  }
  SpendFit out;
  if (spenders.size() < static_cast<size_t>(clv::kMinGammaGammaCustomers)) {
    out.skipped_because =
        absl::StrCat("only ", spenders.size(),
                     " customers have a repeat purchase with a positive amount; Gamma-Gamma "
                     "needs at least ",
                     clv::kMinGammaGammaCustomers);
    return out;
  }
  absl::StatusOr<clv::GammaGammaFit> fit = clv::FitGammaGamma(spenders);
  if (!fit.ok()) {
    if (fit.status().code() != absl::StatusCode::kFailedPrecondition) return fit.status();
    out.skipped_because = std::string(fit.status().message());
    return out;
  }
  if (fit->params.q <= 1) {
    out.skipped_because = absl::StrCat("the fitted q = ", fit->params.q,
                                       " <= 1 gives an infinite mean spend per purchase");
    return out;
  }
  out.fit = *std::move(fit);
  return out;
}

}  // namespace

std::vector<store::Migration> ClvReports::Migrations() {
  return {
      {1, "fitted CLV models",
       // seq orders models created in the same microsecond (ids need not sort by time).
       "CREATE TABLE reporting_clv_models ("
       " seq {{AUTOINCREMENT_PK}}, id TEXT NOT NULL UNIQUE, create_micros BIGINT NOT NULL,"
       " model {{BLOB}} NOT NULL);"
       "CREATE INDEX reporting_clv_models_created ON reporting_clv_models (create_micros, seq)"},
  };
}

ClvReports::ClvReports(Deps deps) : deps_(deps) {}

absl::StatusOr<v1::ClvModel> ClvReports::FitClvModel(const v1::FitClvModelRequest& request,
                                                     absl::Time deadline) {
  const absl::Time started = absl::Now();  // fit_duration is wall time, not the clock's
  const absl::Time now = deps_.clock->Now();
  std::vector<FieldViolation> violations;

  int64_t calibration_day = 0;
  bool calibration_ok = false;
  if (!request.has_calibration_end_time()) {
    violations.push_back({"calibration_end_time",
                          "is required: purchases up to the end of this UTC day calibrate the "
                          "model"});
  } else if (!runtime::ValidTimestamp(request.calibration_end_time())) {
    violations.push_back({"calibration_end_time", runtime::kInvalidTimestamp});
  } else if (runtime::FromTimestamp(request.calibration_end_time()) > now) {
    violations.push_back(
        {"calibration_end_time", absl::StrCat("must not be in the future (now is ",
                                              absl::FormatTime(now, absl::UTCTimeZone()), ")")});
  } else {
    calibration_day = DayNumber(runtime::FromTimestamp(request.calibration_end_time()));
    calibration_ok = true;
  }

  // Holdout days: calibration_day < day < holdout_end_day.
  int64_t holdout_end_day = 0;
  if (request.has_holdout_end_time()) {
    const google::protobuf::Timestamp& end = request.holdout_end_time();
    if (!runtime::ValidTimestamp(end)) {
      violations.push_back({"holdout_end_time", runtime::kInvalidTimestamp});
    } else if (runtime::FromTimestamp(end) > now) {
      violations.push_back(
          {"holdout_end_time", absl::StrCat("must not be in the future (now is ",
                                            absl::FormatTime(now, absl::UTCTimeZone()),
                                            "): the holdout's purchases must have happened")});
    } else if (calibration_ok) {
      holdout_end_day = DayNumber(runtime::FromTimestamp(end));
      if (holdout_end_day < calibration_day + 2) {
        violations.push_back(
            {"holdout_end_time",
             absl::StrCat("must be at least one whole UTC day after the calibration, which "
                          "ends with ",
                          FormatDay(calibration_day), ": at or after ",
                          FormatDay(calibration_day + 2), "T00:00:00Z")});
      }
    }
  }

  double days_per_period = request.days_per_period();
  if (days_per_period == 0) days_per_period = kDefaultDaysPerPeriod;
  if (!(days_per_period >= kMinDaysPerPeriod && days_per_period <= kMaxDaysPerPeriod)) {
    violations.push_back({"days_per_period",
                          absl::StrCat("must be from ", kMinDaysPerPeriod, " to ",
                                       kMaxDaysPerPeriod, " days (0 means ", kDefaultDaysPerPeriod,
                                       "), got ", request.days_per_period())});
  }

  const std::string purchase_type =
      request.purchase_type().empty() ? kDefaultPurchaseType : request.purchase_type();
  if (!ValidPurchaseType(purchase_type)) {
    violations.push_back(
        {"purchase_type",
         absl::StrCat("must be an interaction type of 1 to ", kMaxPurchaseTypeBytes,
                      " bytes of [a-z0-9_] (empty means \"purchase\")")});
  }
  if (!violations.empty()) return runtime::InvalidArgument(std::move(violations));

  const bool with_holdout = request.has_holdout_end_time();
  const int64_t last_day = with_holdout ? holdout_end_day - 1 : calibration_day;
  absl::StatusOr<store::Rows> rows;
  absl::Status read = deps_.db->Transact(
      [&](store::Tx& tx) {
        rows = tx.Query(
            "SELECT profile, day, SUM(amount) FROM reporting_purchases"
            " WHERE type = $1 AND day <= $2 GROUP BY profile, day",
            {purchase_type, last_day});
        return rows.status();
      },
      {.deadline = deadline, .read_only = true});
  if (!read.ok()) return read;

  std::vector<clv::Purchase> calibration;
  calibration.reserve(rows->size());
  absl::flat_hash_map<std::string, int64_t> holdout_days;
  for (const store::Row& row : *rows) {
    const int64_t day = row.GetInt(1);
    if (day <= calibration_day) {
      calibration.push_back(ToPurchase(row.GetString(0), day, row.GetDouble(2)));
    } else {
      ++holdout_days[row.GetString(0)];
    }
  }
  rows->clear();

  clv::SummaryOptions summary_options;
  summary_options.calibration_end = CivilDayOf(calibration_day);
  summary_options.days_per_period = days_per_period;
  absl::StatusOr<std::vector<clv::CustomerSummary>> customers =
      clv::SummarizePurchases(calibration, summary_options);
  if (!customers.ok()) {
    // Profiles accepts only amounts from 0 to 1e15, so this is a broken table.
    return absl::InternalError(
        absl::StrCat("reporting_purchases holds a purchase the CLV summary refuses: ",
                     customers.status().message()));
  }
  calibration.clear();
  if (customers->size() < static_cast<size_t>(clv::kMinBgNbdCustomers)) {
    return runtime::InvalidField(
        "calibration_end_time",
        absl::StrCat("only ", customers->size(), " customers made a purchase of type \"",
                     purchase_type, "\" up to the end of ", FormatDay(calibration_day),
                     "; the model needs at least ", clv::kMinBgNbdCustomers,
                     ": choose a later calibration end"));
  }

  absl::StatusOr<clv::BgNbdFit> purchases = clv::FitBgNbd(*customers);
  if (!purchases.ok()) {
    if (purchases.status().code() != absl::StatusCode::kFailedPrecondition) {
      return purchases.status();
    }
    return runtime::WithReason(purchases.status(), "CLV_FIT_FAILED");
  }
  absl::StatusOr<SpendFit> spend = FitSpend(*customers);
  if (!spend.ok()) return spend.status();

  v1::ClvModel model;
  *model.mutable_calibration_end_time() = runtime::ToTimestamp(DayStart(calibration_day));
  model.set_days_per_period(days_per_period);
  model.set_purchase_type(purchase_type);
  model.set_customers(static_cast<int64_t>(customers->size()));
  model.set_customers_with_repeat_purchases(
      std::count_if(customers->begin(), customers->end(),
                    [](const clv::CustomerSummary& c) { return c.repeat_purchases > 0; }));
  v1::BgNbdParameters* bg_nbd = model.mutable_bg_nbd();
  bg_nbd->set_r(purchases->params.r);
  bg_nbd->set_alpha(purchases->params.alpha);
  bg_nbd->set_a(purchases->params.a);
  bg_nbd->set_b(purchases->params.b);
  bg_nbd->set_log_likelihood(purchases->log_likelihood);
  if (spend->fit.has_value()) {
    v1::GammaGammaParameters* gamma_gamma = model.mutable_gamma_gamma();
    gamma_gamma->set_p(spend->fit->params.p);
    gamma_gamma->set_q(spend->fit->params.q);
    gamma_gamma->set_gamma(spend->fit->params.gamma);
    gamma_gamma->set_log_likelihood(spend->fit->log_likelihood);
  }

  if (with_holdout) {
    *model.mutable_holdout_end_time() = runtime::ToTimestamp(DayStart(holdout_end_day));
    v1::HoldoutCheck* holdout = model.mutable_holdout();
    const double periods =
        static_cast<double>(holdout_end_day - calibration_day - 1) / days_per_period;
    holdout->set_periods(periods);
    struct Bucket {
      int64_t customers = 0;
      double predicted = 0;
      int64_t actual = 0;
    };
    std::vector<Bucket> buckets(kHoldoutBuckets);
    double predicted_total = 0;
    int64_t actual_total = 0;
    for (const clv::CustomerSummary& c : *customers) {
      absl::StatusOr<double> predicted =
          clv::ExpectedRepeatPurchases(purchases->params, c, periods);
      if (!predicted.ok()) return predicted.status();
      const auto it = holdout_days.find(c.customer_id);
      const int64_t actual = it == holdout_days.end() ? 0 : it->second;
      Bucket& bucket = buckets[std::min<int64_t>(c.repeat_purchases, kHoldoutBuckets - 1)];
      ++bucket.customers;
      bucket.predicted += *predicted;
      bucket.actual += actual;
      predicted_total += *predicted;
      actual_total += actual;
    }
    holdout->set_predicted_repeat_purchases(predicted_total);
    holdout->set_actual_repeat_purchases(actual_total);
    for (int x = 0; x < kHoldoutBuckets; ++x) {
      const Bucket& b = buckets[x];
      v1::HoldoutBucket* out = holdout->add_buckets();
      out->set_calibration_repeat_purchases(x);
      out->set_customers(b.customers);
      if (b.customers > 0) {
        out->set_predicted_mean(b.predicted / static_cast<double>(b.customers));
        out->set_actual_mean(static_cast<double>(b.actual) / static_cast<double>(b.customers));
      }
    }
  }

  if (absl::Now() > deadline) {
    return absl::DeadlineExceededError("FitClvModel ran past its deadline; no model was stored");
  }
  const std::string id = absl::StrCat("m", deps_.ids->NewId());
  model.set_name(absl::StrCat(kModels, "/", id));
  const absl::Time create_time = deps_.clock->Now();
  *model.mutable_create_time() = runtime::ToTimestamp(create_time);
  const absl::Duration fit_duration = absl::Now() - started;
  *model.mutable_fit_duration() =
      TimeUtil::MicrosecondsToDuration(absl::ToInt64Microseconds(fit_duration));

  absl::Status stored = deps_.db->Transact(
      [&](store::Tx& tx) {
        return tx
            .Exec("INSERT INTO reporting_clv_models (id, create_micros, model) VALUES ($1, $2, $3)",
                  {id, absl::ToUnixMicros(create_time), store::Blob{model.SerializeAsString()}})
            .status();
      },
      {.deadline = deadline});
  if (!stored.ok()) return stored;

  if (!spend->fit.has_value()) {
    runtime::LogWarning("clv_spend_model_skipped",
                        {{"model", model.name()}, {"reason", spend->skipped_because}});
  }
  runtime::LogInfo("clv_model_fitted",
                   {{"model", model.name()},
                    {"customers", model.customers()},
                    {"repeat_customers", model.customers_with_repeat_purchases()},
                    {"spend_model", spend->fit.has_value()},
                    {"fit_ms", absl::ToDoubleMilliseconds(fit_duration)}});
  return model;
}

absl::StatusOr<v1::ClvModel> ClvReports::GetClvModel(const v1::GetClvModelRequest& request,
                                                     absl::Time deadline) {
  std::vector<FieldViolation> violations;
  CheckModelName("name", request.name(), violations);
  if (!violations.empty()) return runtime::InvalidArgument(std::move(violations));
  absl::StatusOr<v1::ClvModel> model;
  absl::Status read = deps_.db->Transact(
      [&](store::Tx& tx) {
        model = ReadModel(tx, request.name());
        return absl::OkStatus();
      },
      {.deadline = deadline, .read_only = true});
  if (!read.ok()) return read;
  return model;
}

absl::StatusOr<v1::CustomerValue> ClvReports::GetCustomerValue(
    const v1::GetCustomerValueRequest& request, absl::Time deadline) {
  std::vector<FieldViolation> violations;
  if (absl::StatusOr<std::string> id = runtime::IdOfName("profile", request.profile(), "profiles");
      !id.ok()) {
    AddViolations(id.status(), violations);
  }
  const std::string model_name = request.model().empty() ? std::string(kLatest) : request.model();
  CheckModelName("model", model_name, violations);
  const double horizon =
      request.horizon_periods() == 0 ? kDefaultHorizonPeriods : request.horizon_periods();
  if (!(horizon >= kMinHorizonPeriods && horizon <= kMaxHorizonPeriods)) {
    violations.push_back(
        {"horizon_periods",
         absl::StrCat("must be from ", kMinHorizonPeriods, " to ", kMaxHorizonPeriods,
                      " periods of the model (0 means ", kDefaultHorizonPeriods, "), got ",
                      request.horizon_periods())});
  }
  const double discount_rate = request.has_annual_discount_rate() ? request.annual_discount_rate()
                                                                  : kDefaultAnnualDiscountRate;
  if (!(discount_rate >= 0 && discount_rate <= kMaxAnnualDiscountRate)) {
    violations.push_back({"annual_discount_rate",
                          absl::StrCat("must be from 0 to ", kMaxAnnualDiscountRate,
                                       " (0.1 is 10 % a year; unset means ",
                                       kDefaultAnnualDiscountRate, "), got ", discount_rate)});
  }
  if (!violations.empty()) return runtime::InvalidArgument(std::move(violations));

  const int64_t today = DayNumber(deps_.clock->Now());
  absl::StatusOr<v1::ClvModel> model;
  absl::StatusOr<store::Rows> rows;
  absl::Status read = deps_.db->Transact(
      [&](store::Tx& tx) {
        model = ReadModel(tx, model_name);
        if (!model.ok()) return absl::OkStatus();
        rows = tx.Query(
            "SELECT day, SUM(amount) FROM reporting_purchases"
            " WHERE profile = $1 AND type = $2 AND day <= $3 GROUP BY day ORDER BY day",
            {request.profile(), model->purchase_type(), today});
        return rows.status();
      },
      {.deadline = deadline, .read_only = true});
  if (!read.ok()) return read;
  if (!model.ok()) return model.status();
  const double days_per_period = model->days_per_period();
  if (horizon * days_per_period > kMaxHorizonDays) {
    return runtime::InvalidField(
        "horizon_periods",
        absl::StrCat("must be at most 100 years: ", std::floor(kMaxHorizonDays / days_per_period),
                     " periods of ", days_per_period, " days for model ", model->name(), ", got ",
                     horizon));
  }

  if (rows->empty()) {
    return runtime::Error(absl::StatusCode::kNotFound, "NO_PURCHASES",
                          absl::StrCat(request.profile(), " has no purchase of type \"",
                                       model->purchase_type(), "\" up to ", FormatDay(today)));
  }
  std::vector<clv::Purchase> purchases;
  purchases.reserve(rows->size());
  for (const store::Row& row : *rows) {
    purchases.push_back(ToPurchase(request.profile(), row.GetInt(0), row.GetDouble(1)));
  }
  clv::SummaryOptions summary_options;
  summary_options.calibration_end = CivilDayOf(today);
  summary_options.days_per_period = days_per_period;
  absl::StatusOr<std::vector<clv::CustomerSummary>> summaries =
      clv::SummarizePurchases(purchases, summary_options);
  if (!summaries.ok()) {
    return absl::InternalError(
        absl::StrCat("reporting_purchases holds a purchase the CLV summary refuses: ",
                     summaries.status().message()));
  }
  const clv::CustomerSummary& customer = summaries->front();

  const clv::BgNbdParams bg_nbd{model->bg_nbd().r(), model->bg_nbd().alpha(), model->bg_nbd().a(),
                                model->bg_nbd().b()};
  clv::ClvOptions options;
  options.horizon = horizon;
  options.step = 1;
  options.annual_discount_rate = discount_rate;
  options.periods_per_year = 365.25 / days_per_period;

  clv::CustomerValue value;
  if (model->has_gamma_gamma()) {
    const clv::GammaGammaParams spend{model->gamma_gamma().p(), model->gamma_gamma().q(),
                                      model->gamma_gamma().gamma()};
    absl::StatusOr<clv::CustomerValue> v =
        clv::CustomerLifetimeValue(bg_nbd, spend, customer, options);
    if (!v.ok()) return v.status();
    value = *v;
  } else {
    const double own_mean =
        customer.repeat_purchases > 0 ? customer.mean_repeat_spend : purchases.front().amount;
    if (own_mean > 0) {
      // A spend prior with population mean p γ / (q - 1) = own_mean: the posterior mean
      // p (γ + x m) / (p x + q - 1) is then own_mean whatever x and m, so libs/clv
      // discounts the customer's own mean spend.
      const clv::GammaGammaParams own{1, 2, own_mean};
      absl::StatusOr<clv::CustomerValue> v =
          clv::CustomerLifetimeValue(bg_nbd, own, customer, options);
      if (!v.ok()) return v.status();
      value = *v;
    } else {
      absl::StatusOr<double> alive = clv::ProbabilityAlive(bg_nbd, customer);
      if (!alive.ok()) return alive.status();
      absl::StatusOr<double> expected = clv::ExpectedRepeatPurchases(bg_nbd, customer, horizon);
      if (!expected.ok()) return expected.status();
      value.probability_alive = *alive;
      value.expected_purchases = *expected;
    }
    value.expected_average_spend = own_mean;
  }

  v1::CustomerValue out;
  out.set_profile(request.profile());
  out.set_model(model->name());
  out.set_repeat_purchases(customer.repeat_purchases);
  out.set_last_purchase_age_periods(customer.last_purchase_time);
  out.set_observation_periods(customer.observation_length);
  out.set_mean_repeat_spend(customer.repeat_purchases > 0 ? customer.mean_repeat_spend : 0);
  out.set_probability_alive(value.probability_alive);
  out.set_expected_purchases(value.expected_purchases);
  out.set_horizon_periods(horizon);
  out.set_expected_spend_per_purchase(value.expected_average_spend);
  out.set_clv(value.lifetime_value);
  out.set_annual_discount_rate(discount_rate);
  return out;
}

}  // namespace centric::reporting
