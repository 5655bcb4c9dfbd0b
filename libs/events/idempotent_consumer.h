// Exactly-once effects over an at-least-once bus: the consumer records each event id in
// `<service>_processed_events` in the same transaction as the event's effect, and skips
// ids it has seen.
#ifndef CENTRIC_LIBS_EVENTS_IDEMPOTENT_CONSUMER_H_
#define CENTRIC_LIBS_EVENTS_IDEMPOTENT_CONSUMER_H_

#include <functional>
#include <string>

#include "absl/status/status.h"
#include "libs/events/bus.h"
#include "libs/store/store.h"

namespace centric::events {

// Applies an event's effect inside the dedupe transaction.
using TxHandler = std::function<absl::Status(store::Tx&, const Event&)>;

// Wraps `effect` into a bus Handler that applies each event id at most once for
// `consumer_service` (whose migrations include OutboxMigration). `db` must outlive it.
// The handler returns OK for an id already applied (so the bus acknowledges it), the
// effect's error otherwise (rolled back, delivered again); an event without an id is
// logged and acknowledged, since no redelivery can make it applicable.
Handler IdempotentHandler(store::Database& db, std::string consumer_service, TxHandler effect);

}  // namespace centric::events

#endif  // CENTRIC_LIBS_EVENTS_IDEMPOTENT_CONSUMER_H_
