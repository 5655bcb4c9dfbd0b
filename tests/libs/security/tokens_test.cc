// The tokens file (--tokens-file): what it accepts, what it refuses, and which caller a
// bearer token authenticates as.
#include "libs/security/tokens.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace centric::security {
namespace {

using ::testing::HasSubstr;
using ::testing::Optional;

TEST(TokenHashLineTest, MatchesSha256sumOfTheToken) {
  // printf %s centric-test-token-1 | sha256sum
  EXPECT_EQ(TokenHashLine("centric-test-token-1"),
            "sha256:8f91854631fb76271a007e02782711ffad3e6f40046fde92c8afa21e6a0f1cf1");
  // The FIPS 180-2 vector.
  EXPECT_EQ(TokenHashLine("abc"),
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(TokenTableTest, ParsesLinesCommentsAndBlankLines) {
  auto table = TokenTable::Parse(
      absl::StrCat("# tokens of the suite's callers\n"
                   "\n",
                   "crm-platform ", TokenHashLine("crm-secret"), "   # rotated 2024-05\n",
                   "   \t\n", "  reporting-job   ", TokenHashLine("job-secret"), "\n",
                   "# trailing comment without newline"));
  ASSERT_TRUE(table.ok()) << table.status();
  EXPECT_EQ(table->size(), 2u);
  EXPECT_THAT(table->Authenticate("crm-secret"), Optional(std::string("crm-platform")));
  EXPECT_THAT(table->Authenticate("job-secret"), Optional(std::string("reporting-job")));
}

TEST(TokenTableTest, AcceptsUpperCaseHex) {
  auto table = TokenTable::Parse(
      "crm sha256:BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD\n");
  ASSERT_TRUE(table.ok()) << table.status();
  EXPECT_THAT(table->Authenticate("abc"), Optional(std::string("crm")));
}

TEST(TokenTableTest, EmptyFileHasNoTokens) {
  auto table = TokenTable::Parse("");
  ASSERT_TRUE(table.ok()) << table.status();
  EXPECT_EQ(table->size(), 0u);
  EXPECT_EQ(table->Authenticate("anything"), std::nullopt);
}

TEST(TokenTableTest, RejectsMalformedLinesNamingTheLineNumber) {
  const std::string good = absl::StrCat("crm ", TokenHashLine("t"), "\n");
  struct Case {
    std::string bad_line;
    std::string says;
  };
  for (const Case& c : std::vector<Case>{
           {"crm", "must be \"<caller> sha256:<64 hex digits>\""},
           {TokenHashLine("t"), "must be"},
           {absl::StrCat("crm ", TokenHashLine("t"), " extra"), "must be"},
           {"crm md5:0123456789abcdef0123456789abcdef", "must be"},
           {"crm 8f91854631fb76271a007e02782711ffad3e6f40046fde92c8afa21e6a0f1cf1", "must be"},
           {"crm sha256:8f918546", "64 hex digits"},
           {absl::StrCat("crm ", TokenHashLine("t"), "0"), "64 hex digits"},
           {"crm sha256:zz91854631fb76271a007e02782711ffad3e6f40046fde92c8afa21e6a0f1cf1",
            "64 hex digits"},
       }) {
    // Line 3: after a comment and a good line.
    auto table = TokenTable::Parse(absl::StrCat("# header\n", good, c.bad_line, "\n", good));
    ASSERT_FALSE(table.ok()) << c.bad_line;
    EXPECT_EQ(table.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(table.status().message(), HasSubstr("line 3:")) << c.bad_line;
    EXPECT_THAT(table.status().message(), HasSubstr(c.says)) << c.bad_line;
  }
}

TEST(TokenTableTest, AuthenticateRefusesWrongAndEmptyTokens) {
  auto table = TokenTable::Parse(absl::StrCat("crm ", TokenHashLine("crm-secret"), "\n"));
  ASSERT_TRUE(table.ok()) << table.status();
  EXPECT_EQ(table->Authenticate("crm-secreT"), std::nullopt);
  EXPECT_EQ(table->Authenticate("crm-secret "), std::nullopt);
  EXPECT_EQ(table->Authenticate(""), std::nullopt);
  // The hash itself is not a token.
  EXPECT_EQ(table->Authenticate(TokenHashLine("crm-secret")), std::nullopt);
}

TEST(TokenTableTest, TwoTokensOfOneCallerBothAuthenticateDuringRotation) {
  auto table = TokenTable::Parse(absl::StrCat("crm ", TokenHashLine("old-token"), "\n", "crm ",
                                              TokenHashLine("new-token"), "\n", "other ",
                                              TokenHashLine("other-token"), "\n"));
  ASSERT_TRUE(table.ok()) << table.status();
  EXPECT_THAT(table->Authenticate("old-token"), Optional(std::string("crm")));
  EXPECT_THAT(table->Authenticate("new-token"), Optional(std::string("crm")));
  EXPECT_THAT(table->Authenticate("other-token"), Optional(std::string("other")));
}

}  // namespace
}  // namespace centric::security
