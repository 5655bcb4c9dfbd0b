#include "libs/runtime/config.h"

#include "gtest/gtest.h"

namespace centric::runtime {
namespace {

TEST(LoadConfigTest, DefaultsEnvironmentThenFlags) {
  auto config = LoadConfig({"bin"}, {});
  ASSERT_TRUE(config.ok());
  EXPECT_EQ(config->database_url, "sqlite://.centric/centric.db");
  EXPECT_TRUE(config->redis_url.empty());
  EXPECT_GE(config->workers, 8);

  auto overridden = LoadConfig(
      {"bin", "--listen=0.0.0.0:9000", "--no-cache", "--drain-timeout=5s"},
      {{"CENTRIC_LISTEN", "127.0.0.1:1"}, {"CENTRIC_REDIS_URL", "redis://r:6380"},
       {"CENTRIC_DATABASE_URL", "postgresql://u@h/db"}});
  ASSERT_TRUE(overridden.ok()) << overridden.status();
  EXPECT_EQ(overridden->listen, "0.0.0.0:9000") << "flags win over the environment";
  EXPECT_EQ(overridden->database_url, "postgresql://u@h/db");
  EXPECT_EQ(overridden->redis_url, "redis://r:6380");
  EXPECT_EQ(overridden->bus_url, "redis://r:6380") << "the bus defaults to the cache's Redis";
  EXPECT_TRUE(overridden->no_cache);
  EXPECT_EQ(overridden->drain_timeout, absl::Seconds(5));
}

TEST(LoadConfigTest, ErrorsNameTheFlagOrVariableAndWhatItAccepts) {
  auto bad_flag = LoadConfig({"bin", "--colour=blue"}, {});
  EXPECT_EQ(bad_flag.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad_flag.status().message().find("--colour"), absl::string_view::npos);

  auto bad_url = LoadConfig({"bin"}, {{"CENTRIC_DATABASE_URL", "mysql://x"}});
  EXPECT_NE(bad_url.status().message().find("CENTRIC_DATABASE_URL"), absl::string_view::npos);
  EXPECT_NE(bad_url.status().message().find("sqlite:"), absl::string_view::npos);

  EXPECT_FALSE(LoadConfig({"bin", "--listen=9000"}, {}).ok()) << "needs HOST:PORT";
  EXPECT_FALSE(LoadConfig({"bin", "--workers=0"}, {}).ok());
  EXPECT_FALSE(LoadConfig({"bin", "--drain-timeout=soon"}, {}).ok());
  EXPECT_FALSE(LoadConfig({"bin", "--listen"}, {}).ok()) << "a value is required";
}

TEST(LoadConfigTest, NearCacheBytesTakesASizeAndZeroTurnsItOff) {
  EXPECT_EQ(LoadConfig({"bin"}, {})->near_cache_bytes, size_t{256} << 20);
  EXPECT_EQ(LoadConfig({"bin", "--near-cache-bytes=0"}, {})->near_cache_bytes, 0u);
  EXPECT_EQ(LoadConfig({"bin", "--near-cache-bytes=64MiB"}, {})->near_cache_bytes,
            size_t{64} << 20);
  EXPECT_EQ(LoadConfig({"bin"}, {{"CENTRIC_NEAR_CACHE_BYTES", "1GiB"}})->near_cache_bytes,
            size_t{1} << 30);
  EXPECT_EQ(LoadConfig({"bin", "--near-cache-bytes=4096"}, {})->near_cache_bytes, 4096u);
  for (const char* bad : {"--near-cache-bytes=lots", "--near-cache-bytes=-1",
                          "--near-cache-bytes=65GiB", "--near-cache-bytes=12MB"}) {
    auto config = LoadConfig({"bin", bad}, {});
    ASSERT_FALSE(config.ok()) << bad;
    EXPECT_NE(config.status().message().find("--near-cache-bytes"), absl::string_view::npos);
    EXPECT_NE(config.status().message().find("64GiB"), absl::string_view::npos);
  }
}

TEST(LoadConfigTest, BadUrlErrorsHideThePassword) {
  auto bad_url =
      LoadConfig({"bin"}, {{"CENTRIC_DATABASE_URL", "mysql://app:hunter2@db:3306/centric"}});
  ASSERT_FALSE(bad_url.ok());
  const std::string message(bad_url.status().message());
  EXPECT_EQ(message.find("hunter2"), std::string::npos) << message;
  EXPECT_NE(message.find("mysql://app:***@db:3306/centric"), std::string::npos) << message;
}

TEST(RedactUrlPasswordTest, ReplacesOnlyThePassword) {
  EXPECT_EQ(RedactUrlPassword("postgresql://app:pw@db:5432/centric"),
            "postgresql://app:***@db:5432/centric");
  EXPECT_EQ(RedactUrlPassword("redis://:pw@cache:6379"), "redis://:***@cache:6379");
  EXPECT_EQ(RedactUrlPassword("redis://app:p@ss/w?rd@cache"), "redis://app:***@cache");
  EXPECT_EQ(RedactUrlPassword("postgresql://app@db/centric"), "postgresql://app@db/centric");
  EXPECT_EQ(RedactUrlPassword("redis://cache:6379"), "redis://cache:6379");
  EXPECT_EQ(RedactUrlPassword("sqlite:///var/lib/c@ntric.db"), "sqlite:///var/lib/c@ntric.db");
  EXPECT_EQ(RedactUrlPassword("not a url"), "not a url");
}

}  // namespace
}  // namespace centric::runtime
