#include "libs/runtime/clock.h"

#include <set>

#include "gtest/gtest.h"

namespace centric::runtime {
namespace {

TEST(UlidGeneratorTest, UniqueLowerCaseAndOrderedByTime) {
  FakeClock clock;
  UlidGenerator ids(clock);
  std::set<std::string> seen;
  std::string previous;
  for (int i = 0; i < 1000; ++i) {
    std::string id = ids.NewId();
    ASSERT_EQ(id.size(), 26u);
    for (char c : id) ASSERT_TRUE((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z')) << id;
    EXPECT_TRUE(seen.insert(id).second);
    if (i % 100 == 0) {
      clock.Advance(absl::Milliseconds(1));
      std::string later = ids.NewId();
      EXPECT_GT(later, id) << "ids of a later millisecond sort after";
    }
  }
}

}  // namespace
}  // namespace centric::runtime
