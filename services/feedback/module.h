// The Feedback service as a module of a binary (centric-feedback or centricd).
#ifndef CENTRIC_SERVICES_FEEDBACK_MODULE_H_
#define CENTRIC_SERVICES_FEEDBACK_MODULE_H_

#include <memory>
#include <thread>

#include "absl/synchronization/notification.h"
#include "libs/app/app.h"
#include "libs/events/outbox.h"
#include "services/feedback/feedback_service.h"
#include "services/feedback/grpc_service.h"

namespace centric::feedback {

class FeedbackModule : public app::Module {
 public:
  // `standalone`: the Profiles service runs elsewhere, so --profiles-target is required;
  // otherwise (centricd) it defaults to this process.
  FeedbackModule(app::Infrastructure& infra, bool standalone);
  ~FeedbackModule() override;
  // Migrates the feedback schema, starts the outbox relay, subscribes to profile and
  // segmentation events, registers the gRPC service and the metrics.
  absl::Status Start(runtime::Server& server) override;
  // Connects to the Profiles service and starts checking SLAs every --refresh-interval.
  void Serving(const runtime::Server& server) override;
  void Stop() override;

 private:
  class LateProfileSource;
  void CheckSlas();

  app::Infrastructure& infra_;
  bool standalone_;
  std::unique_ptr<LateProfileSource> profiles_;
  // The taxonomy of --themes-file (the built-in one when unset).
  std::unique_ptr<text::ThemeTaxonomy> themes_;
  std::unique_ptr<events::OutboxRelay> relay_;
  std::unique_ptr<FeedbackService> service_;
  std::unique_ptr<FeedbackGrpcService> grpc_;
  std::vector<std::unique_ptr<events::Subscription>> subscriptions_;
  absl::Notification stopping_;
  std::thread sla_thread_;
};

std::unique_ptr<app::Module> NewFeedbackModule(app::Infrastructure& infra);
std::unique_ptr<app::Module> NewStandaloneFeedbackModule(app::Infrastructure& infra);

}  // namespace centric::feedback

#endif  // CENTRIC_SERVICES_FEEDBACK_MODULE_H_
