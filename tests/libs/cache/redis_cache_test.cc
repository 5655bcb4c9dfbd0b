// The versioned-value rules and TTLs of RedisCache, against a real redis-server.
#include "libs/cache/redis_cache.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/libs/cache/redis_test_util.h"

namespace centric::cache {
namespace {

class RedisCacheTest : public SharedRedisTest {
 protected:
  void SetUp() override {
    SharedRedisTest::SetUp();
    if (HasFatalFailure()) return;
    raw_ = std::make_unique<RawRedis>(server()->port());
    ASSERT_TRUE(raw_->ok());
  }
  std::unique_ptr<RawRedis> raw_;
};

TEST_F(RedisCacheTest, StoresValueAsVersionedHashUnderPrefix) {
  auto cache = NewRedisCache(Options());
  EXPECT_EQ(cache->Get("profiles:{a}"), std::nullopt);
  cache->SetIfNewer("profiles:{a}", 3, "three");
  EXPECT_THAT(cache->Get("profiles:{a}"), IsValue(3, "three"));
  EXPECT_EQ(raw_->HGetAll(FullKey("profiles:{a}")), Value(3, "three"));
  CacheStats stats = cache->Stats();
  EXPECT_EQ(stats.hits, 1);
  EXPECT_EQ(stats.misses, 1);
  EXPECT_EQ(stats.errors, 0);
  EXPECT_EQ(stats.outages, 0);
}

TEST_F(RedisCacheTest, GetManyAnswersEveryKeyInOrderInOneRoundTrip) {
  auto cache = NewRedisCache(Options());
  cache->SetIfNewer("profiles:{a}", 1, "one");
  cache->SetIfNewer("profiles:{c}", 3, "three");
  cache->Invalidate("profiles:{d}", 4);
  ASSERT_EQ(raw_->Command({"SET", FullKey("profiles:{e}"), "not a hash"}), "OK");
  auto values = cache->GetMany(
      {"profiles:{a}", "profiles:{b}", "profiles:{c}", "profiles:{d}", "profiles:{e}", "profiles:{a}"});
  ASSERT_EQ(values.size(), 6u);
  EXPECT_THAT(values[0], IsValue(1, "one"));
  EXPECT_EQ(values[1], std::nullopt) << "absent";
  EXPECT_THAT(values[2], IsValue(3, "three"));
  EXPECT_EQ(values[3], std::nullopt) << "a marker";
  EXPECT_EQ(values[4], std::nullopt) << "a key of another type";
  EXPECT_THAT(values[5], IsValue(1, "one"));
  CacheStats stats = cache->Stats();
  EXPECT_EQ(stats.hits, 3);
  EXPECT_EQ(stats.misses, 3);
  EXPECT_EQ(stats.errors, 1);
  EXPECT_EQ(stats.outages, 0);
  EXPECT_TRUE(cache->GetMany({}).empty());
}

TEST_F(RedisCacheTest, OnlyANewerVersionReplacesAValue) {
  auto cache = NewRedisCache(Options());
  cache->SetIfNewer("k", 5, "five");
  cache->SetIfNewer("k", 4, "four");
  EXPECT_THAT(cache->Get("k"), IsValue(5, "five"));
  cache->SetIfNewer("k", 5, "five again");
  EXPECT_THAT(cache->Get("k"), IsValue(5, "five"));
  cache->SetIfNewer("k", 6, "six");
  EXPECT_THAT(cache->Get("k"), IsValue(6, "six"));
}

TEST_F(RedisCacheTest, InvalidateLeavesMarkerThatHidesAndRefusesOlderValues) {
  auto cache = NewRedisCache(Options());
  cache->SetIfNewer("k", 1, "one");
  cache->Invalidate("k", 2);
  EXPECT_EQ(cache->Get("k"), std::nullopt);
  EXPECT_EQ(raw_->HGetAll(FullKey("k")), Marker(2));
  cache->SetIfNewer("k", 1, "one, read before the commit");
  EXPECT_EQ(raw_->HGetAll(FullKey("k")), Marker(2));
  cache->SetIfNewer("k", 2, "two");  // The committed version itself is welcome.
  EXPECT_THAT(cache->Get("k"), IsValue(2, "two"));
}

TEST_F(RedisCacheTest, InvalidateOfAbsentKeyRefusesOlderValues) {
  auto cache = NewRedisCache(Options());
  cache->Invalidate("k", 7);
  cache->SetIfNewer("k", 6, "six");
  EXPECT_EQ(raw_->HGetAll(FullKey("k")), Marker(7));
  cache->SetIfNewer("k", 8, "eight");
  EXPECT_THAT(cache->Get("k"), IsValue(8, "eight"));
}

TEST_F(RedisCacheTest, InvalidateKeepsValueOfSameOrNewerVersion) {
  auto cache = NewRedisCache(Options());
  cache->SetIfNewer("k", 5, "five");
  cache->Invalidate("k", 5);
  EXPECT_THAT(cache->Get("k"), IsValue(5, "five"));
  cache->Invalidate("k", 3);
  EXPECT_THAT(cache->Get("k"), IsValue(5, "five"));
  cache->Invalidate("k", 6);
  EXPECT_EQ(cache->Get("k"), std::nullopt);
  EXPECT_EQ(raw_->HGetAll(FullKey("k")), Marker(6));
}

TEST_F(RedisCacheTest, InvalidateNeverLowersAMarker) {
  auto cache = NewRedisCache(Options());
  cache->Invalidate("k", 9);
  cache->Invalidate("k", 4);
  EXPECT_EQ(raw_->HGetAll(FullKey("k")), Marker(9));
  cache->SetIfNewer("k", 5, "five");
  EXPECT_EQ(raw_->HGetAll(FullKey("k")), Marker(9));
  cache->SetIfNewer("k", 9, "nine");
  EXPECT_THAT(cache->Get("k"), IsValue(9, "nine"));
}

TEST_F(RedisCacheTest, ComparesVersionsExactlyAcrossTheInt64Range) {
  auto cache = NewRedisCache(Options());
  // As doubles, 2^53 + 1 and 2^53 are equal; the marker must still refuse 2^53.
  constexpr int64_t kTwoTo53 = int64_t{1} << 53;
  cache->Invalidate("big", kTwoTo53 + 1);
  cache->SetIfNewer("big", kTwoTo53, "older");
  EXPECT_EQ(raw_->HGetAll(FullKey("big")), Marker(kTwoTo53 + 1));
  cache->SetIfNewer("big", INT64_MAX, "newest");
  EXPECT_THAT(cache->Get("big"), IsValue(INT64_MAX, "newest"));

  cache->SetIfNewer("negative", -5, "minus five");
  cache->SetIfNewer("negative", -10, "minus ten");
  EXPECT_THAT(cache->Get("negative"), IsValue(-5, "minus five"));
  cache->SetIfNewer("negative", -3, "minus three");
  EXPECT_THAT(cache->Get("negative"), IsValue(-3, "minus three"));
  cache->SetIfNewer("negative", 0, "zero");
  EXPECT_THAT(cache->Get("negative"), IsValue(0, "zero"));
  cache->Invalidate("negative", 10);
  cache->SetIfNewer("negative", 9, "nine");
  EXPECT_EQ(raw_->HGetAll(FullKey("negative")), Marker(10));
}

TEST_F(RedisCacheTest, ValueTtlIsJitteredWithinBounds) {
  RedisOptions options = Options();
  options.ttl = absl::Seconds(100);
  options.ttl_jitter = absl::Seconds(20);
  auto cache = NewRedisCache(options);
  constexpr int kKeys = 60;
  int64_t lowest = INT64_MAX;
  int64_t highest = 0;
  for (int i = 0; i < kKeys; ++i) {
    const std::string key = absl::StrCat("k", i);
    cache->SetIfNewer(key, 1, "x");
    const int64_t ttl = raw_->Pttl(FullKey(key));
    // PTTL only counts down, so the lower bound gets generous slack for a slow machine.
    EXPECT_LE(ttl, 120000) << key;
    EXPECT_GE(ttl, 75000) << key;
    lowest = std::min(lowest, ttl);
    highest = std::max(highest, ttl);
  }
  // 60 uniform draws over 40 s all landing within 5 s of each other: odds ~ 8^-59.
  EXPECT_GT(highest - lowest, 5000) << "TTLs are not jittered";
  std::printf("value PTTL range over %d keys: %lld..%lld ms\n", kKeys,
              static_cast<long long>(lowest), static_cast<long long>(highest));
}

TEST_F(RedisCacheTest, MarkerLivesForMarkerTtl) {
  RedisOptions options = Options();
  options.marker_ttl = absl::Seconds(30);
  auto cache = NewRedisCache(options);
  cache->Invalidate("k", 1);
  const int64_t ttl = raw_->Pttl(FullKey("k"));
  EXPECT_LE(ttl, 30000);
  EXPECT_GT(ttl, 20000);
}

TEST_F(RedisCacheTest, FallsBackToEvalWhenServerForgetsScripts) {
  auto cache = NewRedisCache(Options());
  cache->SetIfNewer("k", 1, "one");  // Connects and loads the scripts.
  ASSERT_EQ(raw_->Command({"SCRIPT", "FLUSH"}), "OK");
  cache->SetIfNewer("k", 2, "two");
  EXPECT_THAT(cache->Get("k"), IsValue(2, "two"));
  cache->Invalidate("k", 3);
  EXPECT_EQ(raw_->HGetAll(FullKey("k")), Marker(3));
  EXPECT_EQ(cache->Stats().outages, 0);
}

TEST_F(RedisCacheTest, PayloadsAreBinarySafe) {
  auto cache = NewRedisCache(Options());
  const std::string payload("\0bin\xff\r\n ary", 12);
  cache->SetIfNewer("k", 1, payload);
  auto value = cache->Get("k");
  ASSERT_TRUE(value.has_value());
  EXPECT_EQ(value->payload, payload);
}

TEST_F(RedisCacheTest, KeyOfAnotherTypeIsAMissAndGetsReplaced) {
  auto cache = NewRedisCache(Options());
  ASSERT_EQ(raw_->Command({"SET", FullKey("k"), "not ours"}), "OK");
  EXPECT_EQ(cache->Get("k"), std::nullopt);
  cache->SetIfNewer("k", 1, "one");
  EXPECT_THAT(cache->Get("k"), IsValue(1, "one"));
  ASSERT_EQ(raw_->Command({"SET", FullKey("k2"), "not ours"}), "OK");
  cache->Invalidate("k2", 4);
  EXPECT_EQ(raw_->HGetAll(FullKey("k2")), Marker(4));
  EXPECT_EQ(cache->Stats().outages, 0);
}

}  // namespace
}  // namespace centric::cache
