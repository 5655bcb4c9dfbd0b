// The event bus seam: where relayed outbox events go and where consumers read them.
// Delivery is at-least-once on every backend; consumers dedupe by event id
// (see idempotent_consumer.h).
#ifndef CENTRIC_LIBS_EVENTS_BUS_H_
#define CENTRIC_LIBS_EVENTS_BUS_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "centric/events/v1/events.pb.h"
#include "libs/runtime/trace.h"

namespace centric::events {

using centric::events::v1::Event;

// Handles one event, with the event's trace current (TraceOf below). OK acknowledges it;
// any error leaves it unacknowledged, so it is delivered again (to this or another
// consumer of the group).
using Handler = std::function<absl::Status(const Event&)>;

// A running consumer. Destroying it stops delivery (waiting for a handler in progress).
class Subscription {
 public:
  virtual ~Subscription() = default;
};

struct SubscribeOptions {
  // The topic to read: the publishing service, e.g. "profiles".
  std::string topic;
  // Consumers in one group share the work; each event goes to one of them.
  std::string group;
  // This consumer's name within the group (unique per process, e.g. the pod name).
  std::string consumer;
};

// The consumer span of `event`: a new span of the trace in event.traceparent, or the
// root of a new trace when it is empty or invalid. Every Bus runs its handlers (and logs
// their failures) with this trace current (runtime::TraceScope).
runtime::TraceContext TraceOf(const Event& event);

// How far one consumer group is behind on one topic.
struct GroupLag {
  std::string topic;
  std::string group;
  // Events published to the topic that the group has not acknowledged yet: not yet
  // delivered, being handled, or waiting to be delivered again after a failure.
  int64_t events = 0;
};

class Bus {
 public:
  virtual ~Bus() = default;
  // Appends the event to topic `event.source()`. Thread-safe. Errors: UNAVAILABLE,
  // INVALID_ARGUMENT (empty source).
  virtual absl::Status Publish(const Event& event) = 0;
  // Starts a consumer calling `handler` on its own thread. A group exists from its first
  // Subscribe on and receives the events published after that, not earlier ones; it
  // keeps receiving (queueing) while none of its consumers runs. Subscriptions must be
  // destroyed before the bus.
  virtual std::unique_ptr<Subscription> Subscribe(const SubscribeOptions& options,
                                                  Handler handler) = 0;
  // The lag of every group this bus object subscribed, ordered by topic then group.
  // Errors: UNAVAILABLE.
  virtual absl::StatusOr<std::vector<GroupLag>> Lag() = 0;
};

}  // namespace centric::events

#endif  // CENTRIC_LIBS_EVENTS_BUS_H_
