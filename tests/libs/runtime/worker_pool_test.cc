#include "libs/runtime/worker_pool.h"

#include <atomic>

#include "absl/synchronization/barrier.h"
#include "absl/synchronization/blocking_counter.h"
#include "gtest/gtest.h"

namespace centric::runtime {
namespace {

TEST(WorkerPoolTest, RunsEveryTaskAndDrainsOnDestruction) {
  std::atomic<int> done{0};
  {
    WorkerPool pool(3);
    for (int i = 0; i < 500; ++i) pool.Schedule([&] { ++done; });
  }
  EXPECT_EQ(done.load(), 500);
}

TEST(WorkerPoolTest, TasksRunInParallel) {
  WorkerPool pool(4);
  auto* all_started = new absl::Barrier(4);  // Block() deletes it in the last thread
  absl::BlockingCounter finished(4);
  // Each task waits for the others to start: this only completes if 4 run at once.
  for (int i = 0; i < 4; ++i) {
    pool.Schedule([&] {
      if (all_started->Block()) delete all_started;
      finished.DecrementCount();
    });
  }
  finished.Wait();
}

}  // namespace
}  // namespace centric::runtime
