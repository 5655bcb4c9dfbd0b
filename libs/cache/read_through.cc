#include "libs/cache/read_through.h"

#include <optional>
#include <utility>

#include "absl/synchronization/notification.h"

namespace centric::cache {

// One load of one key, shared by every caller that joined it before it started.
// Per key there is at most a running flight (the head in flights_) and one queued
// flight behind it; callers arriving while the head runs join the queued one.
struct ReadThrough::Flight {
  // Guarded by ReadThrough::mu_. Once set, the flight's cache re-read or load has begun
  // and later callers must not join it.
  bool started = false;
  // Guarded by ReadThrough::mu_. Callers sharing this flight's result, its leader included.
  int64_t members = 1;
  // Guarded by ReadThrough::mu_. The flight queued behind this one.
  std::shared_ptr<Flight> next;
  // Written by the leader before `done` is notified; read by members only after.
  absl::StatusOr<CachedValue> result;
  absl::Notification done;
};

absl::StatusOr<CachedValue> ReadThrough::GetOrLoad(absl::string_view key, const Loader& loader) {
  if (std::optional<CachedValue> hit = cache_.Get(key)) return *std::move(hit);

  std::shared_ptr<Flight> flight;
  std::shared_ptr<Flight> predecessor;
  bool leader = false;
  {
    absl::MutexLock lock(&mu_);
    std::shared_ptr<Flight>& head = flights_[std::string(key)];
    if (head == nullptr) {
      head = std::make_shared<Flight>();
      head->started = true;
      flight = head;
      leader = true;
    } else {
      std::shared_ptr<Flight> tail = head;
      while (tail->next != nullptr) tail = tail->next;
      if (!tail->started) {
        ++tail->members;
        flight = tail;
      } else {
        tail->next = std::make_shared<Flight>();
        flight = tail->next;
        predecessor = tail;
        leader = true;
      }
    }
  }

  if (!leader) {
    flight->done.WaitForNotification();
    return flight->result;
  }

  absl::StatusOr<CachedValue> result;
  bool loaded = false;
  if (predecessor != nullptr) {
    predecessor->done.WaitForNotification();
    {
      absl::MutexLock lock(&mu_);
      flight->started = true;
    }
    // The load we queued behind has usually just cached the value. This read happens
    // after every member joined, so a hit is as fresh as any load we could start.
    if (std::optional<CachedValue> hit = cache_.Get(key)) {
      result = *std::move(hit);
      loaded = true;
    }
  }
  if (!loaded) {
    {
      absl::MutexLock lock(&mu_);
      ++loads_;
    }
    result = loader();
    if (result.ok()) cache_.SetIfNewer(key, result->version, result->payload);
  }

  {
    absl::MutexLock lock(&mu_);
    auto it = flights_.find(key);
    // Only the head flight ever runs, so `it` holds this flight.
    if (flight->next != nullptr) {
      it->second = flight->next;
    } else {
      flights_.erase(it);
    }
  }
  flight->result = result;
  flight->done.Notify();
  return result;
}

int64_t ReadThrough::loads() const {
  absl::MutexLock lock(&mu_);
  return loads_;
}

int64_t ReadThrough::WaitingCallers(absl::string_view key) const {
  absl::MutexLock lock(&mu_);
  auto it = flights_.find(key);
  if (it == flights_.end()) return 0;
  int64_t waiting = 0;
  for (const Flight* flight = it->second.get(); flight != nullptr; flight = flight->next.get()) {
    // A started flight's leader is loading, not waiting.
    waiting += flight->started ? flight->members - 1 : flight->members;
  }
  return waiting;
}

}  // namespace centric::cache
