// centric-profiles: the Profiles service alone, as Kubernetes runs it.
#include "libs/app/app.h"
#include "services/profiles/module.h"

int main(int argc, char** argv) {
  return centric::app::Main(argc, argv, centric::app::Mode::kService,
                            {centric::profiles::NewStandaloneProfilesModule});
}
