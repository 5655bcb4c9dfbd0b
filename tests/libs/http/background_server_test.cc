// BackgroundServer on real sockets on 127.0.0.1: it serves, reports the port it bound,
// refuses a port another server holds, and names the flag in its errors.
#include "libs/http/background_server.h"

#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "httplib.h"

namespace centric::http {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

int PortOf(const std::string& address) { return std::stoi(address.substr(address.rfind(':') + 1)); }

std::string GetBody(int port, const std::string& path) {
  httplib::Client client("127.0.0.1", port);
  client.set_connection_timeout(5);
  client.set_read_timeout(5);
  auto result = client.Get(path);
  return result ? result->body : absl::StrCat("(failed: ", httplib::to_string(result.error()), ")");
}

TEST(BackgroundServerTest, ServesOnTheFreePortItReports) {
  httplib::Server server;
  server.Get("/hello", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("hi", "text/plain");
  });
  BackgroundServer background(server);
  EXPECT_EQ(background.address(), "");
  ASSERT_TRUE(background.Start("127.0.0.1:0", "--metrics-listen").ok());
  EXPECT_THAT(background.address(), StartsWith("127.0.0.1:"));
  const int port = PortOf(background.address());
  EXPECT_GT(port, 0);
  EXPECT_EQ(GetBody(port, "/hello"), "hi");

  EXPECT_EQ(background.Start("127.0.0.1:0", "--metrics-listen").code(),
            absl::StatusCode::kFailedPrecondition);
  background.Stop();
  background.Stop();  // idempotent
  EXPECT_THAT(GetBody(port, "/hello"), StartsWith("(failed"));
}

// httplib's own default adds SO_REUSEPORT, with which both servers would bind and the
// kernel would split the connections between them.
TEST(BackgroundServerTest, APortHeldByAnotherServerIsAnErrorNotAShare) {
  httplib::Server first_server;
  first_server.Get("/", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("first", "text/plain");
  });
  BackgroundServer first(first_server);
  ASSERT_TRUE(first.Start("127.0.0.1:0", "--metrics-listen").ok());
  const int port = PortOf(first.address());

  httplib::Server second_server;
  second_server.Get("/", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("second", "text/plain");
  });
  BackgroundServer second(second_server);
  absl::Status taken = second.Start(absl::StrCat("127.0.0.1:", port), "--metrics-listen");
  EXPECT_EQ(taken.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(taken.message()), HasSubstr("--metrics-listen"));
  EXPECT_THAT(std::string(taken.message()), HasSubstr(absl::StrCat(port)));
  for (int i = 0; i < 10; ++i) EXPECT_EQ(GetBody(port, "/"), "first");
}

TEST(BackgroundServerTest, RestartsOnTheSamePortAfterStop) {
  httplib::Server server;
  server.Get("/", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("again", "text/plain");
  });
  int port = 0;
  {
    BackgroundServer background(server);
    ASSERT_TRUE(background.Start("127.0.0.1:0", "--dashboard-listen").ok());
    port = PortOf(background.address());
  }
  // SO_REUSEADDR: a stopped server's port is free again at once (a restarted process
  // does not wait for TIME_WAIT).
  httplib::Server again;
  again.Get("/", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("again", "text/plain");
  });
  BackgroundServer background(again);
  ASSERT_TRUE(background.Start(absl::StrCat("127.0.0.1:", port), "--dashboard-listen").ok());
  EXPECT_EQ(GetBody(port, "/"), "again");
}

TEST(BackgroundServerTest, BadAddressesNameTheFlagAndTheForm) {
  for (const char* listen : {"", "9090", ":9090", "localhost", "127.0.0.1:http", "127.0.0.1:70000",
                             "::1:9090", "[::1:9090", "127.0.0.1:-1"}) {
    httplib::Server server;
    BackgroundServer background(server);
    absl::Status status = background.Start(listen, "--metrics-listen");
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << listen;
    EXPECT_THAT(std::string(status.message()), HasSubstr("--metrics-listen")) << listen;
    EXPECT_THAT(std::string(status.message()), HasSubstr("host:port")) << listen;
  }
}

}  // namespace
}  // namespace centric::http
