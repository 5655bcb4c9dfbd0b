#include "services/feedback/profile_source.h"

#include <algorithm>
#include <chrono>

#include "libs/runtime/grpc_status.h"
#include "libs/runtime/handler.h"

namespace centric::feedback {
namespace {

namespace pv1 = ::centric::profiles::v1;

constexpr size_t kBatch = 1000;
// Used when the caller has no deadline.
constexpr absl::Duration kDefaultTimeout = absl::Seconds(10);

// Deadline and trace of an outgoing call.
void Prepare(grpc::ClientContext& context, absl::Time deadline) {
  if (deadline == absl::InfiniteFuture()) deadline = absl::Now() + kDefaultTimeout;
  context.set_deadline(absl::ToChronoTime(deadline));
  runtime::PropagateTrace(context);
}

}  // namespace

absl::StatusOr<std::vector<std::optional<pv1::Profile>>> GrpcProfileSource::Get(
    const std::vector<std::string>& names, absl::Time deadline) {
  std::vector<std::optional<pv1::Profile>> out(names.size());
  for (size_t start = 0; start < names.size(); start += kBatch) {
    size_t end = std::min(names.size(), start + kBatch);
    pv1::BatchGetProfilesRequest request;
    for (size_t i = start; i < end; ++i) request.add_names(names[i]);
    pv1::BatchGetProfilesResponse response;
    grpc::ClientContext context;
    Prepare(context, deadline);
    grpc::Status status = stub_->BatchGetProfiles(&context, request, &response);
    if (status.ok() && response.profiles_size() == static_cast<int>(end - start)) {
      for (size_t i = start; i < end; ++i) out[i] = std::move(*response.mutable_profiles(i - start));
      continue;
    }
    if (status.error_code() != grpc::StatusCode::NOT_FOUND) {
      return runtime::FromGrpcStatus(status);
    }
    // Some name is unknown: ask one by one.
    for (size_t i = start; i < end; ++i) {
      pv1::GetProfileRequest get;
      get.set_name(names[i]);
      pv1::Profile profile;
      grpc::ClientContext one;
      Prepare(one, deadline);
      grpc::Status s = stub_->GetProfile(&one, get, &profile);
      if (s.ok()) {
        out[i] = std::move(profile);
      } else if (s.error_code() != grpc::StatusCode::NOT_FOUND) {
        return runtime::FromGrpcStatus(s);
      }
    }
  }
  return out;
}

}  // namespace centric::feedback
