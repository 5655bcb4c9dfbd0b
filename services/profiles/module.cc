#include "services/profiles/module.h"

#include "libs/runtime/log.h"
#include "libs/security/channels.h"
#include "services/profiles/profile_store.h"

namespace centric::profiles {

ProfilesModule::ProfilesModule(app::Infrastructure& infra, bool standalone)
    : infra_(infra), standalone_(standalone) {}

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
  deps.export_sources = &export_sources_;
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

void ProfilesModule::Serving(const runtime::Server& server) {
  const runtime::Config& config = infra_.config;
  auto target = [&](const std::string& configured) {
    return configured.empty() && !standalone_ ? server.address() : configured;
  };
  const std::string segmentation = target(config.segmentation_target);
  const std::string feedback = target(config.feedback_target);
  const std::string reporting = target(config.reporting_target);
  if (segmentation.empty() || feedback.empty() || reporting.empty()) {
    export_sources_.Fail(absl::FailedPreconditionError(
        "ExportProfile needs every service: set --segmentation-target, --feedback-target and "
        "--reporting-target (CENTRIC_SEGMENTATION_TARGET, CENTRIC_FEEDBACK_TARGET, "
        "CENTRIC_REPORTING_TARGET)"));
    runtime::LogWarning("export_unavailable",
                        {{"detail", "ExportProfile needs --segmentation-target, "
                                    "--feedback-target and --reporting-target"}});
    return;
  }
  export_sources_.Connect(std::make_unique<GrpcExportSources>(
      segmentation::v1::Segmentation::NewStub(security::NewChannel(config, segmentation)),
      feedback::v1::Feedback::NewStub(security::NewChannel(config, feedback)),
      reporting::v1::Reporting::NewStub(security::NewChannel(config, reporting))));
  runtime::LogInfo("profiles_serving", {{"segmentation_target", segmentation},
                                        {"feedback_target", feedback},
                                        {"reporting_target", reporting}});
}

void ProfilesModule::Stop() {
  feedback_subscription_.reset();
  if (!stopping_.HasBeenNotified()) stopping_.Notify();
  if (purger_.joinable()) purger_.join();
  if (relay_ != nullptr) relay_->Stop();
}

std::unique_ptr<app::Module> NewProfilesModule(app::Infrastructure& infra) {
  return std::make_unique<ProfilesModule>(infra, /*standalone=*/false);
}

std::unique_ptr<app::Module> NewStandaloneProfilesModule(app::Infrastructure& infra) {
  return std::make_unique<ProfilesModule>(infra, /*standalone=*/true);
}

}  // namespace centric::profiles
