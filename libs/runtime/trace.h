// W3C Trace Context (https://www.w3.org/TR/trace-context/): the `traceparent` header
//   00-<trace-id: 32 lower-case hex>-<parent-id: 16 lower-case hex>-<trace-flags: 2 hex>
// and the trace of the work the current thread is doing. Centric records no spans: it
// carries the ids so that every log line, outgoing call and event of one request can be
// found by its trace id (docs/ARCHITECTURE.md, "Tracing").
#ifndef CENTRIC_LIBS_RUNTIME_TRACE_H_
#define CENTRIC_LIBS_RUNTIME_TRACE_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"

namespace centric::runtime {

// The metadata key / event field carrying the header.
inline constexpr absl::string_view kTraceparentKey = "traceparent";

// One span of a trace. Both ids are lower-case hex and never all zeros once set.
struct TraceContext {
  // 32 hex digits (16 bytes); empty when there is no trace.
  std::string trace_id;
  // 16 hex digits (8 bytes): this span's id, or in a parsed header the caller's
  // (the header's parent-id).
  std::string span_id;
  // trace-flags; bit 0 is "sampled".
  uint8_t flags = 0;

  bool valid() const { return !trace_id.empty(); }
};

// Parses a `traceparent` value (surrounding blanks ignored). nullopt when it is invalid:
// wrong length or separators, upper-case or non-hex digits, an all-zero trace-id or
// parent-id, version "ff", or version 00 with anything after the flags. A version above
// 00 is read as version 00 if the header is at least as long and, when longer, continues
// with '-' (the spec's rule for future versions).
std::optional<TraceContext> ParseTraceparent(absl::string_view header);

// "00-<trace_id>-<span_id>-<flags>". Only the sampled flag is kept: version 00 defines no
// other. Precondition: `context` holds well-formed ids (as every function here makes).
std::string FormatTraceparent(const TraceContext& context);

// Random, never all zeros: 32 and 16 lower-case hex digits.
std::string NewTraceId();
std::string NewSpanId();

// A new span in `parent`'s trace (same trace id and flags, new span id), or the root of
// a new trace (flags 00: nothing is sampled, as no span is recorded) when `parent` is
// nullopt or invalid.
TraceContext ChildSpanOf(const std::optional<TraceContext>& parent);

// Installs `context` as the current thread's trace while the scope lives; the previous
// one comes back when it ends. Scopes nest.
class TraceScope {
 public:
  explicit TraceScope(TraceContext context);
  ~TraceScope();
  TraceScope(const TraceScope&) = delete;
  TraceScope& operator=(const TraceScope&) = delete;

 private:
  TraceContext previous_;
};

// The current thread's trace; !valid() outside every TraceScope.
const TraceContext& CurrentTrace();

// The `traceparent` to send with an outgoing call or event made now: the current trace
// id and flags with a new parent-id (the outgoing request's own id), or nullopt when no
// trace is current.
std::optional<std::string> OutgoingTraceparent();

}  // namespace centric::runtime

#endif  // CENTRIC_LIBS_RUNTIME_TRACE_H_
