#include "services/segmentation/grpc_service.h"

#include <deque>

#include "absl/synchronization/mutex.h"
#include "libs/runtime/admission.h"
#include "libs/runtime/grpc_status.h"

namespace centric::segmentation {
namespace {

// Streams a segment's members chunk by chunk; each chunk is read from memory when the
// previous one has been written, so a slow reader holds no more than one chunk.
class MembersWriter final : public grpc::ServerWriteReactor<v1::ListSegmentMembersResponse> {
 public:
  // The first chunk is written from the worker pool: starting a write inside the
  // constructor (before gRPC binds the reactor) can livelock gRPC 1.51's backlog replay.
  MembersWriter(SegmentationService& service, const v1::ListSegmentMembersRequest& request,
                runtime::WorkerPool& pool)
      : service_(service), request_(request), pool_(pool) {
    pool_.Schedule([this] { Next(); });
  }
  void OnWriteDone(bool ok) override {
    if (!ok) return Finish(grpc::Status(grpc::StatusCode::CANCELLED, "the client went away"));
    request_.set_resume_token(chunk_.resume_token());
    pool_.Schedule([this] { Next(); });
  }
  void OnDone() override { delete this; }

 private:
  void Next() {
    auto chunk = service_.ListSegmentMembersChunk(request_);
    if (!chunk.ok()) return Finish(runtime::ToGrpcStatus(chunk.status(), kSegmentationErrorDomain));
    chunk_ = std::move(*chunk);
    if (chunk_.profiles().empty()) return Finish(grpc::Status::OK);
    if (chunk_.resume_token().empty()) {
      return StartWriteAndFinish(&chunk_, grpc::WriteOptions(), grpc::Status::OK);
    }
    StartWrite(&chunk_);
  }
  SegmentationService& service_;
  v1::ListSegmentMembersRequest request_;
  runtime::WorkerPool& pool_;
  v1::ListSegmentMembersResponse chunk_;
};

// Writes membership changes to one client as the service publishes them. Lock order:
// the service's watcher lock, then mu_ (the watcher callback); nothing takes them the
// other way round.
class ChangeWriter final : public grpc::ServerWriteReactor<v1::MembershipChange> {
 public:
  ChangeWriter(SegmentationService& service, const v1::WatchMembershipRequest& request,
               runtime::WorkerPool& pool)
      : service_(service) {
    pool.Schedule([this, request] { Begin(request); });
  }
  void OnWriteDone(bool ok) override {
    absl::MutexLock lock(&mu_);
    writing_ = false;
    if (!ok || finished_) return;
    queue_.pop_front();
    if (!queue_.empty()) WriteNextLocked();
  }
  void OnCancel() override {
    absl::MutexLock lock(&mu_);
    cancelled_ = true;
    // Before Begin ran, Begin finishes the call (so `this` outlives it).
    if (begun_) FinishLocked(grpc::Status(grpc::StatusCode::CANCELLED, "cancelled"));
  }
  void OnDone() override {
    if (watcher_ != 0) service_.RemoveWatcher(watcher_);
    delete this;
  }

 private:
  void Begin(const v1::WatchMembershipRequest& request) {
    absl::Status valid = service_.ValidateWatch(request);
    int64_t watcher = 0;
    if (valid.ok()) {
      std::vector<std::string> segments(request.segments().begin(), request.segments().end());
      watcher = service_.AddWatcher(std::move(segments),
                                    [this](const auto& changes) { Deliver(changes); });
    }
    absl::MutexLock lock(&mu_);
    watcher_ = watcher;  // read again only by OnDone, after Finish
    begun_ = true;
    if (!valid.ok()) {
      FinishLocked(runtime::ToGrpcStatus(valid, kSegmentationErrorDomain));
    } else if (cancelled_) {
      FinishLocked(grpc::Status(grpc::StatusCode::CANCELLED, "cancelled"));
    }
  }

  void Deliver(const std::vector<v1::MembershipChange>& changes) {
    absl::MutexLock lock(&mu_);
    if (finished_ || !begun_) return;
    if (queue_.size() + changes.size() > kMaxWatchBacklog) {
      FinishLocked(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                                "the stream fell more than 100000 changes behind; reconnect and "
                                "re-read the members"));
      return;
    }
    for (const auto& c : changes) queue_.push_back(c);
    if (!writing_) WriteNextLocked();
  }

  void FinishLocked(const grpc::Status& status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_) return;
    finished_ = true;
    Finish(status);
  }
  void WriteNextLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    writing_ = true;
    StartWrite(&queue_.front());
  }

  SegmentationService& service_;
  int64_t watcher_ = 0;
  absl::Mutex mu_;
  std::deque<v1::MembershipChange> queue_ ABSL_GUARDED_BY(mu_);
  bool begun_ ABSL_GUARDED_BY(mu_) = false;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace

#define CENTRIC_SEGMENTATION_UNARY(Method, Request, Response)                              \
  grpc::ServerUnaryReactor* SegmentationGrpcService::Method(                              \
      grpc::CallbackServerContext* context, const Request* request, Response* response) { \
    return runtime::Unary(context, env_, [this, request, response](absl::Time) {          \
      return runtime::Reply(service_.Method(*request), response);                                  \
    });                                                                                   \
  }

CENTRIC_SEGMENTATION_UNARY(CreateSegment, v1::CreateSegmentRequest, v1::Segment)
CENTRIC_SEGMENTATION_UNARY(GetSegment, v1::GetSegmentRequest, v1::Segment)
CENTRIC_SEGMENTATION_UNARY(ListSegments, v1::ListSegmentsRequest, v1::ListSegmentsResponse)
CENTRIC_SEGMENTATION_UNARY(UpdateSegment, v1::UpdateSegmentRequest, v1::Segment)
CENTRIC_SEGMENTATION_UNARY(PreviewSegment, v1::PreviewSegmentRequest, v1::PreviewSegmentResponse)
CENTRIC_SEGMENTATION_UNARY(CheckMembership, v1::CheckMembershipRequest, v1::CheckMembershipResponse)
CENTRIC_SEGMENTATION_UNARY(GetSegmentOverlap, v1::GetSegmentOverlapRequest,
                           v1::GetSegmentOverlapResponse)
CENTRIC_SEGMENTATION_UNARY(ExportProfileData, v1::ExportProfileDataRequest,
                           v1::ExportProfileDataResponse)
CENTRIC_SEGMENTATION_UNARY(CreatePersona, v1::CreatePersonaRequest, v1::Persona)
CENTRIC_SEGMENTATION_UNARY(GetPersona, v1::GetPersonaRequest, v1::Persona)
CENTRIC_SEGMENTATION_UNARY(ListPersonas, v1::ListPersonasRequest, v1::ListPersonasResponse)
CENTRIC_SEGMENTATION_UNARY(UpdatePersona, v1::UpdatePersonaRequest, v1::Persona)

#undef CENTRIC_SEGMENTATION_UNARY

grpc::ServerUnaryReactor* SegmentationGrpcService::DeleteSegment(
    grpc::CallbackServerContext* context, const v1::DeleteSegmentRequest* request,
    v1::DeleteSegmentResponse*) {
  return runtime::Unary(context, env_,
                        [this, request](absl::Time) { return service_.DeleteSegment(*request); });
}

grpc::ServerUnaryReactor* SegmentationGrpcService::DeletePersona(
    grpc::CallbackServerContext* context, const v1::DeletePersonaRequest* request,
    v1::DeletePersonaResponse*) {
  return runtime::Unary(context, env_,
                        [this, request](absl::Time) { return service_.DeletePersona(*request); });
}

grpc::ServerWriteReactor<v1::ListSegmentMembersResponse>*
SegmentationGrpcService::ListSegmentMembers(grpc::CallbackServerContext* context,
                                            const v1::ListSegmentMembersRequest* request) {
  if (absl::Status s = runtime::AdmissionOf(context); !s.ok()) {
    return runtime::RefusedWriter<v1::ListSegmentMembersResponse>(s, env_);
  }
  return new MembersWriter(service_, *request, *env_.pool);
}

grpc::ServerWriteReactor<v1::MembershipChange>* SegmentationGrpcService::WatchMembership(
    grpc::CallbackServerContext* context, const v1::WatchMembershipRequest* request) {
  if (absl::Status s = runtime::AdmissionOf(context); !s.ok()) {
    return runtime::RefusedWriter<v1::MembershipChange>(s, env_);
  }
  return new ChangeWriter(service_, *request, *env_.pool);
}

}  // namespace centric::segmentation
