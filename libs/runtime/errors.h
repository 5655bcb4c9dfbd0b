// Rich errors without gRPC: domain and storage code build absl::Status values that carry
// a machine-readable reason (google.rpc.ErrorInfo) and field violations
// (google.rpc.BadRequest) as payloads. grpc_status.h turns them into grpc::Status.
#ifndef CENTRIC_LIBS_RUNTIME_ERRORS_H_
#define CENTRIC_LIBS_RUNTIME_ERRORS_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace centric::runtime {

struct FieldViolation {
  // Path of the bad field as the caller wrote it, e.g. "profile.identities[2].value".
  std::string field;
  // What is wrong and what is allowed, e.g. "must be at most 256 bytes, got 300".
  std::string description;
};

// INVALID_ARGUMENT carrying every violation; the message lists them all.
absl::Status InvalidArgument(std::vector<FieldViolation> violations);
absl::Status InvalidField(absl::string_view field, absl::string_view description);

// Attaches field violations (google.rpc.BadRequest) to a status of any code, e.g. an
// ALREADY_EXISTS that names the field holding the taken value.
absl::Status WithViolations(absl::Status status, const std::vector<FieldViolation>& violations);

// Attaches ErrorInfo.reason (UPPER_SNAKE_CASE, e.g. "PROFILE_NOT_FOUND") to `status`.
absl::Status WithReason(absl::Status status, absl::string_view reason);

// Builds a status with a reason in one go.
absl::Status Error(absl::StatusCode code, absl::string_view reason, absl::string_view message);

// What a status carries; empty when absent.
std::vector<FieldViolation> FieldViolations(const absl::Status& status);
std::string Reason(const absl::Status& status);

}  // namespace centric::runtime

#endif  // CENTRIC_LIBS_RUNTIME_ERRORS_H_
