// Helpers shared by the events tests: event builders, a bus wrapper that records what
// was published, and bounded polling.
#ifndef CENTRIC_TESTS_LIBS_EVENTS_EVENT_TEST_UTIL_H_
#define CENTRIC_TESTS_LIBS_EVENTS_EVENT_TEST_UTIL_H_

#include <algorithm>
#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/events/bus.h"

namespace centric::events::testing {

// Long enough for a loaded 2-core CI machine, short enough to fail a hung test quickly.
inline constexpr absl::Duration kWaitTimeout = absl::Seconds(10);

inline std::string EventId(int i) { return absl::StrFormat("evt-%06d", i); }

inline Event MakeEvent(int i, const std::string& source = "producer") {
  Event event;
  event.set_id(EventId(i));
  event.set_type("centric.test.Thing");
  event.set_source(source);
  event.set_subject(absl::StrFormat("things/%d", i % 7));
  return event;
}

// Polls `done` until it holds or `timeout` passes; returns its last value.
inline bool WaitFor(const std::function<bool()>& done, absl::Duration timeout = kWaitTimeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    if (done()) return true;
    absl::SleepFor(absl::Milliseconds(5));
  }
  return done();
}

// Passes everything to `inner`; tests override what they change.
class ForwardingBus : public Bus {
 public:
  explicit ForwardingBus(Bus& inner) : inner_(inner) {}
  absl::Status Publish(const Event& event) override { return inner_.Publish(event); }
  std::unique_ptr<Subscription> Subscribe(const SubscribeOptions& options,
                                          Handler handler) override {
    return inner_.Subscribe(options, std::move(handler));
  }
  absl::StatusOr<std::vector<GroupLag>> Lag() override { return inner_.Lag(); }
  absl::StatusOr<DeadLetterPage> ListDeadLetters(const std::string& topic,
                                                 const std::string& group, int limit,
                                                 const std::string& after) override {
    return inner_.ListDeadLetters(topic, group, limit, after);
  }
  absl::Status ReplayDeadLetter(const std::string& topic, const std::string& group,
                                const std::string& id) override {
    return inner_.ReplayDeadLetter(topic, group, id);
  }
  absl::Status DropDeadLetter(const std::string& topic, const std::string& group,
                              const std::string& id) override {
    return inner_.DropDeadLetter(topic, group, id);
  }

 private:
  Bus& inner_;
};

// Remembers the ids published in order.
class RecordingBus : public ForwardingBus {
 public:
  using ForwardingBus::ForwardingBus;
  absl::Status Publish(const Event& event) override {
    absl::Status status = ForwardingBus::Publish(event);
    absl::MutexLock lock(&mu_);
    if (status.ok()) published_.push_back(event.id());
    return status;
  }
  std::vector<std::string> published() {
    absl::MutexLock lock(&mu_);
    return published_;
  }

 private:
  absl::Mutex mu_;
  std::vector<std::string> published_;
};

// Thread-safe list of the event ids a handler was given.
class Received {
 public:
  void Add(const std::string& id) {
    absl::MutexLock lock(&mu_);
    ids_.push_back(id);
  }
  std::vector<std::string> ids() {
    absl::MutexLock lock(&mu_);
    return ids_;
  }
  size_t size() {
    absl::MutexLock lock(&mu_);
    return ids_.size();
  }

 private:
  absl::Mutex mu_;
  std::vector<std::string> ids_;
};

// The ids EventId(from) .. EventId(to - 1), in order.
inline std::vector<std::string> Ids(int from, int to) {
  std::vector<std::string> ids;
  for (int i = from; i < to; ++i) ids.push_back(EventId(i));
  return ids;
}

// A handler that records every event id it is given and acknowledges it.
inline Handler Recorder(Received& received) {
  return [&received](const Event& event) {
    received.Add(event.id());
    return absl::OkStatus();
  };
}

// What a user of either bus relies on (the bus's RetryPolicy must allow 3 attempts with
// short back-offs): an event that keeps failing in group "failing" is retried, parked
// in that group's dead letters after the last attempt while group "healthy" got it
// once; a replay delivers it to "failing" again and to nobody else; a poison event is
// parked after one delivery; a dropped dead letter is gone.
inline void ExpectDeadLetterLifecycle(Bus& bus) {
  std::atomic<bool> fixed{false};
  Received failing_calls, healthy_calls;
  auto failing = bus.Subscribe({"producer", "failing", "c1"}, [&](const Event& event) {
    failing_calls.Add(event.id());
    if (event.id() == EventId(2)) return PoisonError("payload is not a Thing");
    if (event.id() == EventId(1) && !fixed) return absl::UnavailableError("database down");
    return absl::OkStatus();
  });
  auto healthy = bus.Subscribe({"producer", "healthy", "c2"}, [&](const Event& event) {
    healthy_calls.Add(event.id());
    return absl::OkStatus();
  });
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(bus.Publish(MakeEvent(i)).ok());

  auto dead = [&] {
    absl::StatusOr<DeadLetterPage> page = bus.ListDeadLetters("producer", "failing", 10, "");
    EXPECT_TRUE(page.ok()) << page.status();
    return page.ok() ? *page : DeadLetterPage{};
  };
  ASSERT_TRUE(WaitFor([&] { return dead().total == 2; })) << dead().total;
  DeadLetterPage page = dead();
  ASSERT_EQ(page.dead_letters.size(), 2u);
  std::map<std::string, DeadLetter> by_event;
  for (const DeadLetter& d : page.dead_letters) by_event[d.event_id] = d;
  ASSERT_TRUE(by_event.contains(EventId(1)) && by_event.contains(EventId(2)));
  const DeadLetter& exhausted = by_event[EventId(1)];
  EXPECT_EQ(exhausted.attempts, 3);
  EXPECT_THAT(exhausted.error, ::testing::HasSubstr("database down"));
  EXPECT_EQ(exhausted.consumer, "c1");
  EXPECT_EQ(exhausted.event_type, "centric.test.Thing");
  EXPECT_EQ(exhausted.subject, MakeEvent(1).subject());
  Event stored;
  EXPECT_TRUE(stored.ParseFromString(exhausted.data) && stored.id() == EventId(1));
  EXPECT_EQ(by_event[EventId(2)].attempts, 1) << "poison is not retried";
  EXPECT_THAT(by_event[EventId(2)].error, ::testing::HasSubstr("payload is not a Thing"));
  std::vector<std::string> calls = failing_calls.ids();
  EXPECT_EQ(std::count(calls.begin(), calls.end(), EventId(1)), 3);
  EXPECT_EQ(std::count(calls.begin(), calls.end(), EventId(2)), 1);
  EXPECT_THAT(healthy_calls.ids(), ::testing::UnorderedElementsAre(EventId(0), EventId(1), EventId(2)));
  // Paging: one at a time, in the same order.
  absl::StatusOr<DeadLetterPage> first = bus.ListDeadLetters("producer", "failing", 1, "");
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_EQ(first->dead_letters.size(), 1u);
  EXPECT_EQ(first->dead_letters[0].id, page.dead_letters[0].id);
  ASSERT_FALSE(first->next.empty());
  absl::StatusOr<DeadLetterPage> second = bus.ListDeadLetters("producer", "failing", 1, first->next);
  ASSERT_TRUE(second.ok()) << second.status();
  ASSERT_EQ(second->dead_letters.size(), 1u);
  EXPECT_EQ(second->dead_letters[0].id, page.dead_letters[1].id);
  EXPECT_TRUE(second->next.empty());

  absl::StatusOr<std::vector<GroupLag>> lag = bus.Lag();
  ASSERT_TRUE(lag.ok()) << lag.status();
  for (const GroupLag& g : *lag) {
    EXPECT_EQ(g.dead_letters, g.group == "failing" ? 2 : 0) << g.group;
  }

  fixed = true;
  ASSERT_TRUE(bus.ReplayDeadLetter("producer", "failing", exhausted.id).ok());
  ASSERT_TRUE(WaitFor([&] {
    std::vector<std::string> now = failing_calls.ids();
    return std::count(now.begin(), now.end(), EventId(1)) == 4;
  }));
  ASSERT_TRUE(bus.DropDeadLetter("producer", "failing", by_event[EventId(2)].id).ok());
  EXPECT_EQ(dead().total, 0);
  EXPECT_TRUE(absl::IsNotFound(bus.DropDeadLetter("producer", "failing", exhausted.id)));
  EXPECT_TRUE(absl::IsNotFound(bus.ReplayDeadLetter("producer", "failing", exhausted.id)));
  EXPECT_TRUE(absl::IsNotFound(bus.DropDeadLetter("producer", "failing", "no-such-id")));
  // The replay reached the failing group only.
  absl::SleepFor(absl::Milliseconds(100));
  EXPECT_EQ(healthy_calls.size(), 3u);
  ASSERT_TRUE(WaitFor([&] {
    absl::StatusOr<std::vector<GroupLag>> l = bus.Lag();
    if (!l.ok()) return false;
    for (const GroupLag& g : *l) {
      if (g.events != 0) return false;
    }
    return true;
  })) << "the replayed event is acknowledged";
}

}  // namespace centric::events::testing

#endif  // CENTRIC_TESTS_LIBS_EVENTS_EVENT_TEST_UTIL_H_
