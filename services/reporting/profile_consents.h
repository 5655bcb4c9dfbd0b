// The consents of one profile as the Profiles service holds them at the time of the
// call, for experiments with a consent purpose (experiments/experiments.h,
// Experiments::Deps::consents). Read with GetProfile: Reporting holds no pii:read scope,
// so the Profiles service redacts the personal fields before they leave it, and nothing
// but the consents is kept, for the length of the call.
#ifndef CENTRIC_SERVICES_REPORTING_PROFILE_CONSENTS_H_
#define CENTRIC_SERVICES_REPORTING_PROFILE_CONSENTS_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "centric/profiles/v1/profiles_service.grpc.pb.h"

namespace centric::reporting {

class ProfileConsents {
 public:
  // The Profiles connection exists only once the server is bound (centricd calls
  // itself). A null `stub`: this Reporting has no Profiles service (no
  // --profiles-target). Thread-safe.
  void Connect(std::unique_ptr<profiles::v1::Profiles::StubInterface> stub);

  // The consents of `profile` ("profiles/{id}"): the survivor's for a merged name, none
  // for an unknown or erased profile. `deadline` InfiniteFuture means 5 seconds.
  // Errors: UNAVAILABLE (before Connect, or from Profiles), DEADLINE_EXCEEDED,
  // FAILED_PRECONDITION (connected to no Profiles service), Profiles' other errors.
  absl::StatusOr<std::vector<profiles::v1::Consent>> Get(const std::string& profile,
                                                         absl::Time deadline);

 private:
  absl::Mutex mu_;
  bool connected_ ABSL_GUARDED_BY(mu_) = false;
  std::shared_ptr<profiles::v1::Profiles::StubInterface> stub_ ABSL_GUARDED_BY(mu_);
};

}  // namespace centric::reporting

#endif  // CENTRIC_SERVICES_REPORTING_PROFILE_CONSENTS_H_
