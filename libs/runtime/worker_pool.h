// A fixed pool of threads for handler work that may block (store and cache I/O), so
// gRPC's own threads never wait on a database.
#ifndef CENTRIC_LIBS_RUNTIME_WORKER_POOL_H_
#define CENTRIC_LIBS_RUNTIME_WORKER_POOL_H_

#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"

namespace centric::runtime {

class WorkerPool {
 public:
  explicit WorkerPool(int threads);
  // Runs every queued task, then joins the threads.
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  void Schedule(std::function<void()> task);

 private:
  void Run();
  absl::Mutex mu_;
  std::deque<std::function<void()>> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace centric::runtime

#endif  // CENTRIC_LIBS_RUNTIME_WORKER_POOL_H_
