// ClvReports on SQLite and PostgreSQL, fed through the reporting_purchases table. The
// CDNOW tests load the papers' 2,357-customer sample (CENTRIC_CDNOW_DIR/SOURCE.md):
// calibration 1997-01-01..1997-09-30 (39 weeks), holdout 1997-10-01..1998-06-30 (39
// weeks). tests/libs/clv/cdnow_test.cc checks the same numbers on libs/clv directly;
// these check that the service reads, groups and stores purchases so that it fits the
// same models, and serves them.
#include "services/reporting/clv/clv_reports.h"

#include <google/protobuf/util/message_differencer.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "libs/clv/clv.h"
#include "libs/runtime/errors.h"
#include "libs/runtime/resource.h"
#include "libs/store/store.h"
#include "libs/testing/servers.h"
#include "libs/testing/shared_servers.h"
#include "services/reporting/schema.h"

namespace centric::reporting {
namespace {

using google::protobuf::util::MessageDifferencer;

struct Backend {
  std::string name;
  bool postgres;
};
void PrintTo(const Backend& backend, std::ostream* os) { *os << backend.name; }

const absl::TimeZone kUtc = absl::UTCTimeZone();
const absl::CivilDay kCalibrationEnd(1997, 9, 30);
const absl::CivilDay kLastDay(1998, 6, 30);  // the last day of the data and of the holdout
// The test's "now": noon of the day after the data ends.
const absl::Time kNow = absl::FromCivil(absl::CivilSecond(1998, 7, 1, 12, 0, 0), kUtc);
// The worked customer of the BG/NBD paper: sample id 1, master id 00004.
const char kWorkedCustomer[] = "profiles/c00004";

absl::Time Deadline() { return absl::Now() + absl::Seconds(60); }

absl::Time StartOf(absl::CivilDay day) { return absl::FromCivil(day, kUtc); }

google::protobuf::Timestamp Ts(absl::Time t) { return runtime::ToTimestamp(t); }

std::string FirstField(const absl::Status& status) {
  std::vector<runtime::FieldViolation> v = runtime::FieldViolations(status);
  return v.empty() ? "" : v[0].field;
}

double Relative(double got, double want) { return std::abs(got - want) / std::abs(want); }

// One line of CDNOW_sample.txt (master id, sample id, date YYYYMMDD, CDs, dollars).
struct Transaction {
  std::string profile;  // "profiles/c<master id>"
  absl::CivilDay day;
  double amount = 0;
};

std::string DataPath(const std::string& file) {
  return std::string(CENTRIC_CDNOW_DIR) + "/" + file;
}

// The sample, read once; empty (after a test failure) when the file is missing.
const std::vector<Transaction>& Cdnow() {
  static const std::vector<Transaction>* transactions = [] {
    auto* out = new std::vector<Transaction>;
    std::ifstream in(DataPath("CDNOW_sample.txt"));
    std::string line;
    while (std::getline(in, line)) {
      std::istringstream fields(line);
      std::string master, sample, date;
      int cds, ymd;
      double dollars;
      if (!(fields >> master >> sample >> date >> cds >> dollars) ||
          !absl::SimpleAtoi(date, &ymd)) {
        continue;
      }
      out->push_back({absl::StrCat("profiles/c", master),
                      absl::CivilDay(ymd / 10000, ymd / 100 % 100, ymd % 100), dollars});
    }
    return out;
  }();
  return *transactions;
}

// Purchase days per profile: day -> amount summed over the day's transactions.
std::map<std::string, std::map<absl::CivilDay, double>> DaysByProfile() {
  std::map<std::string, std::map<absl::CivilDay, double>> out;
  for (const Transaction& t : Cdnow()) out[t.profile][t.day] += t.amount;
  return out;
}

// libs/clv's own summaries of the sample up to `calibration_end`, the reference the
// service's results are compared with.
std::vector<clv::CustomerSummary> DirectSummaries(absl::CivilDay calibration_end,
                                                  const std::string& only_profile = "") {
  std::vector<clv::Purchase> purchases;
  for (const Transaction& t : Cdnow()) {
    if (only_profile.empty() || t.profile == only_profile) {
      purchases.push_back({t.profile, StartOf(t.day), t.amount});
    }
  }
  clv::SummaryOptions options;
  options.calibration_end = calibration_end;
  absl::StatusOr<std::vector<clv::CustomerSummary>> summaries =
      clv::SummarizePurchases(purchases, options);
  EXPECT_TRUE(summaries.ok()) << summaries.status();
  return summaries.ok() ? *summaries : std::vector<clv::CustomerSummary>{};
}

class ClvReportsTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    ASSERT_FALSE(Cdnow().empty())
        << "CDNOW data not found in " << CENTRIC_CDNOW_DIR
        << ": the shared/ folder must sit beside the checkout (data/cdnow/CDNOW_sample.txt)";
    ASSERT_EQ(Cdnow().size(), 6919u);
    if (GetParam().postgres) {
      ASSERT_NE(centric::testing::SharedPostgres(), nullptr);
      auto url =
          centric::testing::SharedPostgres()->CreateDatabase(centric::testing::UniqueTestName());
      ASSERT_TRUE(url.ok()) << url.status();
      url_ = *url;
    } else {
      url_ = absl::StrCat("sqlite://", dir_.path(), "/reporting.db");
    }
    auto db = store::Open(url_);
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = std::move(*db);
    ASSERT_TRUE(store::Migrate(*db_, "reporting", ReportingMigrations()).ok());
    ASSERT_TRUE(store::Migrate(*db_, "reporting_clv", ClvReports::Migrations()).ok());
    reports_ = std::make_unique<ClvReports>(ClvReports::Deps{db_.get(), &clock_, &ids_});
  }

  // Writes the sample into reporting_purchases as type `type`, one row per profile, day
  // and channel: a day's transactions alternate between channels "web" and "email", so
  // the service has to sum over channels to see the papers' purchase days. `amount`
  // decides each transaction's amount (default: the data's).
  void LoadCdnow(const std::string& type = "purchase",
                 const std::function<double(const Transaction&)>& amount = nullptr) {
    std::map<std::tuple<std::string, int64_t, std::string>, std::pair<double, int64_t>> rows;
    std::map<std::pair<std::string, int64_t>, int> seen_on_day;
    for (const Transaction& t : Cdnow()) {
      const int64_t day = DayNumber(StartOf(t.day));
      const int n = seen_on_day[{t.profile, day}]++;
      auto& row = rows[{t.profile, day, n % 2 == 0 ? "web" : "email"}];
      row.first += amount ? amount(t) : t.amount;
      row.second += 1;
    }
    std::vector<store::Params> params;
    for (const auto& [key, value] : rows) {
      params.push_back(
          {std::get<0>(key), type, std::get<1>(key), std::get<2>(key), value.first, value.second});
    }
    absl::Status status = db_->Transact([&](store::Tx& tx) {
      return store::InsertMany(tx,
                               "INSERT INTO reporting_purchases"
                               " (profile, type, day, channel, amount, purchases) VALUES",
                               params)
          .status();
    });
    ASSERT_TRUE(status.ok()) << status;
  }

  absl::StatusOr<v1::ClvModel> Fit(absl::Time calibration_end,
                                   std::optional<absl::Time> holdout_end = std::nullopt,
                                   const std::string& type = "", double days_per_period = 0) {
    v1::FitClvModelRequest request;
    *request.mutable_calibration_end_time() = Ts(calibration_end);
    if (holdout_end.has_value()) *request.mutable_holdout_end_time() = Ts(*holdout_end);
    request.set_purchase_type(type);
    request.set_days_per_period(days_per_period);
    return reports_->FitClvModel(request, Deadline());
  }

  absl::StatusOr<v1::ClvModel> Get(const std::string& name) {
    v1::GetClvModelRequest request;
    request.set_name(name);
    return reports_->GetClvModel(request, Deadline());
  }

  absl::StatusOr<v1::CustomerValue> Value(const std::string& profile, const std::string& model = "",
                                          double horizon = 0,
                                          std::optional<double> discount = std::nullopt) {
    v1::GetCustomerValueRequest request;
    request.set_profile(profile);
    request.set_model(model);
    request.set_horizon_periods(horizon);
    if (discount.has_value()) request.set_annual_discount_rate(*discount);
    return reports_->GetCustomerValue(request, Deadline());
  }

  centric::testing::TempDir dir_;
  std::string url_;
  std::unique_ptr<store::Database> db_;
  runtime::FakeClock clock_{kNow};
  runtime::SequentialIdGenerator ids_{"fit"};
  std::unique_ptr<ClvReports> reports_;
};

// The fit of the papers through the service: calibration 1997-09-30 (given as noon of that
// day, which stands for the whole day), holdout up to 1998-07-01 00:00, i.e. to the end of
// 1998-06-30.
TEST_P(ClvReportsTest, FitsCdnowAsPublished) {
  LoadCdnow();
  absl::StatusOr<v1::ClvModel> model =
      Fit(StartOf(kCalibrationEnd) + absl::Hours(12), StartOf(kLastDay + 1));
  ASSERT_TRUE(model.ok()) << model.status();
  const v1::BgNbdParameters& bg = model->bg_nbd();
  const v1::GammaGammaParameters& gg = model->gamma_gamma();
  std::printf(
      "[%s] fit in %.1f ms: BG/NBD r = %.4f, alpha = %.4f, a = %.4f, b = %.4f, LL = %.2f; "
      "Gamma-Gamma p = %.4f, q = %.4f, gamma = %.4f; holdout predicted %.1f, actual %lld\n",
      GetParam().name.c_str(),
      absl::ToDoubleMilliseconds(absl::Seconds(model->fit_duration().seconds()) +
                                 absl::Nanoseconds(model->fit_duration().nanos())),
      bg.r(), bg.alpha(), bg.a(), bg.b(), bg.log_likelihood(), gg.p(), gg.q(), gg.gamma(),
      model->holdout().predicted_repeat_purchases(),
      static_cast<long long>(model->holdout().actual_repeat_purchases()));

  EXPECT_EQ(model->calibration_end_time().seconds(), absl::ToUnixSeconds(StartOf(kCalibrationEnd)));
  EXPECT_EQ(model->holdout_end_time().seconds(), absl::ToUnixSeconds(StartOf(kLastDay + 1)));
  EXPECT_EQ(model->days_per_period(), 7);
  EXPECT_EQ(model->purchase_type(), "purchase");
  EXPECT_EQ(model->create_time().seconds(), absl::ToUnixSeconds(kNow));
  EXPECT_TRUE(model->has_fit_duration());
  EXPECT_EQ(model->customers(), 2357);
  EXPECT_EQ(model->customers_with_repeat_purchases(), 946);

  // FHL 2005: r = 0.243, α = 4.414, a = 0.793, b = 2.426, LL = -9582.4. Tolerances as in
  // tests/libs/clv/cdnow_test.cc: 1 % on each parameter (the paper prints 3 decimals) and
  // 0.1 on the log-likelihood (printed to 1 decimal).
  EXPECT_NEAR(bg.r(), 0.243, 0.01 * 0.243);
  EXPECT_NEAR(bg.alpha(), 4.414, 0.01 * 4.414);
  EXPECT_NEAR(bg.a(), 0.793, 0.01 * 0.793);
  EXPECT_NEAR(bg.b(), 2.426, 0.01 * 2.426);
  EXPECT_NEAR(bg.log_likelihood(), -9582.4, 0.1);

  // Fader & Hardie (2013): p = 6.25, q = 3.74, γ = 15.44 on the 946 customers with x >= 1,
  // fitted there on the zbar column of cdnow_customers_summary_with_transactions.csv. The
  // service fits on the mean repeat spend it summarises from the transactions, which
  // equals that column to its 2-decimal rounding (cdnow_test.cc checks all 2,357), so the
  // lib test's 1 % holds here too.
  ASSERT_TRUE(model->has_gamma_gamma());
  EXPECT_NEAR(gg.p(), 6.25, 0.01 * 6.25);
  EXPECT_NEAR(gg.q(), 3.74, 0.01 * 3.74);
  EXPECT_NEAR(gg.gamma(), 15.44, 0.01 * 15.44);

  // The service fits exactly what libs/clv fits on its own summaries of the file: same
  // days, same optimiser. Amounts are summed in a different order (per channel in SQL,
  // then per day), which can move m_x in the last bits, hence 1e-6 rather than equality.
  const std::vector<clv::CustomerSummary> direct = DirectSummaries(kCalibrationEnd);
  ASSERT_EQ(direct.size(), 2357u);
  absl::StatusOr<clv::BgNbdFit> direct_bg = clv::FitBgNbd(direct);
  ASSERT_TRUE(direct_bg.ok()) << direct_bg.status();
  EXPECT_LT(Relative(bg.r(), direct_bg->params.r), 1e-6);
  EXPECT_LT(Relative(bg.alpha(), direct_bg->params.alpha), 1e-6);
  EXPECT_LT(Relative(bg.a(), direct_bg->params.a), 1e-6);
  EXPECT_LT(Relative(bg.b(), direct_bg->params.b), 1e-6);
  EXPECT_LT(Relative(bg.log_likelihood(), direct_bg->log_likelihood), 1e-6);
  absl::StatusOr<clv::GammaGammaFit> direct_gg = clv::FitGammaGamma(direct);
  ASSERT_TRUE(direct_gg.ok()) << direct_gg.status();
  EXPECT_LT(Relative(gg.p(), direct_gg->params.p), 1e-6);
  EXPECT_LT(Relative(gg.q(), direct_gg->params.q), 1e-6);
  EXPECT_LT(Relative(gg.gamma(), direct_gg->params.gamma), 1e-6);

  // Holdout. Actual: purchase days of the calibration customers in 1997-10-01..1998-06-30,
  // counted from the file here. The data give 1,882 (1,959 transaction lines), not the
  // 1,788 quoted for the paper, and BG/NBD predicts 1,653 of them (-12 %, mostly customers
  // with x = 1 or 2; docs/CLV.md has the breakdown), so "within a few %" does not hold on
  // this data: the tolerance is cdnow_test.cc's 15 % of actual. The exact check is against
  // the sum of eq. (10) computed by libs/clv directly.
  const v1::HoldoutCheck& holdout = model->holdout();
  EXPECT_DOUBLE_EQ(holdout.periods(), 39);
  std::map<std::string, int64_t> holdout_days;
  for (const auto& [profile, days] : DaysByProfile()) {
    for (const auto& [day, amount] : days) {
      if (day > kCalibrationEnd && day <= kLastDay) ++holdout_days[profile];
    }
  }
  int64_t actual = 0;
  double predicted = 0;
  std::vector<int64_t> bucket_customers(8), bucket_actual(8);
  std::vector<double> bucket_predicted(8);
  for (const clv::CustomerSummary& c : direct) {
    absl::StatusOr<double> e = clv::ExpectedRepeatPurchases(direct_bg->params, c, 39);
    ASSERT_TRUE(e.ok()) << e.status();
    const int bucket = static_cast<int>(std::min<int64_t>(c.repeat_purchases, 7));
    ++bucket_customers[bucket];
    bucket_actual[bucket] += holdout_days[c.customer_id];
    bucket_predicted[bucket] += *e;
    actual += holdout_days[c.customer_id];
    predicted += *e;
  }
  EXPECT_EQ(actual, 1882);
  EXPECT_EQ(holdout.actual_repeat_purchases(), actual);
  EXPECT_NEAR(holdout.predicted_repeat_purchases(), actual, 0.15 * static_cast<double>(actual));
  EXPECT_LT(Relative(holdout.predicted_repeat_purchases(), predicted), 1e-6);
  ASSERT_EQ(holdout.buckets_size(), 8);
  int64_t bucketed = 0;
  for (int x = 0; x < 8; ++x) {
    const v1::HoldoutBucket& b = holdout.buckets(x);
    SCOPED_TRACE(absl::StrCat("bucket ", x));
    EXPECT_EQ(b.calibration_repeat_purchases(), x);
    EXPECT_EQ(b.customers(), bucket_customers[x]);
    EXPECT_DOUBLE_EQ(b.actual_mean(), static_cast<double>(bucket_actual[x]) /
                                          static_cast<double>(bucket_customers[x]));
    EXPECT_LT(Relative(b.predicted_mean(),
                       bucket_predicted[x] / static_cast<double>(bucket_customers[x])),
              1e-6);
    bucketed += b.customers();
  }
  EXPECT_EQ(bucketed, 2357);
  EXPECT_EQ(holdout.buckets(0).customers(), 1411);  // docs/CLV.md's table
  EXPECT_EQ(holdout.buckets(7).customers(), 64);

  // Stored: GetClvModel by name and as the latest returns the same model.
  for (const std::string& name : {model->name(), std::string("clvModels/latest")}) {
    absl::StatusOr<v1::ClvModel> stored = Get(name);
    ASSERT_TRUE(stored.ok()) << name << ": " << stored.status();
    EXPECT_TRUE(MessageDifferencer::Equals(*stored, *model)) << stored->DebugString();
  }
}

// The worked customer's value through the service equals libs/clv's computation on its
// own summary of the customer's purchases up to "now" (1998-07-01), with the model's
// parameters.
TEST_P(ClvReportsTest, CustomerValueMatchesTheLibrary) {
  LoadCdnow();
  absl::StatusOr<v1::ClvModel> model = Fit(StartOf(kCalibrationEnd));
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_FALSE(model->has_holdout());
  EXPECT_FALSE(model->has_holdout_end_time());
  // A purchase dated after "now" is not the customer's history yet.
  ASSERT_TRUE(db_->Exec("INSERT INTO reporting_purchases (profile, type, day, channel, amount,"
                        " purchases) VALUES ($1, 'purchase', $2, 'web', 1000, 1)",
                        {std::string(kWorkedCustomer), DayNumber(kNow) + 1})
                  .ok());

  const std::vector<clv::CustomerSummary> summary =
      DirectSummaries(absl::CivilDay(1998, 7, 1), kWorkedCustomer);
  ASSERT_EQ(summary.size(), 1u);
  ASSERT_EQ(summary[0].repeat_purchases, 3);  // 01-18, 08-02 and 12-12 after 01-01
  const clv::BgNbdParams bg{model->bg_nbd().r(), model->bg_nbd().alpha(), model->bg_nbd().a(),
                            model->bg_nbd().b()};
  const clv::GammaGammaParams gg{model->gamma_gamma().p(), model->gamma_gamma().q(),
                                 model->gamma_gamma().gamma()};

  struct Case {
    double horizon;                  // as requested (0: default)
    std::optional<double> discount;  // as requested (unset: default)
    double want_horizon;
    double want_discount;
  };
  for (const Case& c :
       {Case{0, std::nullopt, 52, 0.10}, Case{26, 0.0, 26, 0}, Case{520, 0.25, 520, 0.25}}) {
    SCOPED_TRACE(absl::StrCat("horizon ", c.horizon));
    absl::StatusOr<v1::CustomerValue> value = Value(kWorkedCustomer, "", c.horizon, c.discount);
    ASSERT_TRUE(value.ok()) << value.status();
    clv::ClvOptions options;
    options.horizon = c.want_horizon;
    options.annual_discount_rate = c.want_discount;
    absl::StatusOr<clv::CustomerValue> want =
        clv::CustomerLifetimeValue(bg, gg, summary[0], options);
    ASSERT_TRUE(want.ok()) << want.status();
    EXPECT_EQ(value->profile(), kWorkedCustomer);
    EXPECT_EQ(value->model(), model->name());
    EXPECT_EQ(value->repeat_purchases(), summary[0].repeat_purchases);
    EXPECT_DOUBLE_EQ(value->last_purchase_age_periods(), summary[0].last_purchase_time);
    EXPECT_DOUBLE_EQ(value->observation_periods(), summary[0].observation_length);
    EXPECT_NEAR(value->mean_repeat_spend(), summary[0].mean_repeat_spend, 1e-9);
    EXPECT_EQ(value->horizon_periods(), c.want_horizon);
    EXPECT_EQ(value->annual_discount_rate(), c.want_discount);
    EXPECT_LT(Relative(value->probability_alive(), want->probability_alive), 1e-12);
    EXPECT_LT(Relative(value->expected_purchases(), want->expected_purchases), 1e-12);
    EXPECT_LT(Relative(value->expected_spend_per_purchase(), want->expected_average_spend), 1e-9);
    EXPECT_LT(Relative(value->clv(), want->lifetime_value), 1e-9);
    if (c.want_discount == 0) {
      // Undiscounted, CLV is just spend per purchase times purchases.
      EXPECT_LT(Relative(value->clv(),
                         value->expected_spend_per_purchase() * value->expected_purchases()),
                1e-9);
    } else {
      EXPECT_LT(value->clv(), value->expected_spend_per_purchase() * value->expected_purchases());
    }
  }

  // A one-time buyer: alive for sure, and worth the population's mean spend per purchase.
  std::string one_timer;
  for (const auto& [profile, days] : DaysByProfile()) {
    if (days.size() == 1) {
      one_timer = profile;
      break;
    }
  }
  ASSERT_FALSE(one_timer.empty());
  absl::StatusOr<v1::CustomerValue> value = Value(one_timer);
  ASSERT_TRUE(value.ok()) << value.status();
  EXPECT_EQ(value->repeat_purchases(), 0);
  EXPECT_EQ(value->mean_repeat_spend(), 0);
  EXPECT_DOUBLE_EQ(value->probability_alive(), 1);
  EXPECT_NEAR(value->expected_spend_per_purchase(), gg.p * gg.gamma / (gg.q - 1), 1e-9);
}

// Without a spend model (here: only two customers ever paid anything for a "gift"), the
// spend per purchase is the customer's own: the mean of its repeat days, or its first
// day's amount when it has no repeat purchase.
TEST_P(ClvReportsTest, WithoutSpendModelUsesTheCustomersOwnSpend) {
  const auto days_by_profile = DaysByProfile();
  std::vector<std::string> repeat_buyers;  // the first two with 3 or more purchase days
  std::string one_timer;
  for (const auto& [profile, days] : days_by_profile) {
    if (days.size() >= 3 && repeat_buyers.size() < 2) repeat_buyers.push_back(profile);
    if (one_timer.empty() && days.size() == 1) one_timer = profile;
  }
  ASSERT_EQ(repeat_buyers.size(), 2u);
  ASSERT_FALSE(one_timer.empty());
  const std::string repeat_buyer = repeat_buyers[0];
  const std::string free_rider = repeat_buyers[1];
  LoadCdnow("gift", [&](const Transaction& t) {
    return t.profile == repeat_buyer || t.profile == one_timer ? t.amount : 0.0;
  });
  absl::StatusOr<v1::ClvModel> model = Fit(StartOf(kCalibrationEnd), std::nullopt, "gift");
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ(model->purchase_type(), "gift");
  EXPECT_FALSE(model->has_gamma_gamma());
  EXPECT_EQ(model->customers_with_repeat_purchases(), 946);
  const clv::BgNbdParams bg{model->bg_nbd().r(), model->bg_nbd().alpha(), model->bg_nbd().a(),
                            model->bg_nbd().b()};

  // The repeat buyer's own mean: its days after the first, up to now.
  const std::map<absl::CivilDay, double>& days = days_by_profile.at(repeat_buyer);
  double repeat_total = 0;
  for (auto it = std::next(days.begin()); it != days.end(); ++it) repeat_total += it->second;
  const double own_mean = repeat_total / static_cast<double>(days.size() - 1);

  absl::StatusOr<v1::CustomerValue> value = Value(repeat_buyer, "", 52, 0.0);
  ASSERT_TRUE(value.ok()) << value.status();
  const std::vector<clv::CustomerSummary> summary =
      DirectSummaries(absl::CivilDay(1998, 7, 1), repeat_buyer);
  ASSERT_EQ(summary.size(), 1u);
  absl::StatusOr<double> alive = clv::ProbabilityAlive(bg, summary[0]);
  absl::StatusOr<double> expected = clv::ExpectedRepeatPurchases(bg, summary[0], 52);
  ASSERT_TRUE(alive.ok() && expected.ok());
  EXPECT_EQ(value->repeat_purchases(), static_cast<int64_t>(days.size() - 1));
  EXPECT_NEAR(value->expected_spend_per_purchase(), own_mean, 1e-9 * own_mean);
  EXPECT_LT(Relative(value->probability_alive(), *alive), 1e-12);
  EXPECT_LT(Relative(value->expected_purchases(), *expected), 1e-12);
  EXPECT_LT(Relative(value->clv(), own_mean * *expected), 1e-9);
  // Discounting at 10 % a year lowers it.
  absl::StatusOr<v1::CustomerValue> discounted = Value(repeat_buyer);
  ASSERT_TRUE(discounted.ok()) << discounted.status();
  EXPECT_LT(discounted->clv(), value->clv());
  EXPECT_GT(discounted->clv(), 0.9 * value->clv());

  value = Value(one_timer, "", 52, 0.0);
  ASSERT_TRUE(value.ok()) << value.status();
  const double first_amount = days_by_profile.at(one_timer).begin()->second;
  ASSERT_GT(first_amount, 0);
  EXPECT_EQ(value->repeat_purchases(), 0);
  EXPECT_DOUBLE_EQ(value->expected_spend_per_purchase(), first_amount);
  EXPECT_LT(Relative(value->clv(), first_amount * value->expected_purchases()), 1e-9);

  // Someone whose gifts were all free buys again but is worth nothing.
  value = Value(free_rider);
  ASSERT_TRUE(value.ok()) << value.status();
  EXPECT_GT(value->expected_purchases(), 0);
  EXPECT_EQ(value->expected_spend_per_purchase(), 0);
  EXPECT_EQ(value->clv(), 0);
}

// "clvModels/latest" is the most recently created model, also when two share a create
// time, and models survive a restart (a new ClvReports on a new connection).
TEST_P(ClvReportsTest, LatestModelAcrossRestarts) {
  LoadCdnow();
  absl::StatusOr<v1::ClvModel> first = Fit(StartOf(kCalibrationEnd));
  ASSERT_TRUE(first.ok()) << first.status();
  clock_.Advance(absl::Minutes(1));
  absl::StatusOr<v1::ClvModel> second = Fit(StartOf(absl::CivilDay(1997, 12, 31)));
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_NE(first->name(), second->name());

  absl::StatusOr<v1::ClvModel> latest = Get("clvModels/latest");
  ASSERT_TRUE(latest.ok()) << latest.status();
  EXPECT_EQ(latest->name(), second->name());
  absl::StatusOr<v1::CustomerValue> value = Value(kWorkedCustomer);
  ASSERT_TRUE(value.ok()) << value.status();
  EXPECT_EQ(value->model(), second->name());
  absl::StatusOr<v1::CustomerValue> by_first = Value(kWorkedCustomer, first->name());
  ASSERT_TRUE(by_first.ok()) << by_first.status();
  EXPECT_EQ(by_first->model(), first->name());
  EXPECT_NE(by_first->clv(), value->clv());

  // Same create time (the clock did not move): the later fit is the latest.
  absl::StatusOr<v1::ClvModel> third = Fit(StartOf(kCalibrationEnd), std::nullopt, "", 14);
  ASSERT_TRUE(third.ok()) << third.status();
  EXPECT_EQ(third->create_time().seconds(), second->create_time().seconds());
  latest = Get("clvModels/latest");
  ASSERT_TRUE(latest.ok()) << latest.status();
  EXPECT_EQ(latest->name(), third->name());
  EXPECT_EQ(latest->days_per_period(), 14);

  reports_.reset();
  db_.reset();
  auto db = store::Open(url_);
  ASSERT_TRUE(db.ok()) << db.status();
  db_ = std::move(*db);
  ASSERT_TRUE(store::Migrate(*db_, "reporting_clv", ClvReports::Migrations()).ok());
  runtime::SequentialIdGenerator restarted_ids("restart");
  reports_ = std::make_unique<ClvReports>(ClvReports::Deps{db_.get(), &clock_, &restarted_ids});
  for (const v1::ClvModel* want : {&*first, &*second, &*third}) {
    absl::StatusOr<v1::ClvModel> got = Get(want->name());
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_TRUE(MessageDifferencer::Equals(*got, *want)) << got->DebugString();
  }
  latest = Get("clvModels/latest");
  ASSERT_TRUE(latest.ok()) << latest.status();
  EXPECT_EQ(latest->name(), third->name());
}

// A holdout end inside a day stops the holdout at that day's start: purchases are kept
// per day, so the day it falls in cannot be split.
TEST_P(ClvReportsTest, HoldoutEndsWithTheLastWholeDay) {
  LoadCdnow();
  absl::StatusOr<v1::ClvModel> model =
      Fit(StartOf(kCalibrationEnd), StartOf(kLastDay) + absl::Hours(18));
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ(model->holdout_end_time().seconds(), absl::ToUnixSeconds(StartOf(kLastDay)));
  EXPECT_DOUBLE_EQ(model->holdout().periods(), 272.0 / 7);
  int64_t actual = 0;
  for (const auto& [profile, days] : DaysByProfile()) {
    if (days.begin()->first > kCalibrationEnd) continue;  // not a calibration customer
    for (const auto& [day, amount] : days) {
      if (day > kCalibrationEnd && day < kLastDay) ++actual;
    }
  }
  EXPECT_EQ(model->holdout().actual_repeat_purchases(), actual);
  EXPECT_LT(actual, 1882);
}

TEST_P(ClvReportsTest, FitErrorsNameTheField) {
  struct Case {
    std::string what;
    std::function<void(v1::FitClvModelRequest&)> change;
    std::string field;
  };
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const std::vector<Case> cases = {
      {"no calibration end", [](auto& r) { r.clear_calibration_end_time(); },
       "calibration_end_time"},
      {"calibration in the future",
       [](auto& r) { *r.mutable_calibration_end_time() = Ts(kNow + absl::Hours(1)); },
       "calibration_end_time"},
      {"invalid timestamp", [](auto& r) { r.mutable_calibration_end_time()->set_nanos(-1); },
       "calibration_end_time"},
      {"holdout before calibration",
       [](auto& r) { *r.mutable_holdout_end_time() = Ts(StartOf(absl::CivilDay(1997, 9, 1))); },
       "holdout_end_time"},
      {"holdout without a whole day",
       [](auto& r) {
         *r.mutable_holdout_end_time() = Ts(StartOf(absl::CivilDay(1997, 10, 1)) + absl::Hours(23));
       },
       "holdout_end_time"},
      {"holdout in the future",
       [](auto& r) { *r.mutable_holdout_end_time() = Ts(kNow + absl::Hours(1)); },
       "holdout_end_time"},
      {"days_per_period below 1", [](auto& r) { r.set_days_per_period(0.5); }, "days_per_period"},
      {"days_per_period above 365", [](auto& r) { r.set_days_per_period(366); }, "days_per_period"},
      {"days_per_period NaN", [nan](auto& r) { r.set_days_per_period(nan); }, "days_per_period"},
      {"days_per_period negative", [](auto& r) { r.set_days_per_period(-7); }, "days_per_period"},
      {"purchase_type upper case", [](auto& r) { r.set_purchase_type("Purchase"); },
       "purchase_type"},
      {"purchase_type too long", [](auto& r) { r.set_purchase_type(std::string(65, 'a')); },
       "purchase_type"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    v1::FitClvModelRequest request;
    *request.mutable_calibration_end_time() = Ts(StartOf(kCalibrationEnd));
    c.change(request);
    absl::StatusOr<v1::ClvModel> model = reports_->FitClvModel(request, Deadline());
    ASSERT_FALSE(model.ok());
    EXPECT_EQ(model.status().code(), absl::StatusCode::kInvalidArgument) << model.status();
    EXPECT_EQ(FirstField(model.status()), c.field) << model.status();
  }
  // Several mistakes at once are reported together.
  v1::FitClvModelRequest both;
  both.set_days_per_period(400);
  both.set_purchase_type("a b");
  absl::StatusOr<v1::ClvModel> model = reports_->FitClvModel(both, Deadline());
  ASSERT_FALSE(model.ok());
  EXPECT_EQ(runtime::FieldViolations(model.status()).size(), 3u) << model.status();

  LoadCdnow();
  // Too few customers for the chosen calibration end (or purchase type): the caller's
  // choice, so INVALID_ARGUMENT on calibration_end_time.
  for (const std::string type : {"purchase", "refund"}) {
    model =
        Fit(type == "purchase" ? StartOf(absl::CivilDay(1996, 12, 31)) : StartOf(kCalibrationEnd),
            std::nullopt, type);
    ASSERT_FALSE(model.ok());
    EXPECT_EQ(model.status().code(), absl::StatusCode::kInvalidArgument) << model.status();
    EXPECT_EQ(FirstField(model.status()), "calibration_end_time") << model.status();
  }
  // Enough customers but nobody bought twice yet (everyone's first day is 1997-01-01):
  // the model cannot be fitted.
  model = Fit(StartOf(absl::CivilDay(1997, 1, 1)));
  ASSERT_FALSE(model.ok());
  EXPECT_EQ(model.status().code(), absl::StatusCode::kFailedPrecondition) << model.status();
  EXPECT_EQ(runtime::Reason(model.status()), "CLV_FIT_FAILED");
  // A call whose deadline has passed reads nothing and stores nothing.
  model = reports_->FitClvModel(
      [] {
        v1::FitClvModelRequest r;
        *r.mutable_calibration_end_time() = Ts(StartOf(kCalibrationEnd));
        return r;
      }(),
      absl::Now() - absl::Seconds(1));
  EXPECT_EQ(model.status().code(), absl::StatusCode::kDeadlineExceeded) << model.status();
  // Nothing was stored by the failed fits.
  EXPECT_EQ(Get("clvModels/latest").status().code(), absl::StatusCode::kNotFound);
}

TEST_P(ClvReportsTest, ReadErrors) {
  absl::StatusOr<v1::ClvModel> model = Get("clvModels/latest");
  EXPECT_EQ(model.status().code(), absl::StatusCode::kNotFound) << model.status();
  EXPECT_EQ(runtime::Reason(model.status()), "CLV_MODEL_NOT_FOUND");
  EXPECT_EQ(Value(kWorkedCustomer).status().code(), absl::StatusCode::kNotFound);

  LoadCdnow();
  absl::StatusOr<v1::ClvModel> weekly = Fit(StartOf(kCalibrationEnd));
  ASSERT_TRUE(weekly.ok()) << weekly.status();
  // Periods of a year, for the horizon limit below (the latest model from here on).
  absl::StatusOr<v1::ClvModel> yearly =
      Fit(StartOf(kCalibrationEnd), std::nullopt, "purchase", 365);
  ASSERT_TRUE(yearly.ok()) << yearly.status();

  model = Get("clvModels/nope");
  EXPECT_EQ(model.status().code(), absl::StatusCode::kNotFound) << model.status();
  EXPECT_EQ(runtime::Reason(model.status()), "CLV_MODEL_NOT_FOUND");
  model = Get("models/x");
  EXPECT_EQ(model.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(FirstField(model.status()), "name");
  model = Get("clvModels/");
  EXPECT_EQ(FirstField(model.status()), "name");

  absl::StatusOr<v1::CustomerValue> value = Value(kWorkedCustomer, "clvModels/nope");
  EXPECT_EQ(value.status().code(), absl::StatusCode::kNotFound) << value.status();
  EXPECT_EQ(runtime::Reason(value.status()), "CLV_MODEL_NOT_FOUND");
  value = Value("profiles/nobody");
  EXPECT_EQ(value.status().code(), absl::StatusCode::kNotFound) << value.status();
  EXPECT_EQ(runtime::Reason(value.status()), "NO_PURCHASES");
  // Purchases of another type are not this model's.
  ASSERT_TRUE(db_->Exec("INSERT INTO reporting_purchases (profile, type, day, channel, amount,"
                        " purchases) VALUES ('profiles/refunder', 'refund', $1, 'web', 10, 1)",
                        {DayNumber(kNow)})
                  .ok());
  EXPECT_EQ(Value("profiles/refunder").status().code(), absl::StatusCode::kNotFound);

  const double nan = std::numeric_limits<double>::quiet_NaN();
  struct Case {
    std::string profile, model;
    double horizon;
    std::optional<double> discount;
    std::string field;
  };
  for (const Case& c : std::vector<Case>{
           {"c00004", "", 0, std::nullopt, "profile"},
           {"profiles/C00004", "", 0, std::nullopt, "profile"},
           {kWorkedCustomer, "clvModels/Bad", 0, std::nullopt, "model"},
           {kWorkedCustomer, "", 0.5, std::nullopt, "horizon_periods"},
           {kWorkedCustomer, "", 521, std::nullopt, "horizon_periods"},
           {kWorkedCustomer, "", -52, std::nullopt, "horizon_periods"},
           {kWorkedCustomer, "", nan, std::nullopt, "horizon_periods"},
           {kWorkedCustomer, "", 0, -0.01, "annual_discount_rate"},
           {kWorkedCustomer, "", 0, 10.5, "annual_discount_rate"},
           {kWorkedCustomer, "", 0, nan, "annual_discount_rate"},
       }) {
    SCOPED_TRACE(absl::StrCat(c.profile, " ", c.model, " ", c.horizon));
    value = Value(c.profile, c.model, c.horizon, c.discount);
    EXPECT_EQ(value.status().code(), absl::StatusCode::kInvalidArgument) << value.status();
    EXPECT_EQ(FirstField(value.status()), c.field) << value.status();
  }
  value = Value("bad", "", 1000, 11.0);
  EXPECT_EQ(runtime::FieldViolations(value.status()).size(), 3u) << value.status();
  // The limits themselves are allowed.
  for (const auto& [horizon, discount] :
       std::vector<std::pair<double, double>>{{1, 0}, {520, 10}}) {
    value = Value(kWorkedCustomer, weekly->name(), horizon, discount);
    EXPECT_TRUE(value.ok()) << value.status();
  }

  // 520 periods of a year each are more than libs/clv's 100 years.
  value = Value(kWorkedCustomer, yearly->name(), 520);
  EXPECT_EQ(value.status().code(), absl::StatusCode::kInvalidArgument) << value.status();
  EXPECT_EQ(FirstField(value.status()), "horizon_periods") << value.status();
  value = Value(kWorkedCustomer, yearly->name(), 100);
  EXPECT_TRUE(value.ok()) << value.status();
}

INSTANTIATE_TEST_SUITE_P(Backends, ClvReportsTest,
                         ::testing::Values(Backend{"sqlite", false}, Backend{"postgres", true}),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace centric::reporting
