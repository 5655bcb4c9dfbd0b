// Helpers the benchmark programs share.
#ifndef CENTRIC_BENCH_BENCH_UTIL_H_
#define CENTRIC_BENCH_BENCH_UTIL_H_

#include <atomic>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace centric::bench {

// Calls fn(i) for every i in [0, n) from `threads` threads. The first error, if any.
inline absl::Status ForEachIndex(int threads, int n, const std::function<absl::Status(int)>& fn) {
  std::atomic<int> next{0};
  absl::Mutex mu;
  absl::Status first;
  std::vector<std::thread> running;
  for (int t = 0; t < threads; ++t) {
    running.emplace_back([&] {
      for (int i = next++; i < n; i = next++) {
        absl::Status status = fn(i);
        if (!status.ok()) {
          absl::MutexLock lock(&mu);
          if (first.ok()) first = status;
          return;
        }
      }
    });
  }
  for (std::thread& thread : running) thread.join();
  return first;
}

// "bench: key=value" lines, printed together at the end (for scripts that collect runs).
class Metrics {
 public:
  void Add(absl::string_view key, double value) {
    lines_.push_back(absl::StrFormat("bench: %s=%.4g", key, value));
  }
  void AddInt(absl::string_view key, int64_t value) {
    lines_.push_back(absl::StrFormat("bench: %s=%d", key, value));
  }
  void AddText(absl::string_view key, absl::string_view value) {
    lines_.push_back(absl::StrFormat("bench: %s=%s", key, value));
  }
  void Print() const {
    for (const std::string& line : lines_) absl::PrintF("%s\n", line);
  }

 private:
  std::vector<std::string> lines_;
};

}  // namespace centric::bench

#endif  // CENTRIC_BENCH_BENCH_UTIL_H_
