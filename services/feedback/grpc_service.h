// centric.feedback.v1.Feedback over gRPC's callback API: unary handlers run
// FeedbackService methods on the worker pool; StreamResponses reads the client's stream
// in batches and stores each batch before reading on.
#ifndef CENTRIC_SERVICES_FEEDBACK_GRPC_SERVICE_H_
#define CENTRIC_SERVICES_FEEDBACK_GRPC_SERVICE_H_

#include "centric/feedback/v1/feedback_service.grpc.pb.h"
#include "libs/runtime/handler.h"
#include "services/feedback/feedback_service.h"

namespace centric::feedback {

inline constexpr char kFeedbackServiceName[] = "centric.feedback.v1.Feedback";
inline constexpr char kFeedbackErrorDomain[] = "feedback.centric.dev";
// Responses StreamResponses stores per transaction.
inline constexpr size_t kStreamBatch = 500;
// Refusals StreamResponses reports one by one.
inline constexpr int kMaxReportedRejections = 100;

class FeedbackGrpcService final : public v1::Feedback::CallbackService {
 public:
  FeedbackGrpcService(FeedbackService& service, runtime::WorkerPool& pool)
      : service_(service), env_{&pool, kFeedbackErrorDomain} {}

#define CENTRIC_FEEDBACK_UNARY_DECL(Method, Request, Response)                                   \
  grpc::ServerUnaryReactor* Method(grpc::CallbackServerContext* context, const Request* request, \
                                   Response* response) override;
  CENTRIC_FEEDBACK_UNARY_DECL(CreateSurvey, v1::CreateSurveyRequest, v1::Survey)
  CENTRIC_FEEDBACK_UNARY_DECL(GetSurvey, v1::GetSurveyRequest, v1::Survey)
  CENTRIC_FEEDBACK_UNARY_DECL(ListSurveys, v1::ListSurveysRequest, v1::ListSurveysResponse)
  CENTRIC_FEEDBACK_UNARY_DECL(UpdateSurvey, v1::UpdateSurveyRequest, v1::Survey)
  CENTRIC_FEEDBACK_UNARY_DECL(CheckSurveyEligibility, v1::CheckSurveyEligibilityRequest,
                              v1::CheckSurveyEligibilityResponse)
  CENTRIC_FEEDBACK_UNARY_DECL(SubmitResponse, v1::SubmitResponseRequest, v1::Response)
  CENTRIC_FEEDBACK_UNARY_DECL(BatchSubmitResponses, v1::BatchSubmitResponsesRequest,
                              v1::BatchSubmitResponsesResponse)
  CENTRIC_FEEDBACK_UNARY_DECL(GetResponse, v1::GetResponseRequest, v1::Response)
  CENTRIC_FEEDBACK_UNARY_DECL(ListResponses, v1::ListResponsesRequest, v1::ListResponsesResponse)
  CENTRIC_FEEDBACK_UNARY_DECL(CreateFollowUpPolicy, v1::CreateFollowUpPolicyRequest,
                              v1::FollowUpPolicy)
  CENTRIC_FEEDBACK_UNARY_DECL(GetFollowUpPolicy, v1::GetFollowUpPolicyRequest, v1::FollowUpPolicy)
  CENTRIC_FEEDBACK_UNARY_DECL(ListFollowUpPolicies, v1::ListFollowUpPoliciesRequest,
                              v1::ListFollowUpPoliciesResponse)
  CENTRIC_FEEDBACK_UNARY_DECL(UpdateFollowUpPolicy, v1::UpdateFollowUpPolicyRequest,
                              v1::FollowUpPolicy)
  CENTRIC_FEEDBACK_UNARY_DECL(DeleteFollowUpPolicy, v1::DeleteFollowUpPolicyRequest,
                              v1::DeleteFollowUpPolicyResponse)
  CENTRIC_FEEDBACK_UNARY_DECL(GetFollowUp, v1::GetFollowUpRequest, v1::FollowUp)
  CENTRIC_FEEDBACK_UNARY_DECL(ListFollowUps, v1::ListFollowUpsRequest, v1::ListFollowUpsResponse)
  CENTRIC_FEEDBACK_UNARY_DECL(TransitionFollowUp, v1::TransitionFollowUpRequest, v1::FollowUp)
  CENTRIC_FEEDBACK_UNARY_DECL(CreateFeatureRequest, v1::CreateFeatureRequestRequest,
                              v1::FeatureRequest)
  CENTRIC_FEEDBACK_UNARY_DECL(GetFeatureRequest, v1::GetFeatureRequestRequest, v1::FeatureRequest)
  CENTRIC_FEEDBACK_UNARY_DECL(ListFeatureRequests, v1::ListFeatureRequestsRequest,
                              v1::ListFeatureRequestsResponse)
  CENTRIC_FEEDBACK_UNARY_DECL(UpdateFeatureRequest, v1::UpdateFeatureRequestRequest,
                              v1::FeatureRequest)
  CENTRIC_FEEDBACK_UNARY_DECL(LinkFeatureRequest, v1::LinkFeatureRequestRequest,
                              v1::FeatureRequestLink)
  CENTRIC_FEEDBACK_UNARY_DECL(ListFeatureRequestLinks, v1::ListFeatureRequestLinksRequest,
                              v1::ListFeatureRequestLinksResponse)
  CENTRIC_FEEDBACK_UNARY_DECL(ListThemeDemand, v1::ListThemeDemandRequest,
                              v1::ListThemeDemandResponse)
  CENTRIC_FEEDBACK_UNARY_DECL(ExportProfileData, v1::ExportProfileDataRequest,
                              v1::ExportProfileDataResponse)
#undef CENTRIC_FEEDBACK_UNARY_DECL

  grpc::ServerReadReactor<v1::SubmitResponseRequest>* StreamResponses(
      grpc::CallbackServerContext* context, v1::StreamResponsesSummary* summary) override;

 private:
  FeedbackService& service_;
  runtime::HandlerEnv env_;
};

}  // namespace centric::feedback

#endif  // CENTRIC_SERVICES_FEEDBACK_GRPC_SERVICE_H_
