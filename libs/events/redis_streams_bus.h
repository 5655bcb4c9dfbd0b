// The shared bus: one Redis stream per topic ("<prefix>events:<topic>"), consumer groups
// with XREADGROUP/XACK, and XAUTOCLAIM of entries left pending by a dead consumer for
// longer than `claim_idle`.
//
// Each entry holds the fields id, type and data (the serialised Event). Subscribe creates
// the group at the stream's end ("$", MKSTREAM) before returning, or, if Redis is down,
// on the first reconnect. Every consumer loop: its own unacked entries (at start), the
// failed entries whose back-off is over (XCLAIM to itself), XAUTOCLAIM, then XREADGROUP
// BLOCK. A consumer reads two streams: the topic's and its group's replay stream
// ("<prefix>events-replay:<topic>:<group>", dead letters an operator replayed).
//
// Failures follow the bus's RetryPolicy; an entry that fails max_attempts times, that
// the handler calls poison, or that does not parse as an Event is moved to the group's
// dead-letter stream "<prefix>dead-letters:<topic>:<group>" (fields entry, id, type,
// subject, error, attempts, consumer, time in Unix ms, data) and acknowledged in one
// MULTI/EXEC. Deliveries are counted from Redis' own count (XPENDING) for entries a
// consumer reclaims or rereads after a restart, so an event that crashes every consumer
// given it is dead-lettered too.
#ifndef CENTRIC_LIBS_EVENTS_REDIS_STREAMS_BUS_H_
#define CENTRIC_LIBS_EVENTS_REDIS_STREAMS_BUS_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "libs/events/bus.h"

namespace centric::events {

struct RedisStreamsOptions {
  std::string host = "127.0.0.1";
  int port = 6379;
  // AUTH [username] password on every connection when `password` is set (as the cache's
  // cache::RedisOptions).
  std::string username;
  std::string password;
  std::string key_prefix = "centric:";
  absl::Duration command_timeout = absl::Seconds(2);
  // Pending entries idle this long are reclaimed by another consumer of the group.
  absl::Duration claim_idle = absl::Seconds(30);
  // Back-off and attempts before an entry is dead-lettered. Its max_backoff is capped
  // at claim_idle / 2, so that a consumer retries before others may take the entry.
  RetryPolicy retry;
  // XREADGROUP BLOCK time; bounds how long Subscription destruction waits.
  absl::Duration block = absl::Milliseconds(200);
  // Streams (topics, replay and dead-letter streams) are trimmed to about this many
  // entries (XADD MAXLEN ~).
  int64_t max_len = 1000000;
};

// Connects lazily; Publish returns UNAVAILABLE while Redis is unreachable, and consumers
// reconnect with back-off (recreating their group if Redis came back empty).
std::unique_ptr<Bus> NewRedisStreamsBus(const RedisStreamsOptions& options);

}  // namespace centric::events

#endif  // CENTRIC_LIBS_EVENTS_REDIS_STREAMS_BUS_H_
