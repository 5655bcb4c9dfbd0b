#include "services/centricctl/errors.h"

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "libs/runtime/errors.h"
#include "libs/runtime/grpc_status.h"

namespace centric::ctl {

int ExitCode(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK:
      return kExitOk;
    case grpc::StatusCode::NOT_FOUND:
      return kExitNotFound;
    case grpc::StatusCode::INVALID_ARGUMENT:
    case grpc::StatusCode::FAILED_PRECONDITION:
      return kExitInvalid;
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return kExitUnavailable;
    default:
      return kExitFailure;
  }
}

std::string Describe(const grpc::Status& status, const std::string& service,
                     const std::string& target) {
  if (ExitCode(status.error_code()) == kExitUnavailable) {
    return absl::StrCat("could not reach the ", service, " service at ", target, ": ",
                        status.error_message(),
                        " (check --target or --", service, "-target)");
  }
  absl::Status rich = runtime::FromGrpcStatus(status);
  std::vector<runtime::FieldViolation> violations = runtime::FieldViolations(rich);
  std::string code = absl::StatusCodeToString(rich.code());
  // With violations the message only repeats them, so the code heads the list instead.
  std::string text = violations.empty() ? status.error_message()
                                        : absl::StrCat(absl::AsciiStrToLower(code), ":");
  std::string reason = runtime::Reason(rich);
  if (!reason.empty() && reason != code) absl::StrAppend(&text, " [", reason, "]");
  for (const runtime::FieldViolation& violation : violations) {
    absl::StrAppend(&text, "\n  ", violation.field, ": ", violation.description);
  }
  return text;
}

}  // namespace centric::ctl
