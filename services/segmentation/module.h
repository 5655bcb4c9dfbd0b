// The Segmentation service as a module of a binary (centric-segmentation or centricd).
#ifndef CENTRIC_SERVICES_SEGMENTATION_MODULE_H_
#define CENTRIC_SERVICES_SEGMENTATION_MODULE_H_

#include <memory>

#include "libs/app/app.h"
#include "libs/events/outbox.h"
#include "services/segmentation/engine.h"
#include "services/segmentation/grpc_service.h"
#include "services/segmentation/profile_sync.h"
#include "services/segmentation/segmentation_service.h"

namespace centric::segmentation {

class SegmentationModule : public app::Module {
 public:
  // `standalone`: the Profiles service runs elsewhere, so --profiles-target is required;
  // otherwise (centricd) it defaults to this process.
  SegmentationModule(app::Infrastructure& infra, bool standalone);
  ~SegmentationModule() override;
  // Migrates the segmentation schema, loads segment and persona definitions, starts the
  // outbox relay, subscribes to profile events, registers the gRPC service.
  absl::Status Start(runtime::Server& server) override;
  // Connects to the Profiles service (--profiles-target, or this process) and starts
  // loading profiles; segments are BUILDING until that finishes.
  void Serving(const runtime::Server& server) override;
  void Stop() override;

  Engine& engine() { return *engine_; }

 private:
  app::Infrastructure& infra_;
  bool standalone_;
  std::unique_ptr<Engine> engine_;
  std::unique_ptr<events::OutboxRelay> relay_;
  std::unique_ptr<SegmentationService> service_;
  std::unique_ptr<SegmentationGrpcService> grpc_;
  std::unique_ptr<ProfileSync> sync_;
  std::unique_ptr<events::Subscription> subscription_;
};

std::unique_ptr<app::Module> NewSegmentationModule(app::Infrastructure& infra);
std::unique_ptr<app::Module> NewStandaloneSegmentationModule(app::Infrastructure& infra);

}  // namespace centric::segmentation

#endif  // CENTRIC_SERVICES_SEGMENTATION_MODULE_H_
