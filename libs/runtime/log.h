// Structured logs: one JSON object per line on stdout, e.g.
//   {"ts":"2026-11-22T15:10:45.123Z","level":"info","event":"listening","address":"..."}
// Fields given by the caller are added in order; the request id of the current RPC (set
// by the server runtime) is added as "request_id" when there is one, and the current
// trace (trace.h) as "trace_id" and "span_id" when there is one.
#ifndef CENTRIC_LIBS_RUNTIME_LOG_H_
#define CENTRIC_LIBS_RUNTIME_LOG_H_

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <string>
#include <utility>
#include <variant>

#include "absl/strings/string_view.h"

namespace centric::runtime {

enum class LogLevel { kDebug, kInfo, kWarning, kError };

// A field value: string, integer, double or bool.
using LogValue = std::variant<absl::string_view, int64_t, double, bool>;
using LogField = std::pair<absl::string_view, LogValue>;

void Log(LogLevel level, absl::string_view event, std::initializer_list<LogField> fields = {});
inline void LogInfo(absl::string_view event, std::initializer_list<LogField> fields = {}) {
  Log(LogLevel::kInfo, event, fields);
}
inline void LogWarning(absl::string_view event, std::initializer_list<LogField> fields = {}) {
  Log(LogLevel::kWarning, event, fields);
}
inline void LogError(absl::string_view event, std::initializer_list<LogField> fields = {}) {
  Log(LogLevel::kError, event, fields);
}

// Lines below this level are dropped. Default: kInfo (CENTRIC_LOG_LEVEL=debug|info|...).
void SetMinLogLevel(LogLevel level);

// Renders the JSON line Log would print (without the trailing newline). For tests.
std::string FormatLogLine(LogLevel level, absl::string_view event,
                          std::initializer_list<LogField> fields);

// Sends every line Log writes (without the trailing newline) to `sink` instead of stdout,
// until called again; nullptr restores stdout. For tests that check what was logged.
// `sink` may be called from any thread, one line at a time, and must not log.
void SetLogSink(std::function<void(absl::string_view line)> sink);

// The request id logged with every line written on this thread while the scope lives.
class ScopedRequestId {
 public:
  explicit ScopedRequestId(std::string request_id);
  ~ScopedRequestId();
  ScopedRequestId(const ScopedRequestId&) = delete;
  ScopedRequestId& operator=(const ScopedRequestId&) = delete;

 private:
  std::string previous_;
};

// The request id of the current thread's RPC, or "".
const std::string& CurrentRequestId();

// Escapes `text` as the inside of a JSON string.
std::string JsonEscape(absl::string_view text);

}  // namespace centric::runtime

#endif  // CENTRIC_LIBS_RUNTIME_LOG_H_
