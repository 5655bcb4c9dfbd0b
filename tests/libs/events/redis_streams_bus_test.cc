// The Redis Streams bus against a real redis-server (and, for the crash test, a real
// PostgreSQL behind the idempotent consumer).
#include "libs/events/redis_streams_bus.h"

#include <hiredis/hiredis.h>

#include <atomic>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/events/idempotent_consumer.h"
#include "libs/events/outbox.h"
#include "libs/store/store.h"
#include "tests/libs/events/event_test_util.h"
#include "libs/testing/shared_servers.h"

namespace centric::events {
namespace {

using ::centric::events::testing::EventId;
using ::centric::events::testing::Ids;
using ::centric::events::testing::MakeEvent;
using ::centric::events::testing::Received;
using ::centric::events::testing::Recorder;
using ::centric::events::testing::WaitFor;
using ::testing::ElementsAreArray;
using ::testing::UnorderedElementsAreArray;

class RedisStreamsBusTest : public ::testing::Test {
 protected:
  void SetUp() override {
    redis_ = centric::testing::SharedRedis();
    ASSERT_NE(redis_, nullptr);
    options_.port = redis_->port();
    options_.key_prefix = absl::StrCat(centric::testing::UniqueTestName(), ":");
    options_.block = absl::Milliseconds(50);
    options_.retry.initial_backoff = absl::Milliseconds(100);
  }

  // Runs one command on a fresh connection and returns the reply's integer (or array
  // size); -1 on error.
  int64_t RedisInteger(const std::vector<std::string>& args) {
    timeval tv{2, 0};
    redisContext* c = redisConnectWithTimeout("127.0.0.1", redis_->port(), tv);
    if (c == nullptr || c->err != 0) {
      if (c != nullptr) redisFree(c);
      return -1;
    }
    std::vector<const char*> argv;
    std::vector<size_t> lens;
    for (const auto& a : args) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    }
    auto* reply = static_cast<redisReply*>(
        redisCommandArgv(c, static_cast<int>(argv.size()), argv.data(), lens.data()));
    int64_t result = -1;
    if (reply != nullptr && reply->type == REDIS_REPLY_INTEGER) result = reply->integer;
    if (reply != nullptr && reply->type == REDIS_REPLY_ARRAY) {
      // XPENDING summary: [count, min id, max id, consumers].
      if (reply->elements > 0 && reply->element[0]->type == REDIS_REPLY_INTEGER) {
        result = reply->element[0]->integer;
      }
    }
    if (reply != nullptr) freeReplyObject(reply);
    redisFree(c);
    return result;
  }

  std::string Stream(const std::string& topic = "producer") {
    return absl::StrCat(options_.key_prefix, "events:", topic);
  }

  centric::testing::RedisServer* redis_ = nullptr;
  RedisStreamsOptions options_;
};

TEST_F(RedisStreamsBusTest, DeliversBinaryPayloadsToEveryGroupInOrder) {
  auto bus = NewRedisStreamsBus(options_);
  Received reporting, segmentation;
  std::string payload_seen;
  absl::Mutex mu;
  auto a = bus->Subscribe({"producer", "reporting", "r1"}, [&](const Event& event) {
    if (event.id() == EventId(0)) {
      absl::MutexLock lock(&mu);
      payload_seen = event.payload().value();
    }
    reporting.Add(event.id());
    return absl::OkStatus();
  });
  auto b = bus->Subscribe({"producer", "segmentation", "s1"}, Recorder(segmentation));

  const std::string binary("\0\x01\xff zero\0bytes", 14);
  for (int i = 0; i < 30; ++i) {
    Event event = MakeEvent(i);
    event.mutable_payload()->set_type_url("type.googleapis.com/centric.test.Blob");
    event.mutable_payload()->set_value(binary);
    ASSERT_TRUE(bus->Publish(event).ok());
  }
  ASSERT_TRUE(WaitFor([&] { return reporting.size() >= 30 && segmentation.size() >= 30; }));
  a.reset();
  b.reset();
  EXPECT_THAT(reporting.ids(), ElementsAreArray(Ids(0, 30)));
  EXPECT_THAT(segmentation.ids(), ElementsAreArray(Ids(0, 30)));
  EXPECT_EQ(payload_seen, binary);
  EXPECT_EQ(RedisInteger({"XPENDING", Stream(), "reporting"}), 0) << "all acknowledged";
}

TEST_F(RedisStreamsBusTest, ConsumersOfOneGroupShareTheEvents) {
  auto bus = NewRedisStreamsBus(options_);
  absl::Mutex mu;
  int in_handler = 0;
  bool release = false;
  std::map<std::string, std::vector<std::string>> by_consumer;
  auto handler_for = [&](const std::string& consumer) -> Handler {
    return [&, consumer](const Event& event) {
      absl::MutexLock lock(&mu);
      by_consumer[consumer].push_back(event.id());
      ++in_handler;
      mu.Await(absl::Condition(&release));
      --in_handler;
      return absl::OkStatus();
    };
  };
  auto one = bus->Subscribe({"producer", "g", "one"}, handler_for("one"));
  // The first consumer reads everything XREADGROUP offers (COUNT 100) and blocks on the
  // first; the second must get the events published after that.
  ASSERT_TRUE(bus->Publish(MakeEvent(0)).ok());
  {
    absl::MutexLock lock(&mu);
    auto busy = [&] { return in_handler == 1; };
    ASSERT_TRUE(mu.AwaitWithTimeout(absl::Condition(&busy), absl::Seconds(10)));
  }
  auto two = bus->Subscribe({"producer", "g", "two"}, handler_for("two"));
  ASSERT_TRUE(bus->Publish(MakeEvent(1)).ok());
  {
    absl::MutexLock lock(&mu);
    auto both_busy = [&] { return in_handler == 2; };
    ASSERT_TRUE(mu.AwaitWithTimeout(absl::Condition(&both_busy), absl::Seconds(10)));
    release = true;
  }
  for (int i = 2; i < 40; ++i) ASSERT_TRUE(bus->Publish(MakeEvent(i)).ok());
  auto total = [&] {
    absl::MutexLock lock(&mu);
    return by_consumer["one"].size() + by_consumer["two"].size();
  };
  ASSERT_TRUE(WaitFor([&] { return total() >= 40; }));
  one.reset();
  two.reset();
  EXPECT_THAT(by_consumer["one"], ::testing::Contains(EventId(0)));
  EXPECT_THAT(by_consumer["two"], ::testing::Contains(EventId(1)));
  std::vector<std::string> all = by_consumer["one"];
  all.insert(all.end(), by_consumer["two"].begin(), by_consumer["two"].end());
  EXPECT_THAT(all, UnorderedElementsAreArray(Ids(0, 40))) << "each event to exactly one";
}

TEST_F(RedisStreamsBusTest, FailedEventIsRetriedByTheSameConsumer) {
  auto bus = NewRedisStreamsBus(options_);
  Received calls;
  std::atomic<int> failures{0};
  auto sub = bus->Subscribe({"producer", "g", "c"}, [&](const Event& event) {
    calls.Add(event.id());
    if (event.id() == EventId(1) && failures.fetch_add(1) < 2) {
      return absl::UnavailableError("database down");
    }
    return absl::OkStatus();
  });
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(bus->Publish(MakeEvent(i)).ok());
  ASSERT_TRUE(WaitFor([&] { return calls.size() >= 5; }));
  sub.reset();
  EXPECT_THAT(calls.ids(), UnorderedElementsAreArray({EventId(0), EventId(1), EventId(1),
                                                      EventId(1), EventId(2)}));
  EXPECT_EQ(RedisInteger({"XPENDING", Stream(), "g"}), 0);
}

TEST_F(RedisStreamsBusTest, FailingAndPoisonEventsAreDeadLetteredAndReplayedToTheirGroupOnly) {
  options_.retry = {.initial_backoff = absl::Milliseconds(5), .max_attempts = 3};
  auto bus = NewRedisStreamsBus(options_);
  ::centric::events::testing::ExpectDeadLetterLifecycle(*bus);
  EXPECT_EQ(RedisInteger({"XPENDING", Stream(), "failing"}), 0);
  EXPECT_EQ(RedisInteger({"XLEN", absl::StrCat(options_.key_prefix, "dead-letters:producer:failing")}), 0);
}

TEST_F(RedisStreamsBusTest, AnEntryThatIsNotAnEventIsDeadLetteredAtOnceAndCannotBeReplayed) {
  auto bus = NewRedisStreamsBus(options_);
  Received calls;
  auto sub = bus->Subscribe({"producer", "g", "c"}, Recorder(calls));
  RedisInteger({"XADD", Stream(), "*", "id", "evt-x", "type", "t", "data", "\xff\xffnot a proto"});
  ASSERT_TRUE(bus->Publish(MakeEvent(1)).ok());
  ASSERT_TRUE(WaitFor([&] { return calls.size() >= 1; }));
  absl::StatusOr<DeadLetterPage> page;
  ASSERT_TRUE(WaitFor([&] {
    page = bus->ListDeadLetters("producer", "g", 10, "");
    return page.ok() && page->total == 1;
  }));
  ASSERT_EQ(page->dead_letters.size(), 1u);
  EXPECT_EQ(page->dead_letters[0].attempts, 1);
  EXPECT_EQ(page->dead_letters[0].event_id, "evt-x");
  EXPECT_THAT(page->dead_letters[0].error, ::testing::HasSubstr("not a serialised"));
  EXPECT_THAT(calls.ids(), ElementsAreArray({EventId(1)})) << "the handler never saw it";
  EXPECT_TRUE(absl::IsFailedPrecondition(
      bus->ReplayDeadLetter("producer", "g", page->dead_letters[0].id)));
  EXPECT_TRUE(bus->DropDeadLetter("producer", "g", page->dead_letters[0].id).ok());
  EXPECT_EQ(RedisInteger({"XPENDING", Stream(), "g"}), 0);
}

TEST_F(RedisStreamsBusTest, AnEventThatKillsEveryConsumerGivenItIsDeadLetteredByDeliveryCount) {
  // Each consumer "dies" handling the event: it never acks and never reports a failure
  // (its subscription is destroyed mid-handler). Redis counts the deliveries.
  options_.claim_idle = absl::Milliseconds(100);
  options_.retry.max_attempts = 3;
  auto bus = NewRedisStreamsBus(options_);
  ASSERT_TRUE(bus->Publish(MakeEvent(0)).ok());  // before any group: not seen
  for (int life = 0; life < 4; ++life) {
    Received calls;
    absl::Notification entered;
    absl::Notification release;
    auto sub = bus->Subscribe({"producer", "g", absl::StrCat("c", life)}, [&](const Event& event) {
      calls.Add(event.id());
      if (!entered.HasBeenNotified()) entered.Notify();
      release.WaitForNotificationWithTimeout(absl::Seconds(5));
      return absl::InternalError("killed");  // returned after stop: stays unacked, unseen
    });
    if (life == 0) {
      ASSERT_TRUE(bus->Publish(MakeEvent(1)).ok());
    }
    if (life < 3) {
      ASSERT_TRUE(entered.WaitForNotificationWithTimeout(absl::Seconds(10))) << life;
    }
    std::thread stopper([&] {
      absl::SleepFor(absl::Milliseconds(20));
      release.Notify();
    });
    sub.reset();
    stopper.join();
    absl::SleepFor(absl::Milliseconds(150));  // idle past claim_idle for the next consumer
  }
  absl::StatusOr<DeadLetterPage> page;
  ASSERT_TRUE(WaitFor([&] {
    Received none;
    auto sub = bus->Subscribe({"producer", "g", "last"}, Recorder(none));
    absl::SleepFor(absl::Milliseconds(200));
    page = bus->ListDeadLetters("producer", "g", 10, "");
    return page.ok() && page->total == 1;
  }));
  EXPECT_EQ(page->dead_letters[0].event_id, EventId(1));
  // Each consumer saw one failure of its own; the count of 3 is Redis' delivery count.
  EXPECT_EQ(page->dead_letters[0].attempts, 3);
  EXPECT_EQ(RedisInteger({"XPENDING", Stream(), "g"}), 0);
}

TEST_F(RedisStreamsBusTest, ConsumerKilledBeforeAckIsReclaimedAndEachEffectAppliesOnce) {
  auto* postgres = centric::testing::SharedPostgres();
  ASSERT_NE(postgres, nullptr);
  absl::StatusOr<std::string> url = postgres->CreateDatabase(centric::testing::UniqueTestName());
  ASSERT_TRUE(url.ok()) << url.status();
  absl::StatusOr<std::unique_ptr<store::Database>> opened = store::Open(*url);
  ASSERT_TRUE(opened.ok()) << opened.status();
  store::Database& db = **opened;
  absl::Status migrated = store::Migrate(
      db, "consumer",
      {OutboxMigration(1, "consumer"),
       {2, "how often each event's effect ran",
        "CREATE TABLE consumer_effects (event_id TEXT PRIMARY KEY, applied BIGINT NOT NULL)"}});
  ASSERT_TRUE(migrated.ok()) << migrated;
  Handler apply = IdempotentHandler(db, "consumer", [](store::Tx& tx, const Event& event) {
    return tx
        .Exec(
            "INSERT INTO consumer_effects (event_id, applied) VALUES ($1, 1) "
            "ON CONFLICT (event_id) DO UPDATE SET applied = consumer_effects.applied + 1",
            {event.id()})
        .status();
  });

  constexpr int kEvents = 40;
  constexpr int kAckedBeforeDying = 10;
  auto bus = NewRedisStreamsBus(options_);
  // Consumer A commits every effect but, from event kAckedBeforeDying on, "dies" before
  // XACK: the error leaves the entry pending, and A is then stopped for good.
  Received a_calls;
  RedisStreamsOptions a_options = options_;
  a_options.retry.initial_backoff = absl::Hours(1);  // a dead consumer retries nothing
  auto a_bus = NewRedisStreamsBus(a_options);
  auto a = a_bus->Subscribe({"producer", "consumer", "a"}, [&](const Event& event) {
    a_calls.Add(event.id());
    if (absl::Status applied = apply(event); !applied.ok()) return applied;
    if (a_calls.size() > kAckedBeforeDying) return absl::InternalError("killed before XACK");
    return absl::OkStatus();
  });
  for (int i = 0; i < kEvents; ++i) ASSERT_TRUE(bus->Publish(MakeEvent(i)).ok());
  ASSERT_TRUE(WaitFor([&] { return a_calls.size() >= kEvents; }));
  a.reset();
  EXPECT_EQ(RedisInteger({"XPENDING", Stream(), "consumer"}), kEvents - kAckedBeforeDying);

  // B joins the group later and only ever sees what it reclaims (plus new events).
  RedisStreamsOptions b_options = options_;
  b_options.claim_idle = absl::Milliseconds(200);
  auto b_bus = NewRedisStreamsBus(b_options);
  Received b_calls;
  auto b = b_bus->Subscribe({"producer", "consumer", "b"}, [&](const Event& event) {
    b_calls.Add(event.id());
    return apply(event);
  });
  for (int i = kEvents; i < kEvents + 5; ++i) ASSERT_TRUE(bus->Publish(MakeEvent(i)).ok());
  ASSERT_TRUE(WaitFor([&] {
    return b_calls.size() >= kEvents - kAckedBeforeDying + 5 &&
           RedisInteger({"XPENDING", Stream(), "consumer"}) == 0;
  })) << b_calls.size();
  b.reset();

  std::vector<std::string> expected_b = Ids(kAckedBeforeDying, kEvents + 5);
  EXPECT_THAT(b_calls.ids(), UnorderedElementsAreArray(expected_b))
      << "B reclaims exactly A's unacked entries";
  absl::StatusOr<store::Rows> rows = db.Query("SELECT event_id, applied FROM consumer_effects");
  ASSERT_TRUE(rows.ok()) << rows.status();
  std::map<std::string, int64_t> effects;
  for (const store::Row& row : *rows) effects[row.GetString(0)] = row.GetInt(1);
  std::map<std::string, int64_t> expected;
  for (int i = 0; i < kEvents + 5; ++i) expected[EventId(i)] = 1;
  EXPECT_EQ(effects, expected) << "every effect once, none lost";
  std::cout << "[ figures  ] A handled " << a_calls.size() << ", B handled " << b_calls.size()
            << " (" << (kEvents - kAckedBeforeDying) << " reclaimed), effects " << effects.size()
            << "\n";
}

TEST_F(RedisStreamsBusTest, PublishFailsWhileRedisIsDownAndConsumersRecoverAfter) {
  auto bus = NewRedisStreamsBus(options_);
  Received received;
  auto sub = bus->Subscribe({"producer", "g", "c"}, Recorder(received));
  ASSERT_TRUE(bus->Publish(MakeEvent(0)).ok());
  ASSERT_TRUE(WaitFor([&] { return received.size() >= 1; }));

  redis_->Stop();
  EXPECT_EQ(bus->Publish(MakeEvent(1)).code(), absl::StatusCode::kUnavailable);
  ASSERT_TRUE(redis_->Restart().ok());  // comes back empty: stream and group are gone

  // The consumer recreates its group on reconnect; only then are new events its own.
  ASSERT_TRUE(WaitFor([&] { return RedisInteger({"EXISTS", Stream()}) == 1; }));
  ASSERT_TRUE(bus->Publish(MakeEvent(2)).ok());
  ASSERT_TRUE(WaitFor([&] { return received.size() >= 2; }));
  sub.reset();
  EXPECT_THAT(received.ids(), ElementsAreArray({EventId(0), EventId(2)}));
}

TEST_F(RedisStreamsBusTest, LagCountsUndeliveredAndUnacknowledgedEntries) {
  auto bus = NewRedisStreamsBus(options_);
  absl::Notification release;
  std::atomic<int> handled{0};
  auto slow = bus->Subscribe({"producer", "reporting", "r1"}, [&](const Event&) {
    release.WaitForNotification();
    ++handled;
    return absl::OkStatus();
  });
  // The group exists once Subscribe returned; publish after it.
  ASSERT_TRUE(WaitFor([&] {
    auto lag = bus->Lag();
    return lag.ok() && lag->size() == 1;
  }));
  for (int i = 0; i < 6; ++i) ASSERT_TRUE(bus->Publish(MakeEvent(i)).ok());
  ASSERT_TRUE(WaitFor([&] {
    auto lag = bus->Lag();
    return lag.ok() && lag->size() == 1 && (*lag)[0].events == 6;
  })) << (bus->Lag().ok() && !bus->Lag()->empty() ? (*bus->Lag())[0].events : -1);
  auto lag = bus->Lag();
  EXPECT_EQ((*lag)[0].topic, "producer");
  EXPECT_EQ((*lag)[0].group, "reporting");
  release.Notify();
  ASSERT_TRUE(WaitFor([&] { return handled.load() == 6; }));
  ASSERT_TRUE(WaitFor([&] { return (*bus->Lag())[0].events == 0; }));
}

TEST_F(RedisStreamsBusTest, PublishToAnUnreachableServerIsUnavailable) {
  RedisStreamsOptions options = options_;
  options.port = centric::testing::FreePort();
  auto bus = NewRedisStreamsBus(options);
  EXPECT_EQ(bus->Publish(MakeEvent(0)).code(), absl::StatusCode::kUnavailable);
}

TEST(RedisStreamsBusAuthTest, PasswordFromOptionsIsSentAndAWrongOneIsRefusedByName) {
  auto redis = centric::testing::RedisServer::Start("bus-Pass");
  ASSERT_TRUE(redis.ok()) << redis.status();
  RedisStreamsOptions options;
  options.port = (*redis)->port();
  options.password = "bus-Pass";
  options.block = absl::Milliseconds(50);
  auto bus = NewRedisStreamsBus(options);
  Received received;
  auto subscription = bus->Subscribe({"producer", "reporting", "r1"}, Recorder(received));
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(bus->Publish(MakeEvent(i)).ok());
  ASSERT_TRUE(WaitFor([&] { return received.size() >= 5; }));
  EXPECT_THAT(received.ids(), ElementsAreArray(Ids(0, 5)));

  options.password = "not-the-Pass";
  absl::Status refused = NewRedisStreamsBus(options)->Publish(MakeEvent(9));
  EXPECT_EQ(refused.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(refused.message()), ::testing::HasSubstr("AUTH"));
  EXPECT_THAT(std::string(refused.message()), ::testing::Not(::testing::HasSubstr("not-the-Pass")));

  options.password.clear();
  absl::Status unauthenticated = NewRedisStreamsBus(options)->Publish(MakeEvent(9));
  EXPECT_FALSE(unauthenticated.ok());
  // NOAUTH, or for a long command Redis 7's "unauthenticated multibulk length".
  EXPECT_THAT(std::string(unauthenticated.message()),
              ::testing::ContainsRegex("NOAUTH|unauthenticated"));
}

}  // namespace
}  // namespace centric::events
