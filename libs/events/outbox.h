// Transactional outbox: a service writes its event in the same transaction as the change
// it describes, so an event exists if and only if the change committed. OutboxRelay then
// moves events to the bus.
#ifndef CENTRIC_LIBS_EVENTS_OUTBOX_H_
#define CENTRIC_LIBS_EVENTS_OUTBOX_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "libs/events/bus.h"
#include "libs/runtime/metrics.h"
#include "libs/store/store.h"

namespace centric::events {

// The migration creating `<service>_outbox` and `<service>_processed_events`; a service
// appends it to its own migration list at the version it chooses. `service` becomes part
// of table names, so it must be a lower-case identifier ([a-z0-9_]); that holds for every
// argument below too.
store::Migration OutboxMigration(int64_t version, absl::string_view service);

// Writes `event` to the service's outbox inside `tx`. The event must have id, type,
// source and subject set. While a trace is current (runtime::TraceScope, e.g. in every
// runtime::Unary handler) and the event has no traceparent, the stored event carries
// one continuing that trace. Errors: INVALID_ARGUMENT (missing field), store errors.
absl::Status AppendToOutbox(store::Tx& tx, absl::string_view service, const Event& event);

// Writes several events with few statements (store::InsertMany), in order.
absl::Status AppendAllToOutbox(store::Tx& tx, absl::string_view service,
                               const std::vector<Event>& events);

// Number of events written but not yet relayed.
absl::StatusOr<int64_t> OutboxBacklog(store::Database& db, absl::string_view service);

// Publishes OutboxBacklog as the gauge centric_outbox_backlog{service="..."}, read at
// every scrape. `db` must outlive `registry`'s renders.
void RegisterOutboxMetrics(runtime::MetricsRegistry& registry, store::Database& db,
                           std::string service);

struct RelayOptions {
  absl::Duration poll_interval = absl::Milliseconds(50);
  int batch_size = 256;
  // Test hook, called after a batch is published and before it is marked relayed.
  // Returning false simulates a crash at that point: the batch stays unmarked and the
  // relay stops.
  std::function<bool()> after_publish_before_mark;
};

// Publishes outbox rows in `seq` order, then deletes them. A crash between the two
// republishes the batch on restart: at-least-once, consumers dedupe.
//
// Order: `seq` is taken at insert, so it is commit order for events whose transactions
// conflict (every write to one subject locks that subject's row before appending its
// event), which is the order DESIGN.md promises: per subject.
//
// Replicas: each batch is selected, published and deleted inside ONE store transaction;
// on PostgreSQL the SELECT takes `FOR UPDATE` row locks (not SKIP LOCKED, which would let
// a second relay overtake and reorder), so several relay replicas of one service may run:
// they take turns batch by batch and never publish a row twice, except after a crash. On
// SQLite the store serialises transactions, which gives the same result. The price is
// that the transaction stays open while the batch is published (microseconds on the
// in-process bus, one round trip per event on Redis).
class OutboxRelay {
 public:
  OutboxRelay(store::Database& db, std::string service, Bus& bus, RelayOptions options = {});
  ~OutboxRelay();
  // Relays one batch now. Returns the number of events published and deleted (0 when
  // the outbox is empty). Errors: a store error, or the bus's error (the events of the
  // batch published before it are deleted, the rest are retried); ABORTED when the
  // after_publish_before_mark hook simulated a crash, FAILED_PRECONDITION ever after.
  absl::StatusOr<int> RelayOnce();
  // Starts a background thread calling RelayOnce every poll_interval (and at once when
  // Wake() is called after a commit).
  void Start();
  void Wake();
  // Stops the thread after its current batch. Idempotent; the destructor calls it.
  void Stop();

 private:
  void Loop();
  store::Database& db_;
  std::string service_;
  Bus& bus_;
  RelayOptions options_;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> crashed_{false};
  struct WakeState;
  std::unique_ptr<WakeState> wake_;
};

}  // namespace centric::events

#endif  // CENTRIC_LIBS_EVENTS_OUTBOX_H_
