// The glue every gRPC handler uses: run domain work on the worker pool with the RPC's
// request id, trace and deadline, then finish the call with the mapped status.
//
//   grpc::ServerUnaryReactor* GetProfile(grpc::CallbackServerContext* ctx,
//                                        const GetProfileRequest* req, Profile* resp) override {
//     return runtime::Unary(ctx, env_, [=] { return ToProto(service_.Get(req->name()), resp); });
//   }
#ifndef CENTRIC_LIBS_RUNTIME_HANDLER_H_
#define CENTRIC_LIBS_RUNTIME_HANDLER_H_

#include <grpcpp/grpcpp.h>

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "libs/runtime/admission.h"
#include "libs/runtime/trace.h"
#include "libs/runtime/worker_pool.h"

namespace centric::runtime {

// What handlers of one service share.
struct HandlerEnv {
  WorkerPool* pool = nullptr;
  // ErrorInfo.domain of this service's errors, e.g. "profiles.centric.dev".
  std::string error_domain;
};

// The RPC's deadline as absl::Time (InfiniteFuture when the caller set none).
absl::Time DeadlineOf(const grpc::ServerContextBase& context);

// Copies the remaining deadline of an incoming RPC to an outgoing call, so a chain of
// calls never outlives its caller.
void PropagateDeadline(const grpc::ServerContextBase& incoming, grpc::ClientContext& outgoing);

// A new request id (a ULID), for a call that brought none.
std::string NewRequestId();

// The caller's "x-request-id" metadata, or a new id.
std::string RequestIdOf(const grpc::ServerContextBase& context);

// The server span of an incoming RPC: a new span in the trace of the caller's
// "traceparent" metadata, or the root of a new trace when it is absent or invalid.
TraceContext TraceOf(const grpc::ServerContextBase& context);

// Adds "traceparent" metadata continuing the current thread's trace (trace.h,
// OutgoingTraceparent) to an outgoing call; adds nothing when no trace is current. Call
// before the call starts, like PropagateDeadline.
void PropagateTrace(grpc::ClientContext& outgoing);

// Methods served with grpc::ByteBuffer messages (a generated WithRawCallbackMethod_*), so
// interceptors see bytes where other methods have a generated message. A service marks
// them before it serves; "/package.Service/Method".
void MarkRawMethod(absl::string_view method);
bool IsRawMethod(absl::string_view method);

// Work done by a handler; receives the RPC's deadline.
using HandlerWork = std::function<absl::Status(absl::Time deadline)>;

// Moves a successful result into the response message; the error otherwise.
template <typename T>
absl::Status Reply(absl::StatusOr<T> result, T* response) {
  if (!result.ok()) return result.status();
  *response = std::move(*result);
  return absl::OkStatus();
}

// Schedules `work` on env.pool and finishes the returned reactor with its status. `work`
// runs with the RPC's request id (RequestIdOf) and trace (TraceOf) current, so its log
// lines carry them and PropagateTrace continues the trace.
// DEADLINE_EXCEEDED without running `work` if the deadline has already passed or the
// call was cancelled while queued; the security decision (admission.h) instead of
// running `work` when the call was refused.
grpc::ServerUnaryReactor* Unary(grpc::CallbackServerContext* context, const HandlerEnv& env,
                                HandlerWork work);

// Streaming handlers start with the security decision (admission.h): when it refuses the
// call they return one of these, which finish it with the refusal and read or write
// nothing.
//
//   if (absl::Status s = runtime::AdmissionOf(context); !s.ok()) {
//     return runtime::RefusedWriter<v1::MembershipChange>(s, env_);
//   }
grpc::Status RefusalStatus(const absl::Status& status, const HandlerEnv& env);

template <typename Response>
grpc::ServerWriteReactor<Response>* RefusedWriter(const absl::Status& status, const HandlerEnv& env) {
  class Refused final : public grpc::ServerWriteReactor<Response> {
   public:
    // Finished from the pool: gRPC 1.51 wants the reactor bound before it acts.
    Refused(grpc::Status status, WorkerPool& pool) {
      pool.Schedule([this, status] { this->Finish(status); });
    }
    void OnDone() override { delete this; }
  };
  return new Refused(RefusalStatus(status, env), *env.pool);
}

template <typename Request>
grpc::ServerReadReactor<Request>* RefusedReader(const absl::Status& status, const HandlerEnv& env) {
  class Refused final : public grpc::ServerReadReactor<Request> {
   public:
    Refused(grpc::Status status, WorkerPool& pool) {
      pool.Schedule([this, status] { this->Finish(status); });
    }
    void OnDone() override { delete this; }
  };
  return new Refused(RefusalStatus(status, env), *env.pool);
}

}  // namespace centric::runtime

#endif  // CENTRIC_LIBS_RUNTIME_HANDLER_H_
