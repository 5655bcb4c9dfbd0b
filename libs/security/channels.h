// Credentials of both ends of a gRPC connection, from the process configuration
// (runtime::Config: --insecure, --tls-cert/--tls-key/--tls-ca, --client-token-file,
// --grpc-service-config). Every server and every client of a sibling service goes
// through here, so one flag secures all of a process's connections.
#ifndef CENTRIC_LIBS_SECURITY_CHANNELS_H_
#define CENTRIC_LIBS_SECURITY_CHANNELS_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "libs/runtime/config.h"

namespace centric::security {

// Refuses a configuration with no transport security unless --insecure says so.
// Errors: INVALID_ARGUMENT naming the flags to set; a file that cannot be read.
absl::Status CheckTransportSecurity(const runtime::Config& config);

// TLS with this process's certificate; with --tls-ca, client certificates are requested
// and verified against it (callers without one may still present a bearer token).
// Plain text with --insecure. Errors: a certificate or key file cannot be read.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ServerCredentials(
    const runtime::Config& config);

// A channel to a sibling service: TLS verified against --tls-ca presenting this
// process's certificate (plain text with --insecure), the --client-token-file token on
// every call, round-robin balancing, responses up to runtime::kMaxResponseBytes and the
// --grpc-service-config service config when set. Never fails: a file that cannot be read
// makes every call fail UNAVAILABLE or UNAUTHENTICATED, with the reason logged once.
std::shared_ptr<grpc::Channel> NewChannel(const runtime::Config& config, const std::string& target);

// Reads a whole file. Errors: NOT_FOUND / PERMISSION_DENIED naming the path.
absl::StatusOr<std::string> ReadFile(const std::string& path);

}  // namespace centric::security

#endif  // CENTRIC_LIBS_SECURITY_CHANNELS_H_
