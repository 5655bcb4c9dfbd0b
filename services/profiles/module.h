// The Profiles service as a module of a binary (centric-profiles or centricd).
#ifndef CENTRIC_SERVICES_PROFILES_MODULE_H_
#define CENTRIC_SERVICES_PROFILES_MODULE_H_

#include <memory>
#include <thread>

#include "absl/synchronization/notification.h"
#include "libs/app/app.h"
#include "libs/events/outbox.h"
#include "services/profiles/grpc_service.h"
#include "services/profiles/profile_service.h"

namespace centric::profiles {

class ProfilesModule : public app::Module {
 public:
  explicit ProfilesModule(app::Infrastructure& infra);
  ~ProfilesModule() override;
  // Migrates the profiles schema, starts the outbox relay and the hourly purge of old
  // request ids, subscribes to the Feedback service's events (topic "feedback", group
  // "profiles"), registers centric.profiles.v1.Profiles.
  absl::Status Start(runtime::Server& server) override;
  void Stop() override;

  ProfileService& service() { return *service_; }

 private:
  app::Infrastructure& infra_;
  std::unique_ptr<events::OutboxRelay> relay_;
  std::unique_ptr<ProfileService> service_;
  std::unique_ptr<ProfilesGrpcService> grpc_;
  std::unique_ptr<events::Subscription> feedback_subscription_;
  absl::Notification stopping_;
  std::thread purger_;
};

std::unique_ptr<app::Module> NewProfilesModule(app::Infrastructure& infra);

}  // namespace centric::profiles

#endif  // CENTRIC_SERVICES_PROFILES_MODULE_H_
