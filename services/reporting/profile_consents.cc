#include "services/reporting/profile_consents.h"

#include <grpcpp/grpcpp.h>

#include <utility>

#include "libs/runtime/errors.h"
#include "libs/runtime/grpc_status.h"
#include "libs/runtime/handler.h"

namespace centric::reporting {
namespace {

namespace pv1 = ::centric::profiles::v1;

constexpr absl::Duration kDefaultTimeout = absl::Seconds(5);

}  // namespace

void ProfileConsents::Connect(std::unique_ptr<pv1::Profiles::StubInterface> stub) {
  absl::MutexLock lock(&mu_);
  connected_ = true;
  stub_ = std::move(stub);
}

absl::StatusOr<std::vector<pv1::Consent>> ProfileConsents::Get(const std::string& profile,
                                                               absl::Time deadline) {
  std::shared_ptr<pv1::Profiles::StubInterface> stub;
  {
    absl::MutexLock lock(&mu_);
    if (!connected_) return absl::UnavailableError("the reporting service is starting");
    stub = stub_;
  }
  if (stub == nullptr) {
    return runtime::Error(absl::StatusCode::kFailedPrecondition, "CONSENTS_UNAVAILABLE",
                          "consents are read from the Profiles service: set --profiles-target "
                          "(CENTRIC_PROFILES_TARGET)");
  }
  if (deadline == absl::InfiniteFuture()) deadline = absl::Now() + kDefaultTimeout;
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(deadline));
  runtime::PropagateTrace(context);
  pv1::GetProfileRequest request;
  request.set_name(profile);
  pv1::Profile found;
  grpc::Status status = stub->GetProfile(&context, request, &found);
  if (status.error_code() == grpc::StatusCode::NOT_FOUND) return std::vector<pv1::Consent>{};
  if (!status.ok()) return runtime::FromGrpcStatus(status);
  return std::vector<pv1::Consent>(found.consents().begin(), found.consents().end());
}

}  // namespace centric::reporting
