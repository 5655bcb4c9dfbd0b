// The security interceptor end to end, without TLS: a runtime::Server in --insecure mode
// with a policy and a tokens file hosts the real Profiles service and the AuditLog
// service; calls go over a real channel with bearer tokens.
#include <grpcpp/grpcpp.h>

#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "centric/security/v1/audit.grpc.pb.h"
#include "gmock/gmock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "libs/runtime/server.h"
#include "libs/security/access.h"
#include "libs/security/audit.h"
#include "libs/security/guard.h"
#include "libs/testing/servers.h"
#include "services/profiles/grpc_service.h"
#include "services/profiles/profile_service.h"
#include "services/profiles/profile_store.h"

namespace centric::security {
namespace {

namespace pv1 = ::centric::profiles::v1;

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

constexpr char kPolicy[] = R"json({"callers": [
  {"caller": "reader", "methods": ["centric.profiles.v1.Profiles/Get*",
                                   "centric.profiles.v1.Profiles/Lookup*"]},
  {"caller": "pii-reader", "scopes": ["pii:read"],
   "methods": ["centric.profiles.v1.Profiles/Get*"]},
  {"caller": "writer", "scopes": ["pii:write"], "methods": ["centric.profiles.v1.Profiles/*"]},
  {"caller": "auditor", "scopes": ["audit:read"], "methods": ["centric.security.v1.AuditLog/*"]}
]})json";

void Write(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  ASSERT_TRUE(out.good()) << path;
}

class InterceptorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = store::Open(absl::StrCat("sqlite://", dir_.path(), "/profiles.db"));
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = std::move(*db);
    ASSERT_TRUE(store::Migrate(*db_, "profiles", profiles::ProfilesMigrations()).ok());
    profiles_ = std::make_unique<profiles::ProfileService>(
        profiles::ProfileService::Deps{db_.get(), &cache_, &clock_, &ids_, nullptr});
    profiles_grpc_ = std::make_unique<profiles::ProfilesGrpcService>(*profiles_, pool_);

    audit_ = std::make_unique<AuditLog>(*db_, std::vector<std::string>{"profiles"});
    ASSERT_TRUE(audit_->Migrate().ok());
    audit_grpc_ = std::make_unique<AuditGrpcService>(*audit_, pool_);

    runtime::Config config;
    config.insecure = true;
    config.policy_file = dir_.path() + "/policy.json";
    config.tokens_file = dir_.path() + "/tokens";
    Write(config.policy_file, kPolicy);
    std::string tokens;
    for (const char* caller : {"reader", "pii-reader", "writer", "auditor"}) {
      absl::StrAppend(&tokens, caller, " ", TokenHashLine(TokenOf(caller)), "\n");
    }
    Write(config.tokens_file, tokens);
    auto guard = Guard::Open(config);
    ASSERT_TRUE(guard.ok()) << guard.status();
    guard_ = std::move(*guard);
    guard_->SetAuditLog(audit_.get());

    Guard* guard_ptr = guard_.get();
    server_ = std::make_unique<runtime::Server>(runtime::ServerOptions{
        .listen = "127.0.0.1:0",
        .drain_timeout = absl::Seconds(5),
        .interceptors = {[guard_ptr] { return guard_ptr->NewInterceptorFactory(); }},
        .reflection = false});
    server_->AddService(profiles_grpc_.get(), profiles::kProfilesServiceName);
    server_->AddService(audit_grpc_.get(), "centric.security.v1.AuditLog");
    ASSERT_TRUE(server_->Start().ok());
    server_->SetServing(true);
    channel_ = grpc::CreateChannel(server_->address(), grpc::InsecureChannelCredentials());
    stub_ = pv1::Profiles::NewStub(channel_);

    // Ada, created through the domain service so that setup leaves no audit records.
    pv1::CreateProfileRequest create;
    create.set_profile_id("ada");
    pv1::Profile& ada = *create.mutable_profile();
    ada.set_kind(pv1::PROFILE_KIND_PERSON);
    ada.set_display_name("Ada Lovelace");
    pv1::Identity* email = ada.add_identities();
    email->set_type(pv1::IDENTITY_TYPE_EMAIL);
    email->set_value("ada@example.com");
    (*ada.mutable_traits())["city"].set_string_value("London");
    pv1::Consent* consent = ada.add_consents();
    consent->set_purpose(pv1::CONSENT_PURPOSE_MARKETING_EMAIL);
    consent->set_status(pv1::CONSENT_STATUS_GRANTED);
    auto created = profiles_->CreateProfile(create);
    ASSERT_TRUE(created.ok()) << created.status();
  }

  void TearDown() override {
    if (server_ != nullptr) server_->Shutdown();
  }

  static std::string TokenOf(const std::string& caller) { return caller + "-token"; }

  // A client context presenting `caller`'s token ("" for none).
  static std::unique_ptr<grpc::ClientContext> As(const std::string& caller) {
    auto context = std::make_unique<grpc::ClientContext>();
    if (!caller.empty()) context->AddMetadata("authorization", "Bearer " + TokenOf(caller));
    context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    return context;
  }

  grpc::Status GetProfile(const std::string& caller, const std::string& name,
                          pv1::Profile* profile) {
    pv1::GetProfileRequest request;
    request.set_name(name);
    return stub_->GetProfile(As(caller).get(), request, profile);
  }

  // Audit records of `method` ("centric.profiles.v1.Profiles/GetProfile"), newest first.
  std::vector<v1::AuditRecord> AuditOf(const std::string& method) {
    v1::ListAuditRecordsRequest request;
    request.set_method(method);
    auto listed = audit_->List(request);
    EXPECT_TRUE(listed.ok()) << listed.status();
    if (!listed.ok()) return {};
    return {listed->records().begin(), listed->records().end()};
  }

  testing::TempDir dir_;
  runtime::FakeClock clock_;
  runtime::UlidGenerator ids_{clock_};
  cache::NullCache cache_;
  runtime::WorkerPool pool_{4};
  std::unique_ptr<store::Database> db_;
  std::unique_ptr<profiles::ProfileService> profiles_;
  std::unique_ptr<profiles::ProfilesGrpcService> profiles_grpc_;
  std::unique_ptr<AuditLog> audit_;
  std::unique_ptr<AuditGrpcService> audit_grpc_;
  std::unique_ptr<Guard> guard_;
  std::unique_ptr<runtime::Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<pv1::Profiles::Stub> stub_;
};

TEST_F(InterceptorTest, CallerWithoutPiiReadGetsRedactedProfile) {
  pv1::Profile got;
  grpc::Status status = GetProfile("reader", "profiles/ada", &got);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(got.name(), "profiles/ada");
  EXPECT_EQ(got.display_name(), kRedacted);
  ASSERT_EQ(got.identities_size(), 1);
  EXPECT_EQ(got.identities(0).value(), kRedacted);
  EXPECT_EQ(got.identities(0).type(), pv1::IDENTITY_TYPE_EMAIL);
  EXPECT_THAT(got.traits(), IsEmpty());
  ASSERT_EQ(got.consents_size(), 1);
  EXPECT_EQ(got.consents(0).status(), pv1::CONSENT_STATUS_GRANTED);

  std::vector<v1::AuditRecord> audit = AuditOf("centric.profiles.v1.Profiles/GetProfile");
  ASSERT_EQ(audit.size(), 1u);
  EXPECT_EQ(audit[0].caller(), "reader");
  EXPECT_EQ(audit[0].resource(), "profiles/ada");
  EXPECT_EQ(audit[0].outcome(), "OK");
  EXPECT_EQ(audit[0].kind(), v1::MethodAccess::READ);
  EXPECT_TRUE(audit[0].redacted());
}

TEST_F(InterceptorTest, LookupByIdentityIsRedactedAndAuditedWithoutTheIdentity) {
  pv1::LookupProfileRequest request;
  request.mutable_identity()->set_type(pv1::IDENTITY_TYPE_EMAIL);
  request.mutable_identity()->set_value("ada@example.com");
  pv1::Profile got;
  grpc::Status status = stub_->LookupProfile(As("reader").get(), request, &got);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(got.name(), "profiles/ada");
  EXPECT_EQ(got.identities(0).value(), kRedacted);
  std::vector<v1::AuditRecord> audit = AuditOf("centric.profiles.v1.Profiles/LookupProfile");
  ASSERT_EQ(audit.size(), 1u);
  EXPECT_THAT(audit[0].DebugString(), Not(HasSubstr("ada@example.com")));
}

TEST_F(InterceptorTest, CallerWithPiiReadGetsPersonalData) {
  pv1::Profile got;
  grpc::Status status = GetProfile("pii-reader", "profiles/ada", &got);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(got.display_name(), "Ada Lovelace");
  ASSERT_EQ(got.identities_size(), 1);
  EXPECT_EQ(got.identities(0).value(), "ada@example.com");
  EXPECT_EQ(got.traits().at("city").string_value(), "London");

  std::vector<v1::AuditRecord> audit = AuditOf("centric.profiles.v1.Profiles/GetProfile");
  ASSERT_EQ(audit.size(), 1u);
  EXPECT_EQ(audit[0].caller(), "pii-reader");
  EXPECT_FALSE(audit[0].redacted());
}

TEST_F(InterceptorTest, RefusedCallIsPermissionDeniedAndAudited) {
  pv1::EraseProfileRequest request;
  request.set_name("profiles/ada");
  pv1::EraseProfileResponse response;
  grpc::Status status = stub_->EraseProfile(As("reader").get(), request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(status.error_message(), HasSubstr("reader"));

  // Nothing was erased.
  pv1::Profile got;
  ASSERT_TRUE(GetProfile("pii-reader", "profiles/ada", &got).ok());
  EXPECT_EQ(got.display_name(), "Ada Lovelace");

  std::vector<v1::AuditRecord> audit = AuditOf("centric.profiles.v1.Profiles/EraseProfile");
  ASSERT_EQ(audit.size(), 1u);
  EXPECT_EQ(audit[0].outcome(), "PERMISSION_DENIED");
  EXPECT_EQ(audit[0].caller(), "reader");
  EXPECT_EQ(audit[0].resource(), "profiles/ada");
  EXPECT_EQ(audit[0].kind(), v1::MethodAccess::WRITE);
}

TEST_F(InterceptorTest, CallsWithoutValidCredentialsAreUnauthenticated) {
  pv1::Profile got;
  grpc::Status none = GetProfile("", "profiles/ada", &got);
  EXPECT_EQ(none.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(got.display_name(), "");

  for (const char* header : {"Bearer wrong-token", "Basic cmVhZGVyOnB3", "reader-token"}) {
    grpc::ClientContext context;
    context.AddMetadata("authorization", header);
    pv1::GetProfileRequest request;
    request.set_name("profiles/ada");
    pv1::Profile profile;
    grpc::Status status = stub_->GetProfile(&context, request, &profile);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED) << header;
    EXPECT_EQ(profile.name(), "") << header;
  }
}

TEST_F(InterceptorTest, HealthAnswersWithoutCredentials) {
  auto health = grpc::health::v1::Health::NewStub(channel_);
  grpc::ClientContext context;
  grpc::health::v1::HealthCheckRequest request;
  grpc::health::v1::HealthCheckResponse response;
  grpc::Status status = health->Check(&context, request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.status(), grpc::health::v1::HealthCheckResponse::SERVING);
}

TEST_F(InterceptorTest, SuccessfulWritesAreAuditedWithTheirResource) {
  pv1::CreateProfileRequest create;
  create.set_profile_id("bob");
  create.mutable_profile()->set_kind(pv1::PROFILE_KIND_PERSON);
  create.mutable_profile()->set_display_name("Bob");
  pv1::Profile created;
  auto context = As("writer");
  context->AddMetadata("x-request-id", "create-bob-1");
  grpc::Status status = stub_->CreateProfile(context.get(), create, &created);
  ASSERT_TRUE(status.ok()) << status.error_message();

  std::vector<v1::AuditRecord> audit = AuditOf("centric.profiles.v1.Profiles/CreateProfile");
  ASSERT_EQ(audit.size(), 1u);
  EXPECT_EQ(audit[0].caller(), "writer");
  // A create names its resource in the response.
  EXPECT_EQ(audit[0].resource(), "profiles/bob");
  EXPECT_EQ(audit[0].outcome(), "OK");
  EXPECT_EQ(audit[0].kind(), v1::MethodAccess::WRITE);
  EXPECT_EQ(audit[0].request_id(), "create-bob-1");

  pv1::UpdateProfileRequest update;
  update.mutable_profile()->set_name("profiles/ada");
  update.mutable_profile()->set_display_name("Augusta Ada King");
  update.mutable_update_mask()->add_paths("display_name");
  pv1::Profile updated;
  status = stub_->UpdateProfile(As("writer").get(), update, &updated);
  ASSERT_TRUE(status.ok()) << status.error_message();
  std::vector<v1::AuditRecord> updates = AuditOf("centric.profiles.v1.Profiles/UpdateProfile");
  ASSERT_EQ(updates.size(), 1u);
  EXPECT_EQ(updates[0].resource(), "profiles/ada");
}

TEST_F(InterceptorTest, FailedWritesAreAuditedWithTheirOutcome) {
  pv1::DeleteProfileRequest request;
  request.set_name("profiles/nobody");
  pv1::DeleteProfileResponse response;
  auto context = As("writer");
  grpc::Status status = stub_->DeleteProfile(context.get(), request, &response);
  // The policy allows the method, but DeleteProfile needs the scope "erase".
  ASSERT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED) << status.error_message();
  EXPECT_THAT(status.error_message(), HasSubstr("erase"));
  std::vector<v1::AuditRecord> audit = AuditOf("centric.profiles.v1.Profiles/DeleteProfile");
  ASSERT_EQ(audit.size(), 1u);
  EXPECT_EQ(audit[0].outcome(), "PERMISSION_DENIED");
  EXPECT_EQ(audit[0].resource(), "profiles/nobody");

  pv1::GetProfileRequest get;
  get.set_name("profiles/nobody");
  pv1::Profile got;
  EXPECT_EQ(stub_->GetProfile(As("reader").get(), get, &got).error_code(),
            grpc::StatusCode::NOT_FOUND);
  std::vector<v1::AuditRecord> reads = AuditOf("centric.profiles.v1.Profiles/GetProfile");
  ASSERT_EQ(reads.size(), 1u);
  EXPECT_EQ(reads[0].outcome(), "NOT_FOUND");
}

TEST_F(InterceptorTest, UnusableAuditLogWithholdsPersonalData) {
  ASSERT_TRUE(db_->Exec("DROP TABLE profiles_audit").ok());
  for (const char* caller : {"pii-reader", "reader"}) {
    pv1::Profile got;
    grpc::Status status = GetProfile(caller, "profiles/ada", &got);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << caller;
    EXPECT_THAT(status.error_message(), HasSubstr("audit log")) << caller;
    EXPECT_EQ(got.name(), "") << caller;
    EXPECT_EQ(got.display_name(), "") << caller;
    EXPECT_THAT(got.identities(), IsEmpty()) << caller;
  }
}

TEST_F(InterceptorTest, UnusableAuditLogFailsWritesAsUnavailable) {
  ASSERT_TRUE(db_->Exec("DROP TABLE profiles_audit").ok());
  pv1::CreateProfileRequest create;
  create.set_profile_id("carol");
  create.mutable_profile()->set_kind(pv1::PROFILE_KIND_PERSON);
  pv1::Profile created;
  grpc::Status status = stub_->CreateProfile(As("writer").get(), create, &created);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(status.error_message(), HasSubstr("retry with the same request id"));
  EXPECT_EQ(created.name(), "");
}

TEST_F(InterceptorTest, AuditLogServiceAnswersOnlyCallersWithAuditRead) {
  pv1::Profile got;
  ASSERT_TRUE(GetProfile("reader", "profiles/ada", &got).ok());
  auto audit = v1::AuditLog::NewStub(channel_);

  v1::ListAuditRecordsRequest request;
  v1::ListAuditRecordsResponse response;
  grpc::Status status = audit->ListAuditRecords(As("auditor").get(), request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(response.records_size(), 1);
  EXPECT_EQ(response.records(0).caller(), "reader");
  EXPECT_EQ(response.records(0).service(), "profiles");

  v1::ListAuditRecordsResponse refused;
  grpc::Status denied = audit->ListAuditRecords(As("pii-reader").get(), request, &refused);
  EXPECT_EQ(denied.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(refused.records_size(), 0);

  request.set_page_size(-1);
  grpc::Status invalid = audit->ListAuditRecords(As("auditor").get(), request, &response);
  EXPECT_EQ(invalid.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(invalid.error_message(), HasSubstr("page_size"));
}

}  // namespace
}  // namespace centric::security
