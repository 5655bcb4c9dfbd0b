// The property the versioned cache exists for: with writers committing and invalidating
// while readers load through the cache (and stall between reading the store and caching
// what they read), no read returns a version older than one whose write had completed
// before the read began, and the cache ends up holding the latest versions.
#include <atomic>
#include <cstdio>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/random/random.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "libs/cache/read_through.h"
#include "libs/cache/redis_cache.h"
#include "tests/libs/cache/redis_test_util.h"

namespace centric::cache {
namespace {

std::string PayloadFor(absl::string_view key, int64_t version) {
  return absl::StrCat(key, "#", version);
}

// The system of record: key → latest committed version.
class Store {
 public:
  explicit Store(const std::vector<std::string>& keys) {
    for (const std::string& key : keys) versions_[key] = 1;
  }
  CachedValue Read(const std::string& key) {
    absl::MutexLock lock(&mu_);
    const int64_t version = versions_.at(key);
    return CachedValue{version, PayloadFor(key, version)};
  }
  int64_t Commit(const std::string& key) {
    absl::MutexLock lock(&mu_);
    return ++versions_.at(key);
  }
  int64_t Latest(const std::string& key) {
    absl::MutexLock lock(&mu_);
    return versions_.at(key);
  }

 private:
  absl::Mutex mu_;
  std::map<std::string, int64_t> versions_ ABSL_GUARDED_BY(mu_);
};

// Versions whose write has completed: committed, then invalidated, as a write RPC would
// before answering. A read that starts later must see that version or a newer one.
class Completed {
 public:
  void Raise(const std::string& key, int64_t version) {
    absl::MutexLock lock(&mu_);
    int64_t& held = versions_[key];
    held = std::max(held, version);
  }
  int64_t Get(const std::string& key) {
    absl::MutexLock lock(&mu_);
    auto it = versions_.find(key);
    return it == versions_.end() ? 0 : it->second;
  }

 private:
  absl::Mutex mu_;
  std::map<std::string, int64_t> versions_ ABSL_GUARDED_BY(mu_);
};

struct WorkloadResult {
  int64_t reads = 0;
  int64_t stale_reads = 0;
  int64_t corrupt_reads = 0;
  int64_t failed_reads = 0;
  int64_t loads = 0;
  absl::Duration elapsed;
};

constexpr int kWriters = 4;
constexpr int kWritesPerWriter = 300;
constexpr int kReaders = 8;

std::vector<std::string> Keys() {
  std::vector<std::string> keys;
  for (int i = 0; i < 6; ++i) keys.push_back(absl::StrCat("profiles:{p", i, "}"));
  return keys;
}

WorkloadResult RunWorkload(VersionedCache& cache, Store& store,
                           const std::vector<std::string>& keys) {
  ReadThrough read_through(cache);
  Completed completed;
  std::atomic<bool> writers_done{false};
  std::atomic<int64_t> reads{0}, stale{0}, corrupt{0}, failed{0};
  const absl::Time start = absl::Now();

  std::vector<std::thread> readers;
  for (int r = 0; r < kReaders; ++r) {
    readers.emplace_back([&] {
      absl::BitGen bit_gen;
      // Bounded by the writers, which finish in about a second.
      while (!writers_done.load()) {
        const std::string& key = keys[absl::Uniform<size_t>(bit_gen, 0, keys.size())];
        const int64_t floor = completed.Get(key);
        auto value = read_through.GetOrLoad(key, [&]() -> absl::StatusOr<CachedValue> {
          CachedValue read = store.Read(key);
          // The injected delay between reading the store and caching what was read.
          absl::SleepFor(absl::Microseconds(absl::Uniform(bit_gen, 0, 5001)));
          return read;
        });
        reads.fetch_add(1);
        if (!value.ok()) {
          failed.fetch_add(1);
        } else if (value->version < floor) {
          stale.fetch_add(1);
        } else if (value->payload != PayloadFor(key, value->version)) {
          corrupt.fetch_add(1);
        }
      }
    });
  }
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&] {
      absl::BitGen bit_gen;
      for (int i = 0; i < kWritesPerWriter; ++i) {
        const std::string& key = keys[absl::Uniform<size_t>(bit_gen, 0, keys.size())];
        const int64_t version = store.Commit(key);
        cache.Invalidate(key, version);
        completed.Raise(key, version);
        absl::SleepFor(absl::Microseconds(absl::Uniform(bit_gen, 0, 2001)));
      }
    });
  }
  for (std::thread& writer : writers) writer.join();
  writers_done.store(true);
  for (std::thread& reader : readers) reader.join();

  WorkloadResult result;
  result.reads = reads.load();
  result.stale_reads = stale.load();
  result.corrupt_reads = corrupt.load();
  result.failed_reads = failed.load();
  result.loads = read_through.loads();
  result.elapsed = absl::Now() - start;
  return result;
}

class StaleReadTest : public SharedRedisTest {};

TEST_F(StaleReadTest, ZeroStaleReadsUnderConcurrentWritersAndSlowReaders) {
  const std::vector<std::string> keys = Keys();
  Store store(keys);
  auto cache = NewRedisCache(Options());
  WorkloadResult result = RunWorkload(*cache, store, keys);
  CacheStats stats = cache->Stats();
  std::printf(
      "versioned: %lld reads, %lld stale, %lld loads, %lld hits, %lld misses, "
      "%lld outages, %lld ms\n",
      static_cast<long long>(result.reads), static_cast<long long>(result.stale_reads),
      static_cast<long long>(result.loads), static_cast<long long>(stats.hits),
      static_cast<long long>(stats.misses), static_cast<long long>(stats.outages),
      static_cast<long long>(absl::ToInt64Milliseconds(result.elapsed)));

  EXPECT_EQ(result.stale_reads, 0);
  EXPECT_EQ(result.corrupt_reads, 0);
  EXPECT_EQ(result.failed_reads, 0);
  // The workload did exercise both paths.
  EXPECT_GT(result.reads, 200);
  EXPECT_GT(result.loads, 20);
  EXPECT_GT(stats.hits, 20);

  // With the writers done, the cache may hold only the latest version of each key
  // (or its marker), never an older value.
  RawRedis raw(server()->port());
  ASSERT_TRUE(raw.ok());
  for (const std::string& key : keys) {
    const int64_t latest = store.Latest(key);
    auto held = raw.HGetAll(FullKey(key));
    if (!held.empty()) {
      EXPECT_EQ(held.at("v"), absl::StrCat(latest)) << key;
    }
  }
  // A final invalidation and read leave every key cached at its latest version.
  ReadThrough read_through(*cache);
  for (const std::string& key : keys) {
    const int64_t latest = store.Latest(key);
    cache->Invalidate(key, latest);
    auto value =
        read_through.GetOrLoad(key, [&] { return absl::StatusOr<CachedValue>(store.Read(key)); });
    ASSERT_TRUE(value.ok()) << value.status();
    EXPECT_EQ(value->version, latest) << key;
    EXPECT_THAT(cache->Get(key), IsValue(latest, PayloadFor(key, latest))) << key;
  }
}

// Plain cache-aside (SET on fill, DEL on write, no versions) over the same Redis.
class NaiveRedisCache : public VersionedCache {
 public:
  NaiveRedisCache(int port, std::string prefix) : raw_(port), prefix_(std::move(prefix)) {}
  bool ok() const { return raw_.ok(); }

  std::optional<CachedValue> Get(absl::string_view key) override {
    absl::MutexLock lock(&mu_);
    std::string held = raw_.Command({"GET", absl::StrCat(prefix_, key)});
    size_t bar = held.find('|');
    CachedValue value;
    if (bar == std::string::npos || !absl::SimpleAtoi(held.substr(0, bar), &value.version)) {
      return std::nullopt;
    }
    value.payload = held.substr(bar + 1);
    return value;
  }
  void SetIfNewer(absl::string_view key, int64_t version, absl::string_view payload) override {
    absl::MutexLock lock(&mu_);
    raw_.Command(
        {"SET", absl::StrCat(prefix_, key), absl::StrCat(version, "|", payload), "PX", "60000"});
  }
  void Invalidate(absl::string_view key, int64_t) override {
    absl::MutexLock lock(&mu_);
    raw_.Command({"DEL", absl::StrCat(prefix_, key)});
  }
  CacheStats Stats() const override { return {}; }

 private:
  absl::Mutex mu_;
  RawRedis raw_;  // Used under mu_: one connection shared by all threads.
  const std::string prefix_;
};

// Shows the workload can catch the race: without versions, a slow reader caches what it
// read before a write, after that write's invalidation, and later reads serve it.
TEST_F(StaleReadTest, NaiveCacheAsideServesStaleReadsUnderTheSameWorkload) {
  const std::vector<std::string> keys = Keys();
  Store store(keys);
  NaiveRedisCache cache(server()->port(), Options().key_prefix);
  ASSERT_TRUE(cache.ok());
  WorkloadResult result = RunWorkload(cache, store, keys);
  std::printf("naive: %lld reads, %lld stale, %lld loads, %lld ms\n",
              static_cast<long long>(result.reads), static_cast<long long>(result.stale_reads),
              static_cast<long long>(result.loads),
              static_cast<long long>(absl::ToInt64Milliseconds(result.elapsed)));
  EXPECT_GT(result.stale_reads, 0);
}

}  // namespace
}  // namespace centric::cache
