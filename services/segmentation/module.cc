#include "services/segmentation/module.h"

#include <grpcpp/grpcpp.h>

#include "absl/synchronization/mutex.h"
#include "libs/runtime/log.h"
#include "libs/security/channels.h"

namespace centric::segmentation {

SegmentationModule::SegmentationModule(app::Infrastructure& infra, bool standalone)
    : infra_(infra), standalone_(standalone) {}

SegmentationModule::~SegmentationModule() { Stop(); }

absl::Status SegmentationModule::Start(runtime::Server& server) {
  if (standalone_ && infra_.config.profiles_target.empty()) {
    return absl::InvalidArgumentError(
        "CENTRIC_PROFILES_TARGET (or --profiles-target) is required: the address of the "
        "Profiles service, e.g. dns:///centric-profiles:50051");
  }
  if (absl::Status s = store::Migrate(*infra_.db, "segmentation", SegmentationMigrations());
      !s.ok()) {
    return s;
  }
  engine_ = std::make_unique<Engine>(*infra_.clock);
  relay_ = std::make_unique<events::OutboxRelay>(*infra_.db, "segmentation", *infra_.bus);
  relay_->Start();
  events::RegisterOutboxMetrics(*infra_.metrics, *infra_.db, "segmentation");
  using Type = runtime::MetricsRegistry::Type;
  infra_.metrics->Describe("centric_segmentation_profiles", Type::kGauge,
                           "Profiles held by the segmentation engine.");
  infra_.metrics->Describe("centric_segmentation_segments", Type::kGauge, "Segments evaluated.");
  infra_.metrics->Describe("centric_segmentation_memory_bytes", Type::kGauge,
                           "Bytes held by the engine's columns, dictionary, index and bitmaps.");
  infra_.metrics->Describe("centric_segmentation_ready", Type::kGauge,
                           "1 once every profile has been loaded, 0 while loading.");
  infra_.metrics->AddCollector([engine = engine_.get()](runtime::MetricsRegistry& r) {
    r.Set("centric_segmentation_profiles", {}, static_cast<double>(engine->profile_count()));
    r.Set("centric_segmentation_segments", {}, static_cast<double>(engine->segment_count()));
    r.Set("centric_segmentation_memory_bytes", {}, static_cast<double>(engine->MemoryBytes()));
    r.Set("centric_segmentation_ready", {}, engine->ready() ? 1 : 0);
  });
  SegmentationService::Deps deps;
  deps.db = infra_.db.get();
  deps.engine = engine_.get();
  deps.clock = infra_.clock.get();
  deps.ids = infra_.ids.get();
  deps.after_commit = [relay = relay_.get()] { relay->Wake(); };
  // Personas are written back once the Profiles connection exists (Serving).
  deps.persona_sink = [this](std::vector<PersonaDelta> deltas) {
    if (sync_ != nullptr) sync_->QueuePersonas(std::move(deltas));
  };
  service_ = std::make_unique<SegmentationService>(std::move(deps));
  if (absl::Status s = service_->Load(); !s.ok()) return s;
  grpc_ = std::make_unique<SegmentationGrpcService>(*service_, *infra_.pool);
  server.AddService(grpc_.get(), kSegmentationServiceName);
  return absl::OkStatus();
}

void SegmentationModule::Serving(const runtime::Server& server) {
  std::string target = infra_.config.profiles_target.empty() ? server.address()
                                                             : infra_.config.profiles_target;
  auto channel = security::NewChannel(infra_.config, target);
  ProfileSyncOptions options;
  options.refresh_interval = infra_.config.refresh_interval;
  sync_ = std::make_unique<ProfileSync>(*engine_, *service_, profiles::v1::Profiles::NewStub(channel),
                                        options);
  // Subscribe before loading: events from now on are queued, and the load covers
  // everything earlier.
  subscription_ = infra_.bus->Subscribe(
      {.topic = "profiles", .group = "segmentation", .consumer = app::ConsumerName()},
      [sync = sync_.get()](const events::Event& event) { return sync->HandleEvent(event); });
  sync_->Start();
  runtime::LogInfo("segmentation_loading", {{"profiles_target", target}});
}

void SegmentationModule::Stop() {
  subscription_.reset();
  if (sync_ != nullptr) sync_->Stop();
  if (relay_ != nullptr) relay_->Stop();
}

std::unique_ptr<app::Module> NewSegmentationModule(app::Infrastructure& infra) {
  return std::make_unique<SegmentationModule>(infra, /*standalone=*/false);
}

std::unique_ptr<app::Module> NewStandaloneSegmentationModule(app::Infrastructure& infra) {
  return std::make_unique<SegmentationModule>(infra, /*standalone=*/true);
}

}  // namespace centric::segmentation
