// The embedded bus used by centricd: an in-memory queue per topic and consumer group,
// delivered by one thread per subscription. Failed events are redelivered after the
// retry policy's back-off and dead-lettered (in memory) past its attempts. Events do not survive a restart; the outbox does, so nothing is
// lost: unrelayed rows are relayed again at start. As on Redis, a group created by its
// first Subscribe gets only the events published after it, and keeps queueing them when
// no consumer of it runs; a consumer's failed event may go to any consumer of the group.
#ifndef CENTRIC_LIBS_EVENTS_IN_PROCESS_BUS_H_
#define CENTRIC_LIBS_EVENTS_IN_PROCESS_BUS_H_

#include <cstddef>
#include <memory>

#include "absl/time/time.h"
#include "libs/events/bus.h"

namespace centric::events {

struct InProcessBusOptions {
  RetryPolicy retry;
  // Dead letters kept per group; the oldest go first past it.
  size_t max_dead_letters = 100000;
};

std::unique_ptr<Bus> NewInProcessBus(InProcessBusOptions options = {});

}  // namespace centric::events

#endif  // CENTRIC_LIBS_EVENTS_IN_PROCESS_BUS_H_
