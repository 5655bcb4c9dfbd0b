// Helpers for the cache integration tests: a real redis-server per test binary and a raw
// hiredis connection to look at what the cache wrote.
#ifndef CENTRIC_TESTS_LIBS_CACHE_REDIS_TEST_UTIL_H_
#define CENTRIC_TESTS_LIBS_CACHE_REDIS_TEST_UTIL_H_

#include <hiredis/hiredis.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/cache/redis_cache.h"
#include "libs/testing/servers.h"

namespace centric::cache {

MATCHER_P2(IsValue, version, payload, "") {
  return arg.has_value() && arg->version == version && arg->payload == payload;
}

// A plain connection to inspect and poke Redis behind the cache's back.
class RawRedis {
 public:
  explicit RawRedis(int port, absl::Duration timeout = absl::Seconds(5)) {
    context_ = redisConnectWithTimeout("127.0.0.1", port, absl::ToTimeval(timeout));
    if (context_ != nullptr && context_->err == 0)
      redisSetTimeout(context_, absl::ToTimeval(timeout));
  }
  ~RawRedis() {
    if (context_ != nullptr) redisFree(context_);
  }
  RawRedis(const RawRedis&) = delete;
  RawRedis& operator=(const RawRedis&) = delete;

  bool ok() const { return context_ != nullptr && context_->err == 0; }

  // The reply as text: strings and statuses as is, integers in decimal, nil as "(nil)",
  // errors as "ERR: ...", a lost connection as "(failed)".
  std::string Command(const std::vector<std::string>& args) {
    std::vector<const char*> argv;
    std::vector<size_t> argv_len;
    for (const std::string& arg : args) {
      argv.push_back(arg.data());
      argv_len.push_back(arg.size());
    }
    auto* reply = static_cast<redisReply*>(
        redisCommandArgv(context_, static_cast<int>(argv.size()), argv.data(), argv_len.data()));
    if (reply == nullptr) return "(failed)";
    std::string text;
    switch (reply->type) {
      case REDIS_REPLY_STRING:
      case REDIS_REPLY_STATUS:
        text.assign(reply->str, reply->len);
        break;
      case REDIS_REPLY_ERROR:
        text = absl::StrCat("ERR: ", absl::string_view(reply->str, reply->len));
        break;
      case REDIS_REPLY_INTEGER:
        text = absl::StrCat(reply->integer);
        break;
      case REDIS_REPLY_NIL:
        text = "(nil)";
        break;
      default:
        text = "(array)";
    }
    freeReplyObject(reply);
    return text;
  }

  std::map<std::string, std::string> HGetAll(const std::string& key) {
    std::map<std::string, std::string> fields;
    auto* reply =
        static_cast<redisReply*>(redisCommand(context_, "HGETALL %b", key.data(), key.size()));
    if (reply == nullptr) return fields;
    if (reply->type == REDIS_REPLY_ARRAY) {
      for (size_t i = 0; i + 1 < reply->elements; i += 2) {
        fields.emplace(std::string(reply->element[i]->str, reply->element[i]->len),
                       std::string(reply->element[i + 1]->str, reply->element[i + 1]->len));
      }
    }
    freeReplyObject(reply);
    return fields;
  }

  int64_t Pttl(const std::string& key) {
    int64_t ttl = 0;
    EXPECT_TRUE(absl::SimpleAtoi(Command({"PTTL", key}), &ttl));
    return ttl;
  }

 private:
  redisContext* context_ = nullptr;
};

inline std::map<std::string, std::string> Marker(int64_t version) {
  return {{"m", "1"}, {"v", absl::StrCat(version)}};
}
inline std::map<std::string, std::string> Value(int64_t version, const std::string& payload) {
  return {{"d", payload}, {"v", absl::StrCat(version)}};
}

// One redis-server for every test of the binary (ctest runs each test in its own
// process, so in practice one per test). Tests keep apart through key prefixes.
class SharedRedisTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (server() != nullptr) return;
    auto started = centric::testing::RedisServer::Start();
    if (started.ok()) {
      server() = std::move(*started);
    } else {
      start_error() = started.status().ToString();
    }
  }
  // Tests of a binary run one after another, so each may start from an empty Redis
  // (which also keeps --gtest_repeat runs from seeing the last run's versions).
  void SetUp() override {
    ASSERT_NE(server(), nullptr) << start_error();
    RawRedis raw(server()->port());
    ASSERT_TRUE(raw.ok());
    ASSERT_EQ(raw.Command({"FLUSHALL"}), "OK");
  }

  // Destroyed at exit, which stops the server.
  static std::unique_ptr<centric::testing::RedisServer>& server() {
    static std::unique_ptr<centric::testing::RedisServer> server;
    return server;
  }
  static std::string& start_error() {
    static std::string error;
    return error;
  }

  // Options for this test: its own key prefix, and a command timeout generous enough
  // that a loaded machine does not turn these tests into outage tests.
  RedisOptions Options() const {
    RedisOptions options;
    options.port = server()->port();
    options.command_timeout = absl::Seconds(2);
    options.connect_timeout = absl::Seconds(2);
    options.key_prefix =
        absl::StrCat("test:", ::testing::UnitTest::GetInstance()->current_test_info()->name(), ":");
    return options;
  }
  std::string FullKey(absl::string_view key) const {
    return absl::StrCat(Options().key_prefix, key);
  }
};

}  // namespace centric::cache

#endif  // CENTRIC_TESTS_LIBS_CACHE_REDIS_TEST_UTIL_H_
