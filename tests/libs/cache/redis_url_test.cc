#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/cache/redis_cache.h"

namespace centric::cache {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(ParseRedisUrlTest, ParsesHostAndPort) {
  auto options = ParseRedisUrl("redis://cache.internal:7000");
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->host, "cache.internal");
  EXPECT_EQ(options->port, 7000);
}

TEST(ParseRedisUrlTest, PortDefaultsTo6379) {
  auto options = ParseRedisUrl("redis://127.0.0.1");
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->host, "127.0.0.1");
  EXPECT_EQ(options->port, 6379);
}

TEST(ParseRedisUrlTest, AcceptsBracketedIpv6AndDatabaseZero) {
  auto options = ParseRedisUrl("redis://[::1]:6380/0");
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->host, "::1");
  EXPECT_EQ(options->port, 6380);
}

TEST(ParseRedisUrlTest, TakesPasswordAndAclUserPercentDecoded) {
  auto password_only = ParseRedisUrl("redis://:s3cret@cache.internal:7000");
  ASSERT_TRUE(password_only.ok()) << password_only.status();
  EXPECT_EQ(password_only->username, "");
  EXPECT_EQ(password_only->password, "s3cret");
  EXPECT_EQ(password_only->host, "cache.internal");
  EXPECT_EQ(password_only->port, 7000);

  auto acl_user = ParseRedisUrl("redis://centric%2Dprofiles:p%40ss%3Aw%25rd@[::1]/0");
  ASSERT_TRUE(acl_user.ok()) << acl_user.status();
  EXPECT_EQ(acl_user->username, "centric-profiles");
  EXPECT_EQ(acl_user->password, "p@ss:w%rd");
  EXPECT_EQ(acl_user->host, "::1");
  EXPECT_EQ(acl_user->port, 6379);

  // Secrets are often pasted unescaped: the user information runs to the last '@'.
  auto unescaped = ParseRedisUrl("redis://app:a/b@c?d@redis:6380");
  ASSERT_TRUE(unescaped.ok()) << unescaped.status();
  EXPECT_EQ(unescaped->password, "a/b@c?d");
  EXPECT_EQ(unescaped->host, "redis");
  EXPECT_EQ(unescaped->port, 6380);

  auto none = ParseRedisUrl("redis://cache:7000");
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->password.empty()) << "no AUTH without a password";
}

TEST(ParseRedisUrlTest, ErrorsNeverQuoteThePassword) {
  for (const char* url : {"http://app:topsecret@h:1", "rediss://app:topsecret@h:1",
                          "redis://app:topsecret@h:99999", "redis://app:topsecret@h:1/4",
                          "redis://app:topsecret%g@h:1"}) {
    auto options = ParseRedisUrl(url);
    ASSERT_FALSE(options.ok()) << url;
    EXPECT_THAT(std::string(options.status().message()), Not(HasSubstr("topsecret"))) << url;
  }
}

TEST(ParseRedisUrlTest, RejectsBadInputNamingTheProblem) {
  struct Case {
    const char* url;
    const char* message;
  };
  const Case cases[] = {
      {"", "host:port"},
      {"http://h:1", "host:port"},
      {"rediss://h:1", "TLS"},
      {"redis://", "host is empty"},
      {"redis://:6379", "host is empty"},
      {"redis://h:", "port"},
      {"redis://h:0", "port"},
      {"redis://h:65536", "port"},
      {"redis://h:12ab", "port"},
      {"redis://user@h:1", "user:password@"},
      {"redis://app:@h:1", "password after ':' is empty"},
      {"redis://app:%zz@h:1", "password has a '%'"},
      {"redis://a%4:pw@h:1", "user has a '%'"},
      {"redis://:pw@", "host is empty"},
      {"redis://h:1/3", "database"},
      {"redis://h:1?timeout=1", "query"},
      {"redis://::1:6379", "IPv6"},
      {"redis://[::1", "']'"},
  };
  for (const Case& c : cases) {
    auto options = ParseRedisUrl(c.url);
    EXPECT_EQ(options.status().code(), absl::StatusCode::kInvalidArgument) << c.url;
    EXPECT_THAT(std::string(options.status().message()), HasSubstr(c.message)) << c.url;
  }
}

}  // namespace
}  // namespace centric::cache
