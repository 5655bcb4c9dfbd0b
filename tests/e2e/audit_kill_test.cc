// The audit guarantee under a crash: centric-profiles answers personal-data reads only
// once their audit records are committed (in groups), so a SIGKILL of the server in the
// middle of a read load leaves a record for every answer any client received.
#include <grpcpp/grpcpp.h>
#include <sys/stat.h>

#include <atomic>
#include <fstream>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "bench/pg_connection.h"
#include "centric/profiles/v1/profiles_service.grpc.pb.h"
#include "gtest/gtest.h"
#include "libs/security/tokens.h"
#include "libs/testing/servers.h"
#include "tests/e2e/processes.h"

namespace centric::e2e {
namespace {

namespace v1 = ::centric::profiles::v1;

constexpr char kToken[] = "audit-kill-token-0123456789abcdef";

TEST(AuditKillTest, EveryAnswerAClientReceivedHasItsRecordAfterASigkill) {
  testing::TempDir dir;
  std::ofstream(dir.path() + "/tokens") << "reader " << security::TokenHashLine(kToken) << "\n";
  std::ofstream(dir.path() + "/policy.json")
      << R"({"callers": [{"caller": "reader", "methods": ["centric.profiles.v1.Profiles/*"],
                          "scopes": ["pii:read", "pii:write"]}]})";
  auto postgres = testing::PostgresServer::Start();
  ASSERT_TRUE(postgres.ok()) << postgres.status();
  auto redis = testing::RedisServer::Start();
  ASSERT_TRUE(redis.ok()) << redis.status();
  Running server = Start("centric-profiles",
                         {absl::StrCat("--tokens-file=", dir.path(), "/tokens"),
                          absl::StrCat("--policy-file=", dir.path(), "/policy.json")},
                         {absl::StrCat("CENTRIC_DATABASE_URL=", (*postgres)->url()),
                          absl::StrCat("CENTRIC_REDIS_URL=", (*redis)->url())},
                         dir.path());
  ASSERT_FALSE(server.address.empty()) << server.log;
  auto stub = v1::Profiles::NewStub(
      grpc::CreateChannel(server.address, grpc::InsecureChannelCredentials()));
  auto with_token = [](grpc::ClientContext& context, const std::string& request_id) {
    context.AddMetadata("authorization", absl::StrCat("Bearer ", kToken));
    context.AddMetadata("x-request-id", request_id);
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  };
  {
    grpc::ClientContext context;
    with_token(context, "create");
    v1::CreateProfileRequest request;
    request.set_profile_id("audited");
    request.mutable_profile()->set_kind(v1::PROFILE_KIND_PERSON);
    request.mutable_profile()->set_display_name("Audited Person");
    v1::Profile created;
    ASSERT_TRUE(stub->CreateProfile(&context, request, &created).ok());
  }

  // Readers log the request id of every answer they receive.
  std::mutex mu;
  std::set<std::string> received;
  std::atomic<bool> stop{false};
  std::atomic<int64_t> sent{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 8; ++t) {
    readers.emplace_back([&, t] {
      for (int i = 0; !stop.load(); ++i) {
        const std::string id = absl::StrCat("read-", t, "-", i);
        grpc::ClientContext context;
        with_token(context, id);
        v1::GetProfileRequest request;
        request.set_name("profiles/audited");
        v1::Profile profile;
        sent.fetch_add(1);
        if (stub->GetProfile(&context, request, &profile).ok()) {
          std::lock_guard<std::mutex> lock(mu);
          received.insert(id);
        }
      }
    });
  }
  ASSERT_TRUE(Eventually([&] {
    std::lock_guard<std::mutex> lock(mu);
    return received.size() >= 2000;
  }));
  server.process->Kill();  // SIGKILL mid-load
  stop.store(true);
  for (std::thread& reader : readers) reader.join();

  bench::PgConnection pg;
  ASSERT_TRUE(pg.Connect((*postgres)->url()).ok());
  auto ids = pg.Column(
      "SELECT request_id FROM profiles_audit WHERE method LIKE '%Profiles/GetProfile'");
  ASSERT_TRUE(ids.ok()) << ids.status();
  const std::set<std::string> audited(ids->begin(), ids->end());
  int64_t missing = 0;
  for (const std::string& id : received) missing += audited.count(id) == 0 ? 1 : 0;
  EXPECT_EQ(missing, 0) << "of " << received.size() << " answers received (" << sent.load()
                        << " sent, " << audited.size() << " audited)";
  EXPECT_GT(sent.load(), static_cast<int64_t>(received.size()))
      << "the kill came after the load, not in the middle of it";
}

}  // namespace
}  // namespace centric::e2e
