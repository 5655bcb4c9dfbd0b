// The cache against a redis-server that requires a password (requirepass) and an ACL
// user: the credentials of CENTRIC_REDIS_URL reach Redis, and wrong or missing ones
// make an outage (reads fall back to the store), never a write without AUTH.
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/cache/redis_cache.h"
#include "libs/testing/servers.h"
#include "tests/libs/cache/redis_test_util.h"

namespace centric::cache {
namespace {

constexpr char kPassword[] = "c4che-Pass";

class RedisAuthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = centric::testing::RedisServer::Start(kPassword);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    raw_ = std::make_unique<RawRedis>(server_->port());
    ASSERT_TRUE(raw_->ok());
    ASSERT_EQ(raw_->Command({"AUTH", kPassword}), "OK");
  }

  // The options a service would get from its URL, with test timeouts.
  RedisOptions FromUrl(const std::string& url) {
    auto options = ParseRedisUrl(url);
    EXPECT_TRUE(options.ok()) << options.status();
    options->command_timeout = absl::Seconds(2);
    options->connect_timeout = absl::Seconds(2);
    options->retry_backoff = absl::Milliseconds(1);
    return *options;
  }
  std::string HostPort() const { return absl::StrCat("127.0.0.1:", server_->port()); }

  std::unique_ptr<centric::testing::RedisServer> server_;
  std::unique_ptr<RawRedis> raw_;
};

TEST_F(RedisAuthTest, PasswordFromTheUrlIsSentOnEveryConnection) {
  EXPECT_EQ(server_->url(), absl::StrCat("redis://:", kPassword, "@", HostPort()));
  RedisOptions options = FromUrl(server_->url());
  options.pool_size = 2;
  auto cache = NewRedisCache(options);
  // More concurrent users than pooled connections would open and reopen connections; a
  // sequence of calls checks every one of them authenticated.
  for (int i = 1; i <= 20; ++i) cache->SetIfNewer("profiles:{a}", i, absl::StrCat("v", i));
  EXPECT_THAT(cache->Get("profiles:{a}"), IsValue(20, "v20"));
  EXPECT_EQ(raw_->HGetAll("centric:profiles:{a}"), Value(20, "v20"));
  EXPECT_EQ(cache->Stats().errors, 0);
  EXPECT_EQ(cache->Stats().outages, 0);
}

TEST_F(RedisAuthTest, MissingOrWrongPasswordIsAnOutageAndWritesNothing) {
  for (const std::string& url :
       {absl::StrCat("redis://", HostPort()), absl::StrCat("redis://:wrong@", HostPort())}) {
    auto cache = NewRedisCache(FromUrl(url));
    cache->SetIfNewer("k", 1, "one");
    EXPECT_EQ(cache->Get("k"), std::nullopt) << url;
    EXPECT_GE(cache->Stats().outages, 1) << url;
  }
  EXPECT_EQ(raw_->Command({"EXISTS", "centric:k"}), "0");
}

TEST_F(RedisAuthTest, AclUserWithPercentEncodedPassword) {
  // A Redis 6+ ACL user limited to the cache's keys, as a production Redis would have.
  ASSERT_EQ(raw_->Command({"ACL", "SETUSER", "centric-profiles", "on", ">p@ss:w%rd",
                           "~centric:*", "+@all"}),
            "OK");
  auto cache = NewRedisCache(
      FromUrl(absl::StrCat("redis://centric-profiles:p%40ss%3Aw%25rd@", HostPort())));
  cache->SetIfNewer("k", 7, "seven");
  EXPECT_THAT(cache->Get("k"), IsValue(7, "seven"));
  EXPECT_EQ(raw_->HGetAll("centric:k"), Value(7, "seven"));

  // The same user outside its keys is refused by Redis: an error, not a silent write.
  RedisOptions outside =
      FromUrl(absl::StrCat("redis://centric-profiles:p%40ss%3Aw%25rd@", HostPort()));
  outside.key_prefix = "other:";
  auto refused = NewRedisCache(outside);
  refused->SetIfNewer("k", 1, "one");
  EXPECT_EQ(refused->Get("k"), std::nullopt);
  EXPECT_GE(refused->Stats().errors, 1);
  EXPECT_EQ(raw_->Command({"EXISTS", "other:k"}), "0");
}

}  // namespace
}  // namespace centric::cache
