// centric-segmentation: the Segmentation service on its own (one team's deployment).
// Needs the Profiles service (--profiles-target) and the event bus it publishes to.
#include "libs/app/app.h"
#include "services/segmentation/module.h"

int main(int argc, char** argv) {
  return centric::app::Main(argc, argv, centric::app::Mode::kService,
                            {centric::segmentation::NewStandaloneSegmentationModule});
}
