// The authorization policy (--policy-file): the JSON format of policy.proto, the errors
// that name the field to fix, and which methods a caller's patterns allow.
#include "libs/security/policy.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace centric::security {
namespace {

using ::testing::HasSubstr;

// The example of policy.proto's header comment.
constexpr char kDocumentedExample[] = R"json({"callers": [
  {"caller": "crm-platform",
   "methods": ["centric.profiles.v1.Profiles/Get*", "centric.profiles.v1.Profiles/Lookup*"],
   "scopes": ["pii:read"],
   "rateLimit": {"requestsPerSecond": 200, "burst": 400}}],
 "defaultRateLimit": {"requestsPerSecond": 100, "burst": 200}})json";

TEST(PolicyTest, ParsesTheDocumentedFormat) {
  auto policy = Policy::Parse(kDocumentedExample);
  ASSERT_TRUE(policy.ok()) << policy.status();
  const v1::CallerPolicy* crm = policy->Find("crm-platform");
  ASSERT_NE(crm, nullptr);
  EXPECT_THAT(crm->scopes(), ::testing::ElementsAre("pii:read"));
  EXPECT_EQ(policy->RateLimitOf(*crm).requests_per_second(), 200);
  EXPECT_EQ(policy->RateLimitOf(*crm).burst(), 400);
  EXPECT_EQ(policy->Find("crm"), nullptr);
  EXPECT_EQ(policy->Find(""), nullptr);
}

TEST(PolicyTest, CallersWithoutTheirOwnLimitGetTheDefault) {
  auto policy = Policy::Parse(R"json({"callers": [
      {"caller": "a", "methods": ["x.S/*"]},
      {"caller": "b", "methods": ["x.S/*"], "rateLimit": {"requestsPerSecond": 3}}],
    "defaultRateLimit": {"requestsPerSecond": 100, "burst": 200}})json");
  ASSERT_TRUE(policy.ok()) << policy.status();
  EXPECT_EQ(policy->RateLimitOf(*policy->Find("a")).requests_per_second(), 100);
  EXPECT_EQ(policy->RateLimitOf(*policy->Find("b")).requests_per_second(), 3);
  EXPECT_EQ(policy->RateLimitOf(*policy->Find("b")).burst(), 0);
}

TEST(PolicyTest, AcceptsProtoFieldNamesAndAnEmptyPolicy) {
  auto policy = Policy::Parse(R"json({"callers": [{"caller": "a", "methods": ["x.S/M"],
      "rate_limit": {"requests_per_second": 1}}]})json");
  ASSERT_TRUE(policy.ok()) << policy.status();
  EXPECT_EQ(policy->RateLimitOf(*policy->Find("a")).requests_per_second(), 1);
  auto empty = Policy::Parse("{}");
  ASSERT_TRUE(empty.ok()) << empty.status();
  EXPECT_EQ(empty->Find("a"), nullptr);
}

struct BadPolicy {
  std::string json;
  // What the error must name.
  std::string field;
};

class PolicyErrorTest : public ::testing::TestWithParam<BadPolicy> {};

TEST_P(PolicyErrorTest, NamesTheField) {
  auto policy = Policy::Parse(GetParam().json);
  ASSERT_FALSE(policy.ok());
  EXPECT_EQ(policy.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(policy.status().message(), HasSubstr(GetParam().field));
}

INSTANTIATE_TEST_SUITE_P(
    Fields, PolicyErrorTest,
    ::testing::Values(
        BadPolicy{R"json({"callers": [{"caller": "a", "scopes": ["pii:read"]},
                                      {"caller": "b", "scopes": ["pii:raed"]}]})json",
                  "callers[1].scopes[0]: \"pii:raed\" is not one of"},
        BadPolicy{R"json({"callers": [{"caller": "a"}, {"caller": "b"}, {"caller": "a"}]})json",
                  "callers[2].caller: \"a\" appears twice"},
        BadPolicy{R"json({"callers": [{"caller": ""}]})json", "callers[0].caller: required"},
        BadPolicy{R"json({"callers": [{"caller": "a",
                  "methods": ["centric.profiles.v1.Profiles/Get*", "GetProfile"]}]})json",
                  "callers[0].methods[1]: \"GetProfile\" must be package.Service/Method"},
        BadPolicy{R"json({"callers": [{"caller": "a"},
                  {"caller": "b", "rateLimit": {"requestsPerSecond": -1}}]})json",
                  "callers[1].rateLimit.requestsPerSecond"},
        BadPolicy{R"json({"callers": [{"caller": "a", "rateLimit": {"burst": -5}}]})json",
                  "callers[0].rateLimit.burst"},
        BadPolicy{R"json({"defaultRateLimit": {"requestsPerSecond": -0.5}})json",
                  "defaultRateLimit.requestsPerSecond"},
        BadPolicy{R"json({"callers": [{"caller": "a", "method": ["x.S/M"]}]})json",
                  "not a centric.security.v1.Policy in JSON"},
        BadPolicy{R"json({"callers": [)json", "not a centric.security.v1.Policy in JSON"}));

v1::CallerPolicy Entry(std::initializer_list<std::string> methods) {
  v1::CallerPolicy entry;
  entry.set_caller("c");
  for (const std::string& m : methods) entry.add_methods(m);
  return entry;
}

TEST(PolicyAllowsTest, WildcardMatchesTheMethodsItNames) {
  const v1::CallerPolicy entry = Entry({"centric.profiles.v1.Profiles/Get*"});
  EXPECT_TRUE(Policy::Allows(entry, "centric.profiles.v1.Profiles/GetProfile"));
  EXPECT_FALSE(Policy::Allows(entry, "centric.profiles.v1.Profiles/UpdateProfile"));
  EXPECT_FALSE(Policy::Allows(entry, "centric.profiles.v1.Profiles/BatchGetProfiles"));
  EXPECT_FALSE(Policy::Allows(entry, "centric.profiles.v1.ProfilesX/GetProfile"));
  EXPECT_FALSE(Policy::Allows(entry, "centric.profiles.v2.Profiles/GetProfile"));
  EXPECT_FALSE(Policy::Allows(entry, "xcentric.profiles.v1.Profiles/GetProfile"));
}

TEST(PolicyAllowsTest, DotsAreLiteralAndQuestionMarkIsOneCharacter) {
  const v1::CallerPolicy entry =
      Entry({"centric.profiles.v1.Profiles/GetProfile", "centric.feedback.v1.Feedback/Get?urvey"});
  EXPECT_TRUE(Policy::Allows(entry, "centric.profiles.v1.Profiles/GetProfile"));
  EXPECT_FALSE(Policy::Allows(entry, "centricXprofilesXv1XProfiles/GetProfile"));
  EXPECT_FALSE(Policy::Allows(entry, "centric.profiles.v1.Profiles/GetProfiles"));
  EXPECT_TRUE(Policy::Allows(entry, "centric.feedback.v1.Feedback/GetSurvey"));
  EXPECT_FALSE(Policy::Allows(entry, "centric.feedback.v1.Feedback/GetSSurvey"));
}

TEST(PolicyAllowsTest, ServiceWildcardAllowsOnlyThatService) {
  const v1::CallerPolicy entry = Entry({"centric.segmentation.v1.Segmentation/*"});
  EXPECT_TRUE(Policy::Allows(entry, "centric.segmentation.v1.Segmentation/CreateSegment"));
  EXPECT_FALSE(Policy::Allows(entry, "centric.profiles.v1.Profiles/GetProfile"));
}

TEST(PolicyAllowsTest, NoPatternsAllowNothing) {
  EXPECT_FALSE(Policy::Allows(Entry({}), "centric.profiles.v1.Profiles/GetProfile"));
}

}  // namespace
}  // namespace centric::security
