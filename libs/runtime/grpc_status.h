// The one mapping from absl::Status to grpc::Status used by every handler.
#ifndef CENTRIC_LIBS_RUNTIME_GRPC_STATUS_H_
#define CENTRIC_LIBS_RUNTIME_GRPC_STATUS_H_

#include <grpcpp/grpcpp.h>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "google/rpc/status.pb.h"

namespace centric::runtime {

// Same code and message; details hold a google.rpc.Status with an ErrorInfo (always:
// the status's reason, or the code's name; `domain` e.g. "profiles.centric.dev") and a
// BadRequest when the status has field violations.
grpc::Status ToGrpcStatus(const absl::Status& status, absl::string_view domain);

// Client side: the google.rpc.Status in a grpc::Status's details (empty if none).
google::rpc::Status RichStatus(const grpc::Status& status);

// The reverse mapping for callers of other services: code and message, with ErrorInfo
// and BadRequest payloads restored.
absl::Status FromGrpcStatus(const grpc::Status& status);

}  // namespace centric::runtime

#endif  // CENTRIC_LIBS_RUNTIME_GRPC_STATUS_H_
