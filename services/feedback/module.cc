#include "services/feedback/module.h"

#include <grpcpp/grpcpp.h>

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "libs/events/idempotent_consumer.h"
#include "libs/runtime/log.h"
#include "libs/security/channels.h"
#include "services/feedback/profile_source.h"

namespace centric::feedback {

// The Profiles connection exists only once the server is bound (centricd calls itself),
// so calls before Serving are UNAVAILABLE.
class FeedbackModule::LateProfileSource final : public ProfileSource {
 public:
  void Connect(std::unique_ptr<ProfileSource> source) {
    absl::MutexLock lock(&mu_);
    source_ = std::move(source);
  }
  absl::StatusOr<std::vector<std::optional<profiles::v1::Profile>>> Get(
      const std::vector<std::string>& names, absl::Time deadline) override {
    ProfileSource* source;
    {
      absl::MutexLock lock(&mu_);
      source = source_.get();
    }
    if (source == nullptr) return absl::UnavailableError("the feedback service is starting");
    return source->Get(names, deadline);
  }

 private:
  absl::Mutex mu_;
  std::unique_ptr<ProfileSource> source_ ABSL_GUARDED_BY(mu_);
};

FeedbackModule::FeedbackModule(app::Infrastructure& infra, bool standalone)
    : infra_(infra), standalone_(standalone), profiles_(std::make_unique<LateProfileSource>()) {}

FeedbackModule::~FeedbackModule() { Stop(); }

absl::Status FeedbackModule::Start(runtime::Server& server) {
  if (standalone_ && infra_.config.profiles_target.empty()) {
    return absl::InvalidArgumentError(
        "CENTRIC_PROFILES_TARGET (or --profiles-target) is required: the address of the "
        "Profiles service, e.g. dns:///centric-profiles:50051");
  }
  if (absl::Status s = store::Migrate(*infra_.db, "feedback", FeedbackMigrations()); !s.ok()) {
    return s;
  }
  if (!infra_.config.themes_file.empty()) {
    std::ifstream in(infra_.config.themes_file);
    if (!in) {
      return absl::InvalidArgumentError(
          absl::StrCat("--themes-file: cannot read \"", infra_.config.themes_file, "\""));
    }
    std::stringstream text;
    text << in.rdbuf();
    auto themes = text::ThemeTaxonomy::Parse(text.str());
    if (!themes.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("--themes-file ", infra_.config.themes_file,
                                                     ": ", themes.status().message()));
    }
    themes_ = std::make_unique<text::ThemeTaxonomy>(std::move(*themes));
  }
  relay_ = std::make_unique<events::OutboxRelay>(*infra_.db, "feedback", *infra_.bus);
  relay_->Start();
  events::RegisterOutboxMetrics(*infra_.metrics, *infra_.db, "feedback");
  FeedbackService::Deps deps;
  deps.db = infra_.db.get();
  deps.clock = infra_.clock.get();
  deps.ids = infra_.ids.get();
  deps.profiles = profiles_.get();
  deps.after_commit = [relay = relay_.get()] { relay->Wake(); };
  if (themes_ != nullptr) deps.themes = themes_.get();
  service_ = std::make_unique<FeedbackService>(std::move(deps));

  using Type = runtime::MetricsRegistry::Type;
  infra_.metrics->Describe("centric_feedback_follow_ups_open", Type::kGauge,
                           "Follow-ups OPEN or CONTACTED, by owner team.");
  infra_.metrics->Describe("centric_feedback_follow_ups_breaching", Type::kGauge,
                           "Open follow-ups that missed an SLA, by owner team.");
  infra_.metrics->AddCollector([db = infra_.db.get()](runtime::MetricsRegistry& r) {
    auto rows = db->Query(
        "SELECT owner_team, COUNT(*), SUM(CASE WHEN breached > 0 THEN 1 ELSE 0 END) FROM "
        "feedback_follow_ups WHERE state IN (1, 2) GROUP BY owner_team");
    if (!rows.ok()) return;
    for (const store::Row& row : *rows) {
      r.Set("centric_feedback_follow_ups_open", {{"team", row.GetString(0)}},
            static_cast<double>(row.GetInt(1)));
      r.Set("centric_feedback_follow_ups_breaching", {{"team", row.GetString(0)}},
            static_cast<double>(row.GetInt(2)));
    }
  });

  auto handler = events::IdempotentHandler(
      *infra_.db, "feedback",
      [service = service_.get()](store::Tx& tx, const events::Event& event) {
        return service->ApplyEvent(tx, event);
      });
  for (const char* topic : {"profiles", "segmentation"}) {
    subscriptions_.push_back(infra_.bus->Subscribe(
        {.topic = topic, .group = "feedback", .consumer = app::ConsumerName()}, handler));
  }
  grpc_ = std::make_unique<FeedbackGrpcService>(*service_, *infra_.pool);
  server.AddService(grpc_.get(), kFeedbackServiceName);
  return absl::OkStatus();
}

void FeedbackModule::Serving(const runtime::Server& server) {
  std::string target = infra_.config.profiles_target.empty() ? server.address()
                                                             : infra_.config.profiles_target;
  auto channel = security::NewChannel(infra_.config, target);
  profiles_->Connect(std::make_unique<GrpcProfileSource>(profiles::v1::Profiles::NewStub(channel)));
  sla_thread_ = std::thread([this] { CheckSlas(); });
  runtime::LogInfo("feedback_serving", {{"profiles_target", target}});
}

void FeedbackModule::CheckSlas() {
  do {
    auto breaches = service_->DetectBreaches(infra_.clock->Now());
    if (!breaches.ok()) {
      runtime::LogWarning("sla_check_failed", {{"error", breaches.status().ToString()}});
    } else if (*breaches > 0) {
      runtime::LogInfo("sla_breaches", {{"count", absl::StrCat(*breaches)}});
    }
  } while (!stopping_.WaitForNotificationWithTimeout(infra_.config.refresh_interval));
}

void FeedbackModule::Stop() {
  if (!stopping_.HasBeenNotified()) stopping_.Notify();
  if (sla_thread_.joinable()) sla_thread_.join();
  subscriptions_.clear();
  if (relay_ != nullptr) relay_->Stop();
}

std::unique_ptr<app::Module> NewFeedbackModule(app::Infrastructure& infra) {
  return std::make_unique<FeedbackModule>(infra, /*standalone=*/false);
}

std::unique_ptr<app::Module> NewStandaloneFeedbackModule(app::Infrastructure& infra) {
  return std::make_unique<FeedbackModule>(infra, /*standalone=*/true);
}

}  // namespace centric::feedback
