// centric-reporting: the Reporting service on its own (one team's deployment). Consumes
// the suite's events from the bus; --profiles-target, --segmentation-target and
// --feedback-target name the services RebuildRollups reads.
#include "libs/app/app.h"
#include "services/reporting/module.h"

int main(int argc, char** argv) {
  return centric::app::Main(argc, argv, centric::app::Mode::kService,
                            {centric::reporting::NewStandaloneReportingModule});
}
