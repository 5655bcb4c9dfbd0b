// Two centric-profiles replicas on one PostgreSQL and one Redis, as the k8s base runs
// them (two pods behind one Service), each with its near cache: a write through one
// replica is never followed by an older read from that replica, and the other stops
// serving the older version within the invalidation delay; Redis killed (SIGKILL) under
// reads and writes fails no call, and once it is back no replica serves a stale profile.
#include <grpcpp/grpcpp.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <fstream>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "centric/profiles/v1/profiles_service.grpc.pb.h"
#include "gtest/gtest.h"
#include "libs/testing/servers.h"
#include "tests/e2e/processes.h"

namespace centric::e2e {
namespace {

namespace v1 = ::centric::profiles::v1;

class ReplicasTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto postgres = testing::PostgresServer::Start();
    ASSERT_TRUE(postgres.ok()) << postgres.status();
    postgres_ = std::move(*postgres);
    auto redis = testing::RedisServer::Start();
    ASSERT_TRUE(redis.ok()) << redis.status();
    redis_ = std::move(*redis);
    for (const char* name : {"a", "b"}) {
      const std::string dir = absl::StrCat(dir_.path(), "/", name);
      ASSERT_EQ(mkdir(dir.c_str(), 0700), 0);
      replicas_.push_back(Start("centric-profiles", {},
                                {absl::StrCat("CENTRIC_DATABASE_URL=", postgres_->url()),
                                 absl::StrCat("CENTRIC_REDIS_URL=", redis_->url())},
                                dir));
      ASSERT_FALSE(replicas_.back().address.empty());
      ASSERT_TRUE(WaitServing(replicas_.back().address));
      stubs_.push_back(v1::Profiles::NewStub(
          grpc::CreateChannel(replicas_.back().address, grpc::InsecureChannelCredentials())));
    }
    for (Running& replica : replicas_) {
      ASSERT_TRUE(Eventually([&] { return LogHas(replica.log, "near_cache_tracking"); }))
          << "the near cache never started tracking";
    }
  }

  static bool LogHas(const std::string& log, const std::string& event) {
    std::ifstream in(log);
    std::string line;
    while (std::getline(in, line)) {
      if (line.find(absl::StrCat("\"event\":\"", event, "\"")) != std::string::npos) return true;
    }
    return false;
  }

  // The profile's "n" trait as read through `replica`, or -1 when the call failed.
  int64_t ReadN(int replica, grpc::Status* status_out = nullptr) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    v1::GetProfileRequest request;
    request.set_name("profiles/replicated");
    v1::Profile profile;
    grpc::Status status = stubs_[replica]->GetProfile(&context, request, &profile);
    if (status_out != nullptr) *status_out = status;
    if (!status.ok()) return -1;
    return static_cast<int64_t>(profile.traits().at("n").number_value());
  }

  grpc::Status WriteN(int replica, int64_t n) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    v1::Profile out;
    if (n == 0) {
      v1::CreateProfileRequest request;
      request.set_profile_id("replicated");
      request.mutable_profile()->set_kind(v1::PROFILE_KIND_PERSON);
      (*request.mutable_profile()->mutable_traits())["n"].set_number_value(0);
      return stubs_[replica]->CreateProfile(&context, request, &out);
    }
    v1::UpdateProfileRequest request;
    request.mutable_profile()->set_name("profiles/replicated");
    (*request.mutable_profile()->mutable_traits())["n"].set_number_value(static_cast<double>(n));
    request.mutable_update_mask()->add_paths("traits.n");
    return stubs_[replica]->UpdateProfile(&context, request, &out);
  }

  testing::TempDir dir_;
  std::unique_ptr<testing::PostgresServer> postgres_;
  std::unique_ptr<testing::RedisServer> redis_;
  std::vector<Running> replicas_;
  std::vector<std::unique_ptr<v1::Profiles::Stub>> stubs_;
};

TEST_F(ReplicasTest, AWriteThroughOneReplicaReachesTheOtherWithinTheInvalidationDelay) {
  ASSERT_TRUE(WriteN(0, 0).ok());
  std::vector<absl::Duration> delays;
  for (int64_t n = 1; n <= 100; ++n) {
    // Both replicas hold version n-1 (read twice: the second read is the near cache's).
    for (int replica : {0, 1}) {
      ASSERT_TRUE(Eventually([&] { return ReadN(replica) == n - 1; }, absl::Seconds(5)));
      ASSERT_EQ(ReadN(replica), n - 1);
    }
    ASSERT_TRUE(WriteN(0, n).ok());
    const absl::Time written = absl::Now();
    // The writing replica: never the older value once the write returned.
    EXPECT_EQ(ReadN(0), n) << "replica A served a stale profile after its own write";
    // The other one: within the invalidation delay, then never again. The window is from
    // the write's return to the start of the last read that still answered n-1 (reads
    // started later were all current).
    absl::Duration window = absl::ZeroDuration();
    while (true) {
      const absl::Time started = absl::Now();
      const int64_t read = ReadN(1);
      if (read == n) break;
      ASSERT_EQ(read, n - 1);
      window = started - written;
      ASSERT_LT(window, absl::Seconds(2)) << "replica B kept serving " << n - 1;
    }
    delays.push_back(window);
    for (int i = 0; i < 5; ++i) ASSERT_EQ(ReadN(1), n);
  }
  std::sort(delays.begin(), delays.end());
  // Reported (not asserted: timing never decides a test) for docs/PERFORMANCE.md.
  std::printf("stale window on the other replica after a write returned: p50 %.2f ms, p99 %.2f ms, max %.2f ms\n",
              absl::ToDoubleMilliseconds(delays[delays.size() / 2]),
              absl::ToDoubleMilliseconds(delays[delays.size() * 99 / 100]),
              absl::ToDoubleMilliseconds(delays.back()));
}

TEST_F(ReplicasTest, RedisKilledUnderLoadFailsNoCallAndLeavesNoStaleRead) {
  ASSERT_TRUE(WriteN(0, 0).ok());
  std::atomic<int64_t> acknowledged{0};
  std::atomic<bool> stop{false};
  std::atomic<int64_t> failed{0};
  std::atomic<int64_t> reads{0};
  std::atomic<int64_t> stale_on_writer{0};
  std::vector<std::thread> readers;
  for (int replica : {0, 1}) {
    readers.emplace_back([&, replica] {
      while (!stop.load()) {
        const int64_t floor = acknowledged.load();
        grpc::Status status;
        const int64_t n = ReadN(replica, &status);
        reads.fetch_add(1);
        if (!status.ok()) {
          failed.fetch_add(1);
          ADD_FAILURE() << "replica " << replica << ": " << status.error_message();
        } else if (replica == 0 && n < floor) {
          stale_on_writer.fetch_add(1);
        }
      }
    });
  }
  int64_t n = 0;
  auto write_for = [&](absl::Duration duration) {
    const absl::Time until = absl::Now() + duration;
    while (absl::Now() < until) {
      grpc::Status status = WriteN(0, ++n);
      if (!status.ok()) {
        failed.fetch_add(1);
        ADD_FAILURE() << "write " << n << ": " << status.error_message();
        return;
      }
      acknowledged.store(n);
      absl::SleepFor(absl::Milliseconds(5));
    }
  };
  write_for(absl::Seconds(1));
  redis_->Stop();  // SIGKILL
  write_for(absl::Seconds(2));
  ASSERT_TRUE(redis_->Restart().ok());
  // Back: both replicas track again.
  write_for(absl::Seconds(2));
  stop.store(true);
  for (std::thread& reader : readers) reader.join();
  EXPECT_EQ(failed.load(), 0) << "of " << reads.load() << " reads and " << n << " writes";
  EXPECT_EQ(stale_on_writer.load(), 0);
  // After Redis returned, no replica serves anything older than the last write.
  for (int replica : {0, 1}) {
    EXPECT_TRUE(Eventually([&] { return ReadN(replica) == n; }, absl::Seconds(2)))
        << "replica " << replica << " serves " << ReadN(replica) << ", the last write was " << n;
    for (int i = 0; i < 5; ++i) EXPECT_EQ(ReadN(replica), n);
  }
  EXPECT_TRUE(LogHas(replicas_[1].log, "near_cache_bypassed"));
}

}  // namespace
}  // namespace centric::e2e
