#include "services/reporting/module.h"

#include <grpcpp/grpcpp.h>

#include "absl/strings/str_cat.h"
#include "libs/events/idempotent_consumer.h"
#include "libs/runtime/log.h"
#include "libs/runtime/resource.h"
#include "libs/security/channels.h"
#include "services/reporting/rollups.h"
#include "services/reporting/schema.h"

namespace centric::reporting {
namespace {

// How far back the dashboard looks.
constexpr int kDashboardMonths = 12;
constexpr int kScorecardDays = 30;
constexpr int kDashboardExperiments = 10;
// How long an event waits for Profiles before it is delivered again.
constexpr absl::Duration kEventCallTimeout = absl::Seconds(5);

}  // namespace

ReportingModule::ReportingModule(app::Infrastructure& infra, bool standalone)
    : infra_(infra), standalone_(standalone) {}

ReportingModule::~ReportingModule() { Stop(); }

absl::Status ReportingModule::Start(runtime::Server& server) {
  store::Database& db = *infra_.db;
  if (absl::Status s = store::Migrate(db, "reporting", ReportingMigrations()); !s.ok()) return s;
  if (absl::Status s = store::Migrate(db, "reporting_experiments", Experiments::Migrations());
      !s.ok()) {
    return s;
  }
  if (absl::Status s = store::Migrate(db, "reporting_clv", ClvReports::Migrations()); !s.ok()) {
    return s;
  }
  kpis_ = std::make_unique<Kpis>(db);
  Experiments::Deps experiment_deps;
  experiment_deps.db = &db;
  experiment_deps.clock = infra_.clock.get();
  experiment_deps.ids = infra_.ids.get();
  experiment_deps.in_segment = [](store::Tx& tx, const std::string& segment,
                                  const std::string& profile) {
    return IsMember(tx, profile, segment);
  };
  experiment_deps.consents = [this](const std::string& profile, absl::Time deadline) {
    return consents_.Get(profile, deadline);
  };
  experiments_ = std::make_unique<Experiments>(std::move(experiment_deps));
  ClvReports::Deps clv_deps;
  clv_deps.db = &db;
  clv_deps.clock = infra_.clock.get();
  clv_deps.ids = infra_.ids.get();
  clv_ = std::make_unique<ClvReports>(std::move(clv_deps));

  // What the experiments need from Profiles (consents) is read before the event's
  // transaction, which then applies it with the event.
  auto handler = [db = &db, experiments = experiments_.get()](const events::Event& event) {
    auto inputs = experiments->PrepareEvent(event, absl::Now() + kEventCallTimeout);
    if (!inputs.ok()) return inputs.status();
    return events::IdempotentHandler(
        *db, "reporting", [&](store::Tx& tx, const events::Event& e) {
          if (absl::Status s = ApplyEvent(tx, e); !s.ok()) return s;
          return experiments->ApplyEvent(tx, e, *inputs);
        })(event);
  };
  for (const char* topic : {"profiles", "segmentation", "feedback"}) {
    subscriptions_.push_back(infra_.bus->Subscribe(
        {.topic = topic, .group = "reporting", .consumer = app::ConsumerName()}, handler));
  }
  profile_export_ = std::make_unique<ProfileExport>(db, *experiments_, *clv_);
  grpc_ = std::make_unique<ReportingGrpcService>(
      *kpis_, *experiments_, *clv_, *profile_export_,
      [this](absl::Time deadline) { return Rebuild(deadline); }, *infra_.pool);
  server.AddService(grpc_.get(), kReportingServiceName);
  return absl::OkStatus();
}

void ReportingModule::Serving(const runtime::Server& server) {
  const runtime::Config& config = infra_.config;
  auto target = [&](const std::string& configured) {
    return configured.empty() && !standalone_ ? server.address() : configured;
  };
  const std::string profiles = target(config.profiles_target);
  const std::string segmentation = target(config.segmentation_target);
  const std::string feedback = target(config.feedback_target);
  if (profiles.empty()) {
    consents_.Connect(nullptr);
  } else {
    consents_.Connect(profiles::v1::Profiles::NewStub(security::NewChannel(config, profiles)));
  }
  if (!profiles.empty() && !segmentation.empty() && !feedback.empty()) {
    absl::MutexLock lock(&source_mu_);
    source_ = NewGrpcRollupSource(
        profiles::v1::Profiles::NewStub(security::NewChannel(config, profiles)),
        segmentation::v1::Segmentation::NewStub(security::NewChannel(config, segmentation)),
        feedback::v1::Feedback::NewStub(security::NewChannel(config, feedback)));
  }
  if (!config.dashboard_listen.empty()) {
    dashboard::DashboardSource source;
    source.overview = [this](absl::Time now) { return Overview(now); };
    source.experiment = [this](const std::string& id)
        -> absl::StatusOr<std::pair<v1::Experiment, v1::ExperimentResults>> {
      const absl::Time deadline = absl::Now() + absl::Seconds(10);
      v1::GetExperimentRequest get;
      get.set_name(absl::StrCat("experiments/", id));
      auto experiment = experiments_->GetExperiment(get, deadline);
      if (!experiment.ok()) return experiment.status();
      v1::GetExperimentResultsRequest results_request;
      results_request.set_name(get.name());
      auto results = experiments_->GetExperimentResults(results_request, deadline);
      if (!results.ok()) return results.status();
      return std::make_pair(std::move(*experiment), std::move(*results));
    };
    dashboard_ = std::make_unique<dashboard::DashboardServer>(std::move(source), *infra_.clock);
    if (absl::Status s = dashboard_->Start(config.dashboard_listen); !s.ok()) {
      runtime::LogError("dashboard_failed", {{"listen", config.dashboard_listen},
                                             {"error", s.ToString()}});
      dashboard_.reset();
    } else {
      runtime::LogInfo("dashboard_serving", {{"address", dashboard_->address()}});
    }
  }
  runtime::LogInfo("reporting_serving", {{"profiles_target", profiles},
                                         {"segmentation_target", segmentation},
                                         {"feedback_target", feedback}});
}

absl::StatusOr<v1::RebuildRollupsResponse> ReportingModule::Rebuild(absl::Time deadline) {
  absl::MutexLock lock(&source_mu_);  // one rebuild at a time
  if (source_ == nullptr) {
    return absl::FailedPreconditionError(
        "RebuildRollups needs the source services: set --profiles-target, "
        "--segmentation-target and --feedback-target (CENTRIC_PROFILES_TARGET, "
        "CENTRIC_SEGMENTATION_TARGET, CENTRIC_FEEDBACK_TARGET)");
  }
  return RebuildRollups(*infra_.db, *source_, deadline);
}

absl::StatusOr<dashboard::OverviewData> ReportingModule::Overview(absl::Time now) {
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  const int64_t today = DayNumber(now);
  const int64_t month = MonthStartDay(today);
  const absl::Time from = DayStart(AddMonths(month, -(kDashboardMonths - 1)));
  const absl::Time to = DayStart(AddMonths(month, 1));
  dashboard::OverviewData data;

  v1::GetScorecardRequest card;
  *card.mutable_start_time() = runtime::ToTimestamp(DayStart(today + 1 - kScorecardDays));
  *card.mutable_end_time() = runtime::ToTimestamp(DayStart(today + 1));
  card.set_include_team_view(true);
  auto scorecard = kpis_->GetScorecard(card, deadline);
  if (!scorecard.ok()) return scorecard.status();
  data.scorecard = std::move(*scorecard);

  v1::GetKpiSeriesRequest nps;
  nps.set_kpi(v1::KPI_NPS);
  *nps.mutable_start_time() = runtime::ToTimestamp(from);
  *nps.mutable_end_time() = runtime::ToTimestamp(to);
  nps.set_granularity(v1::GRANULARITY_MONTH);
  auto nps_series = kpis_->GetKpiSeries(nps, deadline);
  if (!nps_series.ok()) return nps_series.status();
  data.nps_by_month = std::move(*nps_series);
  nps.set_dimension(v1::DIMENSION_SEGMENT);
  auto by_segment = kpis_->GetKpiSeries(nps, deadline);
  if (!by_segment.ok()) return by_segment.status();
  data.nps_by_segment = std::move(*by_segment);

  v1::GetCohortRetentionRequest cohorts;
  *cohorts.mutable_start_time() = runtime::ToTimestamp(from);
  *cohorts.mutable_end_time() = runtime::ToTimestamp(to);
  auto retention = kpis_->GetCohortRetention(cohorts, deadline);
  if (!retention.ok()) return retention.status();
  data.cohort_retention = std::move(*retention);

  v1::ListExperimentsRequest list;
  list.set_page_size(kDashboardExperiments);
  auto experiments = experiments_->ListExperiments(list, deadline);
  if (!experiments.ok()) return experiments.status();
  for (const v1::Experiment& e : experiments->experiments()) {
    if (e.state() == v1::EXPERIMENT_STATE_DRAFT) continue;
    v1::GetExperimentResultsRequest request;
    request.set_name(e.name());
    auto results = experiments_->GetExperimentResults(request, deadline);
    if (!results.ok()) return results.status();
    data.experiments.emplace_back(e, std::move(*results));
  }
  return data;
}

void ReportingModule::Stop() {
  subscriptions_.clear();
  if (dashboard_ != nullptr) dashboard_->Stop();
}

std::unique_ptr<app::Module> NewReportingModule(app::Infrastructure& infra) {
  return std::make_unique<ReportingModule>(infra, /*standalone=*/false);
}

std::unique_ptr<app::Module> NewStandaloneReportingModule(app::Infrastructure& infra) {
  return std::make_unique<ReportingModule>(infra, /*standalone=*/true);
}

}  // namespace centric::reporting
