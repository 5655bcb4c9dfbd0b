#include "libs/cache/read_through.h"

#include <atomic>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "libs/cache/cache.h"

namespace centric::cache {
namespace {

// An in-memory VersionedCache with the same version rules as the Redis one.
class FakeCache : public VersionedCache {
 public:
  std::optional<CachedValue> Get(absl::string_view key) override {
    absl::MutexLock lock(&mu_);
    ++gets_;
    auto it = entries_.find(key);
    if (it == entries_.end() || it->second.marker) return std::nullopt;
    return CachedValue{it->second.version, it->second.payload};
  }
  void SetIfNewer(absl::string_view key, int64_t version, absl::string_view payload) override {
    absl::MutexLock lock(&mu_);
    ++sets_;
    auto it = entries_.find(key);
    if (it != entries_.end() &&
        (it->second.marker ? it->second.version > version : it->second.version >= version)) {
      return;
    }
    entries_[key] = Entry{version, std::string(payload), false};
  }
  void Invalidate(absl::string_view key, int64_t version) override {
    absl::MutexLock lock(&mu_);
    auto it = entries_.find(key);
    if (it != entries_.end() && it->second.version >= version) return;
    entries_[key] = Entry{version, "", true};
  }
  CacheStats Stats() const override { return {}; }

  int64_t sets() const {
    absl::MutexLock lock(&mu_);
    return sets_;
  }

 private:
  struct Entry {
    int64_t version;
    std::string payload;
    bool marker;
  };
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, Entry> entries_ ABSL_GUARDED_BY(mu_);
  int64_t gets_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t sets_ ABSL_GUARDED_BY(mu_) = 0;
};

// Blocks until `count` callers wait on a load of `key` (false after 10 s, a hang).
bool AwaitWaitingCallers(const ReadThrough& read_through, absl::string_view key, int64_t count) {
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (read_through.WaitingCallers(key) < count) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Microseconds(200));
  }
  return true;
}

TEST(ReadThroughTest, HitSkipsLoader) {
  FakeCache cache;
  cache.SetIfNewer("k", 3, "three");
  ReadThrough read_through(cache);
  auto value = read_through.GetOrLoad("k", []() -> absl::StatusOr<CachedValue> {
    ADD_FAILURE() << "loader ran on a hit";
    return absl::InternalError("unreachable");
  });
  ASSERT_TRUE(value.ok()) << value.status();
  EXPECT_EQ(value->version, 3);
  EXPECT_EQ(value->payload, "three");
  EXPECT_EQ(read_through.loads(), 0);
}

TEST(ReadThroughTest, MissLoadsThenCachesWithVersion) {
  FakeCache cache;
  ReadThrough read_through(cache);
  int calls = 0;
  auto loader = [&]() -> absl::StatusOr<CachedValue> {
    ++calls;
    return CachedValue{5, "five"};
  };
  ASSERT_TRUE(read_through.GetOrLoad("k", loader).ok());
  auto cached = cache.Get("k");
  ASSERT_TRUE(cached.has_value());
  EXPECT_EQ(cached->version, 5);
  EXPECT_EQ(cached->payload, "five");
  auto again = read_through.GetOrLoad("k", loader);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->payload, "five");
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(read_through.loads(), 1);
}

TEST(ReadThroughTest, ConcurrentMissesRunTheLoaderOnce) {
  constexpr int kCallers = 8;
  FakeCache cache;
  ReadThrough read_through(cache);
  std::atomic<int> calls{0};
  // The first load holds until every other caller is waiting, so all of them missed
  // while a load was running.
  auto loader = [&]() -> absl::StatusOr<CachedValue> {
    if (calls.fetch_add(1) == 0) {
      EXPECT_TRUE(AwaitWaitingCallers(read_through, "k", kCallers - 1));
    }
    return CachedValue{1, "one"};
  };
  std::vector<absl::StatusOr<CachedValue>> results(kCallers);
  std::vector<std::thread> threads;
  for (int i = 0; i < kCallers; ++i) {
    threads.emplace_back([&, i] { results[i] = read_through.GetOrLoad("k", loader); });
  }
  for (std::thread& thread : threads) thread.join();
  for (const auto& result : results) {
    ASSERT_TRUE(result.ok()) << result.status();
    EXPECT_EQ(result->version, 1);
    EXPECT_EQ(result->payload, "one");
  }
  EXPECT_EQ(calls.load(), 1);
  EXPECT_EQ(read_through.loads(), 1);
  EXPECT_EQ(cache.sets(), 1);
}

TEST(ReadThroughTest, ErrorsAreSharedByWaitersAndNeverCached) {
  constexpr int kCallers = 8;
  FakeCache cache;
  ReadThrough read_through(cache);
  std::atomic<int> calls{0};
  auto failing = [&]() -> absl::StatusOr<CachedValue> {
    if (calls.fetch_add(1) == 0) {
      EXPECT_TRUE(AwaitWaitingCallers(read_through, "k", kCallers - 1));
    }
    return absl::UnavailableError("store down");
  };
  std::vector<absl::StatusOr<CachedValue>> results(kCallers);
  std::vector<std::thread> threads;
  for (int i = 0; i < kCallers; ++i) {
    threads.emplace_back([&, i] { results[i] = read_through.GetOrLoad("k", failing); });
  }
  for (std::thread& thread : threads) thread.join();
  for (const auto& result : results)
    EXPECT_EQ(result.status().code(), absl::StatusCode::kUnavailable);
  // The first caller's load, then one load shared by the seven that queued behind it
  // (their re-read of the cache missed, since the error was not cached).
  EXPECT_EQ(calls.load(), 2);
  EXPECT_EQ(cache.sets(), 0);

  auto recovered = read_through.GetOrLoad("k", [] {
    return absl::StatusOr<CachedValue>(CachedValue{2, "two"});
  });
  ASSERT_TRUE(recovered.ok()) << recovered.status();
  EXPECT_EQ(recovered->version, 2);
}

// The race single-flight must not reintroduce: B calls after version 2 committed and
// was invalidated, while A's load of version 1 is still running. B must not be handed
// A's result.
TEST(ReadThroughTest, CallerNeverSharesALoadThatStartedBeforeIt) {
  FakeCache cache;
  ReadThrough read_through(cache);
  absl::Notification a_loading;
  absl::Notification release_a;
  absl::StatusOr<CachedValue> a_result;
  std::thread a([&] {
    a_result = read_through.GetOrLoad("k", [&]() -> absl::StatusOr<CachedValue> {
      a_loading.Notify();
      EXPECT_TRUE(release_a.WaitForNotificationWithTimeout(absl::Seconds(10)));
      return CachedValue{1, "one"};
    });
  });
  ASSERT_TRUE(a_loading.WaitForNotificationWithTimeout(absl::Seconds(10)));
  cache.Invalidate("k", 2);  // Version 2 committed.

  absl::StatusOr<CachedValue> b_result;
  std::thread b([&] {
    b_result = read_through.GetOrLoad("k", [] {
      return absl::StatusOr<CachedValue>(CachedValue{2, "two"});
    });
  });
  EXPECT_TRUE(AwaitWaitingCallers(read_through, "k", 1));  // B queued behind A.
  release_a.Notify();
  a.join();
  b.join();

  ASSERT_TRUE(a_result.ok());
  EXPECT_EQ(a_result->version, 1);  // A started before the commit: old is fine.
  ASSERT_TRUE(b_result.ok());
  EXPECT_EQ(b_result->version, 2);
  auto cached = cache.Get("k");
  ASSERT_TRUE(cached.has_value());
  EXPECT_EQ(cached->version, 2);  // A's SetIfNewer(1) was refused by the marker.
}

TEST(ReadThroughTest, LoadsOfDifferentKeysDoNotWaitForEachOther) {
  FakeCache cache;
  ReadThrough read_through(cache);
  absl::Notification b_done;
  absl::StatusOr<CachedValue> a_result;
  std::thread a([&] {
    a_result = read_through.GetOrLoad("a", [&]() -> absl::StatusOr<CachedValue> {
      if (!b_done.WaitForNotificationWithTimeout(absl::Seconds(10))) {
        return absl::DeadlineExceededError("key b waited for key a");
      }
      return CachedValue{1, "a"};
    });
  });
  auto b_result = read_through.GetOrLoad("b", [] {
    return absl::StatusOr<CachedValue>(CachedValue{1, "b"});
  });
  b_done.Notify();
  a.join();
  EXPECT_TRUE(b_result.ok());
  EXPECT_TRUE(a_result.ok()) << a_result.status();
}

}  // namespace
}  // namespace centric::cache
