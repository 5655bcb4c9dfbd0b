// Guard::Admit, the decision the security interceptor takes for every call: who is
// calling (certificate or bearer token), whether the policy lets it call the method with
// the scopes the method declares, and its rate limit.
#include "libs/security/guard.h"

#include <fstream>
#include <functional>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/testing/servers.h"

namespace centric::security {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

constexpr char kGetProfile[] = "/centric.profiles.v1.Profiles/GetProfile";
constexpr char kUpdateProfile[] = "/centric.profiles.v1.Profiles/UpdateProfile";
constexpr char kEraseProfile[] = "/centric.profiles.v1.Profiles/EraseProfile";

constexpr char kPolicy[] = R"json({"callers": [
  {"caller": "crm", "scopes": ["pii:read"],
   "methods": ["centric.profiles.v1.Profiles/Get*", "centric.profiles.v1.Profiles/EraseProfile"]},
  {"caller": "dpo", "scopes": ["pii:read", "erase"], "methods": ["centric.profiles.v1.Profiles/*"]},
  {"caller": "limited", "methods": ["centric.profiles.v1.Profiles/Get*"],
   "rateLimit": {"requestsPerSecond": 5, "burst": 5}}]})json";

void Write(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  ASSERT_TRUE(out.good()) << path;
}

Credentials Certificate(const std::string& name) {
  Credentials credentials;
  credentials.certificate_name = name;
  credentials.tls = true;
  return credentials;
}

Credentials Token(const std::string& token, bool tls) {
  Credentials credentials;
  credentials.bearer_token = token;
  credentials.tls = tls;
  return credentials;
}

class GuardTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Write(policy_path_, kPolicy);
    Write(tokens_path_, absl::StrCat("crm ", TokenHashLine("crm-token"), "\n", "limited ",
                                     TokenHashLine("limited-token"), "\n"));
    config_.policy_file = policy_path_;
    config_.tokens_file = tokens_path_;
  }

  std::unique_ptr<Guard> Open() {
    auto guard = Guard::Open(config_);
    EXPECT_TRUE(guard.ok()) << guard.status();
    return guard.ok() ? std::move(*guard) : nullptr;
  }

  testing::TempDir dir_;
  const std::string policy_path_ = dir_.path() + "/policy.json";
  const std::string tokens_path_ = dir_.path() + "/tokens";
  runtime::Config config_;
};

TEST_F(GuardTest, HealthChecksAreAlwaysAdmitted) {
  auto guard = Open();
  ASSERT_NE(guard, nullptr);
  EXPECT_TRUE(guard->Admit("/grpc.health.v1.Health/Check", Credentials{}).status.ok());
  EXPECT_TRUE(guard->Admit("/grpc.health.v1.Health/Watch", Credentials{}).status.ok());
  EXPECT_TRUE(guard->Admit("/grpc.health.v1.Health/Check", Token("bad", false)).status.ok());
}

TEST_F(GuardTest, NoCredentialsIsUnauthenticatedWhenThereIsAPolicy) {
  auto guard = Open();
  ASSERT_NE(guard, nullptr);
  Guard::Decision d = guard->Admit(kGetProfile, Credentials{});
  EXPECT_EQ(d.status.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(d.status.message(), HasSubstr("no credentials"));
  config_.insecure = true;
  auto insecure = Open();
  ASSERT_NE(insecure, nullptr);
  EXPECT_EQ(insecure->Admit(kGetProfile, Credentials{}).status.code(),
            absl::StatusCode::kUnauthenticated);
}

TEST_F(GuardTest, CertificateNameIsAdmittedAsThePolicySays) {
  auto guard = Open();
  ASSERT_NE(guard, nullptr);
  Guard::Decision d = guard->Admit(kGetProfile, Certificate("crm"));
  ASSERT_TRUE(d.status.ok()) << d.status;
  EXPECT_EQ(d.caller.name, "crm");
  EXPECT_THAT(d.caller.scopes, UnorderedElementsAre("pii:read"));

  Guard::Decision update = guard->Admit(kUpdateProfile, Certificate("crm"));
  EXPECT_EQ(update.status.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(update.status.message(),
              AllOf(HasSubstr("\"crm\""), HasSubstr("centric.profiles.v1.Profiles/UpdateProfile")));
}

TEST_F(GuardTest, UnknownCallerIsPermissionDenied) {
  auto guard = Open();
  ASSERT_NE(guard, nullptr);
  Guard::Decision d = guard->Admit(kGetProfile, Certificate("stranger"));
  EXPECT_EQ(d.status.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(d.status.message(), HasSubstr("caller \"stranger\" is not in the policy"));
}

TEST_F(GuardTest, MethodNeedsItsDeclaredScopes) {
  auto guard = Open();
  ASSERT_NE(guard, nullptr);
  // The policy allows crm the method, but EraseProfile also declares the scope "erase".
  Guard::Decision crm = guard->Admit(kEraseProfile, Certificate("crm"));
  EXPECT_EQ(crm.status.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(crm.status.message(), AllOf(HasSubstr("centric.profiles.v1.Profiles/EraseProfile"),
                                          HasSubstr("scope erase"), HasSubstr("\"crm\"")));
  Guard::Decision dpo = guard->Admit(kEraseProfile, Certificate("dpo"));
  EXPECT_TRUE(dpo.status.ok()) << dpo.status;
  EXPECT_EQ(dpo.caller.name, "dpo");
}

TEST_F(GuardTest, BearerTokenOverPlainTextIsRefusedUnlessInsecure) {
  auto guard = Open();
  ASSERT_NE(guard, nullptr);
  Guard::Decision plain = guard->Admit(kGetProfile, Token("crm-token", /*tls=*/false));
  EXPECT_EQ(plain.status.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(plain.status.message(), HasSubstr("TLS only"));
  Guard::Decision tls = guard->Admit(kGetProfile, Token("crm-token", /*tls=*/true));
  ASSERT_TRUE(tls.status.ok()) << tls.status;
  EXPECT_EQ(tls.caller.name, "crm");

  config_.insecure = true;
  auto insecure = Open();
  ASSERT_NE(insecure, nullptr);
  Guard::Decision allowed = insecure->Admit(kGetProfile, Token("crm-token", /*tls=*/false));
  ASSERT_TRUE(allowed.status.ok()) << allowed.status;
  EXPECT_EQ(allowed.caller.name, "crm");
}

TEST_F(GuardTest, InvalidTokenIsUnauthenticated) {
  auto guard = Open();
  ASSERT_NE(guard, nullptr);
  Guard::Decision d = guard->Admit(kGetProfile, Token("crm-token-guess", /*tls=*/true));
  EXPECT_EQ(d.status.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(d.status.message(), HasSubstr("not valid"));
  EXPECT_EQ(d.caller.name, "");

  config_.tokens_file.clear();
  auto without_tokens = Open();
  ASSERT_NE(without_tokens, nullptr);
  EXPECT_EQ(without_tokens->Admit(kGetProfile, Token("crm-token", true)).status.code(),
            absl::StatusCode::kUnauthenticated);
}

TEST_F(GuardTest, InsecureWithoutPolicyAdmitsEveryoneAsLocalDeveloper) {
  config_.insecure = true;
  config_.policy_file.clear();
  auto guard = Open();
  ASSERT_NE(guard, nullptr);
  EXPECT_TRUE(guard->open_access());
  Guard::Decision d = guard->Admit(kEraseProfile, Credentials{});
  ASSERT_TRUE(d.status.ok()) << d.status;
  EXPECT_EQ(d.caller.name, kLocalDeveloper);
  EXPECT_THAT(d.caller.scopes,
              UnorderedElementsAre("pii:read", "pii:write", "erase", "audit:read"));
}

TEST_F(GuardTest, WithAPolicyAccessIsNotOpen) {
  auto guard = Open();
  ASSERT_NE(guard, nullptr);
  EXPECT_FALSE(guard->open_access());
}

TEST_F(GuardTest, OpenRefusesMissingPolicyWithoutInsecure) {
  config_.policy_file.clear();
  auto guard = Guard::Open(config_);
  ASSERT_FALSE(guard.ok());
  EXPECT_EQ(guard.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(guard.status().message(), HasSubstr("--policy-file"));
}

TEST_F(GuardTest, OpenNamesTheFlagAndFileThatDoNotParse) {
  Write(policy_path_, R"json({"callers": [{"caller": "a", "scopes": ["root"]}]})json");
  auto policy = Guard::Open(config_);
  ASSERT_FALSE(policy.ok());
  EXPECT_EQ(policy.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(policy.status().message(), AllOf(HasSubstr("--policy-file"), HasSubstr(policy_path_),
                                               HasSubstr("callers[0].scopes[0]")));

  Write(policy_path_, kPolicy);
  Write(tokens_path_, "crm sha256:abc\n");
  auto tokens = Guard::Open(config_);
  ASSERT_FALSE(tokens.ok());
  EXPECT_EQ(tokens.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(tokens.status().message(),
              AllOf(HasSubstr("--tokens-file"), HasSubstr(tokens_path_), HasSubstr("line 1")));

  config_.tokens_file = dir_.path() + "/absent";
  auto missing = Guard::Open(config_);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(missing.status().message(), HasSubstr("--tokens-file"));
}

TEST_F(GuardTest, RateLimitRefusesCallsAboveTheBurstUntilItRefills) {
  auto guard = Open();
  ASSERT_NE(guard, nullptr);
  for (int i = 0; i < 5; ++i) {
    Guard::Decision d = guard->Admit(kGetProfile, Certificate("limited"));
    ASSERT_TRUE(d.status.ok()) << "call " << i + 1 << ": " << d.status;
  }
  Guard::Decision sixth = guard->Admit(kGetProfile, Certificate("limited"));
  EXPECT_EQ(sixth.status.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(sixth.status.message(), HasSubstr("\"limited\""));
  // Other callers have buckets of their own (and these have no limit).
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(guard->Admit(kGetProfile, Certificate("crm")).status.ok()) << i;
  }
  // 5 calls per second: after a quarter of a second one call is available again.
  absl::SleepFor(absl::Milliseconds(250));
  Guard::Decision later = guard->Admit(kGetProfile, Certificate("limited"));
  EXPECT_TRUE(later.status.ok()) << later.status;
}

TEST_F(GuardTest, RefusedCallsDoNotUseTheRateLimit) {
  auto guard = Open();
  ASSERT_NE(guard, nullptr);
  for (int i = 0; i < 10; ++i) {
    ASSERT_EQ(guard->Admit(kUpdateProfile, Certificate("limited")).status.code(),
              absl::StatusCode::kPermissionDenied);
  }
  for (int i = 0; i < 5; ++i) {
    Guard::Decision d = guard->Admit(kGetProfile, Certificate("limited"));
    EXPECT_TRUE(d.status.ok()) << "call " << i + 1 << ": " << d.status;
  }
}

// Polls `admitted` until it holds, for longer than the files' one-second check interval.
bool Eventually(const std::function<bool()>& admitted) {
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (absl::Now() < deadline) {
    if (admitted()) return true;
    absl::SleepFor(absl::Milliseconds(50));
  }
  return false;
}

TEST_F(GuardTest, ChangedPolicyAndTokensTakeEffectWithoutANewGuard) {
  auto guard = Open();
  ASSERT_NE(guard, nullptr);
  ASSERT_EQ(guard->Admit(kEraseProfile, Certificate("crm")).status.code(),
            absl::StatusCode::kPermissionDenied);
  ASSERT_EQ(guard->Admit(kGetProfile, Token("new-crm-token", true)).status.code(),
            absl::StatusCode::kUnauthenticated);

  Write(policy_path_, R"json({"callers": [{"caller": "crm", "scopes": ["pii:read", "erase"],
      "methods": ["centric.profiles.v1.Profiles/EraseProfile"]}]})json");
  Write(tokens_path_, absl::StrCat("crm ", TokenHashLine("new-crm-token"), "\n"));
  EXPECT_TRUE(
      Eventually([&] { return guard->Admit(kEraseProfile, Certificate("crm")).status.ok(); }));
  EXPECT_EQ(guard->Admit(kGetProfile, Certificate("crm")).status.code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(Eventually(
      [&] { return guard->Admit(kEraseProfile, Token("new-crm-token", true)).status.ok(); }));
  EXPECT_EQ(guard->Admit(kEraseProfile, Token("crm-token", true)).status.code(),
            absl::StatusCode::kUnauthenticated);
}

TEST_F(GuardTest, PolicyThatNoLongerParsesLeavesThePreviousOneInForce) {
  auto guard = Open();
  ASSERT_NE(guard, nullptr);
  Write(policy_path_, R"json({"callers": [{"caller": "crm", "methods": ["oops"]}]})json");
  // Past the one-second check interval, so the broken file has been looked at.
  absl::SleepFor(absl::Milliseconds(1200));
  EXPECT_TRUE(guard->Admit(kGetProfile, Certificate("crm")).status.ok());
  EXPECT_TRUE(guard->Admit(kEraseProfile, Certificate("dpo")).status.ok());
}

}  // namespace
}  // namespace centric::security
