#include "libs/cache/near_cache.h"

#include <hiredis/hiredis.h>
#include <poll.h>

#include <atomic>
#include <cerrno>
#include <deque>
#include <list>
#include <optional>
#include <thread>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/hash/hash.h"
#include "absl/random/random.h"
#include "absl/strings/match.h"
#include "absl/strings/strip.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "libs/runtime/log.h"

namespace centric::cache {
namespace {

constexpr char kInvalidateChannel[] = "__redis__:invalidate";
constexpr int kShards = 64;
// Charged per entry on top of key and payload: list node, index slot, string headers.
constexpr size_t kEntryOverhead = 128;

struct ReplyDeleter {
  void operator()(redisReply* reply) const { freeReplyObject(reply); }
};
using Reply = std::unique_ptr<redisReply, ReplyDeleter>;

struct ContextDeleter {
  void operator()(redisContext* context) const { redisFree(context); }
};
using Context = std::unique_ptr<redisContext, ContextDeleter>;

absl::string_view Text(const redisReply& reply) { return absl::string_view(reply.str, reply.len); }

struct Entry {
  std::string key;
  CachedValue value;
  size_t Bytes() const { return key.size() + value.payload.size() + kEntryOverhead; }
};

struct Shard {
  absl::Mutex mu;
  // Most recently used first.
  std::list<Entry> lru ABSL_GUARDED_BY(mu);
  absl::flat_hash_map<absl::string_view, std::list<Entry>::iterator> index ABSL_GUARDED_BY(mu);
  size_t bytes ABSL_GUARDED_BY(mu) = 0;
  // Bumped by every invalidation of a key of this shard and by every clear: a value read
  // from Redis before a bump is not inserted after it.
  uint64_t epoch ABSL_GUARDED_BY(mu) = 0;

  void EraseLocked(std::list<Entry>::iterator it) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    bytes -= it->Bytes();
    index.erase(absl::string_view(it->key));
    lru.erase(it);
  }
};

}  // namespace

class NearCache::Impl {
 public:
  Impl(std::unique_ptr<VersionedCache> remote, const RedisOptions& redis, NearCacheOptions options)
      : remote_(std::move(remote)),
        redis_(redis),
        options_(std::move(options)),
        shard_budget_(options_.max_bytes / kShards),
        tracked_full_prefix_(absl::StrCat(redis_.key_prefix, options_.tracked_prefix)),
        heartbeat_key_(absl::StrCat(tracked_full_prefix_, "{~near-heartbeat-",
                                    absl::Uniform<uint64_t>(absl::BitGen()), "}")) {
    thread_ = std::thread([this] { Run(); });
  }

  ~Impl() {
    {
      absl::MutexLock lock(&mu_);
      stopping_ = true;
    }
    thread_.join();
  }

  std::optional<CachedValue> Get(absl::string_view key) {
    if (!Tracked(key)) return remote_->Get(key);
    const uint64_t generation = generation_.load(std::memory_order_acquire);
    if (!trusted_.load(std::memory_order_acquire)) {
      bypassed_.fetch_add(1, std::memory_order_relaxed);
      return remote_->Get(key);
    }
    Shard& shard = ShardOf(key);
    uint64_t epoch = 0;
    {
      absl::MutexLock lock(&shard.mu);
      auto it = shard.index.find(key);
      if (it != shard.index.end()) {
        shard.lru.splice(shard.lru.begin(), shard.lru, it->second);
        hits_.fetch_add(1, std::memory_order_relaxed);
        return it->second->value;
      }
      epoch = shard.epoch;
    }
    misses_.fetch_add(1, std::memory_order_relaxed);
    std::optional<CachedValue> value = remote_->Get(key);
    if (value.has_value()) Insert(shard, key, *value, epoch, generation);
    return value;
  }

  std::optional<CachedValue> Peek(absl::string_view key) {
    if (!Tracked(key) || !trusted_.load(std::memory_order_acquire)) return std::nullopt;
    Shard& shard = ShardOf(key);
    absl::MutexLock lock(&shard.mu);
    auto it = shard.index.find(key);
    if (it == shard.index.end()) return std::nullopt;
    shard.lru.splice(shard.lru.begin(), shard.lru, it->second);
    hits_.fetch_add(1, std::memory_order_relaxed);
    return it->second->value;
  }

  std::vector<std::optional<CachedValue>> GetMany(const std::vector<std::string>& keys) {
    const uint64_t generation = generation_.load(std::memory_order_acquire);
    const bool trusted = trusted_.load(std::memory_order_acquire);
    std::vector<std::optional<CachedValue>> values(keys.size());
    std::vector<size_t> remote_indexes;
    std::vector<std::string> remote_keys;
    std::vector<uint64_t> epochs;
    for (size_t i = 0; i < keys.size(); ++i) {
      uint64_t epoch = 0;
      if (Tracked(keys[i])) {
        if (!trusted) {
          bypassed_.fetch_add(1, std::memory_order_relaxed);
        } else {
          Shard& shard = ShardOf(keys[i]);
          absl::MutexLock lock(&shard.mu);
          auto it = shard.index.find(keys[i]);
          if (it != shard.index.end()) {
            shard.lru.splice(shard.lru.begin(), shard.lru, it->second);
            hits_.fetch_add(1, std::memory_order_relaxed);
            values[i] = it->second->value;
            continue;
          }
          epoch = shard.epoch;
          misses_.fetch_add(1, std::memory_order_relaxed);
        }
      }
      remote_indexes.push_back(i);
      remote_keys.push_back(keys[i]);
      epochs.push_back(epoch);
    }
    if (remote_keys.empty()) return values;
    std::vector<std::optional<CachedValue>> fetched = remote_->GetMany(remote_keys);
    for (size_t j = 0; j < fetched.size() && j < remote_indexes.size(); ++j) {
      if (fetched[j].has_value() && trusted && Tracked(remote_keys[j])) {
        Insert(ShardOf(remote_keys[j]), remote_keys[j], *fetched[j], epochs[j], generation);
      }
      values[remote_indexes[j]] = std::move(fetched[j]);
    }
    return values;
  }

  void SetIfNewer(absl::string_view key, int64_t version, absl::string_view payload) {
    // Not kept near here: the write is announced by an invalidation message anyway; the
    // next read fills the near cache from Redis.
    remote_->SetIfNewer(key, version, payload);
  }

  void Invalidate(absl::string_view key, int64_t version) {
    if (!Tracked(key)) {
      remote_->Invalidate(key, version);
      return;
    }
    // Fenced on both sides: a read that started before the marker reached Redis may
    // still be carrying the old value back.
    Drop(key);
    remote_->Invalidate(key, version);
    Drop(key);
    invalidations_.fetch_add(1, std::memory_order_relaxed);
  }

  CacheStats Stats() const { return remote_->Stats(); }

  NearCacheStats NearStats() const {
    NearCacheStats stats;
    stats.hits = hits_.load(std::memory_order_relaxed);
    stats.misses = misses_.load(std::memory_order_relaxed);
    stats.bypassed = bypassed_.load(std::memory_order_relaxed);
    stats.invalidations = invalidations_.load(std::memory_order_relaxed);
    stats.resets = resets_.load(std::memory_order_relaxed);
    stats.tracking = trusted_.load(std::memory_order_relaxed);
    for (Shard& shard : shards_) {
      absl::MutexLock lock(&shard.mu);
      stats.entries += static_cast<int64_t>(shard.lru.size());
      stats.bytes += static_cast<int64_t>(shard.bytes);
    }
    return stats;
  }

  bool WaitTracking(absl::Duration timeout) const {
    const absl::Time deadline = absl::Now() + timeout;
    while (!trusted_.load(std::memory_order_acquire)) {
      if (absl::Now() >= deadline) return false;
      absl::SleepFor(absl::Milliseconds(5));
    }
    return true;
  }

 private:
  bool Tracked(absl::string_view key) const {
    return absl::StartsWith(key, options_.tracked_prefix);
  }

  Shard& ShardOf(absl::string_view key) const {
    return shards_[absl::Hash<absl::string_view>()(key) % kShards];
  }

  void Insert(Shard& shard, absl::string_view key, const CachedValue& value, uint64_t epoch,
              uint64_t generation) {
    Entry entry{std::string(key), value};
    const size_t bytes = entry.Bytes();
    if (bytes > shard_budget_) return;
    absl::MutexLock lock(&shard.mu);
    if (shard.epoch != epoch || generation_.load(std::memory_order_acquire) != generation ||
        !trusted_.load(std::memory_order_acquire)) {
      return;
    }
    if (auto it = shard.index.find(key); it != shard.index.end()) {
      if (it->second->value.version >= value.version) return;
      shard.EraseLocked(it->second);
    }
    shard.lru.push_front(std::move(entry));
    shard.index.emplace(absl::string_view(shard.lru.front().key), shard.lru.begin());
    shard.bytes += bytes;
    while (shard.bytes > shard_budget_ && !shard.lru.empty()) {
      shard.EraseLocked(std::prev(shard.lru.end()));
    }
  }

  void Drop(absl::string_view key) {
    Shard& shard = ShardOf(key);
    absl::MutexLock lock(&shard.mu);
    ++shard.epoch;
    if (auto it = shard.index.find(key); it != shard.index.end()) shard.EraseLocked(it->second);
  }

  void Clear() {
    for (Shard& shard : shards_) {
      absl::MutexLock lock(&shard.mu);
      ++shard.epoch;
      shard.index.clear();
      shard.lru.clear();
      shard.bytes = 0;
    }
  }

  // --- The link thread -----------------------------------------------------------------

  void Run() {
    absl::Time retry_at = absl::InfinitePast();
    while (true) {
      {
        absl::MutexLock lock(&mu_);
        if (stopping_) break;
      }
      if (subscriber_ == nullptr) {
        if (absl::Now() < retry_at) {
          absl::MutexLock lock(&mu_);
          mu_.AwaitWithDeadline(absl::Condition(&stopping_), retry_at);
          continue;
        }
        std::string error;
        if (!Connect(&error)) {
          Lose(absl::StrCat("cannot establish tracking: ", error));
          retry_at = absl::Now() + options_.reconnect_backoff;
        }
        continue;
      }
      const absl::Time now = absl::Now();
      if (now >= next_heartbeat_) {
        std::string error;
        if (!SendHeartbeat(&error)) {
          Lose(absl::StrCat("heartbeat failed: ", error));
          retry_at = now + options_.reconnect_backoff;
          continue;
        }
        next_heartbeat_ = now + options_.heartbeat_interval;
      }
      if (!unacked_.empty() && now - unacked_.front() > options_.max_lag) {
        Lose(absl::StrCat("no invalidation of the heartbeat for ",
                          absl::ToInt64Milliseconds(now - unacked_.front()), " ms"));
        retry_at = now + options_.reconnect_backoff;
        continue;
      }
      const int wait_ms = static_cast<int>(std::max<int64_t>(
          1, absl::ToInt64Milliseconds(next_heartbeat_ - absl::Now()) + 1));
      std::string error;
      if (!ReadMessages(std::min(wait_ms, 50), &error)) {
        Lose(absl::StrCat("invalidation link dropped: ", error));
        retry_at = absl::Now() + options_.reconnect_backoff;
      }
    }
    subscriber_.reset();
    tracker_.reset();
  }

  // Opens the subscriber (SUBSCRIBE __redis__:invalidate) and the tracker (CLIENT
  // TRACKING on REDIRECT <subscriber> BCAST PREFIX <prefix>).
  bool Connect(std::string* error) {
    Context subscriber(OpenRedisContext(redis_, error));
    if (subscriber == nullptr) return false;
    Reply id(static_cast<redisReply*>(redisCommand(subscriber.get(), "CLIENT ID")));
    if (id == nullptr || id->type != REDIS_REPLY_INTEGER) {
      *error = id == nullptr ? std::string(subscriber->errstr)
                             : absl::StrCat("CLIENT ID: ", id->type == REDIS_REPLY_ERROR
                                                               ? Text(*id)
                                                               : "unexpected reply");
      return false;
    }
    Reply subscribed(
        static_cast<redisReply*>(redisCommand(subscriber.get(), "SUBSCRIBE %s", kInvalidateChannel)));
    if (subscribed == nullptr || subscribed->type != REDIS_REPLY_ARRAY) {
      *error = subscribed == nullptr ? std::string(subscriber->errstr) : "SUBSCRIBE refused";
      return false;
    }
    Context tracker(OpenRedisContext(redis_, error));
    if (tracker == nullptr) return false;
    const std::string client_id = absl::StrCat(id->integer);
    Reply tracking(static_cast<redisReply*>(
        redisCommand(tracker.get(), "CLIENT TRACKING on REDIRECT %s BCAST PREFIX %b",
                     client_id.c_str(), tracked_full_prefix_.data(), tracked_full_prefix_.size())));
    if (tracking == nullptr || tracking->type == REDIS_REPLY_ERROR) {
      *error = tracking == nullptr ? std::string(tracker->errstr)
                                   : absl::StrCat("CLIENT TRACKING: ", Text(*tracking));
      return false;
    }
    subscriber_ = std::move(subscriber);
    tracker_ = std::move(tracker);
    unacked_.clear();
    next_heartbeat_ = absl::InfinitePast();
    return true;
  }

  bool SendHeartbeat(std::string* error) {
    Reply reply(static_cast<redisReply*>(redisCommand(
        tracker_.get(), "SET %b %lld PX 60000", heartbeat_key_.data(), heartbeat_key_.size(),
        static_cast<long long>(++heartbeats_))));
    if (reply == nullptr || reply->type == REDIS_REPLY_ERROR) {
      *error = reply == nullptr ? std::string(tracker_->errstr) : std::string(Text(*reply));
      return false;
    }
    unacked_.push_back(absl::Now());
    return true;
  }

  // Handles the messages that arrive within `wait_ms`; false when the link failed.
  bool ReadMessages(int wait_ms, std::string* error) {
    while (true) {
      void* raw = nullptr;
      if (redisGetReplyFromReader(subscriber_.get(), &raw) != REDIS_OK) {
        *error = subscriber_->errstr;
        return false;
      }
      if (raw != nullptr) {
        Handle(*Reply(static_cast<redisReply*>(raw)));
        continue;
      }
      pollfd fd{subscriber_->fd, POLLIN, 0};
      const int ready = poll(&fd, 1, wait_ms);
      if (ready < 0) {
        if (errno == EINTR) return true;
        *error = absl::StrCat("poll: errno ", errno);
        return false;
      }
      if (ready == 0) return true;
      if (redisBufferRead(subscriber_.get()) != REDIS_OK) {
        *error = subscriber_->errstr[0] != '\0' ? subscriber_->errstr : "connection closed";
        return false;
      }
      wait_ms = 0;  // then only what has already arrived
    }
  }

  // ["message", "__redis__:invalidate", [key, ...] | nil (flush)].
  void Handle(const redisReply& message) {
    if (message.type != REDIS_REPLY_ARRAY || message.elements != 3 ||
        message.element[0]->type != REDIS_REPLY_STRING || Text(*message.element[0]) != "message") {
      return;
    }
    const redisReply& keys = *message.element[2];
    if (keys.type == REDIS_REPLY_NIL) {
      // FLUSHALL / FLUSHDB: every key is gone.
      Clear();
      resets_.fetch_add(1, std::memory_order_relaxed);
      runtime::LogInfo("near_cache_flushed", {{"detail", "Redis announced a flush"}});
      return;
    }
    if (keys.type != REDIS_REPLY_ARRAY) return;
    for (size_t i = 0; i < keys.elements; ++i) {
      const redisReply& key = *keys.element[i];
      if (key.type != REDIS_REPLY_STRING) continue;
      absl::string_view name = Text(key);
      if (name == heartbeat_key_) {
        if (!unacked_.empty()) unacked_.pop_front();
        if (!trusted_.load(std::memory_order_relaxed)) {
          trusted_.store(true, std::memory_order_release);
          logged_unavailable_ = false;
          runtime::LogInfo("near_cache_tracking",
                           {{"prefix", tracked_full_prefix_},
                            {"max_bytes", static_cast<int64_t>(options_.max_bytes)}});
        }
        continue;
      }
      if (absl::ConsumePrefix(&name, redis_.key_prefix)) {
        Drop(name);
        invalidations_.fetch_add(1, std::memory_order_relaxed);
      }
    }
  }

  // Stops trusting memory: bypassed and cleared until tracking is re-established.
  void Lose(const std::string& reason) {
    subscriber_.reset();
    tracker_.reset();
    unacked_.clear();
    const bool was_trusted = trusted_.exchange(false, std::memory_order_acq_rel);
    generation_.fetch_add(1, std::memory_order_acq_rel);
    Clear();
    if (was_trusted) resets_.fetch_add(1, std::memory_order_relaxed);
    // Logged when trust is lost, and once per outage while it cannot be re-established.
    if (was_trusted || !logged_unavailable_) {
      runtime::LogWarning("near_cache_bypassed", {{"reason", reason}});
    }
    logged_unavailable_ = true;
  }

  const std::unique_ptr<VersionedCache> remote_;
  const RedisOptions redis_;
  const NearCacheOptions options_;
  const size_t shard_budget_;
  const std::string tracked_full_prefix_;
  const std::string heartbeat_key_;
  mutable Shard shards_[kShards];

  std::atomic<bool> trusted_{false};
  // Bumped whenever trust is lost; a read that began before is not inserted after.
  std::atomic<uint64_t> generation_{0};
  std::atomic<int64_t> hits_{0};
  std::atomic<int64_t> misses_{0};
  std::atomic<int64_t> bypassed_{0};
  std::atomic<int64_t> invalidations_{0};
  std::atomic<int64_t> resets_{0};

  // The link thread's own state.
  Context subscriber_;
  Context tracker_;
  std::deque<absl::Time> unacked_;
  absl::Time next_heartbeat_ = absl::InfinitePast();
  int64_t heartbeats_ = 0;
  bool logged_unavailable_ = false;

  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

NearCache::NearCache(std::unique_ptr<VersionedCache> remote, const RedisOptions& redis,
                     NearCacheOptions options)
    : impl_(std::make_unique<Impl>(std::move(remote), redis, std::move(options))) {}

NearCache::~NearCache() = default;

std::optional<CachedValue> NearCache::Get(absl::string_view key) { return impl_->Get(key); }

std::optional<CachedValue> NearCache::Peek(absl::string_view key) { return impl_->Peek(key); }

std::vector<std::optional<CachedValue>> NearCache::GetMany(const std::vector<std::string>& keys) {
  return impl_->GetMany(keys);
}

void NearCache::SetIfNewer(absl::string_view key, int64_t version, absl::string_view payload) {
  impl_->SetIfNewer(key, version, payload);
}

void NearCache::Invalidate(absl::string_view key, int64_t version) {
  impl_->Invalidate(key, version);
}

CacheStats NearCache::Stats() const { return impl_->Stats(); }

NearCacheStats NearCache::NearStats() const { return impl_->NearStats(); }

bool NearCache::WaitTracking(absl::Duration timeout) const { return impl_->WaitTracking(timeout); }

}  // namespace centric::cache
