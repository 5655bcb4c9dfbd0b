// The Profiles service as the Feedback service reads it: BatchGetProfiles in chunks of
// 1,000, falling back to one GetProfile per name to tell which of a chunk are unknown.
#ifndef CENTRIC_SERVICES_FEEDBACK_PROFILE_SOURCE_H_
#define CENTRIC_SERVICES_FEEDBACK_PROFILE_SOURCE_H_

#include <memory>

#include "centric/profiles/v1/profiles_service.grpc.pb.h"
#include "services/feedback/feedback_service.h"

namespace centric::feedback {

class GrpcProfileSource final : public ProfileSource {
 public:
  explicit GrpcProfileSource(std::unique_ptr<profiles::v1::Profiles::StubInterface> stub)
      : stub_(std::move(stub)) {}
  absl::StatusOr<std::vector<std::optional<profiles::v1::Profile>>> Get(
      const std::vector<std::string>& names, absl::Time deadline) override;

 private:
  std::unique_ptr<profiles::v1::Profiles::StubInterface> stub_;
};

}  // namespace centric::feedback

#endif  // CENTRIC_SERVICES_FEEDBACK_PROFILE_SOURCE_H_
