// Security end to end: centric-profiles and centric-segmentation on PostgreSQL and
// Redis, serving mutual TLS with certificates this test makes with openssl, a policy
// file and a tokens file. Platform callers authenticate with client certificates or
// bearer tokens; the policy's methods, scopes and rate limits decide; personal data is
// redacted for callers without pii:read; every write and personal-data read is in the
// audit log, which cannot be edited and survives a Redis outage; tokens and policy
// rotate without a restart; segmentation calls profiles with its own certificate.
#include <grpcpp/grpcpp.h>

#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "centric/profiles/v1/profiles_service.grpc.pb.h"
#include "centric/security/v1/audit.grpc.pb.h"
#include "centric/segmentation/v1/segmentation_service.grpc.pb.h"
#include "gtest/gtest.h"
#include "libs/security/tokens.h"
#include "libs/store/store.h"
#include "libs/testing/servers.h"
#include "tests/e2e/processes.h"

namespace centric::e2e {
namespace {

namespace pv1 = ::centric::profiles::v1;
namespace sv1 = ::centric::segmentation::v1;
namespace secv1 = ::centric::security::v1;

constexpr char kRedisPassword[] = "e2e-Redis-Pass";

std::string Read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

void Write(const std::string& path, const std::string& text) {
  // Written beside and renamed over, as a Kubernetes Secret update swaps the file.
  std::ofstream(path + ".new") << text;
  ASSERT_EQ(std::rename((path + ".new").c_str(), path.c_str()), 0) << path;
}

// A CA and certificates for 127.0.0.1 signed by it, made with openssl.
class Pki {
 public:
  explicit Pki(std::string dir) : dir_(std::move(dir)) {}

  bool MakeCa(const std::string& ca) {
    return Run({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                "-nodes", "-keyout", Path(ca, "key"), "-out", Path(ca, "pem"), "-days", "2",
                "-subj", absl::StrCat("/CN=", ca)});
  }
  // "<dir>/<name>.pem" and ".key", common name `name`, for server and client use.
  bool MakeCertificate(const std::string& name, const std::string& ca) {
    std::ofstream(Path(name, "ext"))
        << "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
           "extendedKeyUsage=serverAuth,clientAuth\n";
    return Run({"openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-keyout", Path(name, "key"), "-out", Path(name, "csr"), "-subj",
                absl::StrCat("/CN=", name)}) &&
           Run({"openssl", "x509", "-req", "-in", Path(name, "csr"), "-CA", Path(ca, "pem"),
                "-CAkey", Path(ca, "key"), "-CAcreateserial", "-out", Path(name, "pem"), "-days",
                "2", "-extfile", Path(name, "ext")});
  }
  std::string Path(const std::string& name, const std::string& ext) const {
    return absl::StrCat(dir_, "/", name, ".", ext);
  }

 private:
  bool Run(const std::vector<std::string>& argv) {
    return testing::RunCommand(argv, dir_ + "/openssl.log") == 0;
  }
  std::string dir_;
};

constexpr char kAnalyticsToken[] = "analytics-token-0123456789abcdef";
constexpr char kAnalyticsRotated[] = "analytics-token-rotated-fedcba98";
constexpr char kBatchToken[] = "batch-token-5555";

std::string ProfilesPolicy(bool analytics_reads_pii) {
  return absl::StrCat(R"({"callers": [
    {"caller": "centric-segmentation", "methods": ["centric.profiles.v1.Profiles/*"],
     "scopes": ["pii:read", "pii:write"]},
    {"caller": "crm-platform", "methods": ["centric.profiles.v1.Profiles/*"],
     "scopes": ["pii:read", "pii:write"]},
    {"caller": "analytics", "methods": ["centric.profiles.v1.Profiles/Get*",
                                        "centric.profiles.v1.Profiles/ListProfiles"],
     "scopes": [)", analytics_reads_pii ? R"("pii:read")" : "", R"(]},
    {"caller": "privacy-desk", "methods": ["centric.profiles.v1.Profiles/ExportProfile",
                                           "centric.profiles.v1.Profiles/EraseProfile"],
     "scopes": ["pii:read"]},
    {"caller": "batch-job", "methods": ["centric.profiles.v1.Profiles/GetProfile"],
     "rateLimit": {"requestsPerSecond": 1, "burst": 3}},
    {"caller": "auditor", "methods": ["centric.security.v1.AuditLog/*"],
     "scopes": ["audit:read"]}]})");
}

constexpr char kSegmentationPolicy[] = R"({"callers": [
    {"caller": "crm-platform", "methods": ["centric.segmentation.v1.Segmentation/*"]},
    {"caller": "auditor", "methods": ["centric.security.v1.AuditLog/*"], "scopes": ["audit:read"]}]})";

class SecurityTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::TempDir();
    pki_ = new Pki(dir_->path());
    ASSERT_TRUE(pki_->MakeCa("suite-ca")) << Read(dir_->path() + "/openssl.log");
    for (const char* name : {"centric-profiles", "centric-segmentation", "crm-platform",
                             "privacy-desk", "auditor"}) {
      ASSERT_TRUE(pki_->MakeCertificate(name, "suite-ca")) << Read(dir_->path() + "/openssl.log");
    }
    // Same caller name, signed by a CA the suite does not trust.
    ASSERT_TRUE(pki_->MakeCa("rogue-ca"));
    std::string rogue_dir = dir_->path() + "/rogue";
    ASSERT_EQ(mkdir(rogue_dir.c_str(), 0700), 0);
    rogue_ = new Pki(rogue_dir);
    ASSERT_EQ(testing::RunCommand({"cp", pki_->Path("rogue-ca", "pem"), pki_->Path("rogue-ca", "key"),
                                   rogue_dir}),
              0);
    ASSERT_TRUE(rogue_->MakeCertificate("crm-platform", "rogue-ca"));

    tokens_ = dir_->path() + "/tokens";
    Write(tokens_, absl::StrCat("# caller sha256:<hex>\nanalytics ",
                                security::TokenHashLine(kAnalyticsToken), "\nbatch-job ",
                                security::TokenHashLine(kBatchToken), "\n"));
    profiles_policy_ = dir_->path() + "/profiles-policy.json";
    Write(profiles_policy_, ProfilesPolicy(false));
    Write(dir_->path() + "/segmentation-policy.json", kSegmentationPolicy);

    auto postgres = testing::PostgresServer::Start();
    ASSERT_TRUE(postgres.ok()) << postgres.status();
    postgres_ = postgres->release();
    // Redis requires a password, as in production: the services' cache and bus AUTH
    // with the one in CENTRIC_REDIS_URL (redis://:<password>@host:port).
    auto redis = testing::RedisServer::Start(kRedisPassword);
    ASSERT_TRUE(redis.ok()) << redis.status();
    redis_ = redis->release();
    auto segmentation_db = postgres_->CreateDatabase("segmentation");
    ASSERT_TRUE(segmentation_db.ok());
    segmentation_db_ = new std::string(*segmentation_db);

    auto tls = [](const std::string& name) {
      return std::vector<std::string>{
          absl::StrCat("--tls-cert=", pki_->Path(name, "pem")),
          absl::StrCat("--tls-key=", pki_->Path(name, "key")),
          absl::StrCat("--tls-ca=", pki_->Path("suite-ca", "pem")),
          "--health-listen=127.0.0.1:0"};
    };
    std::vector<std::string> profiles_args = tls("centric-profiles");
    profiles_args.push_back(absl::StrCat("--policy-file=", profiles_policy_));
    profiles_args.push_back(absl::StrCat("--tokens-file=", tokens_));
    profiles_ = new Running(Start("centric-profiles", profiles_args,
                                  {absl::StrCat("CENTRIC_DATABASE_URL=", postgres_->url()),
                                   absl::StrCat("CENTRIC_REDIS_URL=", redis_->url())},
                                  dir_->path()));
    ASSERT_FALSE(profiles_->address.empty()) << Read(profiles_->log);
    profiles_health_ = new std::string(FromLog(profiles_->log, "health_listening"));
    ASSERT_TRUE(WaitServing(*profiles_health_)) << Read(profiles_->log);

    std::vector<std::string> segmentation_args = tls("centric-segmentation");
    segmentation_args.push_back(
        absl::StrCat("--policy-file=", dir_->path(), "/segmentation-policy.json"));
    segmentation_args.push_back(absl::StrCat("--profiles-target=", profiles_->address));
    segmentation_ = new Running(Start("centric-segmentation", segmentation_args,
                                      {absl::StrCat("CENTRIC_DATABASE_URL=", *segmentation_db_),
                                       absl::StrCat("CENTRIC_REDIS_URL=", redis_->url())},
                                      dir_->path()));
    ASSERT_FALSE(segmentation_->address.empty()) << Read(segmentation_->log);
    ASSERT_TRUE(WaitServing(FromLog(segmentation_->log, "health_listening")))
        << Read(segmentation_->log);
  }

  static void TearDownTestSuite() {
    if (segmentation_ != nullptr && segmentation_->process != nullptr) StopGracefully(*segmentation_);
    if (profiles_ != nullptr && profiles_->process != nullptr) StopGracefully(*profiles_);
    delete segmentation_;
    delete profiles_;
    delete redis_;
    delete postgres_;
    delete rogue_;
    delete pki_;
    delete dir_;
  }

  // A channel presenting `name`'s client certificate.
  static std::shared_ptr<grpc::Channel> CertificateChannel(const std::string& address,
                                                           const std::string& name,
                                                           Pki* pki = nullptr) {
    Pki& issuer = pki == nullptr ? *pki_ : *pki;
    grpc::SslCredentialsOptions options;
    options.pem_root_certs = Read(pki_->Path("suite-ca", "pem"));
    options.pem_cert_chain = Read(issuer.Path(name, "pem"));
    options.pem_private_key = Read(issuer.Path(name, "key"));
    return grpc::CreateChannel(address, grpc::SslCredentials(options));
  }
  // TLS without a client certificate, sending `token` as a bearer token ("" for none).
  static std::shared_ptr<grpc::Channel> TokenChannel(const std::string& address,
                                                     const std::string& token) {
    grpc::SslCredentialsOptions options;
    options.pem_root_certs = Read(pki_->Path("suite-ca", "pem"));
    std::shared_ptr<grpc::ChannelCredentials> credentials = grpc::SslCredentials(options);
    if (!token.empty()) {
      credentials = grpc::CompositeChannelCredentials(credentials, grpc::AccessTokenCredentials(token));
    }
    return grpc::CreateChannel(address, credentials);
  }

  static std::unique_ptr<pv1::Profiles::Stub> Profiles(std::shared_ptr<grpc::Channel> channel) {
    return pv1::Profiles::NewStub(channel);
  }

  static grpc::Status Get(pv1::Profiles::Stub& stub, const std::string& name, pv1::Profile* out) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    pv1::GetProfileRequest request;
    request.set_name(name);
    return stub.GetProfile(&context, request, out);
  }

  // A profile with personal data, created by crm-platform.
  static pv1::Profile CreatePerson(const std::string& id) {
    auto crm = Profiles(CertificateChannel(profiles_->address, "crm-platform"));
    grpc::ClientContext context;
    pv1::CreateProfileRequest request;
    request.set_profile_id(id);
    pv1::Profile& p = *request.mutable_profile();
    p.set_kind(pv1::PROFILE_KIND_PERSON);
    p.set_display_name("Ada Lovelace");
    pv1::Identity* email = p.add_identities();
    email->set_type(pv1::IDENTITY_TYPE_EMAIL);
    email->set_value(absl::StrCat(id, "@example.org"));
    (*p.mutable_traits())["tier"].set_string_value("gold");
    pv1::Consent* consent = p.add_consents();
    consent->set_purpose(pv1::CONSENT_PURPOSE_MARKETING_EMAIL);
    consent->set_status(pv1::CONSENT_STATUS_GRANTED);
    pv1::Profile created;
    grpc::Status status = crm->CreateProfile(&context, request, &created);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return created;
  }

  static std::vector<secv1::AuditRecord> Audit(const std::string& address,
                                               const std::string& resource) {
    auto audit = secv1::AuditLog::NewStub(CertificateChannel(address, "auditor"));
    grpc::ClientContext context;
    secv1::ListAuditRecordsRequest request;
    request.set_resource(resource);
    secv1::ListAuditRecordsResponse response;
    grpc::Status status = audit->ListAuditRecords(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return {response.records().begin(), response.records().end()};
  }

  static testing::TempDir* dir_;
  static Pki* pki_;
  static Pki* rogue_;
  static std::string tokens_;
  static std::string profiles_policy_;
  static testing::PostgresServer* postgres_;
  static testing::RedisServer* redis_;
  static std::string* segmentation_db_;
  static Running* profiles_;
  static Running* segmentation_;
  static std::string* profiles_health_;
};

testing::TempDir* SecurityTest::dir_ = nullptr;
Pki* SecurityTest::pki_ = nullptr;
Pki* SecurityTest::rogue_ = nullptr;
std::string SecurityTest::tokens_;
std::string SecurityTest::profiles_policy_;
testing::PostgresServer* SecurityTest::postgres_ = nullptr;
testing::RedisServer* SecurityTest::redis_ = nullptr;
std::string* SecurityTest::segmentation_db_ = nullptr;
Running* SecurityTest::profiles_ = nullptr;
Running* SecurityTest::segmentation_ = nullptr;
std::string* SecurityTest::profiles_health_ = nullptr;

TEST_F(SecurityTest, OnlyAuthenticatedCallersGetIn) {
  pv1::Profile person = CreatePerson("authn");
  pv1::Profile out;
  // A client certificate from the suite's CA.
  EXPECT_TRUE(Get(*Profiles(CertificateChannel(profiles_->address, "crm-platform")), person.name(), &out).ok());
  // TLS but no credentials at all.
  grpc::Status status = Get(*Profiles(TokenChannel(profiles_->address, "")), person.name(), &out);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED) << status.error_message();
  // An unknown token.
  status = Get(*Profiles(TokenChannel(profiles_->address, "not-a-token")), person.name(), &out);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(status.error_message(), "the bearer token is not valid");
  // A certificate with a trusted name from an untrusted CA never completes the handshake.
  status = Get(*Profiles(CertificateChannel(profiles_->address, "crm-platform", rogue_)),
               person.name(), &out);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
  // Plain text to the TLS port fails; the plain-text health port answers health only.
  status = Get(*Profiles(grpc::CreateChannel(profiles_->address, grpc::InsecureChannelCredentials())),
               person.name(), &out);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  auto plain_health = Profiles(grpc::CreateChannel(*profiles_health_, grpc::InsecureChannelCredentials()));
  pv1::Profile nothing;
  status = Get(*plain_health, person.name(), &nothing);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED) << status.error_message();
  EXPECT_EQ(nothing.identities_size(), 0);
}

TEST_F(SecurityTest, PolicyDecidesMethodsAndScopesAndLogsRefusals) {
  pv1::Profile person = CreatePerson("authz");
  // analytics may read, not write.
  auto analytics = Profiles(TokenChannel(profiles_->address, kAnalyticsToken));
  grpc::ClientContext context;
  pv1::UpdateProfileRequest update;
  *update.mutable_profile() = person;
  update.mutable_update_mask()->add_paths("display_name");
  pv1::Profile out;
  grpc::Status status = analytics->UpdateProfile(&context, update, &out);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(status.error_message(),
            "caller \"analytics\" may not call centric.profiles.v1.Profiles/UpdateProfile");
  // privacy-desk may call EraseProfile but lacks the erase scope the method declares.
  auto desk = Profiles(CertificateChannel(profiles_->address, "privacy-desk"));
  grpc::ClientContext erase_context;
  pv1::EraseProfileRequest erase;
  erase.set_name(person.name());
  pv1::EraseProfileResponse erased;
  status = desk->EraseProfile(&erase_context, erase, &erased);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(status.error_message(),
            "centric.profiles.v1.Profiles/EraseProfile needs the scope erase, which caller "
            "\"privacy-desk\" does not hold");
  EXPECT_TRUE(Get(*Profiles(CertificateChannel(profiles_->address, "crm-platform")), person.name(), &out).ok())
      << "the profile is still there";
  // An admin RPC needs audit:read.
  auto crm_audit = secv1::AuditLog::NewStub(CertificateChannel(profiles_->address, "crm-platform"));
  grpc::ClientContext audit_context;
  secv1::ListAuditRecordsResponse records;
  status = crm_audit->ListAuditRecords(&audit_context, {}, &records);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  // Refusals are logged with the caller, method and reason.
  std::string log = Read(profiles_->log);
  EXPECT_TRUE(absl::StrContains(log, "\"event\":\"call_refused\"")) << log;
  EXPECT_TRUE(absl::StrContains(log, "\"reason\":\"centric.profiles.v1.Profiles/EraseProfile needs the scope erase"));
}

TEST_F(SecurityTest, CallersWithoutPiiReadGetPersonalDataRedacted) {
  pv1::Profile person = CreatePerson("redact");
  pv1::Profile full;
  ASSERT_TRUE(Get(*Profiles(CertificateChannel(profiles_->address, "crm-platform")), person.name(), &full).ok());
  ASSERT_EQ(full.identities_size(), 1);
  EXPECT_EQ(full.identities(0).value(), "redact@example.org");
  EXPECT_EQ(full.display_name(), "Ada Lovelace");

  pv1::Profile redacted;
  ASSERT_TRUE(Get(*Profiles(TokenChannel(profiles_->address, kAnalyticsToken)), person.name(), &redacted).ok());
  EXPECT_EQ(redacted.name(), person.name());
  ASSERT_EQ(redacted.identities_size(), 1);
  EXPECT_EQ(redacted.identities(0).type(), pv1::IDENTITY_TYPE_EMAIL);
  EXPECT_EQ(redacted.identities(0).value(), "[redacted]");
  EXPECT_EQ(redacted.display_name(), "[redacted]");
  EXPECT_TRUE(redacted.traits().empty());
  ASSERT_EQ(redacted.consents_size(), 1) << "consents are not personal data";
  EXPECT_EQ(redacted.consents(0).status(), pv1::CONSENT_STATUS_GRANTED);

  // Lists are redacted too.
  grpc::ClientContext context;
  pv1::ListProfilesRequest list;
  list.set_page_size(100);
  pv1::ListProfilesResponse page;
  ASSERT_TRUE(Profiles(TokenChannel(profiles_->address, kAnalyticsToken))->ListProfiles(&context, list, &page).ok());
  ASSERT_GT(page.profiles_size(), 0);
  for (const pv1::Profile& p : page.profiles()) {
    for (const pv1::Identity& identity : p.identities()) EXPECT_EQ(identity.value(), "[redacted]");
  }
}

TEST_F(SecurityTest, RateLimitsAreRefusedWithResourceExhausted) {
  pv1::Profile person = CreatePerson("ratelimit");
  auto batch = Profiles(TokenChannel(profiles_->address, kBatchToken));
  int admitted = 0;
  grpc::Status last;
  for (int i = 0; i < 6; ++i) {
    pv1::Profile out;
    last = Get(*batch, person.name(), &out);
    if (last.ok()) ++admitted;
  }
  // Burst 3 at 1 call per second: six calls in well under a second admit 3 or 4.
  EXPECT_GE(admitted, 3);
  EXPECT_LE(admitted, 4);
  EXPECT_EQ(last.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_TRUE(absl::StrContains(last.error_message(), "batch-job")) << last.error_message();
}

TEST_F(SecurityTest, WritesAndPersonalDataReadsAreAuditedAndTheLogCannotBeEdited) {
  pv1::Profile person = CreatePerson("audited");
  pv1::Profile out;
  ASSERT_TRUE(Get(*Profiles(TokenChannel(profiles_->address, kAnalyticsToken)), person.name(), &out).ok());
  auto desk = Profiles(CertificateChannel(profiles_->address, "privacy-desk"));
  grpc::ClientContext context;
  pv1::EraseProfileRequest erase;
  erase.set_name(person.name());
  pv1::EraseProfileResponse erased;
  EXPECT_FALSE(desk->EraseProfile(&context, erase, &erased).ok());

  // (centric-segmentation also reads the new profile, when its event arrives.)
  auto test_callers = [&] {
    std::vector<secv1::AuditRecord> mine;
    for (const secv1::AuditRecord& r : Audit(profiles_->address, person.name())) {
      if (r.caller() != "centric-segmentation") mine.push_back(r);
    }
    return mine;
  };
  std::vector<secv1::AuditRecord> records = test_callers();
  std::vector<std::string> seen;
  for (const secv1::AuditRecord& r : records) {
    EXPECT_EQ(r.service(), "profiles");
    EXPECT_FALSE(r.request_id().empty());
    seen.push_back(absl::StrCat(r.caller(), " ", r.method(), " ", r.outcome(),
                                r.redacted() ? " redacted" : ""));
  }
  // Newest first.
  EXPECT_EQ(absl::StrJoin(seen, "\n"),
            "privacy-desk centric.profiles.v1.Profiles/EraseProfile PERMISSION_DENIED\n"
            "analytics centric.profiles.v1.Profiles/GetProfile OK redacted\n"
            "crm-platform centric.profiles.v1.Profiles/CreateProfile OK");

  // Append-only, even for the database owner.
  auto db = store::Open(postgres_->url());
  ASSERT_TRUE(db.ok());
  EXPECT_FALSE((*db)->Exec("DELETE FROM profiles_audit").ok());
  EXPECT_FALSE((*db)->Exec("UPDATE profiles_audit SET caller = 'someone-else'").ok());
  EXPECT_FALSE((*db)->Exec("TRUNCATE profiles_audit").ok());
  EXPECT_EQ(test_callers().size(), 3u);
}

TEST_F(SecurityTest, TokensAndPolicyRotateWithoutARestart) {
  pv1::Profile person = CreatePerson("rotate");
  pv1::Profile out;
  ASSERT_TRUE(Get(*Profiles(TokenChannel(profiles_->address, kAnalyticsToken)), person.name(), &out).ok());
  EXPECT_EQ(out.identities(0).value(), "[redacted]");

  // The new token is added and the old one removed; analytics is granted pii:read.
  Write(tokens_, absl::StrCat("analytics ", security::TokenHashLine(kAnalyticsRotated), "\nbatch-job ",
                              security::TokenHashLine(kBatchToken), "\n"));
  Write(profiles_policy_, ProfilesPolicy(true));
  EXPECT_TRUE(Eventually(
      [&] {
        pv1::Profile p;
        return Get(*Profiles(TokenChannel(profiles_->address, kAnalyticsRotated)), person.name(), &p).ok() &&
               p.identities(0).value() == "rotate@example.org";
      },
      absl::Seconds(10)));
  EXPECT_EQ(Get(*Profiles(TokenChannel(profiles_->address, kAnalyticsToken)), person.name(), &out).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);

  // A policy that does not parse leaves the last good one in force.
  Write(profiles_policy_, "{\"callers\": [ not json");
  absl::SleepFor(absl::Milliseconds(1500));
  EXPECT_TRUE(Get(*Profiles(TokenChannel(profiles_->address, kAnalyticsRotated)), person.name(), &out).ok());
  EXPECT_TRUE(absl::StrContains(Read(profiles_->log), "security_file_rejected"));

  // Back to the original for the other tests.
  Write(tokens_, absl::StrCat("analytics ", security::TokenHashLine(kAnalyticsToken), "\nbatch-job ",
                              security::TokenHashLine(kBatchToken), "\n"));
  Write(profiles_policy_, ProfilesPolicy(false));
  EXPECT_TRUE(Eventually(
      [&] { return Get(*Profiles(TokenChannel(profiles_->address, kAnalyticsToken)), person.name(), &out).ok(); },
      absl::Seconds(10)));
}

TEST_F(SecurityTest, SiblingServicesCallEachOtherWithTheirOwnCertificates) {
  pv1::Profile person = CreatePerson("sibling");
  auto segmentation = sv1::Segmentation::NewStub(CertificateChannel(segmentation_->address, "crm-platform"));
  {
    grpc::ClientContext context;
    sv1::CreateSegmentRequest request;
    request.set_segment_id("gold");
    request.mutable_segment()->set_display_name("Gold tier");
    request.mutable_segment()->set_owner_team("crm");
    request.mutable_segment()->set_rule("profile.traits.tier == \"gold\"");
    sv1::Segment segment;
    grpc::Status status = segmentation->CreateSegment(&context, request, &segment);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }
  // Segmentation reads the profile from centric-profiles as "centric-segmentation".
  EXPECT_TRUE(Eventually([&] {
    grpc::ClientContext context;
    sv1::CheckMembershipRequest request;
    request.set_profile(person.name());
    sv1::CheckMembershipResponse response;
    if (!segmentation->CheckMembership(&context, request, &response).ok()) return false;
    return std::find(response.segments().begin(), response.segments().end(), "segments/gold") !=
           response.segments().end();
  }));
  // The membership came through the bus, on a Redis that requires a password; the
  // password in CENTRIC_REDIS_URL is in no log line of either service.
  for (const std::string& log : {profiles_->log, segmentation_->log}) {
    EXPECT_EQ(Read(log).find(kRedisPassword), std::string::npos) << log;
  }
  // Each service audits into its own database.
  std::vector<secv1::AuditRecord> records = Audit(segmentation_->address, "segments/gold");
  ASSERT_FALSE(records.empty());
  EXPECT_EQ(records.back().service(), "segmentation");
  EXPECT_EQ(records.back().caller(), "crm-platform");
  EXPECT_EQ(records.back().method(), "centric.segmentation.v1.Segmentation/CreateSegment");
}

TEST_F(SecurityTest, AuditRecordsAreWrittenWhileRedisIsDown) {
  pv1::Profile person = CreatePerson("outage");
  redis_->Shutdown();
  auto crm = Profiles(CertificateChannel(profiles_->address, "crm-platform"));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  pv1::UpdateProfileRequest update;
  *update.mutable_profile() = person;
  update.mutable_profile()->set_display_name("Ada King");
  update.mutable_update_mask()->add_paths("display_name");
  pv1::Profile updated;
  grpc::Status status = crm->UpdateProfile(&context, update, &updated);
  ASSERT_TRUE(status.ok()) << status.error_message();
  std::vector<secv1::AuditRecord> records = Audit(profiles_->address, person.name());
  ASSERT_FALSE(records.empty());
  EXPECT_EQ(records.front().method(), "centric.profiles.v1.Profiles/UpdateProfile");
  EXPECT_EQ(records.front().outcome(), "OK");
}

TEST(TransportSecurityTest, BinariesRefuseToStartWithoutTlsOrInsecure) {
  testing::TempDir dir;
  auto process = testing::Process::Start(
      {absl::StrCat(CENTRIC_BIN_DIR, "/centricd"), "--listen=127.0.0.1:0"}, dir.path() + "/out.log",
      {absl::StrCat("CENTRIC_DATABASE_URL=sqlite://", dir.path(), "/c.db")});
  ASSERT_TRUE(process.ok());
  absl::Time deadline = absl::Now() + absl::Seconds(10);
  while ((*process)->Running() && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(20));
  int status = (*process)->Signal(SIGKILL, absl::Seconds(1));
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 2) << status;
  std::string log = Read(dir.path() + "/out.log");
  EXPECT_TRUE(absl::StrContains(log, "no transport security: set --tls-cert and --tls-key")) << log;
}

}  // namespace
}  // namespace centric::e2e
