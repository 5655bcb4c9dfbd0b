#include "libs/runtime/log.h"

#include "gtest/gtest.h"

namespace centric::runtime {
namespace {

TEST(LogTest, OneJsonObjectPerLineWithEscapingAndRequestId) {
  std::string line = FormatLogLine(LogLevel::kInfo, "listening",
                                   {{"address", "127.0.0.1:5"}, {"n", int64_t{3}}, {"ok", true}});
  EXPECT_NE(line.find("\"event\":\"listening\",\"address\":\"127.0.0.1:5\",\"n\":3,\"ok\":true}"),
            std::string::npos)
      << line;
  EXPECT_EQ(line.find('\n'), std::string::npos);
  {
    ScopedRequestId id("req-42");
    std::string tagged = FormatLogLine(LogLevel::kError, "x", {{"msg", "a\"b\nc"}});
    EXPECT_NE(tagged.find("\"request_id\":\"req-42\""), std::string::npos);
    EXPECT_NE(tagged.find("a\\\"b\\nc"), std::string::npos) << tagged;
  }
  EXPECT_EQ(CurrentRequestId(), "");
}

}  // namespace
}  // namespace centric::runtime
