#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/cache/redis_cache.h"

namespace centric::cache {
namespace {

using ::testing::HasSubstr;

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

TEST(ParseRedisUrlTest, RejectsBadInputNamingTheProblem) {
  struct Case {
    const char* url;
    const char* message;
  };
  const Case cases[] = {
      {"", "redis://host:port"},
      {"http://h:1", "redis://host:port"},
      {"rediss://h:1", "TLS"},
      {"redis://", "host is empty"},
      {"redis://:6379", "host is empty"},
      {"redis://h:", "port"},
      {"redis://h:0", "port"},
      {"redis://h:65536", "port"},
      {"redis://h:12ab", "port"},
      {"redis://user:pw@h:1", "credentials"},
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
