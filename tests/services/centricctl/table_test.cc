#include "services/centricctl/table.h"

#include <sstream>

#include "gtest/gtest.h"

namespace centric::ctl {
namespace {

std::string Render(const Table& table) {
  std::ostringstream out;
  table.Print(out);
  return out.str();
}

TEST(TableTest, ColumnsAreAsWideAsTheirWidestCellPlusTwoSpaces) {
  Table table({"NAME", "SIZE", "RULE"});
  table.AddRow({"segments/germany", "3", "profile.traits.country == \"DE\""});
  table.AddRow({"segments/fr", "12345", "x"});
  EXPECT_EQ(Render(table),
            "NAME              SIZE   RULE\n"
            "segments/germany  3      profile.traits.country == \"DE\"\n"
            "segments/fr       12345  x\n");
}

TEST(TableTest, NoTrailingSpacesAndMissingCellsPrintEmpty) {
  Table table({"A", "B", "C"});
  table.AddRow({"1"});
  table.AddRow({"1", "22", ""});
  table.AddRow({"1", "2", "3", "dropped"});
  EXPECT_EQ(Render(table),
            "A  B   C\n"
            "1\n"
            "1  22\n"
            "1  2   3\n");
}

TEST(TableTest, HeadersAloneWhenEmpty) {
  Table table({"PROFILE"});
  EXPECT_EQ(Render(table), "PROFILE\n");
}

}  // namespace
}  // namespace centric::ctl
