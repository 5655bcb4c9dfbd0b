// Redis going away: the cache answers misses without errors, counts one outage, and
// replays the invalidations it could not send before it serves reads from Redis again.
// Each test owns its redis-server, since the tests stop and pause it.
#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>

#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "libs/cache/redis_cache.h"
#include "libs/testing/servers.h"
#include "tests/libs/cache/redis_test_util.h"

namespace centric::cache {
namespace {

class OutageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto started = centric::testing::RedisServer::Start();
    ASSERT_TRUE(started.ok()) << started.status();
    server_ = std::move(*started);
  }

  RedisOptions Options() const {
    RedisOptions options;
    options.port = server_->port();
    options.connect_timeout = absl::Milliseconds(100);
    options.command_timeout = absl::Milliseconds(100);
    options.retry_backoff = absl::Milliseconds(200);
    options.key_prefix = "outage:";
    return options;
  }

  // Calls Get (which lets the cache probe Redis) until `done` holds; false after 10 s.
  template <typename Done>
  static bool PokeUntil(VersionedCache& cache, Done done) {
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    while (!done()) {
      if (absl::Now() > deadline) return false;
      cache.Get("poke");
      absl::SleepFor(absl::Milliseconds(20));
    }
    return true;
  }

  std::unique_ptr<centric::testing::RedisServer> server_;
};

TEST_F(OutageTest, StoppedServerMeansQuickMissesAndOneOutage) {
  auto cache = NewRedisCache(Options());
  cache->SetIfNewer("k", 1, "one");
  ASSERT_THAT(cache->Get("k"), IsValue(1, "one"));
  server_->Stop();

  // About 1 s of calls: several back-off windows, each ending in a failed probe.
  absl::Duration slowest;
  int calls = 0;
  const absl::Time start = absl::Now();
  while (absl::Now() - start < absl::Seconds(1) && calls < 2000) {
    const absl::Time before = absl::Now();
    EXPECT_EQ(cache->Get("k"), std::nullopt);
    cache->SetIfNewer("k", 2, "two");
    slowest = std::max(slowest, absl::Now() - before);
    ++calls;
    absl::SleepFor(absl::Milliseconds(2));
  }
  CacheStats stats = cache->Stats();
  std::printf("outage: %d Get calls, slowest Get+SetIfNewer %lld us, %lld errors\n", calls,
              static_cast<long long>(absl::ToInt64Microseconds(slowest)),
              static_cast<long long>(stats.errors));
  EXPECT_EQ(stats.outages, 1);
  EXPECT_GE(stats.errors, 2) << "expected the probes after each back-off to fail";
  EXPECT_EQ(stats.misses, calls);
  // A very generous bound: without the back-off every call would pay a connect attempt.
  EXPECT_LT(slowest, absl::Seconds(2));
}

TEST_F(OutageTest, UnreachableAtStartIsAnOutageNotAnError) {
  RedisOptions options = Options();
  options.port = centric::testing::FreePort();
  auto cache = NewRedisCache(options);
  for (int i = 0; i < 50; ++i) {
    EXPECT_EQ(cache->Get("k"), std::nullopt);
    cache->SetIfNewer("k", 1, "one");
    cache->Invalidate("k", 1);
  }
  EXPECT_EQ(cache->Stats().outages, 1);
}

// Restart brings back an EMPTY server, so the markers found afterwards can only have
// come from the replay.
TEST_F(OutageTest, InvalidationsDuringOutageAreReplayedOnRecovery) {
  auto cache = NewRedisCache(Options());
  cache->SetIfNewer("k", 1, "one");
  server_->Stop();
  EXPECT_EQ(cache->Get("k"), std::nullopt);
  cache->Invalidate("k", 2);
  cache->Invalidate("other", 5);
  cache->Invalidate("other", 4);  // Remembered as the higher of the two.
  ASSERT_TRUE(server_->Restart().ok());

  RawRedis raw(server_->port());
  ASSERT_TRUE(raw.ok());
  ASSERT_TRUE(PokeUntil(*cache, [&] { return raw.Command({"EXISTS", "outage:k"}) == "1"; }));
  EXPECT_EQ(raw.HGetAll("outage:k"), Marker(2));
  EXPECT_EQ(raw.HGetAll("outage:other"), Marker(5));

  cache->SetIfNewer("k", 1, "one, read before the outage");
  EXPECT_EQ(raw.HGetAll("outage:k"), Marker(2));
  cache->SetIfNewer("k", 2, "two");
  EXPECT_THAT(cache->Get("k"), IsValue(2, "two"));
  EXPECT_EQ(cache->Stats().outages, 1);
}

// A server that hangs (commands time out) rather than refusing connections, with the
// old value still in it: the invalidation must not be lost, and must land before the
// cache serves that old value again.
TEST_F(OutageTest, InvalidationDuringAHangIsReplayedBeforeReadsResume) {
  auto cache = NewRedisCache(Options());
  cache->SetIfNewer("k", 1, "one");
  ASSERT_THAT(cache->Get("k"), IsValue(1, "one"));
  RawRedis raw(server_->port());
  ASSERT_TRUE(raw.ok());
  ASSERT_EQ(raw.Command({"CLIENT", "PAUSE", "1500", "ALL"}), "OK");

  EXPECT_EQ(cache->Get("k"), std::nullopt);  // Times out: Redis is now down.
  EXPECT_EQ(cache->Stats().outages, 1);
  cache->Invalidate("k", 2);

  // Blocks until the pause ends. The invalidation has not reached Redis on its own.
  ASSERT_EQ(raw.Command({"PING"}), "PONG");
  EXPECT_EQ(raw.HGetAll("outage:k"), Value(1, "one"));

  // The first Get that reaches Redis again must already see the marker.
  std::optional<CachedValue> first;
  ASSERT_TRUE(PokeUntil(*cache, [&] {
    first = cache->Get("k");
    return first.has_value() || raw.HGetAll("outage:k") == Marker(2);
  }));
  EXPECT_EQ(first, std::nullopt) << "served the value the invalidation should have hidden";
  EXPECT_EQ(raw.HGetAll("outage:k"), Marker(2));
  cache->SetIfNewer("k", 1, "one");
  EXPECT_EQ(raw.HGetAll("outage:k"), Marker(2));
  EXPECT_EQ(cache->Stats().outages, 1);
}

TEST_F(OutageTest, OverflowedInvalidationsMakeReadsBypassRedisForAWhile) {
  RedisOptions options = Options();
  options.max_pending_invalidations = 2;
  options.ttl = absl::Seconds(3);
  options.ttl_jitter = absl::ZeroDuration();
  options.marker_ttl = absl::Seconds(3);
  auto cache = NewRedisCache(options);
  server_->Stop();
  EXPECT_EQ(cache->Get("a"), std::nullopt);
  cache->Invalidate("a", 1);
  cache->Invalidate("b", 1);
  cache->Invalidate("c", 1);  // Over the bound: forgotten.
  ASSERT_TRUE(server_->Restart().ok());

  RawRedis raw(server_->port());
  ASSERT_TRUE(raw.ok());
  ASSERT_TRUE(PokeUntil(*cache, [&] { return raw.Command({"EXISTS", "outage:a"}) == "1"; }));
  EXPECT_EQ(raw.HGetAll("outage:b"), Marker(1));
  EXPECT_EQ(raw.Command({"EXISTS", "outage:c"}), "0");

  // Writes go through, reads skip Redis (3 s from recovery; asserted well within that).
  cache->SetIfNewer("x", 1, "one");
  EXPECT_EQ(raw.HGetAll("outage:x"), Value(1, "one"));
  EXPECT_EQ(cache->Get("x"), std::nullopt);

  // Then reads come back. Refresh the value each round, since it lives only 3 s too.
  int64_t version = 1;
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  std::optional<CachedValue> value;
  while (!value.has_value() && absl::Now() < deadline) {
    cache->SetIfNewer("x", ++version, "fresh");
    value = cache->Get("x");
    if (!value.has_value()) absl::SleepFor(absl::Milliseconds(100));
  }
  EXPECT_THAT(value, IsValue(version, "fresh"));
}

}  // namespace
}  // namespace centric::cache
