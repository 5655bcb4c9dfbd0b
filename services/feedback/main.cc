// centric-feedback: the Feedback service on its own (one team's deployment). Needs the
// Profiles service (--profiles-target) and the event bus the suite publishes to.
#include "libs/app/app.h"
#include "services/feedback/module.h"

int main(int argc, char** argv) {
  return centric::app::Main(argc, argv, centric::app::Mode::kService,
                            {centric::feedback::NewStandaloneFeedbackModule});
}
