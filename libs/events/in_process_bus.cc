#include "libs/events/in_process_bus.h"

#include <algorithm>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <tuple>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/random/random.h"
#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "libs/runtime/log.h"

namespace centric::events {
namespace {

// An event in flight with the failures it has had so far.
struct Delivery {
  Event event;
  int failures = 0;
};

// The events of one consumer group of one topic. Outlives its subscriptions (the bus
// keeps it), so events keep queueing while the group has no running consumer.
struct GroupQueue {
  absl::Mutex mu;
  absl::CondVar cv;
  std::deque<Delivery> ready ABSL_GUARDED_BY(mu);
  // Failed events waiting out their back-off, by due time.
  std::multimap<absl::Time, Delivery> retries ABSL_GUARDED_BY(mu);
  // Events taken by a consumer whose handler has not returned yet.
  int handling ABSL_GUARDED_BY(mu) = 0;
  // The dead-letter queue, oldest first; ids are increasing numbers.
  std::deque<DeadLetter> dead ABSL_GUARDED_BY(mu);
  int64_t next_dead_id ABSL_GUARDED_BY(mu) = 1;
};

class InProcessSubscription : public Subscription {
 public:
  InProcessSubscription(std::shared_ptr<GroupQueue> queue, SubscribeOptions options,
                        Handler handler, const InProcessBusOptions& bus_options)
      : queue_(std::move(queue)),
        options_(std::move(options)),
        handler_(std::move(handler)),
        bus_options_(bus_options) {
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
      Delivery delivery;
      {
        absl::MutexLock lock(&queue_->mu);
        while (true) {
          if (stopping_) return;
          const absl::Time now = absl::Now();
          // Retries first, as a reclaimed entry is on Redis: the oldest failure should
          // not wait behind a steady stream of new events.
          if (!queue_->retries.empty() && queue_->retries.begin()->first <= now) {
            delivery = std::move(queue_->retries.begin()->second);
            queue_->retries.erase(queue_->retries.begin());
            ++queue_->handling;
            break;
          }
          if (!queue_->ready.empty()) {
            delivery = std::move(queue_->ready.front());
            queue_->ready.pop_front();
            ++queue_->handling;
            break;
          }
          const absl::Time wake_at =
              queue_->retries.empty() ? absl::InfiniteFuture() : queue_->retries.begin()->first;
          queue_->cv.WaitWithDeadline(&queue_->mu, wake_at);
        }
      }
      absl::Status status;
      {
        runtime::TraceScope trace(TraceOf(delivery.event));
        status = handler_(delivery.event);
      }
      if (status.ok()) {
        absl::MutexLock lock(&queue_->mu);
        --queue_->handling;
        continue;
      }
      ++delivery.failures;
      const std::string error = status.ToString();
      const bool give_up =
          IsPoison(status) || delivery.failures >= bus_options_.retry.max_attempts;
      runtime::LogWarning(give_up ? "event_dead_lettered" : "event_handler_failed",
                          {{"topic", options_.topic},
                           {"group", options_.group},
                           {"consumer", options_.consumer},
                           {"event_id", delivery.event.id()},
                           {"attempts", int64_t{delivery.failures}},
                           {"error", error}});
      absl::MutexLock lock(&queue_->mu);
      --queue_->handling;
      if (give_up) {
        DeadLetter dead;
        dead.id = absl::StrCat(queue_->next_dead_id++);
        dead.topic = options_.topic;
        dead.group = options_.group;
        dead.event_id = delivery.event.id();
        dead.event_type = delivery.event.type();
        dead.subject = delivery.event.subject();
        dead.data = delivery.event.SerializeAsString();
        dead.error = error;
        dead.attempts = delivery.failures;
        dead.consumer = options_.consumer;
        dead.time = absl::Now();
        queue_->dead.push_back(std::move(dead));
        while (queue_->dead.size() > bus_options_.max_dead_letters) queue_->dead.pop_front();
        continue;
      }
      const absl::Duration wait =
          RetryDelay(bus_options_.retry, delivery.failures, absl::Uniform(bitgen_, 0.0, 1.0));
      queue_->retries.emplace(absl::Now() + wait, std::move(delivery));
      // Idle consumers of the group sleep until the earliest retry they knew of; they
      // must learn of this one.
      queue_->cv.SignalAll();
    }
  }

  std::shared_ptr<GroupQueue> queue_;
  const SubscribeOptions options_;
  const Handler handler_;
  const InProcessBusOptions bus_options_;
  absl::BitGen bitgen_;  // the subscription thread's
  bool stopping_ ABSL_GUARDED_BY(queue_->mu) = false;
  std::thread thread_;
};

class InProcessBus : public Bus {
 public:
  explicit InProcessBus(InProcessBusOptions options) : options_(std::move(options)) {}

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
      queue->ready.push_back({event, 0});
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
                                            queue->handling),
                       static_cast<int64_t>(queue->dead.size())});
      }
    }
    std::sort(out.begin(), out.end(), [](const GroupLag& a, const GroupLag& b) {
      return std::tie(a.topic, a.group) < std::tie(b.topic, b.group);
    });
    return out;
  }

  std::unique_ptr<Subscription> Subscribe(const SubscribeOptions& options,
                                          Handler handler) override {
    std::shared_ptr<GroupQueue> queue = Queue(options.topic, options.group, /*create=*/true);
    return std::make_unique<InProcessSubscription>(std::move(queue), options, std::move(handler),
                                                   options_);
  }

  absl::StatusOr<DeadLetterPage> ListDeadLetters(const std::string& topic,
                                                 const std::string& group, int limit,
                                                 const std::string& after) override {
    DeadLetterPage page;
    std::shared_ptr<GroupQueue> queue = Queue(topic, group, /*create=*/false);
    if (queue == nullptr) return page;
    int64_t after_id = 0;
    if (!after.empty() && !absl::SimpleAtoi(after, &after_id)) {
      return absl::InvalidArgumentError(absl::StrCat("not a dead letter id: \"", after, "\""));
    }
    absl::MutexLock lock(&queue->mu);
    page.total = static_cast<int64_t>(queue->dead.size());
    for (const DeadLetter& dead : queue->dead) {
      int64_t id = 0;
      absl::SimpleAtoi(dead.id, &id);
      if (id <= after_id) continue;
      if (static_cast<int>(page.dead_letters.size()) == limit) {
        page.next = page.dead_letters.back().id;
        break;
      }
      page.dead_letters.push_back(dead);
    }
    return page;
  }

  absl::Status ReplayDeadLetter(const std::string& topic, const std::string& group,
                                const std::string& id) override {
    return TakeDeadLetter(topic, group, id, /*replay=*/true);
  }

  absl::Status DropDeadLetter(const std::string& topic, const std::string& group,
                              const std::string& id) override {
    return TakeDeadLetter(topic, group, id, /*replay=*/false);
  }

 private:
  std::shared_ptr<GroupQueue> Queue(const std::string& topic, const std::string& group,
                                    bool create) {
    absl::MutexLock lock(&mu_);
    if (!create) {
      auto t = topics_.find(topic);
      if (t == topics_.end()) return nullptr;
      auto g = t->second.find(group);
      return g == t->second.end() ? nullptr : g->second;
    }
    std::shared_ptr<GroupQueue>& slot = topics_[topic][group];
    if (slot == nullptr) slot = std::make_shared<GroupQueue>();
    return slot;
  }

  absl::Status TakeDeadLetter(const std::string& topic, const std::string& group,
                              const std::string& id, bool replay) {
    std::shared_ptr<GroupQueue> queue = Queue(topic, group, /*create=*/false);
    if (queue != nullptr) {
      absl::MutexLock lock(&queue->mu);
      for (auto it = queue->dead.begin(); it != queue->dead.end(); ++it) {
        if (it->id != id) continue;
        if (replay) {
          Delivery delivery;
          if (!delivery.event.ParseFromString(it->data)) {
            return absl::FailedPreconditionError(absl::StrCat(
                "dead letter ", id, " of ", topic, "/", group, " is not an event; drop it"));
          }
          queue->ready.push_back(std::move(delivery));
          queue->cv.Signal();
        }
        queue->dead.erase(it);
        return absl::OkStatus();
      }
    }
    return absl::NotFoundError(
        absl::StrCat("no dead letter ", id, " in topic ", topic, ", group ", group));
  }

  const InProcessBusOptions options_;
  absl::Mutex mu_;
  // topic -> group -> queue.
  absl::flat_hash_map<std::string, absl::flat_hash_map<std::string, std::shared_ptr<GroupQueue>>>
      topics_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

std::unique_ptr<Bus> NewInProcessBus(InProcessBusOptions options) {
  return std::make_unique<InProcessBus>(std::move(options));
}

}  // namespace centric::events
