// The outbox, its relay and the idempotent consumer together, on real stores and buses:
// SQLite with the in-process bus (centricd) and PostgreSQL with Redis Streams (k8s).
#include "libs/events/outbox.h"

#include <algorithm>
#include <atomic>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/events/idempotent_consumer.h"
#include "libs/events/in_process_bus.h"
#include "libs/events/redis_streams_bus.h"
#include "libs/runtime/trace.h"
#include "libs/store/store.h"
#include "libs/testing/servers.h"
#include "tests/libs/events/event_test_util.h"
#include "libs/testing/shared_servers.h"

namespace centric::events {
namespace {

using ::centric::events::testing::EventId;
using ::centric::events::testing::Ids;
using ::centric::events::testing::MakeEvent;
using ::centric::events::testing::Received;
using ::centric::events::testing::RecordingBus;
using ::centric::events::testing::WaitFor;
using ::testing::ElementsAreArray;

enum class Setup { kSqliteInProcess, kPostgresRedis };

// Fails every Publish while `down` is set.
class FlakyBus : public testing::ForwardingBus {
 public:
  using ForwardingBus::ForwardingBus;
  absl::Status Publish(const Event& event) override {
    if (down.load()) return absl::UnavailableError("bus down (test)");
    return ForwardingBus::Publish(event);
  }
  std::atomic<bool> down{false};
};

class OutboxTest : public ::testing::TestWithParam<Setup> {
 protected:
  void SetUp() override {
    std::string url;
    if (GetParam() == Setup::kSqliteInProcess) {
      dir_ = std::make_unique<centric::testing::TempDir>();
      url = absl::StrCat("sqlite://", dir_->path(), "/events.db");
      inner_bus_ = NewInProcessBus({.retry = {.initial_backoff = absl::Milliseconds(50)}});
    } else {
      auto* postgres = centric::testing::SharedPostgres();
      auto* redis = centric::testing::SharedRedis();
      ASSERT_NE(postgres, nullptr);
      ASSERT_NE(redis, nullptr);
      const std::string name = centric::testing::UniqueTestName();
      absl::StatusOr<std::string> db_url = postgres->CreateDatabase(name);
      ASSERT_TRUE(db_url.ok()) << db_url.status();
      url = *db_url;
      RedisStreamsOptions options;
      options.port = redis->port();
      options.key_prefix = absl::StrCat(name, ":");
      options.block = absl::Milliseconds(50);
      inner_bus_ = NewRedisStreamsBus(options);
    }
    bus_ = std::make_unique<RecordingBus>(*inner_bus_);
    absl::StatusOr<std::unique_ptr<store::Database>> db = store::Open(url);
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = std::move(*db);
    ASSERT_TRUE(store::Migrate(*db_, "producer", {OutboxMigration(1, "producer")}).ok());
    absl::Status migrated = store::Migrate(
        *db_, "consumer",
        {OutboxMigration(1, "consumer"),
         {2, "how often each event's effect ran",
          "CREATE TABLE consumer_effects (event_id TEXT PRIMARY KEY, applied BIGINT NOT NULL)"}});
    ASSERT_TRUE(migrated.ok()) << migrated;
  }

  // Appends events [from, to) to the producer's outbox, `per_tx` per transaction.
  void WriteEvents(int from, int to, int per_tx = 3) {
    for (int start = from; start < to; start += per_tx) {
      absl::Status status = db_->Transact([&](store::Tx& tx) -> absl::Status {
        for (int i = start; i < std::min(to, start + per_tx); ++i) {
          if (absl::Status s = AppendToOutbox(tx, "producer", MakeEvent(i)); !s.ok()) return s;
        }
        return absl::OkStatus();
      });
      ASSERT_TRUE(status.ok()) << status;
    }
  }

  // The consumer service's handler: counts each effect in consumer_effects, deduped.
  Handler CountingConsumer(Received& deliveries) {
    Handler idempotent =
        IdempotentHandler(*db_, "consumer", [](store::Tx& tx, const Event& event) {
          return tx
              .Exec(
                  "INSERT INTO consumer_effects (event_id, applied) VALUES ($1, 1) "
                  "ON CONFLICT (event_id) DO UPDATE SET applied = consumer_effects.applied + 1",
                  {event.id()})
              .status();
        });
    return [idempotent, &deliveries](const Event& event) {
      deliveries.Add(event.id());
      return idempotent(event);
    };
  }

  std::map<std::string, int64_t> Effects() {
    std::map<std::string, int64_t> effects;
    absl::StatusOr<store::Rows> rows = db_->Query("SELECT event_id, applied FROM consumer_effects");
    EXPECT_TRUE(rows.ok()) << rows.status();
    if (rows.ok()) {
      for (const store::Row& row : *rows) effects[row.GetString(0)] = row.GetInt(1);
    }
    return effects;
  }

  int64_t Backlog() {
    absl::StatusOr<int64_t> backlog = OutboxBacklog(*db_, "producer");
    EXPECT_TRUE(backlog.ok()) << backlog.status();
    return backlog.value_or(-1);
  }

  std::unique_ptr<centric::testing::TempDir> dir_;
  std::unique_ptr<store::Database> db_;
  std::unique_ptr<Bus> inner_bus_;
  std::unique_ptr<RecordingBus> bus_;
};

TEST_P(OutboxTest, AppendRejectsIncompleteEventsAndWritesNothing) {
  for (auto clear : {+[](Event& e) { e.clear_id(); }, +[](Event& e) { e.clear_type(); },
                     +[](Event& e) { e.clear_source(); }, +[](Event& e) { e.clear_subject(); }}) {
    Event event = MakeEvent(1);
    clear(event);
    absl::Status status = db_->Transact(
        [&](store::Tx& tx) { return AppendToOutbox(tx, "producer", event); });
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  }
  EXPECT_EQ(Backlog(), 0);
}

TEST_P(OutboxTest, AppendRejectsADuplicateEventId) {
  WriteEvents(1, 2);
  absl::Status status = db_->Transact(
      [&](store::Tx& tx) { return AppendToOutbox(tx, "producer", MakeEvent(1)); });
  EXPECT_EQ(status.code(), absl::StatusCode::kAlreadyExists) << status;
  EXPECT_EQ(Backlog(), 1);
}

TEST_P(OutboxTest, RolledBackChangeLeavesNoEvent) {
  absl::Status status = db_->Transact([&](store::Tx& tx) -> absl::Status {
    if (absl::Status s = AppendToOutbox(tx, "producer", MakeEvent(1)); !s.ok()) return s;
    return absl::AbortedError("the business write failed");
  });
  EXPECT_EQ(status.code(), absl::StatusCode::kAborted);
  EXPECT_EQ(Backlog(), 0);
}

TEST_P(OutboxTest, EventsArriveInSeqOrderOnASingleConsumer) {
  Received deliveries;
  auto sub = bus_->Subscribe({"producer", "consumer", "c1"}, CountingConsumer(deliveries));
  WriteEvents(0, 60);
  RelayOptions options;
  options.batch_size = 16;
  OutboxRelay relay(*db_, "producer", *bus_, options);
  relay.Start();
  WriteEvents(60, 120);  // while the relay runs
  relay.Wake();

  ASSERT_TRUE(WaitFor([&] { return deliveries.size() >= 120; })) << deliveries.size();
  relay.Stop();
  sub.reset();
  EXPECT_THAT(deliveries.ids(), ElementsAreArray(Ids(0, 120)));
  EXPECT_EQ(Backlog(), 0);
}

TEST_P(OutboxTest, WakeRelaysWithoutWaitingForThePollInterval) {
  Received deliveries;
  auto sub = bus_->Subscribe({"producer", "consumer", "c1"}, CountingConsumer(deliveries));
  RelayOptions options;
  options.poll_interval = absl::Hours(1);
  OutboxRelay relay(*db_, "producer", *bus_, options);
  relay.Start();
  WriteEvents(0, 1);
  relay.Wake();
  EXPECT_TRUE(WaitFor([&] { return deliveries.size() >= 1; }));
  relay.Stop();  // must not wait out the hour
}

TEST_P(OutboxTest, KilledBetweenPublishAndMarkLosesNothingAndAppliesEachEffectOnce) {
  constexpr int kEvents = 60;
  constexpr int kBatch = 10;
  Received deliveries;
  auto sub = bus_->Subscribe({"producer", "consumer", "c1"}, CountingConsumer(deliveries));
  WriteEvents(0, kEvents);

  std::atomic<int> batches{0};
  RelayOptions crashing;
  crashing.batch_size = kBatch;
  crashing.after_publish_before_mark = [&] { return ++batches != 2; };  // dies on batch 2
  {
    OutboxRelay relay(*db_, "producer", *bus_, crashing);
    relay.Start();
    ASSERT_TRUE(WaitFor([&] { return batches.load() >= 2; }));
    relay.Stop();
    EXPECT_EQ(batches.load(), 2) << "a crashed relay must not go on relaying";
    EXPECT_EQ(relay.RelayOnce().status().code(), absl::StatusCode::kFailedPrecondition);
  }
  // Batch 2 reached the bus but is still in the outbox.
  EXPECT_EQ(Backlog(), kEvents - kBatch);
  EXPECT_EQ(bus_->published().size(), 2u * kBatch);

  RelayOptions healthy;
  healthy.batch_size = kBatch;
  OutboxRelay restarted(*db_, "producer", *bus_, healthy);
  restarted.Start();
  ASSERT_TRUE(WaitFor([&] { return deliveries.size() >= kEvents + kBatch; }))
      << deliveries.size();
  restarted.Stop();
  sub.reset();

  EXPECT_EQ(Backlog(), 0);
  const std::vector<std::string> published = bus_->published();
  EXPECT_EQ(published.size(), static_cast<size_t>(kEvents + kBatch)) << "batch 2 went twice";
  EXPECT_EQ(deliveries.size(), static_cast<size_t>(kEvents + kBatch));
  std::map<std::string, int64_t> expected;
  for (int i = 0; i < kEvents; ++i) expected[EventId(i)] = 1;
  EXPECT_EQ(Effects(), expected) << "every event's effect exactly once, none missing";
  std::cout << "[ figures  ] published " << published.size() << ", delivered "
            << deliveries.size() << ", effects " << Effects().size() << "\n";
}

TEST_P(OutboxTest, PublishErrorKeepsTheUnpublishedRowsForTheNextTry) {
  FlakyBus flaky(*bus_);
  WriteEvents(0, 5);
  OutboxRelay relay(*db_, "producer", flaky, {});
  flaky.down = true;
  EXPECT_EQ(relay.RelayOnce().status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(Backlog(), 5);
  flaky.down = false;
  absl::StatusOr<int> relayed = relay.RelayOnce();
  ASSERT_TRUE(relayed.ok()) << relayed.status();
  EXPECT_EQ(*relayed, 5);
  EXPECT_EQ(Backlog(), 0);
  EXPECT_THAT(bus_->published(), ElementsAreArray(Ids(0, 5)));
}

TEST_P(OutboxTest, TwoRelayReplicasTakeTurnsWithoutDuplicatesOrReordering) {
  constexpr int kEvents = 200;
  WriteEvents(0, kEvents, 7);
  RelayOptions options;
  options.batch_size = 8;
  options.poll_interval = absl::Milliseconds(5);
  Bus& shared = *bus_;
  RecordingBus via_one(shared), via_two(shared);
  OutboxRelay one(*db_, "producer", via_one, options);
  OutboxRelay two(*db_, "producer", via_two, options);
  one.Start();
  two.Start();
  ASSERT_TRUE(WaitFor([&] { return Backlog() == 0; }));
  one.Stop();
  two.Stop();
  EXPECT_THAT(bus_->published(), ElementsAreArray(Ids(0, kEvents)));
  // How the work split is up to the scheduler, so it is reported, not asserted.
  std::cout << "[ figures  ] relay one published " << via_one.published().size()
            << ", relay two " << via_two.published().size() << "\n";
}

TEST_P(OutboxTest, ConsumerContinuesTheTraceOfTheHandlerThatAppendedTheEvent) {
  struct Seen {
    std::string traceparent;
    runtime::TraceContext current;
  };
  absl::Mutex mu;
  std::map<std::string, Seen> seen;  // by event id
  auto sub = bus_->Subscribe({"producer", "consumer", "c1"}, [&](const Event& event) {
    absl::MutexLock lock(&mu);
    seen[event.id()] = {event.traceparent(), runtime::CurrentTrace()};
    return absl::OkStatus();
  });
  // What runtime::Unary installs around a handler.
  const runtime::TraceContext handler{"4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", 1};
  {
    runtime::TraceScope scope(handler);
    absl::Status status = db_->Transact([&](store::Tx& tx) -> absl::Status {
      if (absl::Status s = AppendToOutbox(tx, "producer", MakeEvent(1)); !s.ok()) return s;
      return AppendAllToOutbox(tx, "producer", {MakeEvent(2)});
    });
    ASSERT_TRUE(status.ok()) << status;
  }
  WriteEvents(3, 4);  // no trace current
  // Relayed from a thread with no trace: the consumer's trace comes from the event.
  OutboxRelay relay(*db_, "producer", *bus_);
  absl::StatusOr<int> relayed = relay.RelayOnce();
  ASSERT_TRUE(relayed.ok()) << relayed.status();
  ASSERT_EQ(*relayed, 3);
  ASSERT_TRUE(WaitFor([&] {
    absl::MutexLock lock(&mu);
    return seen.size() == 3;
  }));
  sub.reset();

  for (const std::string& id : {EventId(1), EventId(2)}) {
    const Seen& event = seen[id];
    std::optional<runtime::TraceContext> parent = runtime::ParseTraceparent(event.traceparent);
    ASSERT_TRUE(parent.has_value()) << id << ": '" << event.traceparent << "'";
    EXPECT_EQ(parent->trace_id, handler.trace_id) << id;
    EXPECT_NE(parent->span_id, handler.span_id) << id;
    EXPECT_EQ(parent->flags, 1) << id;
    EXPECT_EQ(event.current.trace_id, handler.trace_id) << id;
    EXPECT_NE(event.current.span_id, parent->span_id) << id;
  }
  const Seen& untraced = seen[EventId(3)];
  EXPECT_EQ(untraced.traceparent, "");
  EXPECT_TRUE(untraced.current.valid());  // a new trace per event
  EXPECT_NE(untraced.current.trace_id, handler.trace_id);
}

INSTANTIATE_TEST_SUITE_P(Backends, OutboxTest,
                         ::testing::Values(Setup::kSqliteInProcess, Setup::kPostgresRedis),
                         [](const ::testing::TestParamInfo<Setup>& info) {
                           return info.param == Setup::kSqliteInProcess ? "SqliteInProcess"
                                                                        : "PostgresRedis";
                         });

}  // namespace
}  // namespace centric::events
