// A bounded in-process cache in front of the Redis cache, kept coherent by Redis
// server-assisted client-side caching (../shared/DESIGN.md, "Near cache";
// docs/ARCHITECTURE.md, "Near cache").
//
// Invalidation: one connection subscribes to __redis__:invalidate; a second runs
// CLIENT TRACKING on REDIRECT <first> BCAST PREFIX <tracked prefix>, so every write to a
// tracked key by any client (another replica's SetIfNewer or Invalidate, an operator,
// FLUSHALL) reaches this process as a message naming the key, and the entry is dropped.
// The process's own Invalidate drops the entry synchronously before it returns.
//
// Trust: values are served from memory only while tracking is known to work. A heartbeat
// key under the tracked prefix is written every heartbeat_interval; its invalidation must
// come back within max_lag. When a link drops, a command fails, a heartbeat is late, or
// Redis restarts, the near cache is cleared and bypassed (every Get goes to Redis) until
// both links are back and a heartbeat has made the round trip again.
//
// Races: a value read from Redis is kept only if no invalidation of its shard, and no
// loss of trust, happened between the start of that read and its insertion; Invalidate
// fences its shard both before and after the Redis marker is written. So once an
// Invalidate returned, this process never serves the older value, and another process
// stops serving it once the invalidation message arrived (the invalidation delay).
#ifndef CENTRIC_LIBS_CACHE_NEAR_CACHE_H_
#define CENTRIC_LIBS_CACHE_NEAR_CACHE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "libs/cache/cache.h"
#include "libs/cache/redis_cache.h"

namespace centric::cache {

struct NearCacheOptions {
  // Bytes of keys and payloads held (plus a fixed overhead per entry); the least recently
  // used entries go first. --near-cache-bytes; 0 disables the near cache.
  size_t max_bytes = size_t{256} << 20;
  // Cache keys (without RedisOptions::key_prefix) kept near; others pass through.
  std::string tracked_prefix = "profiles:";
  absl::Duration heartbeat_interval = absl::Milliseconds(50);
  // A heartbeat whose invalidation has not come back after this long makes the near
  // cache untrusted (cleared, bypassed) until the links are re-established.
  absl::Duration max_lag = absl::Milliseconds(250);
  // Wait between attempts to re-establish the links.
  absl::Duration reconnect_backoff = absl::Milliseconds(200);
};

struct NearCacheStats {
  int64_t hits = 0;
  int64_t misses = 0;
  // Gets that skipped memory because tracking was not established.
  int64_t bypassed = 0;
  int64_t entries = 0;
  int64_t bytes = 0;
  // Keys dropped by invalidation messages and by this process's own Invalidate.
  int64_t invalidations = 0;
  // Times the near cache was cleared because trust was lost (link down, lag, restart)
  // or Redis announced a flush.
  int64_t resets = 0;
  bool tracking = false;
};

class NearCache final : public VersionedCache {
 public:
  // `remote` is the Redis cache behind it; `redis` says where its Redis is (for the two
  // invalidation links). Starts the link thread; the near cache is bypassed until
  // tracking is established.
  NearCache(std::unique_ptr<VersionedCache> remote, const RedisOptions& redis,
            NearCacheOptions options);
  ~NearCache() override;

  std::optional<CachedValue> Get(absl::string_view key) override;
  // Memory only, while tracking is established.
  std::optional<CachedValue> Peek(absl::string_view key) override;
  // Memory first; the rest from Redis in one round trip.
  std::vector<std::optional<CachedValue>> GetMany(const std::vector<std::string>& keys) override;
  void SetIfNewer(absl::string_view key, int64_t version, absl::string_view payload) override;
  void Invalidate(absl::string_view key, int64_t version) override;
  // The Redis cache's counters (near hits never reach it).
  CacheStats Stats() const override;

  NearCacheStats NearStats() const;
  // Waits up to `timeout` for tracking to be established; whether it is.
  bool WaitTracking(absl::Duration timeout) const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace centric::cache

#endif  // CENTRIC_LIBS_CACHE_NEAR_CACHE_H_
