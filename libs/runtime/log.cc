#include "libs/runtime/log.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <functional>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "libs/runtime/trace.h"

namespace centric::runtime {
namespace {

LogLevel LevelFromEnv() {
  const char* env = std::getenv("CENTRIC_LOG_LEVEL");
  if (env == nullptr) return LogLevel::kInfo;
  absl::string_view level(env);
  if (level == "debug") return LogLevel::kDebug;
  if (level == "warning") return LogLevel::kWarning;
  if (level == "error") return LogLevel::kError;
  return LogLevel::kInfo;
}

std::atomic<int>& MinLevel() {
  static std::atomic<int> level{static_cast<int>(LevelFromEnv())};
  return level;
}

thread_local std::string current_request_id;

// The test sink; `has_sink` spares every line the mutex when there is none.
std::atomic<bool> has_sink{false};
ABSL_CONST_INIT absl::Mutex sink_mu(absl::kConstInit);
std::function<void(absl::string_view)>* sink ABSL_GUARDED_BY(sink_mu) = nullptr;

absl::string_view LevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarning:
      return "warning";
    case LogLevel::kError:
      return "error";
  }
  return "info";
}

void AppendValue(std::string& out, const LogValue& value) {
  if (const auto* s = std::get_if<absl::string_view>(&value)) {
    absl::StrAppend(&out, "\"", JsonEscape(*s), "\"");
  } else if (const auto* i = std::get_if<int64_t>(&value)) {
    absl::StrAppend(&out, *i);
  } else if (const auto* d = std::get_if<double>(&value)) {
    absl::StrAppend(&out, absl::StrFormat("%.6g", *d));
  } else {
    absl::StrAppend(&out, std::get<bool>(value) ? "true" : "false");
  }
}

}  // namespace

std::string JsonEscape(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          absl::StrAppend(&out, absl::StrFormat("\\u%04x", c));
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out;
}

std::string FormatLogLine(LogLevel level, absl::string_view event,
                          std::initializer_list<LogField> fields) {
  std::string line = absl::StrCat(
      "{\"ts\":\"", absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone()),
      "\",\"level\":\"", LevelName(level), "\",\"event\":\"", JsonEscape(event), "\"");
  if (!current_request_id.empty()) {
    absl::StrAppend(&line, ",\"request_id\":\"", JsonEscape(current_request_id), "\"");
  }
  if (const TraceContext& trace = CurrentTrace(); trace.valid()) {
    // Both ids are hex digits (trace.h), nothing to escape.
    absl::StrAppend(&line, ",\"trace_id\":\"", trace.trace_id, "\",\"span_id\":\"",
                    trace.span_id, "\"");
  }
  for (const auto& [key, value] : fields) {
    absl::StrAppend(&line, ",\"", JsonEscape(key), "\":");
    AppendValue(line, value);
  }
  line += "}";
  return line;
}

void Log(LogLevel level, absl::string_view event, std::initializer_list<LogField> fields) {
  if (static_cast<int>(level) < MinLevel().load(std::memory_order_relaxed)) return;
  std::string line = FormatLogLine(level, event, fields);
  if (has_sink.load(std::memory_order_acquire)) {
    absl::MutexLock lock(&sink_mu);
    if (sink != nullptr) {
      (*sink)(line);
      return;
    }
  }
  line += "\n";
  // One fwrite per line keeps lines whole when threads log at once.
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fflush(stdout);
}

void SetMinLogLevel(LogLevel level) { MinLevel().store(static_cast<int>(level)); }

void SetLogSink(std::function<void(absl::string_view line)> new_sink) {
  absl::MutexLock lock(&sink_mu);
  delete sink;
  sink = new_sink ? new std::function<void(absl::string_view)>(std::move(new_sink)) : nullptr;
  has_sink.store(sink != nullptr, std::memory_order_release);
}

ScopedRequestId::ScopedRequestId(std::string request_id)
    : previous_(std::move(current_request_id)) {
  current_request_id = std::move(request_id);
}

ScopedRequestId::~ScopedRequestId() { current_request_id = std::move(previous_); }

const std::string& CurrentRequestId() { return current_request_id; }

}  // namespace centric::runtime
