// centric.reporting.v1.Reporting over gRPC's callback API: every handler runs a method of
// Kpis, Experiments, ClvReports or ProfileExport (or a rebuild) on the worker pool.
#ifndef CENTRIC_SERVICES_REPORTING_GRPC_SERVICE_H_
#define CENTRIC_SERVICES_REPORTING_GRPC_SERVICE_H_

#include <functional>

#include "centric/reporting/v1/reporting_service.grpc.pb.h"
#include "libs/runtime/handler.h"
#include "services/reporting/clv/clv_reports.h"
#include "services/reporting/experiments/experiments.h"
#include "services/reporting/kpis.h"
#include "services/reporting/profile_export.h"

namespace centric::reporting {

inline constexpr char kReportingServiceName[] = "centric.reporting.v1.Reporting";
inline constexpr char kReportingErrorDomain[] = "reporting.centric.dev";

class ReportingGrpcService final : public v1::Reporting::CallbackService {
 public:
  using Rebuild = std::function<absl::StatusOr<v1::RebuildRollupsResponse>(absl::Time deadline)>;
  ReportingGrpcService(Kpis& kpis, Experiments& experiments, ClvReports& clv,
                       ProfileExport& profile_export, Rebuild rebuild, runtime::WorkerPool& pool)
      : kpis_(kpis),
        experiments_(experiments),
        clv_(clv),
        profile_export_(profile_export),
        rebuild_(std::move(rebuild)),
        env_{&pool, kReportingErrorDomain} {}

#define CENTRIC_REPORTING_UNARY_DECL(Method, Request, Response)                                  \
  grpc::ServerUnaryReactor* Method(grpc::CallbackServerContext* context, const Request* request, \
                                   Response* response) override;
  CENTRIC_REPORTING_UNARY_DECL(GetKpiSeries, v1::GetKpiSeriesRequest, v1::KpiSeries)
  CENTRIC_REPORTING_UNARY_DECL(GetScorecard, v1::GetScorecardRequest, v1::Scorecard)
  CENTRIC_REPORTING_UNARY_DECL(GetCohortRetention, v1::GetCohortRetentionRequest,
                               v1::CohortRetention)
  CENTRIC_REPORTING_UNARY_DECL(ExportReport, v1::ExportReportRequest, v1::ExportReportResponse)
  CENTRIC_REPORTING_UNARY_DECL(RebuildRollups, v1::RebuildRollupsRequest,
                               v1::RebuildRollupsResponse)
  CENTRIC_REPORTING_UNARY_DECL(FitClvModel, v1::FitClvModelRequest, v1::ClvModel)
  CENTRIC_REPORTING_UNARY_DECL(GetClvModel, v1::GetClvModelRequest, v1::ClvModel)
  CENTRIC_REPORTING_UNARY_DECL(GetCustomerValue, v1::GetCustomerValueRequest, v1::CustomerValue)
  CENTRIC_REPORTING_UNARY_DECL(CreateExperiment, v1::CreateExperimentRequest, v1::Experiment)
  CENTRIC_REPORTING_UNARY_DECL(GetExperiment, v1::GetExperimentRequest, v1::Experiment)
  CENTRIC_REPORTING_UNARY_DECL(ListExperiments, v1::ListExperimentsRequest,
                               v1::ListExperimentsResponse)
  CENTRIC_REPORTING_UNARY_DECL(UpdateExperiment, v1::UpdateExperimentRequest, v1::Experiment)
  CENTRIC_REPORTING_UNARY_DECL(StartExperiment, v1::StartExperimentRequest, v1::Experiment)
  CENTRIC_REPORTING_UNARY_DECL(StopExperiment, v1::StopExperimentRequest, v1::Experiment)
  CENTRIC_REPORTING_UNARY_DECL(AssignVariant, v1::AssignVariantRequest, v1::Assignment)
  CENTRIC_REPORTING_UNARY_DECL(GetExperimentResults, v1::GetExperimentResultsRequest,
                               v1::ExperimentResults)
  CENTRIC_REPORTING_UNARY_DECL(ExportProfileData, v1::ExportProfileDataRequest,
                               v1::ExportProfileDataResponse)
#undef CENTRIC_REPORTING_UNARY_DECL

 private:
  Kpis& kpis_;
  Experiments& experiments_;
  ClvReports& clv_;
  ProfileExport& profile_export_;
  Rebuild rebuild_;
  runtime::HandlerEnv env_;
};

}  // namespace centric::reporting

#endif  // CENTRIC_SERVICES_REPORTING_GRPC_SERVICE_H_
