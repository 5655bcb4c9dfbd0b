// Time and identifiers are injected, so tests control them.
#ifndef CENTRIC_LIBS_RUNTIME_CLOCK_H_
#define CENTRIC_LIBS_RUNTIME_CLOCK_H_

#include <string>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace centric::runtime {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() = 0;
};

class SystemClock : public Clock {
 public:
  absl::Time Now() override { return absl::Now(); }
};

// A clock that moves only when told to. Thread-safe.
class FakeClock : public Clock {
 public:
  explicit FakeClock(absl::Time start = absl::FromUnixSeconds(1767225600)) : now_(start) {}
  absl::Time Now() override {
    absl::MutexLock lock(&mu_);
    return now_;
  }
  void Advance(absl::Duration d) {
    absl::MutexLock lock(&mu_);
    now_ += d;
  }
  void Set(absl::Time t) {
    absl::MutexLock lock(&mu_);
    now_ = t;
  }

 private:
  absl::Mutex mu_;
  absl::Time now_ ABSL_GUARDED_BY(mu_);
};

// Generates unique, roughly time-ordered ids.
class IdGenerator {
 public:
  virtual ~IdGenerator() = default;
  virtual std::string NewId() = 0;
};

// 26 characters of lower-case Crockford base32: 48 bits of milliseconds since the epoch
// then 80 random bits, so ids sort by creation time and start with a letter or digit.
// Profile ids must start with a letter: this generator's ids start with "0" until the
// year 10889, so callers that need a letter prefix add one.
class UlidGenerator : public IdGenerator {
 public:
  explicit UlidGenerator(Clock& clock) : clock_(clock) {}
  std::string NewId() override;

 private:
  Clock& clock_;
};

// "1", "2", ... with a prefix. For tests.
class SequentialIdGenerator : public IdGenerator {
 public:
  explicit SequentialIdGenerator(std::string prefix = "id") : prefix_(std::move(prefix)) {}
  std::string NewId() override;

 private:
  absl::Mutex mu_;
  std::string prefix_;
  int64_t next_ ABSL_GUARDED_BY(mu_) = 1;
};

}  // namespace centric::runtime

#endif  // CENTRIC_LIBS_RUNTIME_CLOCK_H_
