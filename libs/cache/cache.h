// Redis cache-aside for the shared customer state, built for correctness first.
//
// Every cached value carries the version of the record it was read from. Writers call
// Invalidate(key, new_version) after their transaction commits; that leaves a marker
// holding new_version, and SetIfNewer refuses any value older than the marker or the
// value already cached. So the classic race (a reader misses and reads version 1, a
// writer commits version 2 and invalidates, the reader then caches version 1) cannot put
// a stale value in the cache.
//
// Failure model: Redis unreachable or slow is never an error to the caller. Get answers
// a miss, SetIfNewer and Invalidate are dropped (invalidations are remembered and
// replayed before the cache is trusted again), and the outage is counted and logged once.
#ifndef CENTRIC_LIBS_CACHE_CACHE_H_
#define CENTRIC_LIBS_CACHE_CACHE_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>
#include "absl/strings/string_view.h"

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace centric::cache {

struct CachedValue {
  int64_t version = 0;
  std::string payload;
};

struct CacheStats {
  int64_t hits = 0;
  int64_t misses = 0;
  // Commands that failed or timed out.
  int64_t errors = 0;
  // Times Redis went from reachable to unreachable.
  int64_t outages = 0;
  // Loads run by GetOrLoad (fewer than misses when single-flight coalesced them).
  int64_t loads = 0;
};

class VersionedCache {
 public:
  virtual ~VersionedCache() = default;
  // The cached value, or nullopt on a miss, a marker, or any Redis failure.
  virtual std::optional<CachedValue> Get(absl::string_view key) = 0;
  // The value if this process holds it in memory (a near cache), else nullopt; never
  // blocks on I/O, so it may run on a gRPC callback thread.
  virtual std::optional<CachedValue> Peek(absl::string_view key) { return std::nullopt; }
  // Get of each key, in order; Redis answers all of them in one round trip.
  virtual std::vector<std::optional<CachedValue>> GetMany(const std::vector<std::string>& keys) {
    std::vector<std::optional<CachedValue>> values;
    values.reserve(keys.size());
    for (const std::string& key : keys) values.push_back(Get(key));
    return values;
  }
  // Stores `payload` unless the key holds a value or marker with a higher version, or a
  // value with the same version.
  virtual void SetIfNewer(absl::string_view key, int64_t version, absl::string_view payload) = 0;
  // Call after the commit that produced `version` (or erased the record: pass the
  // tombstone's version). Later SetIfNewer calls with older versions are refused.
  virtual void Invalidate(absl::string_view key, int64_t version) = 0;
  virtual CacheStats Stats() const = 0;
};

// A cache that holds nothing: every Get misses. Used with --no-cache.
class NullCache : public VersionedCache {
 public:
  std::optional<CachedValue> Get(absl::string_view) override { return std::nullopt; }
  std::vector<std::optional<CachedValue>> GetMany(const std::vector<std::string>& keys) override {
    return std::vector<std::optional<CachedValue>>(keys.size());
  }
  void SetIfNewer(absl::string_view, int64_t, absl::string_view) override {}
  void Invalidate(absl::string_view, int64_t) override {}
  CacheStats Stats() const override { return {}; }
};

}  // namespace centric::cache

#endif  // CENTRIC_LIBS_CACHE_CACHE_H_
