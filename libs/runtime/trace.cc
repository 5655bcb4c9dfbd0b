#include "libs/runtime/trace.h"

#include <utility>

#include "absl/random/random.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace centric::runtime {
namespace {

// Lengths and offsets of a version-00 header.
constexpr size_t kHeaderSize = 55;
constexpr size_t kTraceIdSize = 32;
constexpr size_t kSpanIdSize = 16;

thread_local TraceContext current_trace;

bool IsLowerHex(absl::string_view text) {
  for (char c : text) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

bool AllZeros(absl::string_view text) { return text.find_first_not_of('0') == text.npos; }

int HexValue(char c) { return c <= '9' ? c - '0' : c - 'a' + 10; }

std::string RandomHex(size_t digits) {
  thread_local absl::BitGen gen;
  std::string out;
  do {
    out.clear();
    while (out.size() < digits) {
      absl::StrAppend(&out, absl::StrFormat("%016x", absl::Uniform<uint64_t>(gen)));
    }
    out.resize(digits);
  } while (AllZeros(out));
  return out;
}

}  // namespace

std::optional<TraceContext> ParseTraceparent(absl::string_view header) {
  header = absl::StripAsciiWhitespace(header);
  if (header.size() < kHeaderSize) return std::nullopt;
  absl::string_view version = header.substr(0, 2);
  if (!IsLowerHex(version) || version == "ff") return std::nullopt;
  if (version == "00" ? header.size() != kHeaderSize
                      : header.size() > kHeaderSize && header[kHeaderSize] != '-') {
    return std::nullopt;
  }
  if (header[2] != '-' || header[35] != '-' || header[52] != '-') return std::nullopt;
  absl::string_view trace_id = header.substr(3, kTraceIdSize);
  absl::string_view span_id = header.substr(36, kSpanIdSize);
  absl::string_view flags = header.substr(53, 2);
  if (!IsLowerHex(trace_id) || !IsLowerHex(span_id) || !IsLowerHex(flags)) return std::nullopt;
  if (AllZeros(trace_id) || AllZeros(span_id)) return std::nullopt;
  return TraceContext{std::string(trace_id), std::string(span_id),
                      static_cast<uint8_t>(HexValue(flags[0]) * 16 + HexValue(flags[1]))};
}

std::string FormatTraceparent(const TraceContext& context) {
  return absl::StrFormat("00-%s-%s-%02x", context.trace_id, context.span_id, context.flags & 1);
}

std::string NewTraceId() { return RandomHex(kTraceIdSize); }

std::string NewSpanId() { return RandomHex(kSpanIdSize); }

TraceContext ChildSpanOf(const std::optional<TraceContext>& parent) {
  if (!parent.has_value() || !parent->valid()) return TraceContext{NewTraceId(), NewSpanId(), 0};
  return TraceContext{parent->trace_id, NewSpanId(), parent->flags};
}

TraceScope::TraceScope(TraceContext context) : previous_(std::move(current_trace)) {
  current_trace = std::move(context);
}

TraceScope::~TraceScope() { current_trace = std::move(previous_); }

const TraceContext& CurrentTrace() { return current_trace; }

std::optional<std::string> OutgoingTraceparent() {
  if (!current_trace.valid()) return std::nullopt;
  return FormatTraceparent(TraceContext{current_trace.trace_id, NewSpanId(), current_trace.flags});
}

}  // namespace centric::runtime
