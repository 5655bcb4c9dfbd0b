// Helpers shared by the events tests: event builders, a bus wrapper that records what
// was published, and bounded polling.
#ifndef CENTRIC_TESTS_LIBS_EVENTS_EVENT_TEST_UTIL_H_
#define CENTRIC_TESTS_LIBS_EVENTS_EVENT_TEST_UTIL_H_

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
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

}  // namespace centric::events::testing

#endif  // CENTRIC_TESTS_LIBS_EVENTS_EVENT_TEST_UTIL_H_
