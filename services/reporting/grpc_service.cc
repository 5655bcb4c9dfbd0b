#include "services/reporting/grpc_service.h"

namespace centric::reporting {

#define CENTRIC_REPORTING_UNARY(Method, Request, Response, target)                        \
  grpc::ServerUnaryReactor* ReportingGrpcService::Method(                                 \
      grpc::CallbackServerContext* context, const Request* request, Response* response) { \
    return runtime::Unary(context, env_, [this, request, response](absl::Time deadline) { \
      return runtime::Reply(target.Method(*request, deadline), response);                 \
    });                                                                                   \
  }

CENTRIC_REPORTING_UNARY(GetKpiSeries, v1::GetKpiSeriesRequest, v1::KpiSeries, kpis_)
CENTRIC_REPORTING_UNARY(GetScorecard, v1::GetScorecardRequest, v1::Scorecard, kpis_)
CENTRIC_REPORTING_UNARY(GetCohortRetention, v1::GetCohortRetentionRequest, v1::CohortRetention,
                        kpis_)
CENTRIC_REPORTING_UNARY(ExportReport, v1::ExportReportRequest, v1::ExportReportResponse, kpis_)
CENTRIC_REPORTING_UNARY(FitClvModel, v1::FitClvModelRequest, v1::ClvModel, clv_)
CENTRIC_REPORTING_UNARY(GetClvModel, v1::GetClvModelRequest, v1::ClvModel, clv_)
CENTRIC_REPORTING_UNARY(GetCustomerValue, v1::GetCustomerValueRequest, v1::CustomerValue, clv_)
CENTRIC_REPORTING_UNARY(CreateExperiment, v1::CreateExperimentRequest, v1::Experiment,
                        experiments_)
CENTRIC_REPORTING_UNARY(GetExperiment, v1::GetExperimentRequest, v1::Experiment, experiments_)
CENTRIC_REPORTING_UNARY(ListExperiments, v1::ListExperimentsRequest, v1::ListExperimentsResponse,
                        experiments_)
CENTRIC_REPORTING_UNARY(UpdateExperiment, v1::UpdateExperimentRequest, v1::Experiment,
                        experiments_)
CENTRIC_REPORTING_UNARY(StartExperiment, v1::StartExperimentRequest, v1::Experiment, experiments_)
CENTRIC_REPORTING_UNARY(StopExperiment, v1::StopExperimentRequest, v1::Experiment, experiments_)
CENTRIC_REPORTING_UNARY(AssignVariant, v1::AssignVariantRequest, v1::Assignment, experiments_)
CENTRIC_REPORTING_UNARY(GetExperimentResults, v1::GetExperimentResultsRequest,
                        v1::ExperimentResults, experiments_)
CENTRIC_REPORTING_UNARY(ExportProfileData, v1::ExportProfileDataRequest,
                        v1::ExportProfileDataResponse, profile_export_)

#undef CENTRIC_REPORTING_UNARY

grpc::ServerUnaryReactor* ReportingGrpcService::RebuildRollups(
    grpc::CallbackServerContext* context, const v1::RebuildRollupsRequest* /*request*/,
    v1::RebuildRollupsResponse* response) {
  return runtime::Unary(context, env_, [this, response](absl::Time deadline) {
    return runtime::Reply(rebuild_(deadline), response);
  });
}

}  // namespace centric::reporting
