// DashboardServer over real sockets on 127.0.0.1, called with httplib's client.
#include "services/reporting/dashboard/server.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "httplib.h"
#include "libs/runtime/clock.h"
#include "tests/services/reporting/dashboard/sample_data.h"

namespace centric::reporting::dashboard {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// A source whose answers the test sets; counts its calls.
struct FakeSource {
  absl::Status overview_error;
  absl::Status experiment_error;
  std::atomic<int> overview_calls{0};
  std::atomic<int> experiment_calls{0};
  absl::Time last_now;
  std::string last_id;

  DashboardSource Source() {
    return {.overview = [this](absl::Time now) -> absl::StatusOr<OverviewData> {
              ++overview_calls;
              last_now = now;
              if (!overview_error.ok()) return overview_error;
              return testdata::Overview();
            },
            .experiment = [this](const std::string& id)
                -> absl::StatusOr<std::pair<v1::Experiment, v1::ExperimentResults>> {
              ++experiment_calls;
              last_id = id;
              if (!experiment_error.ok()) return experiment_error;
              if (id != "checkout-button")
                return absl::NotFoundError(absl::StrCat("no experiment \"", id, "\""));
              return testdata::CheckoutExperiment();
            }};
  }
};

class DashboardServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<DashboardServer>(source_.Source(), clock_);
    ASSERT_TRUE(server_->Start("127.0.0.1:0").ok());
    const std::string address = server_->address();
    ASSERT_TRUE(absl::StartsWith(address, "127.0.0.1:")) << address;
    port_ = std::stoi(address.substr(address.rfind(':') + 1));
    ASSERT_GT(port_, 0);
  }

  httplib::Result Get(const std::string& path) {
    httplib::Client client("127.0.0.1", port_);
    client.set_connection_timeout(5);
    client.set_read_timeout(10);
    return client.Get(path.c_str());
  }

  runtime::FakeClock clock_{absl::FromUnixSeconds(1795305600)};  // 2026-11-22 00:00 UTC
  FakeSource source_;
  std::unique_ptr<DashboardServer> server_;
  int port_ = 0;
};

TEST_F(DashboardServerTest, ServesTheOverviewAtTheClocksTime) {
  auto res = Get("/");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->get_header_value("Content-Type"), "text/html; charset=utf-8");
  EXPECT_THAT(res->get_header_value("Content-Security-Policy"), HasSubstr("default-src 'none'"));
  EXPECT_EQ(res->get_header_value("Cache-Control"), "no-store");
  EXPECT_THAT(res->body, HasSubstr("data-kpi=\"KPI_NPS\""));
  EXPECT_THAT(res->body, HasSubstr("+42.0"));
  EXPECT_EQ(source_.overview_calls, 1);
  EXPECT_EQ(source_.last_now, absl::FromUnixSeconds(1795305600));
}

TEST_F(DashboardServerTest, ServesAnExperiment) {
  auto res = Get("/experiments/checkout-button");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(source_.last_id, "checkout-button");
  EXPECT_THAT(res->body, HasSubstr("<td class=\"rate\">11.00 %</td>"));
}

TEST_F(DashboardServerTest, Healthz) {
  auto res = Get("/healthz");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body, "ok\n");
  EXPECT_EQ(source_.overview_calls, 0);
}

TEST_F(DashboardServerTest, SourceErrorsBecomePagesWithTheirStatus) {
  auto res = Get("/experiments/nope");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 404);
  EXPECT_EQ(res->get_header_value("Content-Type"), "text/html; charset=utf-8");
  EXPECT_THAT(res->body, HasSubstr("404 Not Found"));
  EXPECT_THAT(res->body, HasSubstr("no experiment &quot;nope&quot;"));

  source_.experiment_error = absl::InvalidArgumentError("experiment_id: too long");
  res = Get("/experiments/checkout-button");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 400);
  EXPECT_THAT(res->body, HasSubstr("experiment_id: too long"));

  source_.overview_error = absl::UnavailableError("the store is restarting");
  res = Get("/");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 503);
  EXPECT_EQ(res->get_header_value("Retry-After"), "5");
  EXPECT_THAT(res->body, HasSubstr("the store is restarting"));

  source_.overview_error = absl::InternalError("postgresql://secret@db refused");
  res = Get("/");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 500);
  EXPECT_THAT(res->body, Not(HasSubstr("secret")));

  source_.overview_error = absl::DeadlineExceededError("slow");
  res = Get("/");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 500);
}

TEST_F(DashboardServerTest, BadIdsAreRejectedWithoutCallingTheSource) {
  for (const char* path : {"/experiments/Checkout", "/experiments/a%20b",
                           "/experiments/%3Cscript%3E", "/experiments/9lives"}) {
    auto res = Get(path);
    ASSERT_TRUE(res) << path;
    EXPECT_EQ(res->status, 400) << path;
    EXPECT_THAT(res->body, HasSubstr("is not an experiment id")) << path;
    EXPECT_THAT(res->body, Not(HasSubstr("<script>"))) << path;
  }
  EXPECT_EQ(source_.experiment_calls, 0);
}

TEST_F(DashboardServerTest, UnknownPathsAreHtml404s) {
  for (const char* path : {"/nope", "/experiments", "/experiments/", "/experiments/a/b"}) {
    auto res = Get(path);
    ASSERT_TRUE(res) << path;
    EXPECT_EQ(res->status, 404) << path;
    EXPECT_THAT(res->body, HasSubstr("404 Not Found")) << path;
  }
}

TEST_F(DashboardServerTest, StopClosesThePortAndIsIdempotent) {
  server_->Stop();
  server_->Stop();
  auto res = Get("/healthz");
  EXPECT_FALSE(res);
}

TEST(DashboardServerStartTest, Errors) {
  runtime::FakeClock clock;
  DashboardServer bad(DashboardSource{}, clock);
  for (const char* listen :
       {"", "8080", ":8080", "127.0.0.1:http", "127.0.0.1:70000", "::1:80", "[::1:80"}) {
    EXPECT_EQ(bad.Start(listen).code(), absl::StatusCode::kInvalidArgument) << listen;
  }
  DashboardServer first(DashboardSource{}, clock);
  ASSERT_TRUE(first.Start("127.0.0.1:0").ok());
  EXPECT_EQ(first.Start("127.0.0.1:0").code(), absl::StatusCode::kFailedPrecondition);
  DashboardServer second(DashboardSource{}, clock);
  EXPECT_EQ(second.Start(first.address()).code(), absl::StatusCode::kUnavailable);
}

TEST(DashboardServerStartTest, MissingSourceIsA500NotACrash) {
  runtime::FakeClock clock;
  DashboardServer server(DashboardSource{}, clock);
  ASSERT_TRUE(server.Start("127.0.0.1:0").ok());
  const std::string address = server.address();
  httplib::Client client("127.0.0.1", std::stoi(address.substr(address.rfind(':') + 1)));
  auto res = client.Get("/");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 500);
}

}  // namespace
}  // namespace centric::reporting::dashboard
