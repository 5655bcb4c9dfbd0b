// Rollups and KPI reports on SQLite and PostgreSQL: events in, figures out, checked
// against values computed by hand from the events.
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "gtest/gtest.h"
#include "libs/runtime/errors.h"
#include "libs/runtime/resource.h"
#include "libs/stats/kpi.h"
#include "libs/testing/servers.h"
#include "libs/testing/shared_servers.h"
#include "services/reporting/csv.h"
#include "services/reporting/kpis.h"
#include "services/reporting/rebuild.h"
#include "services/reporting/rollups.h"
#include "services/reporting/schema.h"

namespace centric::reporting {
namespace {

namespace ev = events::v1;
using runtime::ToTimestamp;
using testing::SharedPostgres;

struct Backend {
  const char* name;
  bool postgres;
};

absl::Time Day(int y, int m, int d, int hour = 12) {
  return absl::FromCivil(absl::CivilSecond(y, m, d, hour, 0, 0), absl::UTCTimeZone());
}

template <typename Payload>
ev::Event Wrap(const Payload& payload, absl::Time time = absl::UnixEpoch()) {
  static int counter = 0;
  ev::Event event;
  event.set_id(absl::StrCat("e", ++counter));
  event.set_type(payload.GetDescriptor()->full_name());
  *event.mutable_time() = ToTimestamp(time);
  event.mutable_payload()->PackFrom(payload);
  return event;
}

ev::Event Member(const std::string& profile, const std::string& segment, bool entered = true) {
  ev::MembershipChanged m;
  m.set_profile(profile);
  m.set_segment(segment);
  m.set_entered(entered);
  return Wrap(m);
}

ev::Event Answer(const std::string& profile, const std::string& kind, int score, absl::Time at,
                 const std::string& channel = "web", const std::string& touchpoint = "checkout",
                 const std::string& survey = "surveys/s1") {
  ev::ResponseReceived r;
  r.set_response(absl::StrCat(survey, "/responses/", profile, absl::ToUnixSeconds(at)));
  r.set_survey(survey);
  r.set_profile(profile);
  r.set_kind(kind);
  r.set_score(score);
  r.set_channel(channel);
  r.set_touchpoint(touchpoint);
  *r.mutable_submit_time() = ToTimestamp(at);
  return Wrap(r, at);
}

ev::Event Interaction(const std::string& profile, const std::string& type, absl::Time at,
                      double value = 0, const std::string& channel = "web") {
  ev::InteractionRecorded recorded;
  recorded.set_profile(profile);
  ev::InteractionSummary& s = *recorded.add_interactions();
  s.set_event_id(absl::StrCat(profile, type, absl::ToUnixSeconds(at)));
  s.set_channel(channel);
  s.set_type(type);
  *s.mutable_occur_time() = ToTimestamp(at);
  s.set_monetary_value(value);
  return Wrap(recorded, at);
}

ev::Event FollowUp(const std::string& id, const std::string& profile, const std::string& change,
                   absl::Time opened, absl::Time at, bool closed_loop = false,
                   absl::Time due = absl::InfinitePast()) {
  ev::FollowUpChanged f;
  f.set_follow_up(absl::StrCat("followUps/", id));
  f.set_profile(profile);
  f.set_change(change);
  f.set_closed_loop(closed_loop);
  *f.mutable_open_time() = ToTimestamp(opened);
  if (due != absl::InfinitePast()) *f.mutable_due_time() = ToTimestamp(due);
  return Wrap(f, at);
}

class RollupsTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    std::string url;
    if (GetParam().postgres) {
      ASSERT_NE(SharedPostgres(), nullptr);
      auto created = SharedPostgres()->CreateDatabase(testing::UniqueTestName());
      ASSERT_TRUE(created.ok()) << created.status();
      url = *created;
    } else {
      url = absl::StrCat("sqlite://", dir_.path(), "/reporting.db");
    }
    auto db = store::Open(url);
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = std::move(*db);
    ASSERT_TRUE(store::Migrate(*db_, "reporting", ReportingMigrations()).ok());
    kpis_ = std::make_unique<Kpis>(*db_);
  }

  void Apply(const std::vector<ev::Event>& events) {
    for (const ev::Event& e : events) {
      absl::Status s = db_->Transact([&](store::Tx& tx) { return ApplyEvent(tx, e); });
      ASSERT_TRUE(s.ok()) << s;
    }
  }

  v1::KpiSeries Series(v1::Kpi kpi, absl::Time from, absl::Time to,
                       v1::Granularity granularity = v1::GRANULARITY_MONTH,
                       v1::Dimension dimension = v1::DIMENSION_UNSPECIFIED, int churn_days = 0) {
    v1::GetKpiSeriesRequest request;
    request.set_kpi(kpi);
    *request.mutable_start_time() = ToTimestamp(from);
    *request.mutable_end_time() = ToTimestamp(to);
    request.set_granularity(granularity);
    request.set_dimension(dimension);
    request.set_churn_window_days(churn_days);
    auto series = kpis_->GetKpiSeries(request, absl::InfiniteFuture());
    EXPECT_TRUE(series.ok()) << series.status();
    return series.ok() ? *series : v1::KpiSeries();
  }

  static const v1::KpiLine* LineOf(const v1::KpiSeries& series, const std::string& key) {
    for (const auto& line : series.lines()) {
      if (line.key() == key) return &line;
    }
    ADD_FAILURE() << "no line " << key;
    static const v1::KpiLine empty;
    return &empty;
  }

  // Every table of reporting, as text, for searching.
  std::string Dump() {
    std::string out;
    for (const char* table : {"reporting_rollups", "reporting_memberships", "reporting_follow_ups",
                              "reporting_purchases", "reporting_activity",
                              "reporting_purchase_months"}) {
      auto rows = db_->Query(absl::StrCat("SELECT * FROM ", table));
      EXPECT_TRUE(rows.ok()) << rows.status();
      if (!rows.ok()) continue;
      for (const store::Row& row : *rows) {
        for (size_t c = 0; c < row.size(); ++c) absl::StrAppend(&out, row.GetString(c), "|");
        out += "\n";
      }
    }
    return out;
  }

  testing::TempDir dir_;
  std::unique_ptr<store::Database> db_;
  std::unique_ptr<Kpis> kpis_;
};

// January: 3 promoters, 1 passive, 2 detractors of whom two promoters and one detractor
// are in segments/vip; February: nothing; March: one detractor.
TEST_P(RollupsTest, NpsByMonthAndSegmentMatchesTheAnswers) {
  Apply({Member("profiles/a", "segments/vip"), Member("profiles/b", "segments/vip"),
         Member("profiles/f", "segments/vip")});
  Apply({Answer("profiles/a", "NPS", 10, Day(2026, 1, 3)), Answer("profiles/b", "NPS", 9, Day(2026, 1, 4)),
         Answer("profiles/c", "NPS", 9, Day(2026, 1, 5), "email"),
         Answer("profiles/d", "NPS", 7, Day(2026, 1, 6)), Answer("profiles/e", "NPS", 3, Day(2026, 1, 7)),
         Answer("profiles/f", "NPS", 0, Day(2026, 1, 31, 23)),
         Answer("profiles/e", "NPS", 5, Day(2026, 3, 1, 0))});

  v1::KpiSeries series = Series(v1::KPI_NPS, Day(2026, 1, 1, 0), Day(2026, 4, 1, 0),
                                v1::GRANULARITY_MONTH, v1::DIMENSION_SEGMENT);
  ASSERT_GE(series.lines_size(), 2);
  const v1::KpiLine& all = series.lines(0);
  EXPECT_EQ(all.key(), "");
  ASSERT_EQ(all.points_size(), 3);
  EXPECT_EQ(runtime::FromTimestamp(all.points(1).start_time()), Day(2026, 2, 1, 0));
  // January: (3 - 2) / 6 = +16.67 points; margin from libs/stats.
  const v1::KpiValue& jan = all.points(0).value();
  EXPECT_TRUE(jan.defined());
  EXPECT_NEAR(jan.value(), 100.0 / 6, 1e-9);
  EXPECT_EQ(jan.sample_size(), 6);
  auto expected = stats::Nps(3, 1, 2);
  ASSERT_TRUE(expected.ok());
  EXPECT_NEAR(jan.high() - jan.value(), expected->margin_of_error, 1e-9);
  EXPECT_FALSE(all.points(1).value().defined());
  EXPECT_NEAR(all.points(2).value().value(), -100, 1e-9);
  // Whole range: 3 promoters, 1 passive, 3 detractors = 0.
  EXPECT_NEAR(all.total().value(), 0, 1e-9);
  EXPECT_EQ(all.total().sample_size(), 7);

  const v1::KpiLine* vip = LineOf(series, "segments/vip");
  // a 10, b 9, f 0: (2 - 1) / 3.
  EXPECT_NEAR(vip->points(0).value().value(), 100.0 / 3, 1e-9);
  EXPECT_EQ(vip->total().sample_size(), 3);

  v1::KpiSeries by_channel = Series(v1::KPI_NPS, Day(2026, 1, 1, 0), Day(2026, 2, 1, 0),
                                    v1::GRANULARITY_DAY, v1::DIMENSION_CHANNEL);
  EXPECT_EQ(by_channel.lines(0).points_size(), 31);
  EXPECT_NEAR(LineOf(by_channel, "email")->total().value(), 100, 1e-9);
  EXPECT_EQ(LineOf(by_channel, "web")->total().sample_size(), 5);

  // Weeks start on Monday: 2026-01-05 is a Monday.
  v1::KpiSeries weekly =
      Series(v1::KPI_NPS, Day(2026, 1, 3, 0), Day(2026, 1, 12, 0), v1::GRANULARITY_WEEK);
  ASSERT_EQ(weekly.lines(0).points_size(), 2);
  EXPECT_EQ(runtime::FromTimestamp(weekly.lines(0).points(0).start_time()), Day(2025, 12, 29, 0));
  EXPECT_EQ(weekly.lines(0).points(0).value().sample_size(), 2);  // Jan 3 and 4
  EXPECT_EQ(weekly.lines(0).points(1).value().sample_size(), 3);  // Jan 5, 6, 7
}

TEST_P(RollupsTest, CsatCesAndResponseRate) {
  Apply({Interaction("profiles/a", "survey_invited", Day(2026, 5, 1)),
         Interaction("profiles/b", "survey_invited", Day(2026, 5, 1)),
         Interaction("profiles/c", "survey_invited", Day(2026, 5, 1), 0, "email"),
         Interaction("profiles/d", "survey_invited", Day(2026, 5, 1), 0, "email")});
  Apply({Answer("profiles/a", "CSAT", 5, Day(2026, 5, 2)), Answer("profiles/b", "CSAT", 2, Day(2026, 5, 2)),
         Answer("profiles/c", "CES", 6, Day(2026, 5, 2), "email"),
         Answer("profiles/c", "CES", 2, Day(2026, 5, 3), "email")});
  const absl::Time from = Day(2026, 5, 1, 0), to = Day(2026, 6, 1, 0);
  v1::KpiValue csat = Series(v1::KPI_CSAT, from, to).lines(0).total();
  EXPECT_NEAR(csat.value(), 50, 1e-9);
  EXPECT_LT(csat.low(), 50);
  EXPECT_GT(csat.high(), 50);
  v1::KpiValue ces = Series(v1::KPI_CES, from, to).lines(0).total();
  EXPECT_NEAR(ces.value(), 4, 1e-9);
  // s = √8, se = 2: interval 4 ± 1.96 · 2.
  EXPECT_NEAR(ces.high() - ces.value(), 1.959963984540054 * 2, 1e-6);
  // 4 answers for 4 invitations overall; email: 2 answers, 2 invitations.
  v1::KpiSeries rate = Series(v1::KPI_RESPONSE_RATE, from, to, v1::GRANULARITY_MONTH,
                              v1::DIMENSION_CHANNEL);
  EXPECT_NEAR(rate.lines(0).total().value(), 100, 1e-9);
  EXPECT_NEAR(LineOf(rate, "web")->total().value(), 100, 1e-9);
  v1::KpiValue responses = Series(v1::KPI_RESPONSES, from, to).lines(0).total();
  EXPECT_EQ(responses.value(), 4);
}

TEST_P(RollupsTest, FollowUpKpis) {
  const absl::Time open = Day(2026, 4, 1, 8);
  Apply({Member("profiles/a", "segments/vip")});
  Apply({
      // 1: contacted after 2 h, resolved after 10 h, closed with the loop closed: met.
      FollowUp("1", "profiles/a", "OPENED", open, open),
      FollowUp("1", "profiles/a", "CONTACTED", open, open + absl::Hours(2)),
      FollowUp("1", "profiles/a", "RESOLVED", open, open + absl::Hours(10)),
      FollowUp("1", "profiles/a", "CLOSED", open, open + absl::Hours(11), true),
      // 2: breached first contact (due 48 h), contacted after 50 h, resolved at 60 h.
      FollowUp("2", "profiles/b", "OPENED", open, open),
      FollowUp("2", "profiles/b", "SLA_BREACHED", open, open + absl::Hours(49), false,
               open + absl::Hours(48)),
      FollowUp("2", "profiles/b", "CONTACTED", open, open + absl::Hours(50)),
      FollowUp("2", "profiles/b", "CONTACTED", open, open + absl::Hours(51)),  // again: once
      FollowUp("2", "profiles/b", "RESOLVED", open, open + absl::Hours(60)),
      FollowUp("2", "profiles/b", "CLOSED", open, open + absl::Hours(61), false),
  });
  const absl::Time from = Day(2026, 4, 1, 0), to = Day(2026, 5, 1, 0);
  EXPECT_NEAR(Series(v1::KPI_FOLLOW_UP_SLA_COMPLIANCE, from, to).lines(0).total().value(), 50,
              1e-9);
  EXPECT_NEAR(Series(v1::KPI_CLOSED_LOOP_RATE, from, to).lines(0).total().value(), 50, 1e-9);
  // Median of 2 h and 50 h = 26 h, within the 2 % of the buckets.
  v1::KpiValue contact = Series(v1::KPI_TIME_TO_FIRST_CONTACT, from, to).lines(0).total();
  EXPECT_EQ(contact.sample_size(), 2);
  EXPECT_NEAR(contact.value(), 26 * 3600, 0.02 * 26 * 3600);
  v1::KpiValue resolution = Series(v1::KPI_TIME_TO_RESOLUTION, from, to).lines(0).total();
  EXPECT_NEAR(resolution.value(), 35 * 3600, 0.02 * 35 * 3600);
  // The segment of the profile when the follow-up opened: only follow-up 1.
  v1::KpiSeries vip = Series(v1::KPI_FOLLOW_UP_SLA_COMPLIANCE, from, to, v1::GRANULARITY_MONTH,
                             v1::DIMENSION_SEGMENT);
  EXPECT_NEAR(LineOf(vip, "segments/vip")->total().value(), 100, 1e-9);
}

TEST_P(RollupsTest, CustomerKpisAndCohorts) {
  Apply({Member("profiles/a", "segments/vip")});
  Apply({
      // a: January cohort, buys in January, February and April.
      Interaction("profiles/a", "purchase", Day(2026, 1, 10), 100),
      Interaction("profiles/a", "purchase", Day(2026, 2, 10), 50, "store"),
      Interaction("profiles/a", "purchase", Day(2026, 4, 10), 30),
      // b: January cohort, buys once.
      Interaction("profiles/b", "purchase", Day(2026, 1, 20), 20),
      // c: February cohort, browses in March.
      Interaction("profiles/c", "purchase", Day(2026, 2, 5), 10),
      Interaction("profiles/c", "page_view", Day(2026, 3, 5)),
  });
  const absl::Time from = Day(2026, 1, 1, 0), to = Day(2026, 5, 1, 0);
  v1::KpiSeries active = Series(v1::KPI_ACTIVE_CUSTOMERS, from, to);
  std::vector<double> expected_active = {2, 2, 1, 1};
  for (int i = 0; i < 4; ++i) EXPECT_EQ(active.lines(0).points(i).value().value(), expected_active[i]) << i;
  EXPECT_EQ(active.lines(0).total().value(), 3);

  v1::KpiSeries revenue = Series(v1::KPI_REVENUE_PER_CUSTOMER, from, to, v1::GRANULARITY_MONTH,
                                 v1::DIMENSION_CHANNEL);
  EXPECT_NEAR(revenue.lines(0).points(0).value().value(), 60, 1e-9);  // (100 + 20) / 2
  EXPECT_NEAR(revenue.lines(0).total().value(), 70, 1e-9);            // 210 / 3
  EXPECT_NEAR(LineOf(revenue, "store")->total().value(), 50, 1e-9);
  v1::KpiSeries clv = Series(v1::KPI_HISTORICAL_CLV, from, to, v1::GRANULARITY_MONTH,
                             v1::DIMENSION_SEGMENT);
  EXPECT_NEAR(clv.lines(0).points(0).value().value(), 60, 1e-9);   // 120 / 2
  EXPECT_NEAR(clv.lines(0).points(1).value().value(), 60, 1e-9);   // 180 / 3
  EXPECT_NEAR(clv.lines(0).points(3).value().value(), 70, 1e-9);   // 210 / 3
  EXPECT_NEAR(LineOf(clv, "segments/vip")->total().value(), 180, 1e-9);

  // 30-day window. Active on Feb 1: a, b (January buys); on Mar 1: a, c. Churned in
  // February: b, 1 of 2 = 50 %. Active on Apr 1: nobody; March churn 2 of 2 = 100 %.
  v1::KpiSeries churn = Series(v1::KPI_CHURN_RATE, from, to, v1::GRANULARITY_MONTH,
                               v1::DIMENSION_UNSPECIFIED, 30);
  EXPECT_FALSE(churn.lines(0).points(0).value().defined());
  EXPECT_NEAR(churn.lines(0).points(1).value().value(), 50, 1e-9);
  EXPECT_NEAR(churn.lines(0).points(2).value().value(), 100, 1e-9);

  v1::GetCohortRetentionRequest request;
  *request.mutable_start_time() = ToTimestamp(from);
  *request.mutable_end_time() = ToTimestamp(Day(2026, 4, 30));
  auto cohorts = kpis_->GetCohortRetention(request, absl::InfiniteFuture());
  ASSERT_TRUE(cohorts.ok()) << cohorts.status();
  ASSERT_EQ(cohorts->cohorts_size(), 4);
  const v1::Cohort& january = cohorts->cohorts(0);
  EXPECT_EQ(january.customers(), 2);
  EXPECT_EQ(std::vector<int64_t>(january.retained().begin(), january.retained().end()),
            (std::vector<int64_t>{2, 1, 0, 1}));
  EXPECT_NEAR(january.retention_percent(1), 50, 1e-9);
  EXPECT_EQ(cohorts->cohorts(1).customers(), 1);
  EXPECT_EQ(cohorts->cohorts(1).retained_size(), 3);
  EXPECT_EQ(cohorts->cohorts(2).customers(), 0);
}

TEST_P(RollupsTest, ScorecardComparesWithThePreviousPeriod) {
  // Previous 7 days: NPS 0 (one promoter, one detractor); current: +100.
  Apply({Answer("profiles/a", "NPS", 10, Day(2026, 6, 2)), Answer("profiles/b", "NPS", 2, Day(2026, 6, 3)),
         Answer("profiles/a", "NPS", 9, Day(2026, 6, 9), "email", "support"),
         Interaction("profiles/a", "purchase", Day(2026, 6, 9), 10)});
  v1::GetScorecardRequest request;
  *request.mutable_start_time() = ToTimestamp(Day(2026, 6, 8, 0));
  *request.mutable_end_time() = ToTimestamp(Day(2026, 6, 15, 0));
  request.set_include_team_view(true);
  auto card = kpis_->GetScorecard(request, absl::InfiniteFuture());
  ASSERT_TRUE(card.ok()) << card.status();
  EXPECT_EQ(runtime::FromTimestamp(card->previous_start_time()), Day(2026, 6, 1, 0));
  ASSERT_EQ(card->tiles_size(), static_cast<int>(ExecutiveKpis().size()));
  const v1::ScorecardTile& nps = card->tiles(0);
  EXPECT_EQ(nps.kpi(), v1::KPI_NPS);
  EXPECT_NEAR(nps.current().value(), 100, 1e-9);
  EXPECT_NEAR(nps.previous().value(), 0, 1e-9);
  EXPECT_NEAR(nps.change(), 100, 1e-9);
  EXPECT_EQ(nps.trend(), v1::ScorecardTile::TREND_UP);
  EXPECT_TRUE(nps.improved());
  // Team view: email and web channels, checkout and support touchpoints.
  std::vector<std::string> keys;
  for (const auto& row : card->rows()) keys.push_back(row.key());
  EXPECT_EQ(keys, (std::vector<std::string>{"email", "web", "checkout", "support"}));
  EXPECT_EQ(card->rows(0).tiles_size(), static_cast<int>(TeamKpis().size()));

  v1::ExportReportRequest export_request;
  *export_request.mutable_scorecard() = request;
  auto csv = kpis_->ExportReport(export_request, absl::InfiniteFuture());
  ASSERT_TRUE(csv.ok()) << csv.status();
  EXPECT_EQ(csv->filename(), "scorecard_2026-06-08_2026-06-15.csv");
  EXPECT_TRUE(absl::StartsWith(csv->content(),
                               "view,dimension,key,kpi,current,previous,change,trend\r\n"))
      << csv->content();
  EXPECT_TRUE(absl::StrContains(csv->content(), "executive,,,KPI_NPS,100,0,100,TREND_UP\r\n"))
      << csv->content();
}

TEST_P(RollupsTest, ExportsSeriesAsCsv) {
  Apply({Answer("profiles/a", "NPS", 10, Day(2026, 1, 3))});
  v1::ExportReportRequest request;
  v1::GetKpiSeriesRequest& series = *request.mutable_kpi_series();
  series.set_kpi(v1::KPI_NPS);
  *series.mutable_start_time() = ToTimestamp(Day(2026, 1, 1, 0));
  *series.mutable_end_time() = ToTimestamp(Day(2026, 3, 1, 0));
  auto csv = kpis_->ExportReport(request, absl::InfiniteFuture());
  ASSERT_TRUE(csv.ok()) << csv.status();
  EXPECT_EQ(csv->content_type(), "text/csv; charset=utf-8");
  EXPECT_EQ(csv->content(),
            "period_start,key,value,low,high,sample_size\r\n"
            "2026-01-01T00:00:00Z,,100,100,100,1\r\n"
            "2026-02-01T00:00:00Z,,,,,0\r\n");
  EXPECT_EQ(CsvLine({"a,b", "say \"hi\"", "x"}), "\"a,b\",\"say \"\"hi\"\"\",x\r\n");
  v1::ExportReportRequest none;
  EXPECT_EQ(runtime::FieldViolations(kpis_->ExportReport(none, absl::InfiniteFuture()).status())[0].field,
            "report");
  series.set_dimension(v1::DIMENSION_TOUCHPOINT);
  series.set_kpi(v1::KPI_CHURN_RATE);
  EXPECT_EQ(runtime::FieldViolations(kpis_->ExportReport(request, absl::InfiniteFuture()).status())[0].field,
            "kpi_series.dimension");
}

TEST_P(RollupsTest, BadRequestsNameTheFieldAndTheLimit) {
  auto field = [&](const v1::GetKpiSeriesRequest& request) {
    absl::Status s = kpis_->GetKpiSeries(request, absl::InfiniteFuture()).status();
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
    auto v = runtime::FieldViolations(s);
    return v.empty() ? std::string(s.message()) : v[0].field + ": " + v[0].description;
  };
  v1::GetKpiSeriesRequest request;
  EXPECT_TRUE(absl::StartsWith(field(request), "kpi: is required"));
  request.set_kpi(v1::KPI_NPS);
  EXPECT_TRUE(absl::StartsWith(field(request), "start_time: is required"));
  *request.mutable_start_time() = ToTimestamp(Day(2020, 1, 1));
  *request.mutable_end_time() = ToTimestamp(Day(2026, 1, 1));
  request.set_granularity(v1::GRANULARITY_DAY);
  EXPECT_EQ(field(request), "end_time: the range holds more than 1000 periods of the granularity");
  request.set_granularity(v1::GRANULARITY_MONTH);
  request.set_dimension(v1::DIMENSION_TOUCHPOINT);
  request.set_kpi(v1::KPI_ACTIVE_CUSTOMERS);
  EXPECT_EQ(field(request), "dimension: KPI_ACTIVE_CUSTOMERS has no breakdown by DIMENSION_TOUCHPOINT");
  request.set_dimension(v1::DIMENSION_UNSPECIFIED);
  request.set_churn_window_days(4000);
  EXPECT_EQ(field(request), "churn_window_days: must be 1 to 3650 days (0 means 90), got 4000");
}

// Times a Timestamp cannot hold used to reach runtime::ToTimestamp, whose CHECK aborted
// the whole process (found by fuzz/reporting_request_fuzzer).
TEST_P(RollupsTest, TimesBeyondTheTimestampRangeAreRefused) {
  auto field = [&](const absl::Status& s) {
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
    auto v = runtime::FieldViolations(s);
    return v.empty() ? std::string(s.message()) : v[0].field + ": " + v[0].description;
  };
  v1::GetKpiSeriesRequest series;
  series.set_kpi(v1::KPI_NPS);
  series.mutable_start_time()->set_seconds(253402300800);  // 10000-01-01
  series.mutable_end_time()->set_seconds(253402300800 + 86400);
  EXPECT_EQ(field(kpis_->GetKpiSeries(series, absl::InfiniteFuture()).status()),
            "start_time: must be a valid timestamp between 0001-01-01 and 9999-12-31");
  *series.mutable_start_time() = ToTimestamp(Day(9999, 12, 1));
  *series.mutable_end_time() = ToTimestamp(Day(9999, 12, 31) + absl::Hours(1));
  EXPECT_EQ(field(kpis_->GetKpiSeries(series, absl::InfiniteFuture()).status()),
            "end_time: the last period of the granularity would end after 9999-12-31");
  v1::GetScorecardRequest card;
  *card.mutable_start_time() = ToTimestamp(Day(1, 1, 5));
  *card.mutable_end_time() = ToTimestamp(Day(1, 1, 20));
  EXPECT_EQ(field(kpis_->GetScorecard(card, absl::InfiniteFuture()).status()),
            "start_time: the previous period of the same length would start before 0001-01-01");
}

// Merging moves the merged profile's purchases to the survivor; erasing keeps the counts
// and leaves the profile id nowhere.
TEST_P(RollupsTest, MergeAndErasureKeepCountsAndDropTheId) {
  Apply({Member("profiles/gone", "segments/vip"),
         Interaction("profiles/gone", "purchase", Day(2026, 1, 10), 40),
         Interaction("profiles/dup", "purchase", Day(2026, 1, 10), 60),
         Answer("profiles/gone", "NPS", 10, Day(2026, 1, 11)),
         FollowUp("9", "profiles/gone", "OPENED", Day(2026, 1, 11), Day(2026, 1, 11))});
  ev::ProfilesMerged merged;
  merged.set_survivor("profiles/gone");
  merged.add_merged("profiles/dup");
  Apply({Wrap(merged)});
  const absl::Time from = Day(2026, 1, 1, 0), to = Day(2026, 2, 1, 0);
  v1::KpiValue rpc = Series(v1::KPI_REVENUE_PER_CUSTOMER, from, to).lines(0).total();
  EXPECT_NEAR(rpc.value(), 100, 1e-9);
  EXPECT_EQ(rpc.sample_size(), 1);
  EXPECT_FALSE(absl::StrContains(Dump(), "profiles/dup"));

  ev::ProfileErased erased;
  erased.set_profile("profiles/gone");
  Apply({Wrap(erased)});
  EXPECT_FALSE(absl::StrContains(Dump(), "profiles/gone")) << Dump();
  EXPECT_NEAR(Series(v1::KPI_REVENUE, from, to).lines(0).total().value(), 100, 1e-9);
  EXPECT_EQ(Series(v1::KPI_NPS, from, to).lines(0).total().sample_size(), 1);
  EXPECT_EQ(Series(v1::KPI_ACTIVE_CUSTOMERS, from, to).lines(0).total().value(), 1);
}

// A source replaying the same events: a rebuild gives the same numbers.
class ReplaySource final : public RollupSource {
 public:
  explicit ReplaySource(std::vector<ev::Event> events) { out_.events = std::move(events); }
  absl::StatusOr<SourceEvents> Read(absl::Time) override { return out_; }

 private:
  SourceEvents out_;
};

TEST_P(RollupsTest, RebuildGivesTheSameNumbers) {
  std::vector<ev::Event> events = {
      Member("profiles/a", "segments/vip"),
      Answer("profiles/a", "NPS", 10, Day(2026, 1, 3)), Answer("profiles/b", "NPS", 4, Day(2026, 2, 3)),
      Interaction("profiles/a", "purchase", Day(2026, 1, 10), 100),
      FollowUp("1", "profiles/b", "OPENED", Day(2026, 2, 3), Day(2026, 2, 3)),
      FollowUp("1", "profiles/b", "RESOLVED", Day(2026, 2, 3), Day(2026, 2, 4))};
  Apply(events);
  const absl::Time from = Day(2026, 1, 1, 0), to = Day(2026, 3, 1, 0);
  auto figures = [&] {
    std::string out;
    for (v1::Kpi kpi : {v1::KPI_NPS, v1::KPI_REVENUE, v1::KPI_FOLLOW_UP_SLA_COMPLIANCE,
                        v1::KPI_TIME_TO_RESOLUTION}) {
      out += Series(kpi, from, to, v1::GRANULARITY_MONTH, v1::DIMENSION_SEGMENT).DebugString();
    }
    return out;
  };
  const std::string before = figures();
  // Something the sources no longer hold is gone after the rebuild.
  Apply({Answer("profiles/x", "NPS", 0, Day(2026, 1, 5))});
  ASSERT_NE(figures(), before);
  ReplaySource source(events);
  auto rebuilt = RebuildRollups(*db_, source, absl::InfiniteFuture());
  ASSERT_TRUE(rebuilt.ok()) << rebuilt.status();
  EXPECT_EQ(figures(), before);
}

INSTANTIATE_TEST_SUITE_P(Backends, RollupsTest,
                         ::testing::Values(Backend{"sqlite", false}, Backend{"postgres", true}),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace centric::reporting
