#include "libs/events/outbox.h"

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/substitute.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "libs/runtime/log.h"
#include "libs/runtime/trace.h"

namespace centric::events {

namespace {

std::string OutboxTable(absl::string_view service) { return absl::StrCat(service, "_outbox"); }

}  // namespace

struct OutboxRelay::WakeState {
  absl::Mutex mu;
  absl::CondVar cv;
  bool woken ABSL_GUARDED_BY(mu) = false;
};

store::Migration OutboxMigration(int64_t version, absl::string_view service) {
  return store::Migration{
      version,
      absl::StrCat("transactional outbox and processed-event ids of ", service),
      absl::Substitute(
          "CREATE TABLE $0_outbox ("
          " seq {{AUTOINCREMENT_PK}},"
          " event_id TEXT NOT NULL UNIQUE,"
          " topic TEXT,"
          " payload {{BLOB}} NOT NULL,"
          " created_at BIGINT);"
          "CREATE TABLE $0_processed_events ("
          " event_id TEXT PRIMARY KEY,"
          " processed_at BIGINT)",
          service)};
}

namespace {

absl::StatusOr<store::Params> OutboxRow(const Event& event) {
  for (const auto& [name, value] :
       {std::pair<absl::string_view, const std::string*>{"id", &event.id()},
        {"type", &event.type()},
        {"source", &event.source()},
        {"subject", &event.subject()}}) {
    if (value->empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("event.", name, " is empty; every outbox event needs id, type, "
                       "source and subject"));
    }
  }
  // The caller's event is const: a traced copy is stored instead.
  const Event* stored = &event;
  Event traced;
  if (event.traceparent().empty()) {
    if (std::optional<std::string> traceparent = runtime::OutgoingTraceparent()) {
      traced = event;
      traced.set_traceparent(*std::move(traceparent));
      stored = &traced;
    }
  }
  std::string payload;
  if (!stored->SerializeToString(&payload)) {
    return absl::InternalError(absl::StrCat("cannot serialise event ", event.id()));
  }
  return store::Params{event.id(), event.source(), store::Blob{std::move(payload)},
                       absl::ToUnixMicros(absl::Now())};
}

}  // namespace

absl::Status AppendToOutbox(store::Tx& tx, absl::string_view service, const Event& event) {
  return AppendAllToOutbox(tx, service, {event});
}

absl::Status AppendAllToOutbox(store::Tx& tx, absl::string_view service,
                               const std::vector<Event>& events) {
  std::vector<store::Params> rows;
  rows.reserve(events.size());
  for (const Event& event : events) {
    auto row = OutboxRow(event);
    if (!row.ok()) return row.status();
    rows.push_back(std::move(*row));
  }
  return store::InsertMany(tx,
                           absl::StrCat("INSERT INTO ", OutboxTable(service),
                                        " (event_id, topic, payload, created_at) VALUES"),
                           rows)
      .status();
}

absl::StatusOr<int64_t> OutboxBacklog(store::Database& db, absl::string_view service) {
  absl::StatusOr<store::Rows> rows =
      db.Query(absl::StrCat("SELECT COUNT(*) FROM ", OutboxTable(service)));
  if (!rows.ok()) return rows.status();
  if (rows->empty()) return absl::InternalError("COUNT(*) returned no row");
  return rows->front().GetInt(0);
}

OutboxRelay::OutboxRelay(store::Database& db, std::string service, Bus& bus,
                         RelayOptions options)
    : db_(db),
      service_(std::move(service)),
      bus_(bus),
      options_(std::move(options)),
      wake_(std::make_unique<WakeState>()) {
  if (options_.batch_size < 1) options_.batch_size = 1;
}

OutboxRelay::~OutboxRelay() { Stop(); }

absl::StatusOr<int> OutboxRelay::RelayOnce() {
  if (crashed_.load()) {
    return absl::FailedPreconditionError("outbox relay crashed (test hook); start a new one");
  }
  const std::string table = OutboxTable(service_);
  int relayed = 0;
  absl::Status bus_error;
  absl::Status status = db_.Transact([&](store::Tx& tx) -> absl::Status {
    relayed = 0;
    bus_error = absl::OkStatus();
    // FOR UPDATE makes a second relay replica wait for this batch instead of publishing
    // it again; SQLite has no row locks and needs none (the store serialises
    // transactions).
    std::string select = absl::StrCat("SELECT seq, payload FROM ", table,
                                      " ORDER BY seq LIMIT ", options_.batch_size);
    if (tx.backend() == store::Backend::kPostgres) absl::StrAppend(&select, " FOR UPDATE");
    absl::StatusOr<store::Rows> rows = tx.Query(select);
    if (!rows.ok()) return rows.status();

    std::vector<int64_t> published;
    published.reserve(rows->size());
    for (const store::Row& row : *rows) {
      const int64_t seq = row.GetInt(0);
      Event event;
      if (!event.ParseFromString(row.GetString(1))) {
        // Only AppendToOutbox writes here, so this is corruption; skipping it would
        // reorder the subject's events, so stop and let an operator look.
        return absl::DataLossError(
            absl::StrCat("outbox row ", table, ".seq=", seq, " does not parse as an Event"));
      }
      bus_error = bus_.Publish(event);
      if (!bus_error.ok()) break;
      published.push_back(seq);
    }
    if (options_.after_publish_before_mark && !published.empty() &&
        !options_.after_publish_before_mark()) {
      crashed_.store(true);
      return absl::AbortedError("outbox relay crashed between publish and mark (test hook)");
    }
    if (published.empty()) return absl::OkStatus();

    std::string del = absl::StrCat("DELETE FROM ", table, " WHERE seq IN (");
    store::Params params;
    params.reserve(published.size());
    for (size_t i = 0; i < published.size(); ++i) {
      absl::StrAppend(&del, i == 0 ? "$" : ", $", i + 1);
      params.push_back(published[i]);
    }
    del.push_back(')');
    absl::StatusOr<int64_t> deleted = tx.Exec(del, params);
    if (!deleted.ok()) return deleted.status();
    relayed = static_cast<int>(published.size());
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  if (!bus_error.ok()) return bus_error;
  return relayed;
}

void OutboxRelay::Start() {
  if (thread_.joinable()) return;
  stopping_.store(false);
  thread_ = std::thread([this] { Loop(); });
}

void OutboxRelay::Wake() {
  absl::MutexLock lock(&wake_->mu);
  wake_->woken = true;
  wake_->cv.Signal();
}

void OutboxRelay::Stop() {
  stopping_.store(true);
  Wake();
  if (thread_.joinable()) thread_.join();
}

void OutboxRelay::Loop() {
  // Logged once per outage rather than once per tick, so a Redis restart does not
  // flood the log.
  bool failing = false;
  while (!stopping_.load() && !crashed_.load()) {
    absl::StatusOr<int> relayed = RelayOnce();
    if (crashed_.load()) break;
    if (relayed.ok()) {
      if (failing) runtime::LogInfo("outbox_relay_recovered", {{"service", service_}});
      failing = false;
      // A full batch means more may be waiting: go again without sleeping.
      if (*relayed == options_.batch_size) continue;
    } else if (!failing) {
      failing = true;
      const std::string error = relayed.status().ToString();
      runtime::LogWarning("outbox_relay_failed", {{"service", service_}, {"error", error}});
    }
    absl::MutexLock lock(&wake_->mu);
    const absl::Time deadline = absl::Now() + options_.poll_interval;
    while (!wake_->woken && !stopping_.load()) {
      if (wake_->cv.WaitWithDeadline(&wake_->mu, deadline)) break;
    }
    wake_->woken = false;
  }
}

void RegisterOutboxMetrics(runtime::MetricsRegistry& registry, store::Database& db,
                           std::string service) {
  registry.Describe("centric_outbox_backlog", runtime::MetricsRegistry::Type::kGauge,
                    "Events written to a service's outbox and not yet relayed to the bus.");
  registry.AddCollector([&db, service](runtime::MetricsRegistry& r) {
    auto backlog = OutboxBacklog(db, service);
    if (backlog.ok()) r.Set("centric_outbox_backlog", {{"service", service}}, static_cast<double>(*backlog));
  });
}

}  // namespace centric::events
