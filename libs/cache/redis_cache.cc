#include "libs/cache/redis_cache.h"

#include <hiredis/hiredis.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <optional>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/random/random.h"
#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "libs/runtime/config.h"
#include "libs/runtime/log.h"

namespace centric::cache {
namespace {

// Each key is a hash: {v: version, d: payload} for a value, {v: version, m: 1} for an
// invalidation marker. A key of another type, or with an unreadable version, counts as
// absent.
//
// Versions are compared as decimal strings: Lua numbers are doubles, which cannot tell
// 2^53 from 2^53 + 1. Versions come from absl::StrCat(int64_t), so they are canonical
// (no '+', no leading zeros, no "-0").
constexpr char kLuaHelpers[] = R"lua(
local function compare(a, b)
  local a_negative, b_negative = a:sub(1, 1) == '-', b:sub(1, 1) == '-'
  if a_negative ~= b_negative then return a_negative and -1 or 1 end
  local sign = a_negative and -1 or 1
  if a_negative then a, b = a:sub(2), b:sub(2) end
  if #a ~= #b then return (#a < #b and -1 or 1) * sign end
  if a == b then return 0 end
  return (a < b and -1 or 1) * sign
end
local function held()
  if redis.call('TYPE', KEYS[1])['ok'] ~= 'hash' then return nil end
  local fields = redis.call('HMGET', KEYS[1], 'v', 'm')
  if type(fields[1]) ~= 'string' or not fields[1]:match('^%-?%d+$') then return nil end
  return fields[1], fields[2] ~= false
end
)lua";

// KEYS[1] = key, ARGV = version, payload, ttl in ms. Returns 1 if written.
constexpr char kSetIfNewerBody[] = R"lua(
local held_version, is_marker = held()
if held_version then
  local order = compare(held_version, ARGV[1])
  if order > 0 or (order == 0 and not is_marker) then return 0 end
end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'v', ARGV[1], 'd', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
)lua";

// KEYS[1] = key, ARGV = version, marker ttl in ms. Returns 1 if a marker was written.
constexpr char kInvalidateBody[] = R"lua(
local held_version = held()
if held_version and compare(held_version, ARGV[1]) >= 0 then return 0 end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'v', ARGV[1], 'm', '1')
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
)lua";

const std::string& SetIfNewerScript() {
  static const auto* script = new std::string(absl::StrCat(kLuaHelpers, kSetIfNewerBody));
  return *script;
}

const std::string& InvalidateScript() {
  static const auto* script = new std::string(absl::StrCat(kLuaHelpers, kInvalidateBody));
  return *script;
}

struct ReplyDeleter {
  void operator()(redisReply* reply) const { freeReplyObject(reply); }
};
using Reply = std::unique_ptr<redisReply, ReplyDeleter>;

struct Connection {
  Connection() = default;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection() {
    if (context != nullptr) redisFree(context);
  }
  redisContext* context = nullptr;
  std::string set_sha;
  std::string invalidate_sha;
  // Pool generation at connect time; connections from before a failure are not reused.
  int64_t generation = 0;
};

// The reply, or nullptr with `error` set when the connection failed (I/O error or
// timeout). An error reply from Redis is returned as a reply.
Reply Command(Connection& connection, const std::vector<absl::string_view>& args,
              std::string* error) {
  std::vector<const char*> argv;
  std::vector<size_t> argv_len;
  argv.reserve(args.size());
  argv_len.reserve(args.size());
  for (absl::string_view arg : args) {
    // An empty string_view may hold a null pointer, which hiredis would memcpy from.
    argv.push_back(arg.empty() ? "" : arg.data());
    argv_len.push_back(arg.size());
  }
  Reply reply(static_cast<redisReply*>(redisCommandArgv(
      connection.context, static_cast<int>(argv.size()), argv.data(), argv_len.data())));
  if (reply == nullptr) {
    // hiredis reports a socket timeout as a plain EAGAIN I/O error.
    const bool timed_out =
        connection.context->err == REDIS_ERR_IO && (errno == EAGAIN || errno == EWOULDBLOCK);
    *error = timed_out                      ? "command timed out"
             : connection.context->err != 0 ? connection.context->errstr
                                            : "no reply";
  }
  return reply;
}

bool IsErrorReply(const Reply& reply) { return reply->type == REDIS_REPLY_ERROR; }

absl::string_view ReplyText(const redisReply& reply) {
  return absl::string_view(reply.str, reply.len);
}

// EVALSHA, falling back to EVAL when the server lost the script (SCRIPT FLUSH).
Reply RunScript(Connection& connection, absl::string_view sha, absl::string_view script,
                absl::string_view key, const std::vector<absl::string_view>& args,
                std::string* error) {
  std::vector<absl::string_view> command = {"EVALSHA", sha, "1", key};
  command.insert(command.end(), args.begin(), args.end());
  Reply reply = Command(connection, command, error);
  if (reply == nullptr || !IsErrorReply(reply) ||
      !absl::StartsWith(ReplyText(*reply), "NOSCRIPT")) {
    return reply;
  }
  command[0] = "EVAL";
  command[1] = script;
  return Command(connection, command, error);
}

std::string ErrorReplyText(const Reply& reply) { return std::string(ReplyText(*reply)); }

RedisOptions WithPoolOfAtLeastOne(RedisOptions options) {
  options.pool_size = std::max(1, options.pool_size);
  return options;
}

class RedisCache final : public VersionedCache {
 public:
  explicit RedisCache(RedisOptions options)
      : options_(WithPoolOfAtLeastOne(std::move(options))),
        address_(absl::StrCat(options_.host, ":", options_.port)) {}

  std::optional<CachedValue> Get(absl::string_view key) override;
  std::vector<std::optional<CachedValue>> GetMany(const std::vector<std::string>& keys) override;
  void SetIfNewer(absl::string_view key, int64_t version, absl::string_view payload) override;
  void Invalidate(absl::string_view key, int64_t version) override;
  CacheStats Stats() const override;

 private:
  // A connection to use now, or nullptr when Redis must not be tried (inside the
  // back-off after a failure, another caller is probing, reads are bypassed, or the
  // pool stayed exhausted). The first caller after the back-off probes: it connects and
  // replays remembered invalidations before anyone reads from Redis again.
  std::unique_ptr<Connection> Acquire(bool for_read);
  // Returns a healthy connection to the pool.
  void Release(std::unique_ptr<Connection> connection);
  // Drops `connection` (may be null) and every idle one, starts the back-off, and counts
  // and logs an outage if Redis was up. `pending` is an invalidation that did not reach
  // Redis; it is remembered in the same step so recovery cannot miss it.
  void Fail(std::unique_ptr<Connection> connection, absl::string_view error,
            std::optional<std::pair<absl::string_view, int64_t>> pending = std::nullopt);
  std::unique_ptr<Connection> TakeFromPool(std::string* error);
  std::unique_ptr<Connection> Connect(int64_t generation, std::string* error);
  std::unique_ptr<Connection> Probe();
  // Sends every remembered invalidation, then marks Redis up. False (with `error`) if a
  // command failed; unsent invalidations stay remembered.
  bool ReplayPending(Connection& connection, std::string* error);
  // Remembers an invalidation if Redis is down; false if it is up again (send it).
  bool RememberIfDown(absl::string_view key, int64_t version);
  void RememberLocked(absl::string_view key, int64_t version)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(state_mu_);
  Reply RunInvalidate(Connection& connection, absl::string_view key, int64_t version,
                      std::string* error);
  int64_t JitteredTtlMillis();

  const RedisOptions options_;
  const std::string address_;

  absl::Mutex pool_mu_;
  absl::CondVar pool_cv_;
  std::vector<std::unique_ptr<Connection>> idle_ ABSL_GUARDED_BY(pool_mu_);
  // Connections open, idle or in use (at most pool_size).
  int open_ ABSL_GUARDED_BY(pool_mu_) = 0;
  int64_t generation_ ABSL_GUARDED_BY(pool_mu_) = 0;

  absl::Mutex state_mu_;
  bool down_ ABSL_GUARDED_BY(state_mu_) = false;
  bool probing_ ABSL_GUARDED_BY(state_mu_) = false;
  absl::Time retry_at_ ABSL_GUARDED_BY(state_mu_) = absl::InfinitePast();
  absl::Time down_since_ ABSL_GUARDED_BY(state_mu_) = absl::InfinitePast();
  // Reads skip Redis until then (after an outage whose invalidations overflowed).
  absl::Time bypass_until_ ABSL_GUARDED_BY(state_mu_) = absl::InfinitePast();
  // Key (without prefix) → highest version invalidated while Redis was down.
  absl::flat_hash_map<std::string, int64_t> pending_ ABSL_GUARDED_BY(state_mu_);
  bool pending_overflowed_ ABSL_GUARDED_BY(state_mu_) = false;

  std::atomic<int64_t> hits_{0};
  std::atomic<int64_t> misses_{0};
  std::atomic<int64_t> errors_{0};
  std::atomic<int64_t> outages_{0};
};

// The value in an HMGET v d m reply, or nullopt (a miss, a marker). `foreign` is set for
// a reply of another shape (a key we did not write).
std::optional<CachedValue> ValueOf(const redisReply& reply, bool& foreign) {
  foreign = false;
  if (reply.type != REDIS_REPLY_ARRAY || reply.elements != 3) {
    foreign = true;
    return std::nullopt;
  }
  const redisReply* version = reply.element[0];
  const redisReply* payload = reply.element[1];
  const redisReply* marker = reply.element[2];
  int64_t parsed = 0;
  if (version->type == REDIS_REPLY_STRING && payload->type == REDIS_REPLY_STRING &&
      marker->type == REDIS_REPLY_NIL && absl::SimpleAtoi(ReplyText(*version), &parsed)) {
    return CachedValue{parsed, std::string(ReplyText(*payload))};
  }
  return std::nullopt;
}

std::optional<CachedValue> RedisCache::Get(absl::string_view key) {
  std::unique_ptr<Connection> connection = Acquire(/*for_read=*/true);
  if (connection == nullptr) {
    misses_.fetch_add(1, std::memory_order_relaxed);
    return std::nullopt;
  }
  const std::string full_key = absl::StrCat(options_.key_prefix, key);
  std::string error;
  Reply reply = Command(*connection, {"HMGET", full_key, "v", "d", "m"}, &error);
  if (reply == nullptr) {
    Fail(std::move(connection), error);
    misses_.fetch_add(1, std::memory_order_relaxed);
    return std::nullopt;
  }
  Release(std::move(connection));
  bool foreign = false;
  std::optional<CachedValue> value = ValueOf(*reply, foreign);
  // WRONGTYPE and the like: a key we did not write. Not an outage.
  if (foreign) errors_.fetch_add(1, std::memory_order_relaxed);
  (value ? hits_ : misses_).fetch_add(1, std::memory_order_relaxed);
  return value;
}

std::vector<std::optional<CachedValue>> RedisCache::GetMany(const std::vector<std::string>& keys) {
  std::vector<std::optional<CachedValue>> values(keys.size());
  if (keys.empty()) return values;
  std::unique_ptr<Connection> connection = Acquire(/*for_read=*/true);
  if (connection == nullptr) {
    misses_.fetch_add(static_cast<int64_t>(keys.size()), std::memory_order_relaxed);
    return values;
  }
  // Pipelined: every HMGET is written, then the replies are read in order.
  for (const std::string& key : keys) {
    const std::string full_key = absl::StrCat(options_.key_prefix, key);
    const char* argv[] = {"HMGET", full_key.c_str(), "v", "d", "m"};
    const size_t argv_len[] = {5, full_key.size(), 1, 1, 1};
    if (redisAppendCommandArgv(connection->context, 5, argv, argv_len) != REDIS_OK) {
      Fail(std::move(connection), "cannot queue a pipelined HMGET");
      misses_.fetch_add(static_cast<int64_t>(keys.size()), std::memory_order_relaxed);
      return std::vector<std::optional<CachedValue>>(keys.size());
    }
  }
  for (size_t i = 0; i < keys.size(); ++i) {
    void* raw = nullptr;
    if (redisGetReply(connection->context, &raw) != REDIS_OK || raw == nullptr) {
      const std::string error = connection->context->err != 0 ? connection->context->errstr
                                                              : "no reply";
      Fail(std::move(connection), error);
      misses_.fetch_add(static_cast<int64_t>(keys.size()), std::memory_order_relaxed);
      return std::vector<std::optional<CachedValue>>(keys.size());
    }
    Reply reply(static_cast<redisReply*>(raw));
    bool foreign = false;
    values[i] = ValueOf(*reply, foreign);
    if (foreign) errors_.fetch_add(1, std::memory_order_relaxed);
    (values[i] ? hits_ : misses_).fetch_add(1, std::memory_order_relaxed);
  }
  Release(std::move(connection));
  return values;
}

void RedisCache::SetIfNewer(absl::string_view key, int64_t version, absl::string_view payload) {
  std::unique_ptr<Connection> connection = Acquire(/*for_read=*/false);
  if (connection == nullptr) return;
  const std::string full_key = absl::StrCat(options_.key_prefix, key);
  const std::string version_text = absl::StrCat(version);
  const std::string ttl_text = absl::StrCat(JitteredTtlMillis());
  std::string error;
  Reply reply = RunScript(*connection, connection->set_sha, SetIfNewerScript(), full_key,
                          {version_text, payload, ttl_text}, &error);
  if (reply == nullptr) {
    Fail(std::move(connection), error);
    return;
  }
  Release(std::move(connection));
  // An error reply (say, OOM under maxmemory) only loses this write, which is safe.
  if (IsErrorReply(reply)) errors_.fetch_add(1, std::memory_order_relaxed);
}

void RedisCache::Invalidate(absl::string_view key, int64_t version) {
  // A few tries cover races with a recovery finishing between our checks; an
  // invalidation is never dropped: if it cannot be sent, Redis is treated as down.
  for (int attempt = 0; attempt < 3; ++attempt) {
    std::unique_ptr<Connection> connection = Acquire(/*for_read=*/false);
    if (connection == nullptr) {
      if (RememberIfDown(key, version)) return;
      continue;
    }
    std::string error;
    Reply reply = RunInvalidate(*connection, key, version, &error);
    if (reply == nullptr) {
      Fail(std::move(connection), error, std::make_pair(key, version));
      return;
    }
    if (IsErrorReply(reply)) {
      // The marker was not written, so Redis may now serve a stale value: stop trusting
      // it until the invalidation is replayed.
      Fail(std::move(connection), ErrorReplyText(reply), std::make_pair(key, version));
      return;
    }
    Release(std::move(connection));
    return;
  }
  Fail(nullptr, "no connection available for an invalidation", std::make_pair(key, version));
}

CacheStats RedisCache::Stats() const {
  CacheStats stats;
  stats.hits = hits_.load(std::memory_order_relaxed);
  stats.misses = misses_.load(std::memory_order_relaxed);
  stats.errors = errors_.load(std::memory_order_relaxed);
  stats.outages = outages_.load(std::memory_order_relaxed);
  return stats;
}

std::unique_ptr<Connection> RedisCache::Acquire(bool for_read) {
  bool probe = false;
  {
    absl::MutexLock lock(&state_mu_);
    const absl::Time now = absl::Now();
    if (down_) {
      if (probing_ || now < retry_at_) return nullptr;
      probing_ = true;
      probe = true;
    } else if (for_read && now < bypass_until_) {
      return nullptr;
    }
  }
  if (!probe) {
    std::string error;
    std::unique_ptr<Connection> connection = TakeFromPool(&error);
    if (connection == nullptr) {
      if (error.empty()) {
        // Pool exhausted: every connection is busy; skip Redis for this call.
        errors_.fetch_add(1, std::memory_order_relaxed);
      } else {
        Fail(nullptr, error);
      }
    }
    return connection;
  }
  std::unique_ptr<Connection> connection = Probe();
  if (connection != nullptr && for_read) {
    bool bypassed = false;
    {
      absl::MutexLock lock(&state_mu_);
      bypassed = absl::Now() < bypass_until_;
    }
    if (bypassed) {
      Release(std::move(connection));
      return nullptr;
    }
  }
  return connection;
}

std::unique_ptr<Connection> RedisCache::Probe() {
  std::string error;
  std::unique_ptr<Connection> connection = TakeFromPool(&error);
  if (connection == nullptr) {
    Fail(nullptr, error.empty() ? "connection pool exhausted" : error);
    return nullptr;
  }
  if (!ReplayPending(*connection, &error)) {
    Fail(std::move(connection), error);
    return nullptr;
  }
  return connection;
}

bool RedisCache::ReplayPending(Connection& connection, std::string* error) {
  int64_t replayed = 0;
  absl::Time down_since;
  bool overflowed = false;
  // Invalidations keep arriving while we replay (Redis still counts as down), so drain
  // until a snapshot comes back empty; only then may reads use Redis.
  while (true) {
    absl::flat_hash_map<std::string, int64_t> batch;
    {
      absl::MutexLock lock(&state_mu_);
      if (pending_.empty()) {
        down_ = false;
        probing_ = false;
        down_since = down_since_;
        overflowed = pending_overflowed_;
        if (overflowed) {
          // Some invalidations were not remembered, so any value cached before the
          // outage may be stale and we cannot name which. Skip Redis for reads until
          // every such value has expired (and every marker written before it).
          bypass_until_ =
              absl::Now() + std::max(options_.ttl + options_.ttl_jitter, options_.marker_ttl);
          pending_overflowed_ = false;
        }
        break;
      }
      batch.swap(pending_);
    }
    for (auto it = batch.begin(); it != batch.end(); ++it) {
      Reply reply = RunInvalidate(connection, it->first, it->second, error);
      if (reply == nullptr || IsErrorReply(reply)) {
        if (reply != nullptr) *error = ErrorReplyText(reply);
        absl::MutexLock lock(&state_mu_);
        for (; it != batch.end(); ++it) RememberLocked(it->first, it->second);
        return false;
      }
      ++replayed;
    }
  }
  runtime::LogInfo("cache_recovered",
                   {{"address", address_},
                    {"down_ms", absl::ToInt64Milliseconds(absl::Now() - down_since)},
                    {"replayed_invalidations", replayed},
                    {"reads_bypassed_ms",
                     overflowed ? absl::ToInt64Milliseconds(std::max(
                                      options_.ttl + options_.ttl_jitter, options_.marker_ttl))
                                : int64_t{0}}});
  return true;
}

bool RedisCache::RememberIfDown(absl::string_view key, int64_t version) {
  absl::MutexLock lock(&state_mu_);
  if (!down_) return false;
  RememberLocked(key, version);
  return true;
}

void RedisCache::RememberLocked(absl::string_view key, int64_t version) {
  auto it = pending_.find(key);
  if (it != pending_.end()) {
    it->second = std::max(it->second, version);
  } else if (pending_.size() >= options_.max_pending_invalidations) {
    pending_overflowed_ = true;
  } else {
    pending_.emplace(std::string(key), version);
  }
}

void RedisCache::Fail(std::unique_ptr<Connection> connection, absl::string_view error,
                      std::optional<std::pair<absl::string_view, int64_t>> pending) {
  errors_.fetch_add(1, std::memory_order_relaxed);
  std::vector<std::unique_ptr<Connection>> dropped;
  {
    absl::MutexLock lock(&pool_mu_);
    // Idle connections likely share the failed one's fate (say, a restarted server);
    // dropping them keeps the next probe from tripping over a dead socket.
    dropped.swap(idle_);
    open_ -= static_cast<int>(dropped.size());
    if (connection != nullptr) --open_;
    ++generation_;
    pool_cv_.SignalAll();
  }
  connection.reset();
  dropped.clear();

  bool newly_down = false;
  {
    absl::MutexLock lock(&state_mu_);
    if (pending) RememberLocked(pending->first, pending->second);
    const absl::Time now = absl::Now();
    retry_at_ = now + options_.retry_backoff;
    probing_ = false;
    if (!down_) {
      down_ = true;
      down_since_ = now;
      newly_down = true;
    }
  }
  if (newly_down) {
    outages_.fetch_add(1, std::memory_order_relaxed);
    runtime::LogWarning("cache_unavailable",
                        {{"address", address_},
                         {"error", error},
                         {"retry_backoff_ms", absl::ToInt64Milliseconds(options_.retry_backoff)}});
  }
}

void RedisCache::Release(std::unique_ptr<Connection> connection) {
  absl::MutexLock lock(&pool_mu_);
  if (connection->generation == generation_) {
    idle_.push_back(std::move(connection));
  } else {
    // Opened before a failure: it may point at a dead server.
    --open_;
  }
  pool_cv_.Signal();
}

std::unique_ptr<Connection> RedisCache::TakeFromPool(std::string* error) {
  int64_t generation = 0;
  {
    absl::MutexLock lock(&pool_mu_);
    // Every command is bounded by command_timeout, so a slot frees up within about
    // that long unless Redis is in trouble.
    const absl::Time deadline = absl::Now() + options_.command_timeout;
    while (idle_.empty() && open_ >= options_.pool_size) {
      if (pool_cv_.WaitWithDeadline(&pool_mu_, deadline) && idle_.empty() &&
          open_ >= options_.pool_size) {
        return nullptr;
      }
    }
    if (!idle_.empty()) {
      std::unique_ptr<Connection> connection = std::move(idle_.back());
      idle_.pop_back();
      return connection;
    }
    ++open_;
    generation = generation_;
  }
  std::unique_ptr<Connection> connection = Connect(generation, error);
  if (connection == nullptr) {
    absl::MutexLock lock(&pool_mu_);
    --open_;
    pool_cv_.Signal();
  }
  return connection;
}

std::unique_ptr<Connection> RedisCache::Connect(int64_t generation, std::string* error) {
  auto connection = std::make_unique<Connection>();
  connection->generation = generation;
  connection->context = OpenRedisContext(options_, error);
  if (connection->context == nullptr) return nullptr;
  for (auto [script, sha] : {std::pair{&SetIfNewerScript(), &connection->set_sha},
                             std::pair{&InvalidateScript(), &connection->invalidate_sha}}) {
    Reply reply = Command(*connection, {"SCRIPT", "LOAD", *script}, error);
    if (reply == nullptr) return nullptr;
    if (reply->type != REDIS_REPLY_STRING) {
      *error = IsErrorReply(reply) ? absl::StrCat("SCRIPT LOAD: ", ReplyText(*reply))
                                   : "SCRIPT LOAD: unexpected reply";
      return nullptr;
    }
    *sha = std::string(ReplyText(*reply));
  }
  return connection;
}

Reply RedisCache::RunInvalidate(Connection& connection, absl::string_view key, int64_t version,
                                std::string* error) {
  const std::string full_key = absl::StrCat(options_.key_prefix, key);
  const std::string version_text = absl::StrCat(version);
  const std::string ttl_text =
      absl::StrCat(std::max<int64_t>(1, absl::ToInt64Milliseconds(options_.marker_ttl)));
  return RunScript(connection, connection.invalidate_sha, InvalidateScript(), full_key,
                   {version_text, ttl_text}, error);
}

int64_t RedisCache::JitteredTtlMillis() {
  thread_local absl::InsecureBitGen bit_gen;
  const int64_t ttl = absl::ToInt64Milliseconds(options_.ttl);
  const int64_t jitter = absl::ToInt64Milliseconds(options_.ttl_jitter);
  const int64_t offset =
      jitter > 0 ? absl::Uniform(absl::IntervalClosed, bit_gen, -jitter, jitter) : 0;
  return std::max<int64_t>(1, ttl + offset);
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Percent-decodes the user or password of a URL. Errors name `part`, never its value.
absl::StatusOr<std::string> PercentDecode(absl::string_view text, absl::string_view part) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out.push_back(text[i]);
      continue;
    }
    const int high = i + 2 < text.size() ? HexDigit(text[i + 1]) : -1;
    const int low = i + 2 < text.size() ? HexDigit(text[i + 2]) : -1;
    if (high < 0 || low < 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "redis URL: the ", part, " has a '%' not followed by two hex digits; write '%' as %25"));
    }
    out.push_back(static_cast<char>(high * 16 + low));
    i += 2;
  }
  return out;
}

}  // namespace

redisContext* OpenRedisContext(const RedisOptions& options, std::string* error) {
  redisContext* context = redisConnectWithTimeout(options.host.c_str(), options.port,
                                                  absl::ToTimeval(options.connect_timeout));
  if (context == nullptr) {
    *error = "cannot allocate a redis context";
    return nullptr;
  }
  auto fail = [&](std::string message) -> redisContext* {
    *error = std::move(message);
    redisFree(context);
    return nullptr;
  };
  if (context->err != 0) return fail(absl::StrCat("connect: ", context->errstr));
  if (redisSetTimeout(context, absl::ToTimeval(options.command_timeout)) != REDIS_OK) {
    return fail(absl::StrCat("set timeout: ", context->errstr));
  }
  if (!options.password.empty()) {
    Reply reply(static_cast<redisReply*>(
        options.username.empty()
            ? redisCommand(context, "AUTH %b", options.password.data(), options.password.size())
            : redisCommand(context, "AUTH %b %b", options.username.data(), options.username.size(),
                           options.password.data(), options.password.size())));
    if (reply == nullptr) {
      return fail(context->err != 0 ? std::string(context->errstr) : "AUTH: no reply");
    }
    if (IsErrorReply(reply)) {
      // WRONGPASS, or "AUTH <password> called without any password configured".
      return fail(absl::StrCat("AUTH refused: ", ReplyText(*reply)));
    }
  }
  return context;
}

absl::StatusOr<RedisOptions> ParseRedisUrl(absl::string_view url) {
  absl::string_view rest = url;
  if (!absl::ConsumePrefix(&rest, "redis://")) {
    if (absl::StartsWith(url, "rediss://")) {
      return absl::InvalidArgumentError(
          "redis URL: TLS (rediss://) is not supported (hiredis 0.14 has no TLS); use "
          "redis://host:port behind a TLS proxy, see docs/SECURITY.md");
    }
    return absl::InvalidArgumentError(
        absl::StrCat("redis URL must look like redis://[user:password@]host:port, got \"",
                     runtime::RedactUrlPassword(url), "\""));
  }
  // The user information runs to the last '@', so an unescaped '@', '/' or '?' in a
  // password still parses.
  std::string username;
  std::string password;
  if (size_t at = rest.rfind('@'); at != absl::string_view::npos) {
    absl::string_view userinfo = rest.substr(0, at);
    rest = rest.substr(at + 1);
    const size_t colon = userinfo.find(':');
    if (colon == absl::string_view::npos) {
      return absl::InvalidArgumentError(
          "redis URL: credentials must be written user:password@ or :password@ (no ':' found "
          "before '@')");
    }
    auto user = PercentDecode(userinfo.substr(0, colon), "user");
    if (!user.ok()) return user.status();
    auto pass = PercentDecode(userinfo.substr(colon + 1), "password");
    if (!pass.ok()) return pass.status();
    if (pass->empty()) {
      return absl::InvalidArgumentError("redis URL: the password after ':' is empty");
    }
    username = std::move(*user);
    password = std::move(*pass);
  }
  if (absl::StrContains(rest, '?') || absl::StrContains(rest, '#')) {
    return absl::InvalidArgumentError("redis URL: query parameters are not supported");
  }
  if (size_t slash = rest.find('/'); slash != absl::string_view::npos) {
    absl::string_view path = rest.substr(slash);
    if (path != "/" && path != "/0") {
      return absl::InvalidArgumentError(
          absl::StrCat("redis URL: database \"", path.substr(1),
                       "\" is not supported; only database 0 (Redis Cluster has no other)"));
    }
    rest = rest.substr(0, slash);
  }

  absl::string_view host;
  absl::string_view port_text;
  bool has_port = false;
  if (absl::ConsumePrefix(&rest, "[")) {
    size_t close = rest.find(']');
    if (close == absl::string_view::npos) {
      return absl::InvalidArgumentError("redis URL: IPv6 address is missing its closing ']'");
    }
    host = rest.substr(0, close);
    rest = rest.substr(close + 1);
    if (!rest.empty()) {
      if (!absl::ConsumePrefix(&rest, ":")) {
        return absl::InvalidArgumentError("redis URL: expected ':port' after ']'");
      }
      has_port = true;
    }
    port_text = rest;
  } else {
    size_t colon = rest.find(':');
    host = rest.substr(0, colon);
    if (colon != absl::string_view::npos) {
      has_port = true;
      port_text = rest.substr(colon + 1);
    }
    if (absl::StrContains(port_text, ':')) {
      return absl::InvalidArgumentError(
          "redis URL: too many ':'; write IPv6 addresses as [address]:port");
    }
  }
  if (host.empty()) return absl::InvalidArgumentError("redis URL: host is empty");

  RedisOptions options;
  options.host = std::string(host);
  options.username = std::move(username);
  options.password = std::move(password);
  if (has_port) {
    int port = 0;
    if (!absl::SimpleAtoi(port_text, &port) || port < 1 || port > 65535) {
      return absl::InvalidArgumentError(absl::StrCat(
          "redis URL: port must be a number from 1 to 65535, got \"", port_text, "\""));
    }
    options.port = port;
  }
  return options;
}

std::unique_ptr<VersionedCache> NewRedisCache(const RedisOptions& options) {
  return std::make_unique<RedisCache>(options);
}

}  // namespace centric::cache
