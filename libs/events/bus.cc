#include "libs/events/bus.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/cord.h"

namespace centric::events {

runtime::TraceContext TraceOf(const Event& event) {
  return runtime::ChildSpanOf(runtime::ParseTraceparent(event.traceparent()));
}

namespace {
constexpr char kPoisonPayload[] = "type.centric.dev/events.poison";
}  // namespace

absl::Duration RetryDelay(const RetryPolicy& policy, int failures, double u) {
  const double exponent = std::max(0, failures - 1);
  // Capped before multiplying so that many failures never overflow.
  const double cap = absl::ToDoubleSeconds(policy.max_backoff);
  const double seconds =
      std::min(cap, absl::ToDoubleSeconds(policy.initial_backoff) *
                        std::pow(std::max(1.0, policy.multiplier), std::min(exponent, 64.0)));
  return absl::Seconds(seconds * (0.5 + 0.5 * std::clamp(u, 0.0, 1.0)));
}

absl::Status PoisonError(absl::string_view message) {
  absl::Status status = absl::InvalidArgumentError(message);
  status.SetPayload(kPoisonPayload, absl::Cord("1"));
  return status;
}

bool IsPoison(const absl::Status& status) {
  return status.GetPayload(kPoisonPayload).has_value();
}

}  // namespace centric::events
