// The near cache on a real redis-server: repeat reads come from memory; a write by this
// process is never followed by an older value; a write by another process (or behind
// the cache's back) reaches this one through CLIENT TRACKING; a flush, a stopped or
// restarted Redis clear the near cache and keep it bypassed until tracking is back.
// Each test owns its redis-server, since some stop it.
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "libs/cache/near_cache.h"
#include "libs/cache/redis_cache.h"
#include "libs/testing/servers.h"
#include "tests/libs/cache/redis_test_util.h"

namespace centric::cache {
namespace {

class NearCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto started = centric::testing::RedisServer::Start();
    ASSERT_TRUE(started.ok()) << started.status();
    server_ = std::move(*started);
  }

  RedisOptions Options() const {
    RedisOptions options;
    options.port = server_->port();
    options.connect_timeout = absl::Milliseconds(500);
    options.command_timeout = absl::Milliseconds(500);
    options.retry_backoff = absl::Milliseconds(100);
    options.key_prefix = "near:";
    return options;
  }

  // A near cache in front of a Redis cache, tracking established.
  std::unique_ptr<NearCache> Open(NearCacheOptions options = {}) {
    options.reconnect_backoff = absl::Milliseconds(50);
    auto near = std::make_unique<NearCache>(NewRedisCache(Options()), Options(), options);
    EXPECT_TRUE(near->WaitTracking(absl::Seconds(10)));
    return near;
  }

  // Polls `cache` for `key` until `done(value)` holds; the time it took, or
  // InfiniteDuration after `limit`.
  template <typename Done>
  static absl::Duration Until(VersionedCache& cache, absl::string_view key, Done done,
                              absl::Duration limit = absl::Seconds(5)) {
    const absl::Time start = absl::Now();
    while (!done(cache.Get(key))) {
      if (absl::Now() - start > limit) return absl::InfiniteDuration();
      absl::SleepFor(absl::Microseconds(100));
    }
    return absl::Now() - start;
  }

  // Reads `key` until the near cache answers it from memory with `version` (the echo of
  // a write's own invalidation may drop a first copy); whether it did within 5 s.
  static bool ServedFromMemory(NearCache& cache, absl::string_view key, int64_t version) {
    const absl::Time deadline = absl::Now() + absl::Seconds(5);
    while (absl::Now() < deadline) {
      const int64_t hits = cache.NearStats().hits;
      std::optional<CachedValue> value = cache.Get(key);
      if (value.has_value() && value->version == version && cache.NearStats().hits == hits + 1) {
        return true;
      }
      absl::SleepFor(absl::Milliseconds(1));
    }
    return false;
  }

  std::unique_ptr<centric::testing::RedisServer> server_;
};

TEST_F(NearCacheTest, RepeatReadsAreServedFromMemory) {
  auto near = Open();
  near->SetIfNewer("profiles:{p1}", 1, "one");
  EXPECT_THAT(near->Get("profiles:{p1}"), IsValue(1, "one"));  // from Redis
  ASSERT_TRUE(ServedFromMemory(*near, "profiles:{p1}", 1));
  const int64_t redis_hits = near->Stats().hits;
  const int64_t hits = near->NearStats().hits;
  for (int i = 0; i < 10; ++i) EXPECT_THAT(near->Get("profiles:{p1}"), IsValue(1, "one"));
  NearCacheStats stats = near->NearStats();
  EXPECT_EQ(stats.hits, hits + 10);
  EXPECT_EQ(stats.entries, 1);
  EXPECT_TRUE(stats.tracking);
  EXPECT_EQ(near->Stats().hits, redis_hits) << "the hits reached Redis";
}

TEST_F(NearCacheTest, GetManyTakesWhatMemoryHoldsAndAsksRedisForTheRest) {
  auto near = Open();
  near->SetIfNewer("profiles:{a}", 1, "one");
  near->SetIfNewer("profiles:{b}", 2, "two");
  ASSERT_TRUE(ServedFromMemory(*near, "profiles:{a}", 1));
  const int64_t redis_hits = near->Stats().hits;
  const int64_t hits = near->NearStats().hits;
  auto values = near->GetMany({"profiles:{a}", "profiles:{b}", "profiles:{none}", "rollups:{x}"});
  ASSERT_EQ(values.size(), 4u);
  EXPECT_THAT(values[0], IsValue(1, "one"));
  EXPECT_THAT(values[1], IsValue(2, "two"));
  EXPECT_EQ(values[2], std::nullopt);
  EXPECT_EQ(values[3], std::nullopt);
  EXPECT_EQ(near->NearStats().hits, hits + 1) << "a from memory";
  EXPECT_EQ(near->Stats().hits, redis_hits + 1) << "b from Redis";
  // b is now near too.
  ASSERT_TRUE(ServedFromMemory(*near, "profiles:{b}", 2));
  const int64_t before = near->NearStats().hits;
  values = near->GetMany({"profiles:{a}", "profiles:{b}"});
  EXPECT_THAT(values[1], IsValue(2, "two"));
  EXPECT_EQ(near->NearStats().hits, before + 2);
}

TEST_F(NearCacheTest, KeysOutsideTheTrackedPrefixAlwaysGoToRedis) {
  auto near = Open();
  near->SetIfNewer("rollups:{x}", 1, "one");
  for (int i = 0; i < 3; ++i) EXPECT_THAT(near->Get("rollups:{x}"), IsValue(1, "one"));
  EXPECT_EQ(near->NearStats().hits, 0);
  EXPECT_EQ(near->NearStats().entries, 0);
}

TEST_F(NearCacheTest, AfterItsOwnInvalidateReturnsThisProcessNeverServesTheOlderValue) {
  auto near = Open();
  near->SetIfNewer("profiles:{p1}", 1, "one");
  ASSERT_TRUE(ServedFromMemory(*near, "profiles:{p1}", 1));
  near->Invalidate("profiles:{p1}", 2);
  // Straight after: the marker, not the value in memory.
  EXPECT_EQ(near->Get("profiles:{p1}"), std::nullopt);
  near->SetIfNewer("profiles:{p1}", 2, "two");
  EXPECT_THAT(near->Get("profiles:{p1}"), IsValue(2, "two"));
}

TEST_F(NearCacheTest, ConcurrentReadersNeverSeeAVersionOlderThanTheLastInvalidateReturned) {
  auto near = Open();
  near->SetIfNewer("profiles:{hot}", 1, "v1");
  std::atomic<int64_t> acknowledged{1};
  std::atomic<bool> stop{false};
  std::atomic<int64_t> stale{0};
  std::atomic<int64_t> reads{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 3; ++t) {
    readers.emplace_back([&] {
      while (!stop.load()) {
        const int64_t floor = acknowledged.load();
        std::optional<CachedValue> value = near->Get("profiles:{hot}");
        reads.fetch_add(1);
        if (value.has_value() && value->version < floor) stale.fetch_add(1);
      }
    });
  }
  for (int64_t version = 2; version <= 300; ++version) {
    near->Invalidate("profiles:{hot}", version);
    acknowledged.store(version);
    near->SetIfNewer("profiles:{hot}", version, absl::StrCat("v", version));
    absl::SleepFor(absl::Microseconds(200));
  }
  stop.store(true);
  for (std::thread& reader : readers) reader.join();
  EXPECT_EQ(stale.load(), 0) << "of " << reads.load() << " reads";
  EXPECT_GT(near->NearStats().hits, 0) << "the test never exercised the near cache";
}

TEST_F(NearCacheTest, AnotherReplicasWriteReachesThisOneThroughTracking) {
  auto a = Open();
  auto b = Open();
  std::vector<absl::Duration> delays;
  const std::string key = "profiles:{shared}";
  a->SetIfNewer(key, 1, "v1");
  for (int64_t version = 1; version <= 200; ++version) {
    // B holds the current version in memory...
    ASSERT_TRUE(ServedFromMemory(*b, key, version)) << "version " << version;
    // ...A writes the next one; B stops serving the old one after the invalidation delay.
    a->Invalidate(key, version + 1);
    a->SetIfNewer(key, version + 1, absl::StrCat("v", version + 1));
    absl::Duration delay = Until(*b, key, [&](const std::optional<CachedValue>& v) {
      return !v.has_value() || v->version > version;
    });
    ASSERT_NE(delay, absl::InfiniteDuration()) << "B kept serving version " << version;
    delays.push_back(delay);
    // Once B saw the change, it never goes back.
    for (int i = 0; i < 5; ++i) {
      std::optional<CachedValue> v = b->Get(key);
      ASSERT_TRUE(!v.has_value() || v->version > version);
    }
  }
  std::sort(delays.begin(), delays.end());
  // Reported, not asserted (timing never decides a test): docs/PERFORMANCE.md.
  std::printf("invalidation delay, A's Invalidate returned to B no longer serving: p50 %.0f us, "
              "p99 %.0f us, max %.0f us\n",
              absl::ToDoubleMicroseconds(delays[delays.size() / 2]),
              absl::ToDoubleMicroseconds(delays[delays.size() * 99 / 100]),
              absl::ToDoubleMicroseconds(delays.back()));
  EXPECT_GE(b->NearStats().invalidations, 200);
}

TEST_F(NearCacheTest, AWriteBehindTheCachesBackIsSeen) {
  auto near = Open();
  near->SetIfNewer("profiles:{p1}", 1, "one");
  ASSERT_TRUE(ServedFromMemory(*near, "profiles:{p1}", 1));
  RawRedis raw(server_->port());
  ASSERT_EQ(raw.Command({"HSET", "near:profiles:{p1}", "v", "7", "d", "seven"}), "0");
  EXPECT_NE(Until(*near, "profiles:{p1}",
                  [](const std::optional<CachedValue>& v) { return v.has_value() && v->version == 7; }),
            absl::InfiniteDuration());
}

TEST_F(NearCacheTest, AFlushEmptiesIt) {
  auto near = Open();
  near->SetIfNewer("profiles:{p1}", 1, "one");
  ASSERT_TRUE(ServedFromMemory(*near, "profiles:{p1}", 1));
  RawRedis raw(server_->port());
  ASSERT_EQ(raw.Command({"FLUSHALL"}), "OK");
  EXPECT_NE(Until(*near, "profiles:{p1}",
                  [](const std::optional<CachedValue>& v) { return !v.has_value(); }),
            absl::InfiniteDuration());
  EXPECT_GE(near->NearStats().resets, 1);
}

TEST_F(NearCacheTest, ARedisRestartClearsItAndKeepsItBypassedUntilTrackingIsBack) {
  auto near = Open();
  near->SetIfNewer("profiles:{p1}", 1, "one");
  ASSERT_TRUE(ServedFromMemory(*near, "profiles:{p1}", 1));
  server_->Stop();
  // Memory is not served while Redis cannot tell us about changes.
  const absl::Time deadline = absl::Now() + absl::Seconds(5);
  while (near->NearStats().tracking && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(5));
  ASSERT_FALSE(near->NearStats().tracking);
  EXPECT_EQ(near->Get("profiles:{p1}"), std::nullopt);
  EXPECT_EQ(near->NearStats().entries, 0);
  EXPECT_GE(near->NearStats().bypassed, 1);

  ASSERT_TRUE(server_->Restart().ok());
  RawRedis raw(server_->port());
  ASSERT_EQ(raw.Command({"HSET", "near:profiles:{p1}", "v", "2", "d", "two"}), "2");
  ASSERT_TRUE(near->WaitTracking(absl::Seconds(10)));
  EXPECT_NE(Until(*near, "profiles:{p1}",
                  [](const std::optional<CachedValue>& v) { return v.has_value() && v->version == 2; }),
            absl::InfiniteDuration());
  EXPECT_TRUE(ServedFromMemory(*near, "profiles:{p1}", 2));
  EXPECT_GE(near->NearStats().resets, 1);
}

TEST_F(NearCacheTest, HoldsNoMoreThanItsByteBudget) {
  NearCacheOptions options;
  options.max_bytes = 64 * 4096;  // 4 KiB per shard
  auto near = Open(options);
  const std::string payload(1000, 'x');
  for (int i = 0; i < 2000; ++i) near->SetIfNewer(absl::StrCat("profiles:{", i, "}"), 1, payload);
  // The writes' own invalidations come back first, so the reads below are kept.
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (near->NearStats().invalidations < 2000 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  for (int i = 0; i < 2000; ++i) near->Get(absl::StrCat("profiles:{", i, "}"));
  NearCacheStats stats = near->NearStats();
  EXPECT_LE(stats.bytes, static_cast<int64_t>(options.max_bytes));
  EXPECT_GT(stats.entries, 64);  // about three per shard
  EXPECT_LT(stats.entries, 2000);
}

}  // namespace
}  // namespace centric::cache
