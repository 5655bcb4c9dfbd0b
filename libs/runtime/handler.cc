#include "libs/runtime/handler.h"

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "libs/runtime/admission.h"
#include "libs/runtime/clock.h"
#include "libs/runtime/grpc_status.h"
#include "libs/runtime/log.h"

namespace centric::runtime {

absl::Time DeadlineOf(const grpc::ServerContextBase& context) {
  auto deadline = context.deadline();
  if (deadline == std::chrono::system_clock::time_point::max()) return absl::InfiniteFuture();
  return absl::FromChrono(deadline);
}

void PropagateDeadline(const grpc::ServerContextBase& incoming, grpc::ClientContext& outgoing) {
  absl::Time deadline = DeadlineOf(incoming);
  if (deadline != absl::InfiniteFuture()) outgoing.set_deadline(absl::ToChronoTime(deadline));
}

std::string RequestIdOf(const grpc::ServerContextBase& context) {
  const auto& metadata = context.client_metadata();
  auto it = metadata.find("x-request-id");
  if (it != metadata.end() && !it->second.empty() && it->second.size() <= 128) {
    return std::string(it->second.data(), it->second.size());
  }
  return NewRequestId();
}

std::string NewRequestId() {
  static SystemClock clock;
  static UlidGenerator ids(clock);
  return ids.NewId();
}

TraceContext TraceOf(const grpc::ServerContextBase& context) {
  const auto& metadata = context.client_metadata();
  auto it = metadata.find(std::string(kTraceparentKey));
  if (it == metadata.end()) return ChildSpanOf(std::nullopt);
  return ChildSpanOf(
      ParseTraceparent(absl::string_view(it->second.data(), it->second.size())));
}

void PropagateTrace(grpc::ClientContext& outgoing) {
  if (std::optional<std::string> traceparent = OutgoingTraceparent()) {
    outgoing.AddMetadata(std::string(kTraceparentKey), *traceparent);
  }
}

grpc::Status RefusalStatus(const absl::Status& status, const HandlerEnv& env) {
  return ToGrpcStatus(status, env.error_domain);
}

namespace {

struct RawMethods {
  absl::Mutex mu;
  absl::flat_hash_set<std::string> methods ABSL_GUARDED_BY(mu);
};

RawMethods& Raw() {
  static auto* raw = new RawMethods();
  return *raw;
}

}  // namespace

void MarkRawMethod(absl::string_view method) {
  absl::MutexLock lock(&Raw().mu);
  Raw().methods.insert(std::string(method));
}

bool IsRawMethod(absl::string_view method) {
  absl::ReaderMutexLock lock(&Raw().mu);
  return Raw().methods.contains(method);
}

grpc::ServerUnaryReactor* Unary(grpc::CallbackServerContext* context, const HandlerEnv& env,
                                HandlerWork work) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  env.pool->Schedule([context, reactor, &env, work = std::move(work)] {
    absl::Time deadline = DeadlineOf(*context);
    ScopedRequestId request_id(RequestIdOf(*context));
    TraceScope trace(TraceOf(*context));
    absl::Status status = AdmissionOf(context);
    if (!status.ok()) {
      // Refused by the security interceptor (already logged there).
    } else if (context->IsCancelled() || absl::Now() >= deadline) {
      status = absl::DeadlineExceededError("the call's deadline passed before work started");
    } else {
      status = work(deadline);
    }
    if (!status.ok() && absl::Now() >= deadline &&
        status.code() != absl::StatusCode::kDeadlineExceeded) {
      status = absl::DeadlineExceededError(
          absl::StrCat("deadline exceeded (", status.message(), ")"));
    }
    switch (status.code()) {
      case absl::StatusCode::kInternal:
      case absl::StatusCode::kUnknown:
      case absl::StatusCode::kDataLoss:
        LogError("rpc_failed", {{"code", absl::StatusCodeToString(status.code())},
                                {"message", status.message()}});
        break;
      default:
        break;
    }
    reactor->Finish(ToGrpcStatus(status, env.error_domain));
  });
  return reactor;
}

}  // namespace centric::runtime
