#include "libs/events/in_process_bus.h"

#include <algorithm>
#include <deque>
#include <tuple>
#include <memory>
#include <string>
#include <thread>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "libs/runtime/log.h"

namespace centric::events {
namespace {

// The events of one consumer group of one topic. Outlives its subscriptions (the bus
// keeps it), so events keep queueing while the group has no running consumer.
struct GroupQueue {
  struct Retry {
    Event event;
    absl::Time due;
  };
  absl::Mutex mu;
  absl::CondVar cv;
  std::deque<Event> ready ABSL_GUARDED_BY(mu);
  // Failed events waiting out the redelivery delay. The delay is one constant, so
  // appending keeps this sorted by `due`.
  std::deque<Retry> retries ABSL_GUARDED_BY(mu);
  // Events taken by a consumer whose handler has not returned yet.
  int handling ABSL_GUARDED_BY(mu) = 0;
};

class InProcessSubscription : public Subscription {
 public:
  InProcessSubscription(std::shared_ptr<GroupQueue> queue, SubscribeOptions options,
                        Handler handler, absl::Duration redelivery_delay)
      : queue_(std::move(queue)),
        options_(std::move(options)),
        handler_(std::move(handler)),
        redelivery_delay_(redelivery_delay) {
    thread_ = std::thread([this] { Run(); });
  }

  ~InProcessSubscription() override {
    {
      absl::MutexLock lock(&queue_->mu);
      stopping_ = true;
      queue_->cv.SignalAll();
    }
    thread_.join();
  }

 private:
  void Run() {
    while (true) {
      Event event;
      {
        absl::MutexLock lock(&queue_->mu);
        while (true) {
          if (stopping_) return;
          const absl::Time now = absl::Now();
          // Retries first, as a reclaimed entry is on Redis: the oldest failure should
          // not wait behind a steady stream of new events.
          if (!queue_->retries.empty() && queue_->retries.front().due <= now) {
            event = std::move(queue_->retries.front().event);
            queue_->retries.pop_front();
            ++queue_->handling;
            break;
          }
          if (!queue_->ready.empty()) {
            event = std::move(queue_->ready.front());
            queue_->ready.pop_front();
            ++queue_->handling;
            break;
          }
          const absl::Time wake_at =
              queue_->retries.empty() ? absl::InfiniteFuture() : queue_->retries.front().due;
          queue_->cv.WaitWithDeadline(&queue_->mu, wake_at);
        }
      }
      runtime::TraceScope trace(TraceOf(event));
      absl::Status status = handler_(event);
      if (status.ok()) {
        absl::MutexLock lock(&queue_->mu);
        --queue_->handling;
        continue;
      }
      const std::string error = status.ToString();
      runtime::LogWarning("event_handler_failed", {{"topic", options_.topic},
                                                   {"group", options_.group},
                                                   {"consumer", options_.consumer},
                                                   {"event_id", event.id()},
                                                   {"error", error}});
      absl::MutexLock lock(&queue_->mu);
      --queue_->handling;
      queue_->retries.push_back({std::move(event), absl::Now() + redelivery_delay_});
      // Idle consumers of the group sleep without a deadline; they must learn of it.
      queue_->cv.SignalAll();
    }
  }

  std::shared_ptr<GroupQueue> queue_;
  const SubscribeOptions options_;
  const Handler handler_;
  const absl::Duration redelivery_delay_;
  bool stopping_ ABSL_GUARDED_BY(queue_->mu) = false;
  std::thread thread_;
};

class InProcessBus : public Bus {
 public:
  explicit InProcessBus(absl::Duration redelivery_delay) : redelivery_delay_(redelivery_delay) {}

  absl::Status Publish(const Event& event) override {
    if (event.source().empty()) {
      return absl::InvalidArgumentError("event.source (the topic) is empty");
    }
    absl::MutexLock lock(&mu_);
    auto topic = topics_.find(event.source());
    // No group yet: nobody has asked for this topic, and groups only receive events
    // published after they were created.
    if (topic == topics_.end()) return absl::OkStatus();
    for (auto& [group, queue] : topic->second) {
      absl::MutexLock queue_lock(&queue->mu);
      queue->ready.push_back(event);
      queue->cv.Signal();
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<GroupLag>> Lag() override {
    std::vector<GroupLag> out;
    absl::MutexLock lock(&mu_);
    for (const auto& [topic, groups] : topics_) {
      for (const auto& [group, queue] : groups) {
        absl::MutexLock queue_lock(&queue->mu);
        out.push_back({topic, group,
                       static_cast<int64_t>(queue->ready.size() + queue->retries.size() +
                                            queue->handling)});
      }
    }
    std::sort(out.begin(), out.end(), [](const GroupLag& a, const GroupLag& b) {
      return std::tie(a.topic, a.group) < std::tie(b.topic, b.group);
    });
    return out;
  }

  std::unique_ptr<Subscription> Subscribe(const SubscribeOptions& options,
                                          Handler handler) override {
    std::shared_ptr<GroupQueue> queue;
    {
      absl::MutexLock lock(&mu_);
      std::shared_ptr<GroupQueue>& slot = topics_[options.topic][options.group];
      if (slot == nullptr) slot = std::make_shared<GroupQueue>();
      queue = slot;
    }
    return std::make_unique<InProcessSubscription>(std::move(queue), options, std::move(handler),
                                                   redelivery_delay_);
  }

 private:
  const absl::Duration redelivery_delay_;
  absl::Mutex mu_;
  // topic -> group -> queue.
  absl::flat_hash_map<std::string, absl::flat_hash_map<std::string, std::shared_ptr<GroupQueue>>>
      topics_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

std::unique_ptr<Bus> NewInProcessBus(absl::Duration redelivery_delay) {
  return std::make_unique<InProcessBus>(redelivery_delay);
}

}  // namespace centric::events
