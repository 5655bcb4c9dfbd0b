// The Reporting service as a module of a binary (centric-reporting or centricd).
#ifndef CENTRIC_SERVICES_REPORTING_MODULE_H_
#define CENTRIC_SERVICES_REPORTING_MODULE_H_

#include <memory>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "libs/app/app.h"
#include "services/reporting/clv/clv_reports.h"
#include "services/reporting/dashboard/server.h"
#include "services/reporting/experiments/experiments.h"
#include "services/reporting/grpc_service.h"
#include "services/reporting/kpis.h"
#include "services/reporting/profile_consents.h"
#include "services/reporting/rebuild.h"

namespace centric::reporting {

class ReportingModule : public app::Module {
 public:
  // `standalone`: the source services run elsewhere (--profiles-target,
  // --segmentation-target, --feedback-target name them for rebuilds); otherwise
  // (centricd) they are this process.
  ReportingModule(app::Infrastructure& infra, bool standalone);
  ~ReportingModule() override;
  // Migrates the reporting schemas, subscribes to the profiles, segmentation and
  // feedback topics, registers the gRPC service.
  absl::Status Start(runtime::Server& server) override;
  // Connects the rebuild sources and starts the dashboard (--dashboard-listen).
  void Serving(const runtime::Server& server) override;
  void Stop() override;

 private:
  absl::StatusOr<v1::RebuildRollupsResponse> Rebuild(absl::Time deadline);
  absl::StatusOr<dashboard::OverviewData> Overview(absl::Time now);

  app::Infrastructure& infra_;
  bool standalone_;
  std::unique_ptr<Kpis> kpis_;
  std::unique_ptr<Experiments> experiments_;
  // Consents for experiments with a purpose, read from Profiles at the time of use.
  ProfileConsents consents_;
  std::unique_ptr<ClvReports> clv_;
  std::unique_ptr<ProfileExport> profile_export_;
  std::unique_ptr<ReportingGrpcService> grpc_;
  std::unique_ptr<dashboard::DashboardServer> dashboard_;
  std::vector<std::unique_ptr<events::Subscription>> subscriptions_;
  absl::Mutex source_mu_;
  std::unique_ptr<RollupSource> source_ ABSL_GUARDED_BY(source_mu_);
};

std::unique_ptr<app::Module> NewReportingModule(app::Infrastructure& infra);
std::unique_ptr<app::Module> NewStandaloneReportingModule(app::Infrastructure& infra);

}  // namespace centric::reporting

#endif  // CENTRIC_SERVICES_REPORTING_MODULE_H_
