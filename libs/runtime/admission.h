// Whether a call may run, decided before its handler by the security interceptor
// (libs/security) and read by the handler glue (handler.h) and streaming handlers.
// gRPC 1.51's server interceptors cannot fail a call themselves, so the decision is
// kept here, keyed by the call's context, for the call's lifetime.
#ifndef CENTRIC_LIBS_RUNTIME_ADMISSION_H_
#define CENTRIC_LIBS_RUNTIME_ADMISSION_H_

#include <grpcpp/grpcpp.h>

#include <string>
#include <vector>

#include "absl/status/status.h"

namespace centric::runtime {

// Who made a call, once authenticated.
struct Caller {
  std::string name;
  std::vector<std::string> scopes;
  bool HasScope(const std::string& scope) const;
};

// Records the decision for a call (an error refuses it: UNAUTHENTICATED,
// PERMISSION_DENIED, RESOURCE_EXHAUSTED, UNAVAILABLE).
void RecordAdmission(const grpc::ServerContextBase* context, absl::Status decision, Caller caller);
// Drops the record when the call ends.
void ForgetAdmission(const grpc::ServerContextBase* context);

// From then on, a call with no recorded decision is refused (INTERNAL): set by a server
// that installs the security interceptor, so a call it did not see cannot slip through.
void RequireAdmission(bool required);

// The decision for the call: OK when admitted (or when no decision is required and none
// was recorded). Handlers return it instead of doing any work when it is an error.
absl::Status AdmissionOf(const grpc::ServerContextBase* context);

// The admitted caller of the call, empty when none was recorded.
Caller CallerOf(const grpc::ServerContextBase* context);

}  // namespace centric::runtime

#endif  // CENTRIC_LIBS_RUNTIME_ADMISSION_H_
