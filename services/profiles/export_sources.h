// Where ExportProfile gets the other services' parts: their ExportProfileData over gRPC,
// and the late binding the module needs (the channels exist only once the server
// serves, since centricd calls itself).
#ifndef CENTRIC_SERVICES_PROFILES_EXPORT_SOURCES_H_
#define CENTRIC_SERVICES_PROFILES_EXPORT_SOURCES_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "centric/feedback/v1/feedback_service.grpc.pb.h"
#include "centric/reporting/v1/reporting_service.grpc.pb.h"
#include "centric/segmentation/v1/segmentation_service.grpc.pb.h"
#include "services/profiles/profile_service.h"

namespace centric::profiles {

// The three calls run concurrently, each with the caller's deadline (kDefaultTimeout from
// now when it has none) and the current trace; the answer is all three parts or an
// UNAVAILABLE (reason EXPORT_INCOMPLETE) naming every service that failed, with its
// code and message.
class GrpcExportSources final : public ExportSources {
 public:
  static constexpr absl::Duration kDefaultTimeout = absl::Seconds(30);

  GrpcExportSources(std::unique_ptr<segmentation::v1::Segmentation::StubInterface> segmentation,
                    std::unique_ptr<feedback::v1::Feedback::StubInterface> feedback,
                    std::unique_ptr<reporting::v1::Reporting::StubInterface> reporting)
      : segmentation_(std::move(segmentation)),
        feedback_(std::move(feedback)),
        reporting_(std::move(reporting)) {}

  absl::StatusOr<Parts> Export(const std::string& profile,
                               const std::vector<std::string>& merged_profiles,
                               absl::Time deadline) override;

 private:
  std::unique_ptr<segmentation::v1::Segmentation::StubInterface> segmentation_;
  std::unique_ptr<feedback::v1::Feedback::StubInterface> feedback_;
  std::unique_ptr<reporting::v1::Reporting::StubInterface> reporting_;
};

// Sources connected after construction: until Connect, and after Connect(status), every
// Export fails with that status (UNAVAILABLE while starting; FAILED_PRECONDITION naming
// the missing flags). Thread-safe.
class LateExportSources final : public ExportSources {
 public:
  void Connect(std::unique_ptr<ExportSources> sources);
  // Exports fail with `why` from now on.
  void Fail(absl::Status why);

  absl::StatusOr<Parts> Export(const std::string& profile,
                               const std::vector<std::string>& merged_profiles,
                               absl::Time deadline) override;

 private:
  absl::Mutex mu_;
  std::shared_ptr<ExportSources> sources_ ABSL_GUARDED_BY(mu_);
  absl::Status why_ ABSL_GUARDED_BY(mu_) =
      absl::UnavailableError("the Profiles service is starting; retry shortly");
};

}  // namespace centric::profiles

#endif  // CENTRIC_SERVICES_PROFILES_EXPORT_SOURCES_H_
