// The README demo: a client that fills a running centricd with a generated population
// (libs/demo: customers of four personas with a year of purchases, support tickets and
// survey invitations) and prints a few of them.
#ifndef CENTRIC_SERVICES_CENTRICD_DEMO_H_
#define CENTRIC_SERVICES_CENTRICD_DEMO_H_

#include <cstdint>
#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "absl/status/status.h"

namespace centric::demo {

// How many profiles the demo creates, and the seed that makes them the same every run.
inline constexpr int kDemoProfiles = 200;
inline constexpr uint64_t kDemoSeed = 42;

// Creates kDemoProfiles generated profiles through the Profiles RPCs and records their
// interactions (the year ending at the start of the current UTC day). Idempotent on the
// same day: the creates carry request ids, existing profiles are reused and the
// interactions carry event ids. Prints the first profile of each persona as JSON and a
// one-line summary. Profiles deleted or erased earlier are skipped and counted.
// `channel` reaches centricd at `address` (printed in the summary) with this process's
// credentials (security::NewChannel).
absl::Status RunProfilesDemo(std::shared_ptr<grpc::Channel> channel, const std::string& address);

}  // namespace centric::demo

#endif  // CENTRIC_SERVICES_CENTRICD_DEMO_H_
