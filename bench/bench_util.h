// Helpers the benchmark programs share.
#ifndef CENTRIC_BENCH_BENCH_UTIL_H_
#define CENTRIC_BENCH_BENCH_UTIL_H_

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
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

// One line of /proc/<pid>/stat.
struct ProcStat {
  int ppid = 0;
  std::string comm;
  double cpu_seconds = 0;              // utime + stime, every thread
  double reaped_children_seconds = 0;  // cutime + cstime
};

inline std::optional<ProcStat> ReadProcStat(int pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/stat"));
  std::string line;
  if (!std::getline(in, line)) return std::nullopt;
  const size_t open = line.find('(');
  const size_t close = line.rfind(')');
  if (open == std::string::npos || close == std::string::npos || close + 2 > line.size()) {
    return std::nullopt;
  }
  ProcStat stat;
  stat.comm = line.substr(open + 1, close - open - 1);
  std::istringstream fields(line.substr(close + 2));
  std::string state;
  int64_t skipped = 0;
  int64_t utime = 0, stime = 0, cutime = 0, cstime = 0;
  fields >> state >> stat.ppid;
  for (int field = 5; field <= 13; ++field) fields >> skipped;  // pgrp .. cmajflt
  if (!(fields >> utime >> stime >> cutime >> cstime)) return std::nullopt;
  const double hz = static_cast<double>(sysconf(_SC_CLK_TCK));
  stat.cpu_seconds = (utime + stime) / hz;
  stat.reaped_children_seconds = (cutime + cstime) / hz;
  return stat;
}

inline std::vector<int> AllPids() {
  std::vector<int> pids;
  std::error_code error;
  for (auto it = std::filesystem::directory_iterator("/proc", error);
       !error && it != std::filesystem::directory_iterator(); it.increment(error)) {
    int pid = 0;
    if (absl::SimpleAtoi(it->path().filename().string(), &pid)) pids.push_back(pid);
  }
  return pids;
}

}  // namespace centric::bench

#endif  // CENTRIC_BENCH_BENCH_UTIL_H_
