// Transactional outbox: a service writes its event in the same transaction as the change
// it describes, so an event exists if and only if the change committed. OutboxRelay then
// moves events to the bus.
#ifndef CENTRIC_LIBS_EVENTS_OUTBOX_H_
#define CENTRIC_LIBS_EVENTS_OUTBOX_H_

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include "absl/strings/string_view.h"
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "libs/events/bus.h"
#include "libs/store/store.h"

namespace centric::events {

// The migration creating `<service>_outbox` and `<service>_processed_events`; a service
// appends it to its own migration list at the version it chooses.
store::Migration OutboxMigration(int64_t version, absl::string_view service);

// Writes `event` to the service's outbox inside `tx`. The event must have id, type,
// source and subject set. Errors: INVALID_ARGUMENT (missing field), store errors.
absl::Status AppendToOutbox(store::Tx& tx, absl::string_view service, const Event& event);

// Number of events written but not yet relayed.
absl::StatusOr<int64_t> OutboxBacklog(store::Database& db, absl::string_view service);

struct RelayOptions {
  absl::Duration poll_interval = absl::Milliseconds(50);
  int batch_size = 256;
  // Test hook, called after a batch is published and before it is marked relayed.
  // Returning false simulates a crash at that point: the batch stays unmarked and the
  // relay stops.
  std::function<bool()> after_publish_before_mark;
};

// Publishes outbox rows in commit order, then marks them relayed. A crash between the
// two republishes the batch on restart: at-least-once, consumers dedupe.
class OutboxRelay {
 public:
  OutboxRelay(store::Database& db, std::string service, Bus& bus, RelayOptions options = {});
  ~OutboxRelay();
  // Relays one batch now. Returns the number of events published.
  absl::StatusOr<int> RelayOnce();
  // Starts a background thread calling RelayOnce every poll_interval (and at once when
  // Wake() is called after a commit).
  void Start();
  void Wake();
  // Stops the thread after its current batch.
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
