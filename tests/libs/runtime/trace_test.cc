#include "libs/runtime/trace.h"

#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "libs/runtime/log.h"

namespace centric::runtime {
namespace {

constexpr char kTraceId[] = "4bf92f3577b34da6a3ce929d0e0e4736";
constexpr char kParentId[] = "00f067aa0ba902b7";
constexpr char kHeader[] = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

bool IsLowerHex(const std::string& text) {
  return text.find_first_not_of("0123456789abcdef") == std::string::npos;
}

TEST(TraceparentTest, ParsesTheSpecExampleAndFormatsItBack) {
  std::optional<TraceContext> parsed = ParseTraceparent(kHeader);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->trace_id, kTraceId);
  EXPECT_EQ(parsed->span_id, kParentId);
  EXPECT_EQ(parsed->flags, 1);
  EXPECT_EQ(FormatTraceparent(*parsed), kHeader);

  std::optional<TraceContext> unsampled =
      ParseTraceparent(" 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00\t");
  ASSERT_TRUE(unsampled.has_value());
  EXPECT_EQ(unsampled->flags, 0);
}

TEST(TraceparentTest, RejectsMalformedHeaders) {
  for (const char* header : {
           "",
           "00",
           // Lengths and separators.
           "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
           "00-4bf92f3577b34da6a3ce929d0e0e47366-00f067aa0ba902b7-01",
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b-01",
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1",
           "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
           "00-4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7-01",
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7_01",
           // Version 00 allows nothing after the flags.
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-",
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what",
           // Digits: non-hex and upper case.
           "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",
           "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00F067AA0BA902B7-01",
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0x",
           "0g-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
           // All-zero ids.
           "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
           "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
           // Version ff is forbidden.
           "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
           // A future version still needs '-' after the known fields.
           "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x",
       }) {
    EXPECT_FALSE(ParseTraceparent(header).has_value()) << "'" << header << "'";
  }
}

TEST(TraceparentTest, ReadsFutureVersionsAsVersion00) {
  for (const char* header : {"01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                             "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-future"}) {
    std::optional<TraceContext> parsed = ParseTraceparent(header);
    ASSERT_TRUE(parsed.has_value()) << header;
    EXPECT_EQ(parsed->trace_id, kTraceId);
    EXPECT_EQ(parsed->span_id, kParentId);
    // Passed on as version 00.
    EXPECT_EQ(FormatTraceparent(*parsed), kHeader);
  }
}

TEST(TraceparentTest, FormatsOnlyTheSampledFlag) {
  EXPECT_EQ(FormatTraceparent({kTraceId, kParentId, 0xff}), kHeader);
  EXPECT_EQ(FormatTraceparent({kTraceId, kParentId, 0x02}),
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00");
}

TEST(TraceIdsTest, NewIdsAreWellFormedAndDistinct) {
  const std::string trace_id = NewTraceId();
  const std::string span_id = NewSpanId();
  EXPECT_EQ(trace_id.size(), 32u);
  EXPECT_EQ(span_id.size(), 16u);
  EXPECT_TRUE(IsLowerHex(trace_id)) << trace_id;
  EXPECT_TRUE(IsLowerHex(span_id)) << span_id;
  EXPECT_NE(NewTraceId(), trace_id);
  EXPECT_NE(NewSpanId(), span_id);
  // What we generate, we can parse.
  EXPECT_TRUE(ParseTraceparent(FormatTraceparent({trace_id, span_id, 0})).has_value());
}

TEST(TraceIdsTest, ChildSpanKeepsTheTraceOrStartsANewOne) {
  TraceContext parent{kTraceId, kParentId, 1};
  TraceContext child = ChildSpanOf(parent);
  EXPECT_EQ(child.trace_id, kTraceId);
  EXPECT_NE(child.span_id, kParentId);
  EXPECT_EQ(child.flags, 1);

  TraceContext root = ChildSpanOf(std::nullopt);
  EXPECT_TRUE(root.valid());
  EXPECT_NE(root.trace_id, kTraceId);
  EXPECT_EQ(root.flags, 0);
  EXPECT_TRUE(ChildSpanOf(TraceContext{}).valid());
}

TEST(TraceScopeTest, NestsAndRestoresAndFeedsOutgoingHeadersAndLogs) {
  EXPECT_FALSE(CurrentTrace().valid());
  EXPECT_EQ(OutgoingTraceparent(), std::nullopt);
  EXPECT_EQ(FormatLogLine(LogLevel::kInfo, "x", {}).find("trace_id"), std::string::npos);
  {
    TraceScope outer(TraceContext{kTraceId, kParentId, 1});
    std::string line = FormatLogLine(LogLevel::kInfo, "x", {{"k", "v"}});
    EXPECT_NE(line.find(absl::StrCat("\"trace_id\":\"", kTraceId, "\",\"span_id\":\"", kParentId,
                                     "\"")),
              std::string::npos)
        << line;

    std::optional<std::string> outgoing = OutgoingTraceparent();
    ASSERT_TRUE(outgoing.has_value());
    std::optional<TraceContext> sent = ParseTraceparent(*outgoing);
    ASSERT_TRUE(sent.has_value()) << *outgoing;
    EXPECT_EQ(sent->trace_id, kTraceId);
    EXPECT_NE(sent->span_id, kParentId);
    EXPECT_EQ(sent->flags, 1);
    {
      TraceScope inner(ChildSpanOf(CurrentTrace()));
      EXPECT_EQ(CurrentTrace().trace_id, kTraceId);
      EXPECT_NE(CurrentTrace().span_id, kParentId);
    }
    EXPECT_EQ(CurrentTrace().span_id, kParentId);
  }
  EXPECT_FALSE(CurrentTrace().valid());
}

}  // namespace
}  // namespace centric::runtime
