// The security interceptor every server installs (libs/app): authenticates the caller
// (verified client certificate, else bearer token), authorizes the method against the
// policy and the scopes the method declares, applies the caller's rate limit, redacts
// personal data from responses for callers without pii:read, and appends an audit
// record for every write and every read of personal data. Refusals are logged and
// recorded in runtime::RecordAdmission for the handler to return.
#ifndef CENTRIC_LIBS_SECURITY_GUARD_H_
#define CENTRIC_LIBS_SECURITY_GUARD_H_

#include <grpcpp/grpcpp.h>
#include <grpcpp/support/server_interceptor.h>

#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "libs/runtime/admission.h"
#include "libs/runtime/config.h"
#include "libs/security/audit.h"
#include "libs/security/policy.h"
#include "libs/security/tokens.h"
#include "libs/security/watched_file.h"

namespace centric::security {

// The caller of an unauthenticated --insecure process without a policy, holding every
// scope.
inline constexpr absl::string_view kLocalDeveloper = "local-dev";

// How a call presented itself.
struct Credentials {
  // The verified client certificate's subject common name ("" without one).
  std::string certificate_name;
  // The bearer token of the "authorization" metadata ("" without one).
  std::string bearer_token;
  // The connection is TLS.
  bool tls = false;
};

class Guard {
 public:
  // Reads --tokens-file and --policy-file. Errors: INVALID_ARGUMENT for a file that
  // does not parse or a missing --policy-file without --insecure; a file that cannot be
  // read.
  static absl::StatusOr<std::unique_ptr<Guard>> Open(const runtime::Config& config);

  // Where audit records go; none are written until set. Call before serving.
  void SetAuditLog(AuditLog* audit) { audit_ = audit; }
  AuditLog* audit_log() const { return audit_; }

  // The decision for a call of `method` ("/package.Service/Method"). Consumes one unit
  // of the caller's rate limit when admitted.
  struct Decision {
    absl::Status status;
    runtime::Caller caller;
  };
  Decision Admit(absl::string_view method, const Credentials& credentials);

  // The interceptor factory to give the server (runtime::ServerOptions::interceptors).
  std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> NewInterceptorFactory();

  // Dev mode: --insecure without a policy; every caller holds every scope.
  bool open_access() const { return policy_ == nullptr; }

 private:
  Guard() = default;
  bool TakeRateToken(const std::string& caller, const v1::RateLimit& limit);

  bool insecure_ = false;
  std::unique_ptr<WatchedFile<TokenTable>> tokens_;
  std::unique_ptr<WatchedFile<Policy>> policy_;
  AuditLog* audit_ = nullptr;

  struct Bucket {
    double tokens = 0;
    absl::Time refilled;
  };
  absl::Mutex buckets_mu_;
  std::map<std::string, Bucket> buckets_ ABSL_GUARDED_BY(buckets_mu_);
};

}  // namespace centric::security

#endif  // CENTRIC_LIBS_SECURITY_GUARD_H_
