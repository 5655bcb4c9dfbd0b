#include "services/centricctl/args.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace centric::ctl {
namespace {

using ::testing::ElementsAre;

absl::StatusOr<Args> Parse(std::vector<const char*> words) {
  words.insert(words.begin(), "centricctl");
  return ParseArgs(static_cast<int>(words.size()), words.data(), {"json", "team-view"});
}

TEST(ParseArgsTest, FlagsInAnyOrderBothSpellings) {
  auto args = Parse({"--target=h:1", "profiles", "--timeout", "5s", "get", "ada", "--json"});
  ASSERT_TRUE(args.ok()) << args.status();
  EXPECT_THAT(args->positional, ElementsAre("profiles", "get", "ada"));
  EXPECT_EQ(args->Get("target"), "h:1");
  EXPECT_EQ(args->Get("timeout"), "5s");
  EXPECT_TRUE(args->Has("json"));
  EXPECT_FALSE(args->Has("team-view"));
  EXPECT_EQ(args->Get("missing", "fallback"), "fallback");
}

TEST(ParseArgsTest, RepeatedFlagsKeepEveryValueAndGetTakesTheLast) {
  auto args = Parse({"profiles", "create", "--trait", "a=1", "--trait=b=2", "--id=x", "--id=y"});
  ASSERT_TRUE(args.ok());
  EXPECT_THAT(args->GetAll("trait"), ElementsAre("a=1", "b=2"));
  EXPECT_EQ(args->Get("id"), "y");
}

TEST(ParseArgsTest, ValuesMayHoldEqualsSpacesAndLeadingDashesAfterDoubleDash) {
  auto args = Parse({"segments", "preview", "--rule=profile.traits.a == \"b=c\"", "--", "--odd"});
  ASSERT_TRUE(args.ok());
  EXPECT_EQ(args->Get("rule"), "profile.traits.a == \"b=c\"");
  EXPECT_THAT(args->positional, ElementsAre("segments", "preview", "--odd"));
}

TEST(ParseArgsTest, BooleanFlagsTakeNoValueAndEmptyValuesAreKept) {
  auto args = Parse({"reports", "scorecard", "--team-view", "--from=", "x"});
  ASSERT_TRUE(args.ok());
  EXPECT_TRUE(args->Has("team-view"));
  EXPECT_EQ(args->Get("team-view"), "true");
  EXPECT_TRUE(args->Has("from"));
  EXPECT_EQ(args->Get("from", "unset"), "");
  EXPECT_THAT(args->positional, ElementsAre("reports", "scorecard", "x"));
}

TEST(ParseArgsTest, AFlagWithoutItsValueIsAnErrorNamingIt) {
  auto args = Parse({"profiles", "lookup", "--email"});
  ASSERT_FALSE(args.ok());
  EXPECT_EQ(args.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(args.status().message(), "flag --email needs a value");
}

TEST(ParseArgsTest, ShortWordsAndSingleDashesArePositional) {
  auto args = Parse({"-", "--", "-x"});
  ASSERT_TRUE(args.ok());
  EXPECT_THAT(args->positional, ElementsAre("-", "-x"));
}

}  // namespace
}  // namespace centric::ctl
