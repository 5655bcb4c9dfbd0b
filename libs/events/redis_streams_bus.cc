#include "libs/events/redis_streams_bus.h"

#include <hiredis/hiredis.h>
#include <sys/time.h>

#include <algorithm>
#include <memory>
#include <set>
#include <tuple>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "libs/runtime/log.h"

namespace centric::events {
namespace {

constexpr int kReadCount = 100;
constexpr absl::Duration kMinBackoff = absl::Milliseconds(50);
constexpr absl::Duration kMaxBackoff = absl::Seconds(5);

struct ReplyDeleter {
  void operator()(redisReply* reply) const { freeReplyObject(reply); }
};
using Reply = std::unique_ptr<redisReply, ReplyDeleter>;

struct ContextDeleter {
  void operator()(redisContext* context) const { redisFree(context); }
};

timeval TimeoutTimeval(absl::Duration d) { return absl::ToTimeval(std::max(d, absl::Milliseconds(1))); }

std::string StreamKey(const std::string& prefix, absl::string_view topic) {
  return absl::StrCat(prefix, "events:", topic);
}

std::string ReplyString(const redisReply* reply) { return std::string(reply->str, reply->len); }

// Sends one command with binary-safe arguments; nullptr when the connection failed.
Reply RunCommand(redisContext* context, const std::vector<std::string>& args) {
  std::vector<const char*> argv;
  std::vector<size_t> lengths;
  argv.reserve(args.size());
  lengths.reserve(args.size());
  for (const std::string& arg : args) {
    argv.push_back(arg.data());
    lengths.push_back(arg.size());
  }
  return Reply(static_cast<redisReply*>(redisCommandArgv(
      context, static_cast<int>(argv.size()), argv.data(), lengths.data())));
}

// One blocking hiredis connection, opened on first use and dropped on any I/O error so the
// next command reconnects. Not thread-safe.
class Connection {
 public:
  Connection(const RedisStreamsOptions& options, absl::Duration timeout)
      : host_(options.host),
        port_(options.port),
        username_(options.username),
        password_(options.password),
        timeout_(timeout) {}

  bool connected() const { return context_ != nullptr; }
  void Reset() { context_.reset(); }

  // Runs one command. Errors: UNAVAILABLE (cannot connect, or the connection broke; it
  // is dropped), INTERNAL (Redis answered with an error; its text is the message).
  absl::StatusOr<Reply> Command(const std::vector<std::string>& args) {
    if (context_ == nullptr) {
      const timeval tv = TimeoutTimeval(timeout_);
      std::unique_ptr<redisContext, ContextDeleter> context(
          redisConnectWithTimeout(host_.c_str(), port_, tv));
      if (context == nullptr) return absl::UnavailableError("redis: out of memory");
      if (context->err != 0) {
        return absl::UnavailableError(
            absl::StrCat("redis ", host_, ":", port_, ": ", context->errstr));
      }
      if (redisSetTimeout(context.get(), tv) != REDIS_OK) {
        return absl::UnavailableError("redis: cannot set the socket timeout");
      }
      if (absl::Status s = Authenticate(context.get()); !s.ok()) return s;
      context_ = std::move(context);
    }
    Reply reply = RunCommand(context_.get(), args);
    if (reply == nullptr) {
      absl::Status status = absl::UnavailableError(
          absl::StrCat("redis ", host_, ":", port_, ": ", context_->errstr));
      Reset();
      return status;
    }
    if (reply->type == REDIS_REPLY_ERROR) {
      return absl::InternalError(absl::StrCat("redis: ", ReplyString(reply.get())));
    }
    return reply;
  }

 private:
  // AUTH on a new connection when a password is configured. A refusal is UNAVAILABLE, so
  // consumers keep retrying with back-off (a rotated password in the Secret fixes it on
  // the next rollout); its text names the user, never the password.
  absl::Status Authenticate(redisContext* context) {
    if (password_.empty()) return absl::OkStatus();
    Reply reply = RunCommand(context, username_.empty()
                                          ? std::vector<std::string>{"AUTH", password_}
                                          : std::vector<std::string>{"AUTH", username_, password_});
    if (reply == nullptr) {
      return absl::UnavailableError(
          absl::StrCat("redis ", host_, ":", port_, ": AUTH: ", context->errstr));
    }
    if (reply->type == REDIS_REPLY_ERROR) {
      return absl::UnavailableError(absl::StrCat("redis ", host_, ":", port_, ": AUTH",
                                                 username_.empty() ? "" : " as ", username_,
                                                 " refused: ", ReplyString(reply.get())));
    }
    return absl::OkStatus();
  }

  const std::string host_;
  const int port_;
  const std::string username_;
  const std::string password_;
  const absl::Duration timeout_;
  std::unique_ptr<redisContext, ContextDeleter> context_;
};

class RedisSubscription : public Subscription {
 public:
  RedisSubscription(const RedisStreamsOptions& bus_options, SubscribeOptions options,
                    Handler handler)
      : bus_options_(bus_options),
        options_(std::move(options)),
        handler_(std::move(handler)),
        stream_(StreamKey(bus_options.key_prefix, options_.topic)),
        // A blocked XREADGROUP must not look like a dead server.
        connection_(bus_options, bus_options.command_timeout + bus_options.block) {
    // Creating the group before returning means an event published right after
    // Subscribe is seen; if Redis is down, the loop creates it on reconnect.
    group_ready_ = CreateGroup().ok();
    thread_ = std::thread([this] { Run(); });
  }

  ~RedisSubscription() override {
    stop_.Notify();
    thread_.join();
  }

 private:
  absl::Status CreateGroup() {
    absl::StatusOr<Reply> reply = connection_.Command(
        {"XGROUP", "CREATE", stream_, options_.group, "$", "MKSTREAM"});
    if (!reply.ok() && absl::StrContains(reply.status().message(), "BUSYGROUP")) {
      return absl::OkStatus();
    }
    return reply.status();
  }

  void Run() {
    absl::Duration backoff = kMinBackoff;
    bool failing = false;
    while (!stop_.HasBeenNotified()) {
      absl::Status status = Step();
      if (status.ok()) {
        if (failing) {
          runtime::LogInfo("event_consumer_recovered",
                           {{"stream", stream_}, {"group", options_.group}});
        }
        failing = false;
        backoff = kMinBackoff;
        continue;
      }
      if (!failing) {
        const std::string error = status.ToString();
        runtime::LogWarning("event_consumer_failed", {{"stream", stream_},
                                                      {"group", options_.group},
                                                      {"consumer", options_.consumer},
                                                      {"error", error}});
      }
      failing = true;
      // Start over from a fresh connection: it also recreates the group if Redis lost it
      // (NOGROUP after a restart) and rereads what this consumer was given but not acked.
      connection_.Reset();
      group_ready_ = false;
      own_pending_due_ = absl::InfinitePast();
      stop_.WaitForNotificationWithTimeout(backoff);
      backoff = std::min(backoff * 2, kMaxBackoff);
    }
  }

  absl::Status Step() {
    if (!group_ready_) {
      if (absl::Status status = CreateGroup(); !status.ok()) return status;
      group_ready_ = true;
    }
    if (absl::Now() >= own_pending_due_) {
      own_pending_due_ = absl::InfiniteFuture();
      // "0" instead of ">" lists the entries this consumer was given and has not acked.
      absl::StatusOr<Reply> reply =
          connection_.Command({"XREADGROUP", "GROUP", options_.group, options_.consumer,
                               "COUNT", absl::StrCat(kReadCount), "STREAMS", stream_, "0"});
      if (!reply.ok()) return reply.status();
      if (absl::Status status = HandleReadReply(**reply); !status.ok()) return status;
    }
    if (stop_.HasBeenNotified()) return absl::OkStatus();

    absl::StatusOr<Reply> claimed = connection_.Command(
        {"XAUTOCLAIM", stream_, options_.group, options_.consumer,
         absl::StrCat(absl::ToInt64Milliseconds(bus_options_.claim_idle)), claim_cursor_,
         "COUNT", absl::StrCat(kReadCount)});
    if (!claimed.ok()) return claimed.status();
    // [next cursor, entries, deleted ids] (Redis 7; 6.2 sends only the first two).
    const redisReply& claim = **claimed;
    if (claim.type != REDIS_REPLY_ARRAY || claim.elements < 2 ||
        claim.element[0]->type != REDIS_REPLY_STRING) {
      return absl::InternalError("unexpected XAUTOCLAIM reply");
    }
    claim_cursor_ = ReplyString(claim.element[0]);
    if (absl::Status status = HandleEntries(*claim.element[1]); !status.ok()) return status;
    if (stop_.HasBeenNotified()) return absl::OkStatus();

    // BLOCK 0 would mean forever and make the destructor hang.
    const int64_t block_ms = std::max<int64_t>(1, absl::ToInt64Milliseconds(bus_options_.block));
    absl::StatusOr<Reply> reply = connection_.Command(
        {"XREADGROUP", "GROUP", options_.group, options_.consumer, "COUNT",
         absl::StrCat(kReadCount), "BLOCK", absl::StrCat(block_ms), "STREAMS", stream_, ">"});
    if (!reply.ok()) return reply.status();
    return HandleReadReply(**reply);
  }

  // XREADGROUP answers nil (timeout) or [[stream, entries]].
  absl::Status HandleReadReply(const redisReply& reply) {
    if (reply.type == REDIS_REPLY_NIL) return absl::OkStatus();
    if (reply.type != REDIS_REPLY_ARRAY) return absl::InternalError("unexpected XREADGROUP reply");
    for (size_t i = 0; i < reply.elements; ++i) {
      const redisReply* stream = reply.element[i];
      if (stream->type != REDIS_REPLY_ARRAY || stream->elements != 2) {
        return absl::InternalError("unexpected XREADGROUP stream reply");
      }
      if (absl::Status status = HandleEntries(*stream->element[1]); !status.ok()) return status;
    }
    return absl::OkStatus();
  }

  // Entries are [id, [field, value, ...]]; the field list is nil when the entry was
  // trimmed away while pending.
  absl::Status HandleEntries(const redisReply& entries) {
    if (entries.type != REDIS_REPLY_ARRAY) return absl::InternalError("unexpected entry list");
    for (size_t i = 0; i < entries.elements; ++i) {
      if (stop_.HasBeenNotified()) return absl::OkStatus();  // the rest stay pending
      const redisReply* entry = entries.element[i];
      if (entry->type == REDIS_REPLY_NIL) continue;  // Redis 6.2 XAUTOCLAIM of a deleted one
      if (entry->type != REDIS_REPLY_ARRAY || entry->elements != 2 ||
          entry->element[0]->type != REDIS_REPLY_STRING) {
        return absl::InternalError("unexpected stream entry");
      }
      const std::string id = ReplyString(entry->element[0]);
      const redisReply* fields = entry->element[1];
      const redisReply* data = nullptr;
      if (fields->type == REDIS_REPLY_ARRAY) {
        for (size_t f = 0; f + 1 < fields->elements; f += 2) {
          if (fields->element[f]->type == REDIS_REPLY_STRING &&
              ReplyString(fields->element[f]) == "data") {
            data = fields->element[f + 1];
          }
        }
      }
      Event event;
      if (data == nullptr || data->type != REDIS_REPLY_STRING ||
          !event.ParseFromArray(data->str, static_cast<int>(data->len))) {
        // Redelivering cannot repair it; acking keeps it from blocking the group forever.
        runtime::LogError("event_entry_unreadable_dropped",
                          {{"stream", stream_}, {"entry_id", id}});
        if (absl::Status status = Ack(id); !status.ok()) return status;
        continue;
      }
      runtime::TraceScope trace(TraceOf(event));
      absl::Status handled = handler_(event);
      if (handled.ok()) {
        if (absl::Status status = Ack(id); !status.ok()) return status;
        continue;
      }
      const std::string error = handled.ToString();
      runtime::LogWarning("event_handler_failed", {{"stream", stream_},
                                                   {"group", options_.group},
                                                   {"consumer", options_.consumer},
                                                   {"event_id", event.id()},
                                                   {"error", error}});
      own_pending_due_ = std::min(own_pending_due_, absl::Now() + bus_options_.redelivery_delay);
    }
    return absl::OkStatus();
  }

  absl::Status Ack(const std::string& id) {
    return connection_.Command({"XACK", stream_, options_.group, id}).status();
  }

  const RedisStreamsOptions bus_options_;
  const SubscribeOptions options_;
  const Handler handler_;
  const std::string stream_;
  absl::Notification stop_;
  // The fields below belong to the subscription's thread (and the constructor before
  // it starts).
  Connection connection_;
  bool group_ready_ = false;
  // When to reread this consumer's own unacked entries: at start and after a failure.
  absl::Time own_pending_due_ = absl::InfinitePast();
  std::string claim_cursor_ = "0-0";
  std::thread thread_;
};

class RedisStreamsBus : public Bus {
 public:
  explicit RedisStreamsBus(const RedisStreamsOptions& options)
      : options_(options), publisher_(options, options.command_timeout) {}

  absl::Status Publish(const Event& event) override {
    if (event.source().empty()) {
      return absl::InvalidArgumentError("event.source (the topic) is empty");
    }
    std::string data;
    if (!event.SerializeToString(&data)) {
      return absl::InternalError(absl::StrCat("cannot serialise event ", event.id()));
    }
    const std::vector<std::string> args = {
        "XADD", StreamKey(options_.key_prefix, event.source()), "MAXLEN", "~",
        absl::StrCat(options_.max_len), "*", "id", event.id(), "type", event.type(),
        "data", std::move(data)};
    absl::MutexLock lock(&mu_);
    // A connection that was idle across a Redis restart fails once; one retry on a fresh
    // one hides that. (If the first XADD did land, the event is published twice, which
    // at-least-once allows.)
    const bool was_connected = publisher_.connected();
    absl::StatusOr<Reply> reply = publisher_.Command(args);
    if (!reply.ok() && was_connected && !publisher_.connected()) {
      reply = publisher_.Command(args);
    }
    if (!reply.ok()) {
      return absl::UnavailableError(absl::StrCat("publish to redis: ", reply.status().message()));
    }
    return absl::OkStatus();
  }

  std::unique_ptr<Subscription> Subscribe(const SubscribeOptions& options,
                                          Handler handler) override {
    {
      absl::MutexLock lock(&mu_);
      subscribed_.insert({options.topic, options.group});
    }
    return std::make_unique<RedisSubscription>(options_, options, std::move(handler));
  }

  // XINFO GROUPS per topic: `lag` (entries not yet delivered to the group; Redis 7) plus
  // `pending` (delivered, not acknowledged).
  absl::StatusOr<std::vector<GroupLag>> Lag() override {
    absl::MutexLock lock(&mu_);
    std::vector<GroupLag> out;
    std::set<std::string> topics;
    for (const auto& [topic, group] : subscribed_) topics.insert(topic);
    for (const std::string& topic : topics) {
      absl::StatusOr<Reply> reply =
          publisher_.Command({"XINFO", "GROUPS", StreamKey(options_.key_prefix, topic)});
      if (!reply.ok()) {
        return absl::UnavailableError(absl::StrCat("redis XINFO GROUPS: ", reply.status().message()));
      }
      if ((*reply)->type != REDIS_REPLY_ARRAY) continue;
      for (size_t g = 0; g < (*reply)->elements; ++g) {
        const redisReply* fields = (*reply)->element[g];
        if (fields->type != REDIS_REPLY_ARRAY) continue;
        std::string name;
        int64_t pending = 0, lag = 0;
        for (size_t f = 0; f + 1 < fields->elements; f += 2) {
          std::string key = ReplyString(fields->element[f]);
          const redisReply* value = fields->element[f + 1];
          if (key == "name") name = ReplyString(value);
          if (key == "pending" && value->type == REDIS_REPLY_INTEGER) pending = value->integer;
          if (key == "lag" && value->type == REDIS_REPLY_INTEGER) lag = value->integer;
        }
        if (subscribed_.contains({topic, name})) out.push_back({topic, name, lag + pending});
      }
    }
    std::sort(out.begin(), out.end(), [](const GroupLag& a, const GroupLag& b) {
      return std::tie(a.topic, a.group) < std::tie(b.topic, b.group);
    });
    return out;
  }

 private:
  const RedisStreamsOptions options_;
  absl::Mutex mu_;
  Connection publisher_ ABSL_GUARDED_BY(mu_);
  // (topic, group) of every Subscribe on this bus.
  std::set<std::pair<std::string, std::string>> subscribed_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

std::unique_ptr<Bus> NewRedisStreamsBus(const RedisStreamsOptions& options) {
  return std::make_unique<RedisStreamsBus>(options);
}

}  // namespace centric::events
