#include "libs/runtime/grpc_status.h"

#include "absl/strings/ascii.h"
#include "absl/strings/cord.h"
#include "google/rpc/error_details.pb.h"
#include "libs/runtime/errors.h"

namespace centric::runtime {

grpc::Status ToGrpcStatus(const absl::Status& status, absl::string_view domain) {
  if (status.ok()) return grpc::Status::OK;
  google::rpc::Status rich;
  rich.set_code(static_cast<int>(status.code()));
  rich.set_message(std::string(status.message()));

  google::rpc::ErrorInfo info;
  std::string reason = Reason(status);
  if (reason.empty()) reason = absl::AsciiStrToUpper(absl::StatusCodeToString(status.code()));
  info.set_reason(reason);
  info.set_domain(std::string(domain));
  rich.add_details()->PackFrom(info);

  std::vector<FieldViolation> violations = FieldViolations(status);
  if (!violations.empty()) {
    google::rpc::BadRequest bad_request;
    for (const FieldViolation& v : violations) {
      auto* out = bad_request.add_field_violations();
      out->set_field(v.field);
      out->set_description(v.description);
    }
    rich.add_details()->PackFrom(bad_request);
  }
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      std::string(status.message()), rich.SerializeAsString());
}

google::rpc::Status RichStatus(const grpc::Status& status) {
  google::rpc::Status rich;
  if (!status.error_details().empty()) rich.ParseFromString(status.error_details());
  return rich;
}

absl::Status FromGrpcStatus(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  absl::Status out(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
  google::rpc::Status rich = RichStatus(status);
  for (const auto& detail : rich.details()) {
    google::rpc::ErrorInfo info;
    google::rpc::BadRequest bad_request;
    if (detail.UnpackTo(&info)) {
      out = WithReason(out, info.reason());
    } else if (detail.UnpackTo(&bad_request)) {
      out.SetPayload("type.googleapis.com/google.rpc.BadRequest",
                     absl::Cord(bad_request.SerializeAsString()));
    }
  }
  return out;
}

}  // namespace centric::runtime
