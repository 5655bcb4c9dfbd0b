// libFuzzer target for the Reporting service's requests (services/reporting/kpis.h and
// experiments/experiments.h), run end to end against an empty in-memory SQLite store with
// Reporting's real schema, so validation and everything an accepted request reaches
// (period arithmetic, queries, CSV) see the input.
//
// The first byte picks the request; the rest is its wire format:
//   0 GetKpiSeriesRequest     2 GetCohortRetentionRequest   4 CreateExperimentRequest
//   1 GetScorecardRequest     3 ExportReportRequest         5 AssignVariantRequest
// Invariants, beyond not crashing:
//   - the answer is OK or INVALID_ARGUMENT (the store is empty and reachable, so nothing
//     else is the request's fault), and every violation names a field of the request, is
//     valid UTF-8 and survives the trip through the status (fuzz_support.h);
//   - an accepted report holds only valid timestamps (0001-01-01 to 9999-12-31), periods
//     in increasing order, the same number of points on every line;
//   - an accepted experiment reads back as it was returned, starts, and assigns a profile
//     one of its variants;
//   - AssignVariant of the running experiment kept here answers one of its variants.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <google/protobuf/util/message_differencer.h>
#include <google/protobuf/util/time_util.h>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "centric/reporting/v1/reporting_service.pb.h"
#include "fuzz/fuzz_support.h"
#include "libs/runtime/clock.h"
#include "libs/store/store.h"
#include "services/reporting/experiments/experiments.h"
#include "services/reporting/kpis.h"
#include "services/reporting/schema.h"

namespace {

namespace v1 = ::centric::reporting::v1;
namespace reporting = ::centric::reporting;
namespace store = ::centric::store;
using ::centric::fuzz::CheckInvalidArgument;
using ::centric::fuzz::ParseWire;
using ::google::protobuf::util::MessageDifferencer;

const absl::Time kNow = absl::FromUnixSeconds(1767225600);
constexpr char kRunning[] = "experiments/running";

struct Env {
  std::unique_ptr<store::Database> db;
  centric::runtime::FakeClock clock{kNow};
  centric::runtime::SequentialIdGenerator ids{"x"};
  std::unique_ptr<reporting::Kpis> kpis;
  std::unique_ptr<reporting::Experiments> experiments;
  v1::Experiment running;
};

#define ENV_CHECK_OK(expr)                                                        \
  do {                                                                            \
    absl::Status status = (expr);                                                 \
    CENTRIC_FUZZ_CHECK(status.ok(), #expr, ": ", status.ToString());               \
  } while (0)

v1::Experiment TwoVariantExperiment() {
  v1::Experiment e;
  e.set_display_name("Checkout button");
  e.set_change("green button");
  for (const char* id : {"control", "green"}) {
    v1::Variant* variant = e.add_variants();
    variant->set_id(id);
    variant->set_weight(1);
  }
  e.mutable_primary_metric()->set_interaction_type("purchase");
  e.mutable_primary_metric()->mutable_window()->set_seconds(7 * 86400);
  return e;
}

Env& TheEnv() {
  static Env* env = [] {
    auto* e = new Env();
    auto db = store::Open("sqlite::memory:");
    ENV_CHECK_OK(db.status());
    e->db = std::move(*db);
    ENV_CHECK_OK(store::Migrate(*e->db, "reporting", reporting::ReportingMigrations()));
    ENV_CHECK_OK(store::Migrate(*e->db, "reporting_experiments",
                                reporting::Experiments::Migrations()));
    e->kpis = std::make_unique<reporting::Kpis>(*e->db);
    reporting::Experiments::Deps deps;
    deps.db = e->db.get();
    deps.clock = &e->clock;
    deps.ids = &e->ids;
    deps.in_segment = [](store::Tx&, const std::string&, const std::string&) { return true; };
    e->experiments = std::make_unique<reporting::Experiments>(std::move(deps));
    v1::CreateExperimentRequest create;
    *create.mutable_experiment() = TwoVariantExperiment();
    create.set_experiment_id("running");
    auto created = e->experiments->CreateExperiment(create, absl::InfiniteFuture());
    ENV_CHECK_OK(created.status());
    v1::StartExperimentRequest start;
    start.set_name(kRunning);
    auto started = e->experiments->StartExperiment(start, absl::InfiniteFuture());
    ENV_CHECK_OK(started.status());
    e->running = *started;
    return e;
  }();
  return *env;
}

bool ValidTimestamp(const google::protobuf::Timestamp& t) {
  return t.seconds() >= google::protobuf::util::TimeUtil::kTimestampMinSeconds &&
         t.seconds() <= google::protobuf::util::TimeUtil::kTimestampMaxSeconds &&
         t.nanos() >= 0 && t.nanos() <= 999999999;
}

void CheckTime(const google::protobuf::Timestamp& t, absl::string_view what) {
  CENTRIC_FUZZ_CHECK(ValidTimestamp(t), what, " is not a valid timestamp: ", t.DebugString());
}

// OK or INVALID_ARGUMENT with good violations; true when OK.
bool CheckAnswer(const absl::Status& status, const std::vector<absl::string_view>& prefixes) {
  CENTRIC_FUZZ_CHECK(status.ok() || status.code() == absl::StatusCode::kInvalidArgument,
                     "unexpected error on an empty store: ", status.ToString());
  CheckInvalidArgument(status, prefixes);
  return status.ok();
}

const std::vector<absl::string_view> kKpiFields = {
    "kpi", "start_time", "end_time", "granularity", "dimension", "keys", "churn_window_days"};

void CheckSeries(const v1::KpiSeries& series) {
  CENTRIC_FUZZ_CHECK(series.lines_size() >= 1 && series.lines(0).key().empty(),
                     "a series starts with the line of everyone");
  int points = series.lines(0).points_size();
  CENTRIC_FUZZ_CHECK(points >= 1 && points <= reporting::kMaxPeriods + 1, points, " points");
  for (const v1::KpiLine& line : series.lines()) {
    CENTRIC_FUZZ_CHECK(line.points_size() == points, "line ", line.key(), " has ",
                       line.points_size(), " points, the first ", points);
    for (int i = 0; i < line.points_size(); ++i) {
      CheckTime(line.points(i).start_time(), "point start_time");
      if (i > 0) {
        CENTRIC_FUZZ_CHECK(line.points(i - 1).start_time().seconds() <
                               line.points(i).start_time().seconds(),
                           "periods out of order at point ", i);
      }
    }
  }
}

void GetKpiSeries(const uint8_t* data, size_t size) {
  v1::GetKpiSeriesRequest request;
  if (!ParseWire(data, size, request)) return;
  auto series = TheEnv().kpis->GetKpiSeries(request, absl::InfiniteFuture());
  if (CheckAnswer(series.status(), kKpiFields)) CheckSeries(*series);
}

void GetScorecard(const uint8_t* data, size_t size) {
  v1::GetScorecardRequest request;
  if (!ParseWire(data, size, request)) return;
  auto card = TheEnv().kpis->GetScorecard(request, absl::InfiniteFuture());
  if (!CheckAnswer(card.status(), {"start_time", "end_time", "churn_window_days"})) return;
  CheckTime(card->start_time(), "start_time");
  CheckTime(card->end_time(), "end_time");
  CheckTime(card->previous_start_time(), "previous_start_time");
}

void GetCohortRetention(const uint8_t* data, size_t size) {
  v1::GetCohortRetentionRequest request;
  if (!ParseWire(data, size, request)) return;
  auto retention = TheEnv().kpis->GetCohortRetention(request, absl::InfiniteFuture());
  if (!CheckAnswer(retention.status(), {"start_time", "end_time"})) return;
  CENTRIC_FUZZ_CHECK(retention->cohorts_size() <= reporting::kMaxCohortMonths,
                     retention->cohorts_size(), " cohorts");
  for (const v1::Cohort& cohort : retention->cohorts()) {
    CheckTime(cohort.month_start_time(), "month_start_time");
  }
}

void ExportReport(const uint8_t* data, size_t size) {
  v1::ExportReportRequest request;
  if (!ParseWire(data, size, request)) return;
  auto report = TheEnv().kpis->ExportReport(request, absl::InfiniteFuture());
  if (!CheckAnswer(report.status(),
                   {"report", "kpi_series.", "scorecard.", "cohort_retention."})) {
    return;
  }
  CENTRIC_FUZZ_CHECK(!report->filename().empty() && !report->content().empty(),
                     "empty export");
  CENTRIC_FUZZ_CHECK(centric::fuzz::IsValidUtf8(report->filename()),
                     "filename is not UTF-8: ", report->filename());
}

void DeleteExperimentsBut(const std::string& keep) {
  for (const char* table : {"reporting_experiment_definitions", "reporting_experiment_metrics",
                            "reporting_experiment_exposures",
                            "reporting_experiment_conversions"}) {
    const char* column = absl::string_view(table) == "reporting_experiment_definitions"
                             ? "id"
                             : "experiment";
    ENV_CHECK_OK(TheEnv()
                     .db->Exec(absl::StrCat("DELETE FROM ", table, " WHERE ", column, " <> $1"),
                               {keep})
                     .status());
  }
}

void CreateExperiment(const uint8_t* data, size_t size) {
  v1::CreateExperimentRequest request;
  if (!ParseWire(data, size, request)) return;
  Env& env = TheEnv();
  if (request.experiment_id() == "running") request.set_experiment_id("other");
  auto created = env.experiments->CreateExperiment(request, absl::InfiniteFuture());
  if (!CheckAnswer(created.status(), {"experiment.", "experiment_id"})) return;
  v1::GetExperimentRequest get;
  get.set_name(created->name());
  auto read = env.experiments->GetExperiment(get, absl::InfiniteFuture());
  CENTRIC_FUZZ_CHECK(read.ok(), "created ", created->name(), " but reading it: ",
                     read.status().ToString());
  CENTRIC_FUZZ_CHECK(MessageDifferencer::Equals(*read, *created), "created\n",
                     created->DebugString(), "reads back as\n", read->DebugString());
  v1::StartExperimentRequest start;
  start.set_name(created->name());
  auto started = env.experiments->StartExperiment(start, absl::InfiniteFuture());
  CENTRIC_FUZZ_CHECK(started.ok(), "cannot start ", created->name(), ": ",
                     started.status().ToString());
  v1::AssignVariantRequest assign;
  assign.set_experiment(created->name());
  assign.set_profile("profiles/p1");
  auto assignment = env.experiments->AssignVariant(assign, absl::InfiniteFuture());
  CENTRIC_FUZZ_CHECK(assignment.ok(), assignment.status().ToString());
  std::set<std::string> variants;
  for (const v1::Variant& variant : created->variants()) variants.insert(variant.id());
  CENTRIC_FUZZ_CHECK(variants.count(assignment->variant()) == 1, "assigned variant \"",
                     assignment->variant(), "\" is not one of the experiment's");
  v1::GetExperimentResultsRequest results;
  results.set_name(created->name());
  auto answer = env.experiments->GetExperimentResults(results, absl::InfiniteFuture());
  CENTRIC_FUZZ_CHECK(answer.ok(), "results of ", created->name(), ": ", answer.status().ToString());
  DeleteExperimentsBut("running");
}

void AssignVariant(const uint8_t* data, size_t size) {
  v1::AssignVariantRequest request;
  if (!ParseWire(data, size, request)) return;
  Env& env = TheEnv();
  if (request.experiment().empty()) request.set_experiment(kRunning);
  auto assignment = env.experiments->AssignVariant(request, absl::InfiniteFuture());
  if (assignment.status().code() == absl::StatusCode::kNotFound) return;
  if (!CheckAnswer(assignment.status(), {"experiment", "profile"})) return;
  if (request.experiment() != kRunning) return;
  CENTRIC_FUZZ_CHECK(assignment->variant() == "control" || assignment->variant() == "green",
                     "assigned \"", assignment->variant(), "\"");
  // Assignment is sticky; the exposures table stays small by forgetting it again.
  ENV_CHECK_OK(env.db->Exec("DELETE FROM reporting_experiment_exposures").status());
  ENV_CHECK_OK(env.db->Exec("DELETE FROM reporting_experiment_aliases").status());
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  centric::fuzz::SilenceProtobufLogs();
  TheEnv();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0 || size > 64 * 1024) return -1;
  const uint8_t* rest = data + 1;
  size_t rest_size = size - 1;
  switch (data[0] % 6) {
    case 0: GetKpiSeries(rest, rest_size); break;
    case 1: GetScorecard(rest, rest_size); break;
    case 2: GetCohortRetention(rest, rest_size); break;
    case 3: ExportReport(rest, rest_size); break;
    case 4: CreateExperiment(rest, rest_size); break;
    case 5: AssignVariant(rest, rest_size); break;
  }
  return 0;
}
