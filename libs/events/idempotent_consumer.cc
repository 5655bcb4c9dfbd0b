#include "libs/events/idempotent_consumer.h"

#include <memory>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "libs/runtime/log.h"

namespace centric::events {

Handler IdempotentHandler(store::Database& db, std::string consumer_service, TxHandler effect) {
  // Shared so the returned std::function stays copyable.
  auto insert = std::make_shared<const std::string>(
      absl::StrCat("INSERT INTO ", consumer_service,
                   "_processed_events (event_id, processed_at) VALUES ($1, $2) "
                   "ON CONFLICT DO NOTHING"));
  return [&db, insert, effect = std::move(effect)](const Event& event) -> absl::Status {
    if (event.id().empty()) {
      // Redelivery cannot fix a missing id, so acknowledging is the only way to stop
      // the entry from coming back forever.
      runtime::LogError("event_without_id_dropped",
                        {{"type", event.type()}, {"source", event.source()}});
      return absl::OkStatus();
    }
    return db.Transact([&](store::Tx& tx) -> absl::Status {
      // The id row and the effect commit or roll back together; a concurrent duplicate
      // (another consumer given the same entry) waits on the id's key and then sees it.
      absl::StatusOr<int64_t> inserted =
          tx.Exec(*insert, {event.id(), absl::ToUnixMicros(absl::Now())});
      if (!inserted.ok()) return inserted.status();
      if (*inserted == 0) return absl::OkStatus();  // applied before: acknowledge only
      return effect(tx, event);
    });
  };
}

}  // namespace centric::events
