#include "libs/events/in_process_bus.h"

#include <algorithm>
#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/libs/events/event_test_util.h"

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

TEST(InProcessBusTest, EveryGroupReceivesEveryEventInOrder) {
  auto bus = NewInProcessBus();
  Received reporting, segmentation;
  auto a = bus->Subscribe({"producer", "reporting", "r1"}, Recorder(reporting));
  auto b = bus->Subscribe({"producer", "segmentation", "s1"}, Recorder(segmentation));
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(bus->Publish(MakeEvent(i)).ok());

  ASSERT_TRUE(WaitFor([&] { return reporting.size() >= 50 && segmentation.size() >= 50; }));
  EXPECT_THAT(reporting.ids(), ElementsAreArray(Ids(0, 50)));
  EXPECT_THAT(segmentation.ids(), ElementsAreArray(Ids(0, 50)));
}

TEST(InProcessBusTest, TopicsAreSeparate) {
  auto bus = NewInProcessBus();
  Received received;
  auto sub = bus->Subscribe({"producer", "g", "c"}, Recorder(received));
  ASSERT_TRUE(bus->Publish(MakeEvent(1, "other")).ok());
  ASSERT_TRUE(bus->Publish(MakeEvent(2, "producer")).ok());

  ASSERT_TRUE(WaitFor([&] { return received.size() >= 1; }));
  sub.reset();  // waits for the thread, so a stray delivery would be recorded by now
  EXPECT_THAT(received.ids(), ElementsAreArray({EventId(2)}));
}

TEST(InProcessBusTest, ConsumersOfOneGroupShareTheEvents) {
  auto bus = NewInProcessBus();
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
  auto two = bus->Subscribe({"producer", "g", "two"}, handler_for("two"));
  ASSERT_TRUE(bus->Publish(MakeEvent(0)).ok());
  ASSERT_TRUE(bus->Publish(MakeEvent(1)).ok());

  // A consumer handles one event at a time, so two handlers held open at once can only
  // mean both consumers got one of the group's events.
  {
    absl::MutexLock lock(&mu);
    auto both_busy = [&] { return in_handler == 2; };
    ASSERT_TRUE(mu.AwaitWithTimeout(absl::Condition(&both_busy), absl::Seconds(10)));
    EXPECT_EQ(by_consumer["one"].size(), 1u);
    EXPECT_EQ(by_consumer["two"].size(), 1u);
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

  std::vector<std::string> all = by_consumer["one"];
  all.insert(all.end(), by_consumer["two"].begin(), by_consumer["two"].end());
  EXPECT_THAT(all, UnorderedElementsAreArray(Ids(0, 40))) << "each event to exactly one";
}

TEST(InProcessBusTest, FailedEventIsRedeliveredAfterTheBackOff) {
  const absl::Duration delay = absl::Milliseconds(100);
  auto bus = NewInProcessBus({.retry = {.initial_backoff = delay}});
  absl::Mutex mu;
  std::vector<std::pair<std::string, absl::Time>> calls;
  auto sub = bus->Subscribe({"producer", "g", "c"}, [&](const Event& event) {
    absl::MutexLock lock(&mu);
    calls.push_back({event.id(), absl::Now()});
    const bool first_try_of_1 =
        event.id() == EventId(1) &&
        std::count_if(calls.begin(), calls.end(), [](auto& c) { return c.first == EventId(1); }) ==
            1;
    return first_try_of_1 ? absl::UnavailableError("database down") : absl::OkStatus();
  });
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(bus->Publish(MakeEvent(i)).ok());

  auto count = [&] {
    absl::MutexLock lock(&mu);
    return calls.size();
  };
  ASSERT_TRUE(WaitFor([&] { return count() >= 4; }));
  sub.reset();
  std::vector<std::string> ids;
  std::vector<absl::Time> tries_of_1;
  for (const auto& [id, at] : calls) {
    ids.push_back(id);
    if (id == EventId(1)) tries_of_1.push_back(at);
  }
  EXPECT_THAT(ids, UnorderedElementsAreArray({EventId(0), EventId(1), EventId(1), EventId(2)}));
  ASSERT_EQ(tries_of_1.size(), 2u);
  EXPECT_GE(tries_of_1[1] - tries_of_1[0], delay / 2) << "the first back-off, jittered";
}

TEST(InProcessBusTest, FailedEventGoesToAnotherConsumerWhenTheFirstLeaves) {
  auto bus = NewInProcessBus({.retry = {.initial_backoff = absl::Milliseconds(50)}});
  Received failed;
  auto dying = bus->Subscribe({"producer", "g", "dying"}, [&](const Event& event) {
    failed.Add(event.id());
    return absl::InternalError("crashed before ack");
  });
  ASSERT_TRUE(bus->Publish(MakeEvent(7)).ok());
  ASSERT_TRUE(WaitFor([&] { return failed.size() >= 1; }));
  dying.reset();

  Received received;
  auto healthy = bus->Subscribe({"producer", "g", "healthy"}, Recorder(received));
  ASSERT_TRUE(WaitFor([&] { return received.size() >= 1; }));
  EXPECT_THAT(received.ids(), ElementsAreArray({EventId(7)}));
}

TEST(InProcessBusTest, GroupQueuesWhileNoConsumerRunsButNotBeforeItExists) {
  auto bus = NewInProcessBus();
  ASSERT_TRUE(bus->Publish(MakeEvent(0)).ok());  // no group yet: nobody gets it
  Received received;
  bus->Subscribe({"producer", "g", "c"}, Recorder(received)).reset();
  ASSERT_TRUE(bus->Publish(MakeEvent(1)).ok());  // group exists, consumer gone: queued

  auto sub = bus->Subscribe({"producer", "g", "c"}, Recorder(received));
  ASSERT_TRUE(WaitFor([&] { return received.size() >= 1; }));
  sub.reset();
  EXPECT_THAT(received.ids(), ElementsAreArray({EventId(1)}));
}

TEST(InProcessBusTest, LagCountsWhatAGroupHasNotAcknowledged) {
  auto bus = NewInProcessBus();
  absl::Notification release;
  std::atomic<int> handled{0};
  auto slow = bus->Subscribe({"producer", "reporting", "r1"}, [&](const Event&) {
    release.WaitForNotification();
    ++handled;
    return absl::OkStatus();
  });
  Received fast;
  auto quick = bus->Subscribe({"producer", "segmentation", "s1"}, Recorder(fast));
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(bus->Publish(MakeEvent(i)).ok());
  ASSERT_TRUE(WaitFor([&] { return fast.size() >= 5; }));
  auto lag = bus->Lag();
  ASSERT_TRUE(lag.ok()) << lag.status();
  ASSERT_EQ(lag->size(), 2u);
  EXPECT_EQ((*lag)[0].topic, "producer");
  EXPECT_EQ((*lag)[0].group, "reporting");
  EXPECT_EQ((*lag)[0].events, 5);  // one being handled, four queued
  EXPECT_EQ((*lag)[1].group, "segmentation");
  EXPECT_EQ((*lag)[1].events, 0);
  release.Notify();
  ASSERT_TRUE(WaitFor([&] { return handled.load() == 5; }));
  ASSERT_TRUE(WaitFor([&] { return (*bus->Lag())[0].events == 0; }));
}

TEST(InProcessBusTest, FailingAndPoisonEventsAreDeadLetteredAndReplayedToTheirGroupOnly) {
  auto bus = NewInProcessBus(
      {.retry = {.initial_backoff = absl::Milliseconds(5), .max_attempts = 3}});
  ::centric::events::testing::ExpectDeadLetterLifecycle(*bus);
}

TEST(RetryDelayTest, GrowsExponentiallyUpToTheCapWithJitterInTheUpperHalf) {
  RetryPolicy policy{.initial_backoff = absl::Milliseconds(100), .max_backoff = absl::Seconds(1),
                     .multiplier = 2.0, .max_attempts = 10};
  EXPECT_EQ(RetryDelay(policy, 1, 0.0), absl::Milliseconds(50));
  EXPECT_GT(RetryDelay(policy, 1, 0.999999), absl::Microseconds(99990));
  EXPECT_LT(RetryDelay(policy, 1, 0.999999), absl::Milliseconds(100));
  EXPECT_EQ(RetryDelay(policy, 3, 0.0), absl::Milliseconds(200));
  EXPECT_EQ(RetryDelay(policy, 5, 0.0), absl::Milliseconds(500)) << "capped at 1 s, halved";
  EXPECT_EQ(RetryDelay(policy, 1000, 0.0), absl::Milliseconds(500)) << "no overflow";
}

TEST(InProcessBusTest, PublishWithoutSourceIsInvalid) {
  auto bus = NewInProcessBus();
  Event event = MakeEvent(0);
  event.clear_source();
  EXPECT_EQ(bus->Publish(event).code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace centric::events
