// VersionedCache on Redis through hiredis: a pool of connections with connect and
// command timeouts, reconnect with back-off, TTL with jitter, and versioned writes done
// atomically in Lua.
#ifndef CENTRIC_LIBS_CACHE_REDIS_CACHE_H_
#define CENTRIC_LIBS_CACHE_REDIS_CACHE_H_

#include <memory>
#include <string>
#include "absl/strings/string_view.h"

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "libs/cache/cache.h"

struct redisContext;

namespace centric::cache {

struct RedisOptions {
  std::string host = "127.0.0.1";
  int port = 6379;
  // Sent with AUTH on every new connection when `password` is not empty: AUTH username
  // password (Redis 6 ACL users) when `username` is set, else AUTH password
  // (requirepass).
  std::string username;
  std::string password;
  int pool_size = 8;
  absl::Duration connect_timeout = absl::Milliseconds(200);
  absl::Duration command_timeout = absl::Milliseconds(100);
  // After a failure, Redis is not tried again for this long (reads go to the store).
  absl::Duration retry_backoff = absl::Milliseconds(500);
  // Values live for ttl ± ttl_jitter (uniform), so keys written together do not expire
  // together.
  absl::Duration ttl = absl::Minutes(10);
  absl::Duration ttl_jitter = absl::Minutes(1);
  // Invalidation markers must outlive the slowest store read; they live this long.
  absl::Duration marker_ttl = absl::Minutes(10);
  // Prepended to every key, e.g. "centric:".
  std::string key_prefix = "centric:";
  // Invalidations remembered while Redis is down; past this, reads bypass the cache after
  // Redis returns until every value cached before the outage has expired (the longer of
  // ttl + ttl_jitter and marker_ttl), since some stale keys cannot be named.
  size_t max_pending_invalidations = 100000;
};

// Parses "redis://[[username]:password@]host[:port][/0]" (port defaults to 6379; user
// and password percent-encoded as in any URL, e.g. %40 for '@'). Errors:
// INVALID_ARGUMENT naming the part at fault; the password is never part of a message.
// TLS (rediss://) is refused: hiredis 0.14, Debian bookworm's, has no TLS.
absl::StatusOr<RedisOptions> ParseRedisUrl(absl::string_view url);

// A connection to Redis with the options' timeouts, authenticated (AUTH) when they carry
// a password; nullptr with `error` set when connecting or AUTH failed. For the cache's
// pool and the near cache's invalidation links.
redisContext* OpenRedisContext(const RedisOptions& options, std::string* error);

// Never fails to construct: an unreachable Redis is an outage, not an error.
std::unique_ptr<VersionedCache> NewRedisCache(const RedisOptions& options);

}  // namespace centric::cache

#endif  // CENTRIC_LIBS_CACHE_REDIS_CACHE_H_
