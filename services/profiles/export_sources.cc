#include "services/profiles/export_sources.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/blocking_counter.h"
#include "libs/runtime/errors.h"
#include "libs/runtime/handler.h"

namespace centric::profiles {
namespace {

// One outgoing ExportProfileData call and what came back.
template <typename Request, typename Response>
struct Call {
  explicit Call(const char* service) : service(service) {}
  const char* service;
  grpc::ClientContext context;
  Request request;
  Response response;
  grpc::Status status;
};

template <typename Request>
void Fill(Request& request, const std::string& profile, const std::vector<std::string>& merged) {
  request.set_profile(profile);
  for (const std::string& name : merged) request.add_merged_profiles(name);
}

}  // namespace

absl::StatusOr<ExportSources::Parts> GrpcExportSources::Export(
    const std::string& profile, const std::vector<std::string>& merged_profiles,
    absl::Time deadline) {
  if (deadline == absl::InfiniteFuture()) deadline = absl::Now() + kDefaultTimeout;
  Call<segmentation::v1::ExportProfileDataRequest, segmentation::v1::ExportProfileDataResponse>
      segmentation("segmentation");
  Call<feedback::v1::ExportProfileDataRequest, feedback::v1::ExportProfileDataResponse> feedback(
      "feedback");
  Call<reporting::v1::ExportProfileDataRequest, reporting::v1::ExportProfileDataResponse> reporting(
      "reporting");
  absl::BlockingCounter pending(3);
  auto start = [&](auto& call, auto* async) {
    call.context.set_deadline(absl::ToChronoTime(deadline));
    runtime::PropagateTrace(call.context);
    Fill(call.request, profile, merged_profiles);
    async->ExportProfileData(&call.context, &call.request, &call.response,
                             [&call, &pending](grpc::Status status) {
                               call.status = std::move(status);
                               pending.DecrementCount();
                             });
  };
  start(segmentation, segmentation_->async());
  start(feedback, feedback_->async());
  start(reporting, reporting_->async());
  pending.Wait();  // every call ends by the deadline at the latest

  std::vector<std::string> failures;
  auto check = [&](const auto& call) {
    if (call.status.ok()) return;
    failures.push_back(absl::StrCat(
        call.service, " (",
        absl::StatusCodeToString(static_cast<absl::StatusCode>(call.status.error_code())), ": ",
        call.status.error_message(), ")"));
  };
  check(segmentation);
  check(feedback);
  check(reporting);
  if (!failures.empty()) {
    return runtime::Error(
        absl::StatusCode::kUnavailable, "EXPORT_INCOMPLETE",
        absl::StrCat("the export of ", profile, " is incomplete without ",
                     absl::StrJoin(failures, " and "),
                     "; nothing is returned rather than part of it, retry when the service "
                     "answers"));
  }
  Parts parts;
  parts.segmentation.PackFrom(segmentation.response);
  parts.feedback.PackFrom(feedback.response);
  parts.reporting.PackFrom(reporting.response);
  return parts;
}

void LateExportSources::Connect(std::unique_ptr<ExportSources> sources) {
  absl::MutexLock lock(&mu_);
  sources_ = std::move(sources);
}

void LateExportSources::Fail(absl::Status why) {
  absl::MutexLock lock(&mu_);
  sources_.reset();
  why_ = std::move(why);
}

absl::StatusOr<ExportSources::Parts> LateExportSources::Export(
    const std::string& profile, const std::vector<std::string>& merged_profiles,
    absl::Time deadline) {
  std::shared_ptr<ExportSources> sources;
  {
    absl::MutexLock lock(&mu_);
    if (sources_ == nullptr) return why_;
    sources = sources_;
  }
  return sources->Export(profile, merged_profiles, deadline);
}

}  // namespace centric::profiles
