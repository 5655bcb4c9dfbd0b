#include "services/feedback/grpc_service.h"

#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "libs/runtime/grpc_status.h"
#include "libs/runtime/handler.h"
#include "libs/runtime/trace.h"

namespace centric::feedback {
namespace {

// Reads the client's stream and stores every kStreamBatch responses on the worker pool.
// Reading the next batch overlaps storing the previous one; at most one batch is being
// stored (so results are counted in stream order) and one being read, so a fast client
// cannot run further ahead than that.
class ResponseReader final : public grpc::ServerReadReactor<v1::SubmitResponseRequest> {
 public:
  ResponseReader(grpc::CallbackServerContext* context, FeedbackService& service,
                 runtime::WorkerPool& pool, v1::StreamResponsesSummary* summary)
      : service_(service),
        pool_(pool),
        summary_(summary),
        deadline_(runtime::DeadlineOf(*context)),
        trace_(runtime::TraceOf(*context)) {
    reading_.reserve(kStreamBatch);
    StartRead(&next_);
  }
  void OnReadDone(bool ok) override {
    absl::MutexLock lock(&mu_);
    if (!ok) {  // the client closed its side (or went away)
      closed_ = true;
    } else {
      reading_.push_back(std::move(next_));
      next_.Clear();
      if (reading_.size() < kStreamBatch) return StartRead(&next_);
      full_ = true;
    }
    StoreIfIdleLocked();
  }
  void OnDone() override { delete this; }

 private:
  // Hands the batch being read to the pool when no store runs; reading goes on at once.
  void StoreIfIdleLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (storing_ || finished_) return;
    if (!full_ && !closed_) return;
    if (closed_ && reading_.empty()) {
      finished_ = true;
      Finish(grpc::Status::OK);
      return;
    }
    storing_ = true;
    full_ = false;
    std::vector<v1::SubmitResponseRequest> batch;
    batch.swap(reading_);
    reading_.reserve(kStreamBatch);
    if (!closed_) StartRead(&next_);
    pool_.Schedule([this, batch = std::move(batch)]() mutable {
      runtime::TraceScope trace(trace_);
      absl::Status s = Store(batch);
      absl::MutexLock lock(&mu_);
      storing_ = false;
      if (!s.ok() && !finished_) {
        // Errors of the whole batch (store, Profiles) end the stream; a read may still
        // be outstanding, and gRPC completes it when the call finishes.
        finished_ = true;
        Finish(runtime::ToGrpcStatus(s, kFeedbackErrorDomain));
        return;
      }
      StoreIfIdleLocked();
    });
  }

  absl::Status Store(const std::vector<v1::SubmitResponseRequest>& batch) {
    auto results = service_.SubmitBatch(batch, deadline_);
    absl::MutexLock lock(&summary_mu_);
    if (!results.ok()) {
      return absl::Status(results.status().code(),
                          absl::StrCat("after ", summary_->accepted(), " stored responses: ",
                                       results.status().message()));
    }
    for (const Submitted& r : *results) {
      if (!r.status.ok()) {
        summary_->set_rejected(summary_->rejected() + 1);
        if (summary_->rejections_size() < kMaxReportedRejections) {
          v1::StreamRejection* rejection = summary_->add_rejections();
          rejection->set_index(index_);
          rejection->set_code(absl::StatusCodeToString(r.status.code()));
          rejection->set_message(std::string(r.status.message()));
        }
      } else if (r.duplicate) {
        summary_->set_duplicates(summary_->duplicates() + 1);
      } else {
        summary_->set_accepted(summary_->accepted() + 1);
        if (r.opened_follow_up) summary_->set_follow_ups_opened(summary_->follow_ups_opened() + 1);
      }
      ++index_;
    }
    return absl::OkStatus();
  }

  FeedbackService& service_;
  runtime::WorkerPool& pool_;
  v1::StreamResponsesSummary* summary_;
  const absl::Time deadline_;
  // The stream's one server span: every batch logs and calls Profiles in it.
  const runtime::TraceContext trace_;
  absl::Mutex mu_;
  v1::SubmitResponseRequest next_;  // written by gRPC between StartRead and OnReadDone
  std::vector<v1::SubmitResponseRequest> reading_ ABSL_GUARDED_BY(mu_);
  bool full_ ABSL_GUARDED_BY(mu_) = false;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  bool storing_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  // Stores run one at a time; the lock orders their updates of the summary.
  absl::Mutex summary_mu_;
  int64_t index_ = 0;
};

}  // namespace

#define CENTRIC_FEEDBACK_UNARY(Method, Request, Response)                                 \
  grpc::ServerUnaryReactor* FeedbackGrpcService::Method(                                  \
      grpc::CallbackServerContext* context, const Request* request, Response* response) { \
    return runtime::Unary(context, env_, [this, request, response](absl::Time) {          \
      return runtime::Reply(service_.Method(*request), response);                         \
    });                                                                                   \
  }
#define CENTRIC_FEEDBACK_UNARY_DEADLINE(Method, Request, Response)                        \
  grpc::ServerUnaryReactor* FeedbackGrpcService::Method(                                  \
      grpc::CallbackServerContext* context, const Request* request, Response* response) { \
    return runtime::Unary(context, env_, [this, request, response](absl::Time deadline) { \
      return runtime::Reply(service_.Method(*request, deadline), response);               \
    });                                                                                   \
  }

CENTRIC_FEEDBACK_UNARY(CreateSurvey, v1::CreateSurveyRequest, v1::Survey)
CENTRIC_FEEDBACK_UNARY(GetSurvey, v1::GetSurveyRequest, v1::Survey)
CENTRIC_FEEDBACK_UNARY(ListSurveys, v1::ListSurveysRequest, v1::ListSurveysResponse)
CENTRIC_FEEDBACK_UNARY(UpdateSurvey, v1::UpdateSurveyRequest, v1::Survey)
CENTRIC_FEEDBACK_UNARY_DEADLINE(CheckSurveyEligibility, v1::CheckSurveyEligibilityRequest,
                                v1::CheckSurveyEligibilityResponse)
CENTRIC_FEEDBACK_UNARY_DEADLINE(SubmitResponse, v1::SubmitResponseRequest, v1::Response)
CENTRIC_FEEDBACK_UNARY_DEADLINE(BatchSubmitResponses, v1::BatchSubmitResponsesRequest,
                                v1::BatchSubmitResponsesResponse)
CENTRIC_FEEDBACK_UNARY(GetResponse, v1::GetResponseRequest, v1::Response)
CENTRIC_FEEDBACK_UNARY(ListResponses, v1::ListResponsesRequest, v1::ListResponsesResponse)
CENTRIC_FEEDBACK_UNARY(CreateFollowUpPolicy, v1::CreateFollowUpPolicyRequest, v1::FollowUpPolicy)
CENTRIC_FEEDBACK_UNARY(GetFollowUpPolicy, v1::GetFollowUpPolicyRequest, v1::FollowUpPolicy)
CENTRIC_FEEDBACK_UNARY(ListFollowUpPolicies, v1::ListFollowUpPoliciesRequest,
                       v1::ListFollowUpPoliciesResponse)
CENTRIC_FEEDBACK_UNARY(UpdateFollowUpPolicy, v1::UpdateFollowUpPolicyRequest, v1::FollowUpPolicy)
CENTRIC_FEEDBACK_UNARY(GetFollowUp, v1::GetFollowUpRequest, v1::FollowUp)
CENTRIC_FEEDBACK_UNARY(ListFollowUps, v1::ListFollowUpsRequest, v1::ListFollowUpsResponse)
CENTRIC_FEEDBACK_UNARY(TransitionFollowUp, v1::TransitionFollowUpRequest, v1::FollowUp)
CENTRIC_FEEDBACK_UNARY(CreateFeatureRequest, v1::CreateFeatureRequestRequest, v1::FeatureRequest)
CENTRIC_FEEDBACK_UNARY(GetFeatureRequest, v1::GetFeatureRequestRequest, v1::FeatureRequest)
CENTRIC_FEEDBACK_UNARY(ListFeatureRequests, v1::ListFeatureRequestsRequest,
                       v1::ListFeatureRequestsResponse)
CENTRIC_FEEDBACK_UNARY(UpdateFeatureRequest, v1::UpdateFeatureRequestRequest, v1::FeatureRequest)
CENTRIC_FEEDBACK_UNARY_DEADLINE(LinkFeatureRequest, v1::LinkFeatureRequestRequest,
                                v1::FeatureRequestLink)
CENTRIC_FEEDBACK_UNARY(ListFeatureRequestLinks, v1::ListFeatureRequestLinksRequest,
                       v1::ListFeatureRequestLinksResponse)
CENTRIC_FEEDBACK_UNARY(ListThemeDemand, v1::ListThemeDemandRequest, v1::ListThemeDemandResponse)
CENTRIC_FEEDBACK_UNARY_DEADLINE(ExportProfileData, v1::ExportProfileDataRequest,
                                v1::ExportProfileDataResponse)

#undef CENTRIC_FEEDBACK_UNARY
#undef CENTRIC_FEEDBACK_UNARY_DEADLINE

grpc::ServerUnaryReactor* FeedbackGrpcService::DeleteFollowUpPolicy(
    grpc::CallbackServerContext* context, const v1::DeleteFollowUpPolicyRequest* request,
    v1::DeleteFollowUpPolicyResponse*) {
  return runtime::Unary(context, env_, [this, request](absl::Time) {
    return service_.DeleteFollowUpPolicy(*request);
  });
}

grpc::ServerReadReactor<v1::SubmitResponseRequest>* FeedbackGrpcService::StreamResponses(
    grpc::CallbackServerContext* context, v1::StreamResponsesSummary* summary) {
  if (absl::Status s = runtime::AdmissionOf(context); !s.ok()) {
    return runtime::RefusedReader<v1::SubmitResponseRequest>(s, env_);
  }
  return new ResponseReader(context, service_, *env_.pool, summary);
}

}  // namespace centric::feedback
