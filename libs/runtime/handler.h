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
#include "absl/time/time.h"
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

// The caller's "x-request-id" metadata, or a new id.
std::string RequestIdOf(const grpc::ServerContextBase& context);

// The server span of an incoming RPC: a new span in the trace of the caller's
// "traceparent" metadata, or the root of a new trace when it is absent or invalid.
TraceContext TraceOf(const grpc::ServerContextBase& context);

// Adds "traceparent" metadata continuing the current thread's trace (trace.h,
// OutgoingTraceparent) to an outgoing call; adds nothing when no trace is current. Call
// before the call starts, like PropagateDeadline.
void PropagateTrace(grpc::ClientContext& outgoing);

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
// call was cancelled while queued.
grpc::ServerUnaryReactor* Unary(grpc::CallbackServerContext* context, const HandlerEnv& env,
                                HandlerWork work);

}  // namespace centric::runtime

#endif  // CENTRIC_LIBS_RUNTIME_HANDLER_H_
