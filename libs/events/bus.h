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
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "centric/events/v1/events.pb.h"
#include "libs/runtime/trace.h"

namespace centric::events {

using centric::events::v1::Event;

// Handles one event, with the event's trace current (TraceOf below). OK acknowledges it;
// any error leaves it unacknowledged, so it is delivered again (to this or another
// consumer of the group) after a back-off (RetryPolicy), until it is dead-lettered.
using Handler = std::function<absl::Status(const Event&)>;

// How every consumer of a bus retries an event its handler failed. The same policy holds
// in every service and on both buses: the wait after the n-th failure is
// min(max_backoff, initial_backoff * multiplier^(n-1)), drawn uniformly from its upper
// half (jitter, so consumers that failed together do not retry together). After
// `max_attempts` failed deliveries the event is moved to the group's dead-letter queue
// (DeadLetter below) and acknowledged; with the defaults that is 10 deliveries over
// 21 to 43 s (0.2 s, 0.4 s, ... 6.4 s, then 10 s apart).
struct RetryPolicy {
  absl::Duration initial_backoff = absl::Milliseconds(200);
  absl::Duration max_backoff = absl::Seconds(10);
  double multiplier = 2.0;
  int max_attempts = 10;
};

// The wait before the next delivery after `failures` (>= 1) failed ones, jittered by `u`
// in [0, 1): in [d/2, d) for the un-jittered delay d.
absl::Duration RetryDelay(const RetryPolicy& policy, int failures, double u);

// What a handler returns for an event no redelivery can fix (a payload that does not
// decode, a field it cannot do without): the bus dead-letters it at once, without
// retries. `message` says what is wrong.
absl::Status PoisonError(absl::string_view message);
bool IsPoison(const absl::Status& status);

// An event a consumer group gave up on: kept in the group's dead-letter queue until an
// operator replays it (delivered to that group again, and only to it) or drops it.
// Entries past the bus's max length are trimmed, oldest first.
struct DeadLetter {
  // Identifies it within (topic, group), for ReplayDeadLetter and DropDeadLetter.
  std::string id;
  std::string topic;
  std::string group;
  // The event's id, type and subject; empty when the entry did not decode as an Event.
  std::string event_id;
  std::string event_type;
  std::string subject;
  // The entry's bytes as they were (a serialised Event, or what could not be read).
  std::string data;
  // The last handler error, or why the entry could not be read.
  std::string error;
  // Failed deliveries (1 for a poison event).
  int attempts = 0;
  // The consumer that gave up, and when.
  std::string consumer;
  absl::Time time;
};

struct DeadLetterPage {
  std::vector<DeadLetter> dead_letters;
  // Pass as `after` for the next page; empty on the last one.
  std::string next;
  // Dead letters of the group in all.
  int64_t total = 0;
};

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
  // Events in the group's dead-letter queue.
  int64_t dead_letters = 0;
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

  // The dead letters of (topic, group), oldest first: at most `limit` after the one
  // whose id is `after` (empty: from the first). Any group, subscribed here or not.
  // Errors: UNAVAILABLE.
  virtual absl::StatusOr<DeadLetterPage> ListDeadLetters(const std::string& topic,
                                                         const std::string& group, int limit,
                                                         const std::string& after) = 0;
  // Delivers the dead letter to its group again (no other group sees it), with a fresh
  // retry budget, and removes it from the queue. Errors: NOT_FOUND, UNAVAILABLE.
  virtual absl::Status ReplayDeadLetter(const std::string& topic, const std::string& group,
                                        const std::string& id) = 0;
  // Removes the dead letter for good. Errors: NOT_FOUND, UNAVAILABLE.
  virtual absl::Status DropDeadLetter(const std::string& topic, const std::string& group,
                                      const std::string& id) = 0;
};

}  // namespace centric::events

#endif  // CENTRIC_LIBS_EVENTS_BUS_H_
