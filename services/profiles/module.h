// The Profiles service as a module of a binary (centric-profiles or centricd).
#ifndef CENTRIC_SERVICES_PROFILES_MODULE_H_
#define CENTRIC_SERVICES_PROFILES_MODULE_H_

#include <memory>
#include <thread>

#include "absl/synchronization/notification.h"
#include "libs/app/app.h"
#include "libs/events/outbox.h"
#include "services/profiles/export_sources.h"
#include "services/profiles/grpc_service.h"
#include "services/profiles/profile_service.h"

namespace centric::profiles {

class ProfilesModule : public app::Module {
 public:
  // `standalone`: the other services run elsewhere (--segmentation-target,
  // --feedback-target, --reporting-target name them for ExportProfile); otherwise
  // (centricd) they are this process.
  ProfilesModule(app::Infrastructure& infra, bool standalone);
  ~ProfilesModule() override;
  // Migrates the profiles schema, starts the outbox relay and the hourly purge of old
  // request ids, subscribes to the Feedback service's events (topic "feedback", group
  // "profiles"), registers centric.profiles.v1.Profiles.
  absl::Status Start(runtime::Server& server) override;
  // Connects ExportProfile to the other services (their targets, or this process). A
  // standalone binary without all three targets serves everything but ExportProfile,
  // which then fails FAILED_PRECONDITION naming the missing flags.
  void Serving(const runtime::Server& server) override;
  void Stop() override;

  ProfileService& service() { return *service_; }

 private:
  app::Infrastructure& infra_;
  bool standalone_;
  LateExportSources export_sources_;
  std::unique_ptr<events::OutboxRelay> relay_;
  std::unique_ptr<ProfileService> service_;
  std::unique_ptr<ProfilesGrpcService> grpc_;
  std::unique_ptr<events::Subscription> feedback_subscription_;
  absl::Notification stopping_;
  std::thread purger_;
};

std::unique_ptr<app::Module> NewProfilesModule(app::Infrastructure& infra);
std::unique_ptr<app::Module> NewStandaloneProfilesModule(app::Infrastructure& infra);

}  // namespace centric::profiles

#endif  // CENTRIC_SERVICES_PROFILES_MODULE_H_
