// Helpers the benchmark programs share.
#ifndef CENTRIC_BENCH_BENCH_UTIL_H_
#define CENTRIC_BENCH_BENCH_UTIL_H_

#include <atomic>
#include <functional>
#include <thread>
#include <vector>

#include "absl/status/status.h"
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

}  // namespace centric::bench

#endif  // CENTRIC_BENCH_BENCH_UTIL_H_
