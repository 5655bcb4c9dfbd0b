// centricd: every Centric service (profiles, segmentation, feedback, reporting) in one
// process, for a newcomer's first run and for small deployments. SQLite file store,
// in-process bus, Redis cache when CENTRIC_REDIS_URL is set. --demo loads the generated
// demo population (libs/demo) once serving and prints a few profiles.
#include "libs/app/app.h"
#include "libs/runtime/log.h"
#include "libs/security/channels.h"
#include "services/centricd/demo.h"
#include "services/feedback/module.h"
#include "services/profiles/module.h"
#include "services/reporting/module.h"
#include "services/segmentation/module.h"

int main(int argc, char** argv) {
  return centric::app::Main(
      argc, argv, centric::app::Mode::kEmbedded,
      {centric::profiles::NewProfilesModule, centric::segmentation::NewSegmentationModule,
       centric::feedback::NewFeedbackModule, centric::reporting::NewReportingModule},
      [](const centric::runtime::Server& server, centric::app::Infrastructure& infra) {
        if (!infra.config.demo) return;
        if (absl::Status s = centric::demo::RunProfilesDemo(
                centric::security::NewChannel(infra.config, server.address()), server.address()); !s.ok()) {
          centric::runtime::LogError("demo_failed", {{"error", s.ToString()}});
        }
      });
}
