// One real Redis and one real PostgreSQL per test binary, started on first use and
// stopped at exit; tests isolate themselves with key prefixes and fresh databases.
#ifndef CENTRIC_LIBS_TESTING_SHARED_SERVERS_H_
#define CENTRIC_LIBS_TESTING_SHARED_SERVERS_H_

#include <cctype>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "libs/testing/servers.h"

namespace centric::testing {

// nullptr (after logging why) when the server cannot start.
inline RedisServer* SharedRedis() {
  static auto* server = [] {
    auto started = RedisServer::Start();
    if (!started.ok()) ADD_FAILURE() << "redis-server: " << started.status();
    // Kept in a static unique_ptr so the server is stopped when the binary exits.
    static std::unique_ptr<RedisServer> owner =
        started.ok() ? std::move(*started) : nullptr;
    return owner.get();
  }();
  return server;
}

inline PostgresServer* SharedPostgres() {
  static auto* server = [] {
    auto started = PostgresServer::Start();
    if (!started.ok()) ADD_FAILURE() << "postgres: " << started.status();
    static std::unique_ptr<PostgresServer> owner =
        started.ok() ? std::move(*started) : nullptr;
    return owner.get();
  }();
  return server;
}

// A name unique within this process derived from the running test, usable as a
// database name or key prefix.
inline std::string UniqueTestName() {
  static int counter = 0;
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string name = absl::StrCat("t", ++counter, "_", info->name());
  for (char& c : name) {
    c = std::isalnum(static_cast<unsigned char>(c))
            ? static_cast<char>(std::tolower(static_cast<unsigned char>(c)))
            : '_';
  }
  return name.substr(0, 60);
}

}  // namespace centric::testing

#endif  // CENTRIC_LIBS_TESTING_SHARED_SERVERS_H_
