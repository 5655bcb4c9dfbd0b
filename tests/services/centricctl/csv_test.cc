#include "services/centricctl/csv.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace centric::ctl {
namespace {

using ::testing::ElementsAre;

TEST(ParseCsvLineTest, PlainAndEmptyFields) {
  EXPECT_THAT(ParseCsvLine("ada,ada@example.com,DE"), ElementsAre("ada", "ada@example.com", "DE"));
  EXPECT_THAT(ParseCsvLine("a,,c,"), ElementsAre("a", "", "c", ""));
  EXPECT_THAT(ParseCsvLine(""), ElementsAre(""));
}

TEST(ParseCsvLineTest, QuotedFieldsHoldCommasAndDoubledQuotes) {
  EXPECT_THAT(ParseCsvLine(R"(bob,"Smith, Bob","say ""hi""")"),
              ElementsAre("bob", "Smith, Bob", "say \"hi\""));
  EXPECT_THAT(ParseCsvLine(R"("",x)"), ElementsAre("", "x"));
}

TEST(ParseCsvLineTest, WindowsLineEndingIsDropped) {
  EXPECT_THAT(ParseCsvLine("a,b\r"), ElementsAre("a", "b"));
  EXPECT_THAT(ParseCsvLine("a,\"b\r\""), ElementsAre("a", "b\r")) << "only a final \\r";
}

TEST(ParseCsvLineTest, Utf8PassesThrough) {
  EXPECT_THAT(ParseCsvLine("zoë,Zürich,東京"), ElementsAre("zoë", "Zürich", "東京"));
}

}  // namespace
}  // namespace centric::ctl
