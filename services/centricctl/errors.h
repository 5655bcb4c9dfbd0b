// How centricctl reports a failed call: exit codes and the text a person acts on.
#ifndef CENTRIC_SERVICES_CENTRICCTL_ERRORS_H_
#define CENTRIC_SERVICES_CENTRICCTL_ERRORS_H_

#include <grpcpp/grpcpp.h>

#include <string>

namespace centric::ctl {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitNotFound = 3;
inline constexpr int kExitInvalid = 4;
inline constexpr int kExitUnavailable = 5;

// NOT_FOUND → 3; INVALID_ARGUMENT, FAILED_PRECONDITION → 4; UNAVAILABLE,
// DEADLINE_EXCEEDED → 5; OK → 0; anything else → 1.
int ExitCode(grpc::StatusCode code);

// The error's message, then one line "  field: description" per field violation; for
// UNAVAILABLE and DEADLINE_EXCEEDED it names `service` and `target` that could not be
// reached. No trailing newline.
std::string Describe(const grpc::Status& status, const std::string& service,
                     const std::string& target);

}  // namespace centric::ctl

#endif  // CENTRIC_SERVICES_CENTRICCTL_ERRORS_H_
