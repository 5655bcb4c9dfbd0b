// The embedded bus used by centricd: an in-memory queue per topic and consumer group,
// delivered by one thread per subscription. Unacknowledged events are redelivered after
// `redelivery_delay`. Events do not survive a restart; the outbox does, so nothing is
// lost: unrelayed rows are relayed again at start. As on Redis, a group created by its
// first Subscribe gets only the events published after it, and keeps queueing them when
// no consumer of it runs; a consumer's failed event may go to any consumer of the group.
#ifndef CENTRIC_LIBS_EVENTS_IN_PROCESS_BUS_H_
#define CENTRIC_LIBS_EVENTS_IN_PROCESS_BUS_H_

#include <memory>

#include "absl/time/time.h"
#include "libs/events/bus.h"

namespace centric::events {

std::unique_ptr<Bus> NewInProcessBus(absl::Duration redelivery_delay = absl::Milliseconds(200));

}  // namespace centric::events

#endif  // CENTRIC_LIBS_EVENTS_IN_PROCESS_BUS_H_
