// The README demo: a client that creates a few profiles in a running centricd, records
// their purchases and prints them.
#ifndef CENTRIC_SERVICES_CENTRICD_DEMO_H_
#define CENTRIC_SERVICES_CENTRICD_DEMO_H_

#include <string>

#include "absl/status/status.h"

namespace centric::demo {

// Idempotent: re-running against the same database returns the same profiles (the
// creates carry request ids and the interactions event ids). Prints each profile as JSON.
absl::Status RunProfilesDemo(const std::string& address);

}  // namespace centric::demo

#endif  // CENTRIC_SERVICES_CENTRICD_DEMO_H_
