#include "services/profiles/module.h"

#include "libs/runtime/log.h"
#include "services/profiles/profile_store.h"

namespace centric::profiles {

ProfilesModule::ProfilesModule(app::Infrastructure& infra) : infra_(infra) {}

ProfilesModule::~ProfilesModule() { Stop(); }

absl::Status ProfilesModule::Start(runtime::Server& server) {
  if (absl::Status s = store::Migrate(*infra_.db, "profiles", ProfilesMigrations()); !s.ok()) {
    return s;
  }
  relay_ = std::make_unique<events::OutboxRelay>(*infra_.db, "profiles", *infra_.bus);
  relay_->Start();
  events::RegisterOutboxMetrics(*infra_.metrics, *infra_.db, "profiles");
  ProfileService::Deps deps;
  deps.db = infra_.db.get();
  deps.cache = infra_.cache.get();
  deps.clock = infra_.clock.get();
  deps.ids = infra_.ids.get();
  deps.after_commit = [relay = relay_.get()] { relay->Wake(); };
  service_ = std::make_unique<ProfileService>(std::move(deps));
  // Feedback figures of the aggregates (last NPS and CSAT answers, open follow-ups).
  feedback_subscription_ = infra_.bus->Subscribe(
      {.topic = "feedback", .group = "profiles", .consumer = app::ConsumerName()},
      [service = service_.get()](const events::Event& event) {
        return service->HandleFeedbackEvent(event);
      });
  grpc_ = std::make_unique<ProfilesGrpcService>(*service_, *infra_.pool);
  server.AddService(grpc_.get(), kProfilesServiceName);
  purger_ = std::thread([this] {
    while (!stopping_.WaitForNotificationWithTimeout(absl::Hours(1))) {
      auto purged = service_->PurgeExpiredRequests();
      if (!purged.ok()) {
        runtime::LogWarning("request_purge_failed", {{"error", purged.status().ToString()}});
      }
    }
  });
  return absl::OkStatus();
}

void ProfilesModule::Stop() {
  feedback_subscription_.reset();
  if (!stopping_.HasBeenNotified()) stopping_.Notify();
  if (purger_.joinable()) purger_.join();
  if (relay_ != nullptr) relay_->Stop();
}

std::unique_ptr<app::Module> NewProfilesModule(app::Infrastructure& infra) {
  return std::make_unique<ProfilesModule>(infra);
}

}  // namespace centric::profiles
