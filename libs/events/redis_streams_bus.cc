#include "libs/events/redis_streams_bus.h"

#include <hiredis/hiredis.h>
#include <sys/time.h>

#include <algorithm>
#include <map>
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
#include "absl/random/random.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
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

// "<prefix>events-replay:<topic>:<group>": dead letters replayed to one group only.
std::string ReplayKey(const std::string& prefix, absl::string_view topic, absl::string_view group) {
  return absl::StrCat(prefix, "events-replay:", topic, ":", group);
}

// "<prefix>dead-letters:<topic>:<group>": the group's dead-letter queue.
std::string DeadLetterKey(const std::string& prefix, absl::string_view topic,
                          absl::string_view group) {
  return absl::StrCat(prefix, "dead-letters:", topic, ":", group);
}

// A stream entry id ("<ms>-<seq>"), so a caller's text never reaches Redis as a range.
bool IsEntryId(absl::string_view id) {
  const size_t dash = id.find('-');
  if (dash == absl::string_view::npos || dash == 0 || dash + 1 == id.size()) return false;
  for (size_t i = 0; i < id.size(); ++i) {
    if (i != dash && (id[i] < '0' || id[i] > '9')) return false;
  }
  return true;
}

// The value of `name` in an entry's [field, value, ...] list; nullptr when absent.
const redisReply* FieldOf(const redisReply* fields, absl::string_view name) {
  if (fields == nullptr || fields->type != REDIS_REPLY_ARRAY) return nullptr;
  for (size_t f = 0; f + 1 < fields->elements; f += 2) {
    const redisReply* key = fields->element[f];
    if (key->type == REDIS_REPLY_STRING && absl::string_view(key->str, key->len) == name) {
      const redisReply* value = fields->element[f + 1];
      return value->type == REDIS_REPLY_STRING ? value : nullptr;
    }
  }
  return nullptr;
}

std::string FieldString(const redisReply* fields, absl::string_view name) {
  const redisReply* value = FieldOf(fields, name);
  return value == nullptr ? std::string() : ReplyString(value);
}

// Runs `commands` as one MULTI/EXEC transaction. Errors as Connection::Command.
absl::Status Transaction(Connection& connection, const std::vector<std::vector<std::string>>& commands) {
  if (absl::StatusOr<Reply> r = connection.Command({"MULTI"}); !r.ok()) return r.status();
  for (const std::vector<std::string>& command : commands) {
    if (absl::StatusOr<Reply> r = connection.Command(command); !r.ok()) {
      connection.Command({"DISCARD"}).IgnoreError();
      return r.status();
    }
  }
  absl::StatusOr<Reply> exec = connection.Command({"EXEC"});
  if (!exec.ok()) return exec.status();
  if ((*exec)->type != REDIS_REPLY_ARRAY) return absl::InternalError("redis: EXEC was aborted");
  for (size_t i = 0; i < (*exec)->elements; ++i) {
    if ((*exec)->element[i]->type == REDIS_REPLY_ERROR) {
      return absl::InternalError(absl::StrCat("redis: ", ReplyString((*exec)->element[i])));
    }
  }
  return absl::OkStatus();
}

// One consumer of a group. It reads two streams: the topic's, and the group's replay
// stream (dead letters an operator replayed). Per entry it counts failed deliveries,
// starting from Redis' delivery count for entries it did not read first (reclaimed
// from a dead consumer, or its own after a restart), so that an event that kills its
// consumers is also dead-lettered in the end.
class RedisSubscription : public Subscription {
 public:
  RedisSubscription(const RedisStreamsOptions& bus_options, SubscribeOptions options,
                    Handler handler)
      : bus_options_(bus_options),
        options_(std::move(options)),
        handler_(std::move(handler)),
        stream_(StreamKey(bus_options.key_prefix, options_.topic)),
        replay_(ReplayKey(bus_options.key_prefix, options_.topic, options_.group)),
        dead_letters_(DeadLetterKey(bus_options.key_prefix, options_.topic, options_.group)),
        // A blocked XREADGROUP must not look like a dead server.
        connection_(bus_options, bus_options.command_timeout + bus_options.block) {
    // A retry must come before another consumer may reclaim the entry as abandoned.
    retry_.max_backoff = std::min(retry_.max_backoff, bus_options_.claim_idle / 2);
    // Creating the group before returning means an event published right after
    // Subscribe is seen; if Redis is down, the loop creates it on reconnect.
    group_ready_ = CreateGroups().ok();
    thread_ = std::thread([this] { Run(); });
  }

  ~RedisSubscription() override {
    stop_.Notify();
    thread_.join();
  }

 private:
  struct Failure {
    int failures = 0;
    absl::Time due;
  };
  using EntryKey = std::pair<std::string, std::string>;  // (stream, entry id)

  absl::Status CreateGroups() {
    // The topic's group starts at its end; the replay stream's at its start, as all it
    // ever holds is meant for this group.
    for (const auto& [stream, start] : {std::pair{&stream_, "$"}, std::pair{&replay_, "0"}}) {
      absl::StatusOr<Reply> reply = connection_.Command(
          {"XGROUP", "CREATE", *stream, options_.group, start, "MKSTREAM"});
      if (!reply.ok() && !absl::StrContains(reply.status().message(), "BUSYGROUP")) {
        return reply.status();
      }
    }
    return absl::OkStatus();
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
      read_own_pending_ = true;
      stop_.WaitForNotificationWithTimeout(
          backoff * (0.5 + 0.5 * absl::Uniform(bitgen_, 0.0, 1.0)));
      backoff = std::min(backoff * 2, kMaxBackoff);
    }
  }

  absl::Status Step() {
    if (!group_ready_) {
      if (absl::Status status = CreateGroups(); !status.ok()) return status;
      group_ready_ = true;
    }
    if (read_own_pending_) {
      // What this consumer was given and has not acked, e.g. before a restart: "0"
      // instead of ">" lists it. Paged, as it may be more than one read.
      for (const std::string* stream : {&stream_, &replay_}) {
        std::string after = "0";
        while (!stop_.HasBeenNotified()) {
          absl::StatusOr<Reply> reply =
              connection_.Command({"XREADGROUP", "GROUP", options_.group, options_.consumer,
                                   "COUNT", absl::StrCat(kReadCount), "STREAMS", *stream, after});
          if (!reply.ok()) return reply.status();
          absl::StatusOr<int> handled =
              HandleReadReply(**reply, /*known_deliveries=*/false, &after);
          if (!handled.ok()) return handled.status();
          if (*handled < kReadCount) break;
        }
      }
      read_own_pending_ = false;
    }
    if (absl::Status status = RetryDue(); !status.ok()) return status;
    if (stop_.HasBeenNotified()) return absl::OkStatus();

    for (const std::string* stream : {&stream_, &replay_}) {
      std::string& cursor = stream == &stream_ ? claim_cursor_ : replay_claim_cursor_;
      absl::StatusOr<Reply> claimed = connection_.Command(
          {"XAUTOCLAIM", *stream, options_.group, options_.consumer,
           absl::StrCat(absl::ToInt64Milliseconds(bus_options_.claim_idle)), cursor, "COUNT",
           absl::StrCat(kReadCount)});
      if (!claimed.ok()) return claimed.status();
      // [next cursor, entries, deleted ids] (Redis 7; 6.2 sends only the first two).
      const redisReply& claim = **claimed;
      if (claim.type != REDIS_REPLY_ARRAY || claim.elements < 2 ||
          claim.element[0]->type != REDIS_REPLY_STRING) {
        return absl::InternalError("unexpected XAUTOCLAIM reply");
      }
      cursor = ReplyString(claim.element[0]);
      absl::StatusOr<int> handled =
          HandleEntries(*stream, *claim.element[1], /*known_deliveries=*/false, nullptr);
      if (!handled.ok()) return handled.status();
      if (stop_.HasBeenNotified()) return absl::OkStatus();
    }

    // BLOCK 0 would mean forever and make the destructor hang; a retry falling due
    // shortens the wait.
    absl::Duration block = bus_options_.block;
    for (const auto& [key, failure] : failures_) {
      block = std::min(block, failure.due - absl::Now());
    }
    const int64_t block_ms = std::max<int64_t>(1, absl::ToInt64Milliseconds(block));
    absl::StatusOr<Reply> reply = connection_.Command(
        {"XREADGROUP", "GROUP", options_.group, options_.consumer, "COUNT",
         absl::StrCat(kReadCount), "BLOCK", absl::StrCat(block_ms), "STREAMS", stream_, replay_,
         ">", ">"});
    if (!reply.ok()) return reply.status();
    return HandleReadReply(**reply, /*known_deliveries=*/true, nullptr).status();
  }

  // Delivers again the failed entries whose back-off is over. XCLAIM to this consumer
  // returns the entry, counts the delivery and resets its idle time; an entry that is
  // gone (acked elsewhere, or trimmed) is forgotten.
  absl::Status RetryDue() {
    const absl::Time now = absl::Now();
    std::vector<EntryKey> due;
    for (const auto& [key, failure] : failures_) {
      if (failure.due <= now) due.push_back(key);
    }
    for (const EntryKey& key : due) {
      if (stop_.HasBeenNotified()) return absl::OkStatus();
      absl::StatusOr<Reply> claimed = connection_.Command(
          {"XCLAIM", key.first, options_.group, options_.consumer, "0", key.second});
      if (!claimed.ok()) return claimed.status();
      if ((*claimed)->type != REDIS_REPLY_ARRAY || (*claimed)->elements == 0) {
        failures_.erase(key);
        continue;
      }
      absl::StatusOr<int> handled =
          HandleEntries(key.first, **claimed, /*known_deliveries=*/true, nullptr);
      if (!handled.ok()) return handled.status();
    }
    return absl::OkStatus();
  }

  // XREADGROUP answers nil (timeout) or [[stream, entries], ...]. Returns the number of
  // entries; `last_id` (optional) gets the last one's id.
  absl::StatusOr<int> HandleReadReply(const redisReply& reply, bool known_deliveries,
                                      std::string* last_id) {
    if (reply.type == REDIS_REPLY_NIL) return 0;
    if (reply.type != REDIS_REPLY_ARRAY) return absl::InternalError("unexpected XREADGROUP reply");
    int count = 0;
    for (size_t i = 0; i < reply.elements; ++i) {
      const redisReply* stream = reply.element[i];
      if (stream->type != REDIS_REPLY_ARRAY || stream->elements != 2 ||
          stream->element[0]->type != REDIS_REPLY_STRING) {
        return absl::InternalError("unexpected XREADGROUP stream reply");
      }
      absl::StatusOr<int> handled = HandleEntries(ReplyString(stream->element[0]),
                                                  *stream->element[1], known_deliveries, last_id);
      if (!handled.ok()) return handled.status();
      count += *handled;
    }
    return count;
  }

  // Redis' count of deliveries of the entry to this group (XPENDING); 1 if unknown.
  absl::StatusOr<int> DeliveriesOf(const std::string& stream, const std::string& id) {
    absl::StatusOr<Reply> reply =
        connection_.Command({"XPENDING", stream, options_.group, id, id, "1"});
    if (!reply.ok()) return reply.status();
    // [[id, consumer, idle ms, deliveries]]
    const redisReply& r = **reply;
    if (r.type == REDIS_REPLY_ARRAY && r.elements == 1 && r.element[0]->type == REDIS_REPLY_ARRAY &&
        r.element[0]->elements == 4 && r.element[0]->element[3]->type == REDIS_REPLY_INTEGER) {
      return static_cast<int>(std::max<long long>(1, r.element[0]->element[3]->integer));
    }
    return 1;
  }

  // Entries are [id, [field, value, ...]]; the field list is nil when the entry was
  // trimmed away while pending. With `known_deliveries`, this consumer knows every
  // earlier failed delivery of the entries (it read them first); otherwise they are
  // taken from Redis.
  absl::StatusOr<int> HandleEntries(const std::string& stream, const redisReply& entries,
                                    bool known_deliveries, std::string* last_id) {
    if (entries.type != REDIS_REPLY_ARRAY) return absl::InternalError("unexpected entry list");
    int count = 0;
    for (size_t i = 0; i < entries.elements; ++i) {
      if (stop_.HasBeenNotified()) return count;  // the rest stay pending
      const redisReply* entry = entries.element[i];
      if (entry->type == REDIS_REPLY_NIL) continue;  // Redis 6.2 XAUTOCLAIM of a deleted one
      if (entry->type != REDIS_REPLY_ARRAY || entry->elements != 2 ||
          entry->element[0]->type != REDIS_REPLY_STRING) {
        return absl::InternalError("unexpected stream entry");
      }
      ++count;
      const std::string id = ReplyString(entry->element[0]);
      if (last_id != nullptr) *last_id = id;
      const EntryKey key{stream, id};
      auto known = failures_.find(key);
      if (known != failures_.end() && known->second.due > absl::Now()) {
        continue;  // read again with this consumer's pending ones; not due yet
      }
      int failures = known != failures_.end() ? known->second.failures : 0;
      if (known == failures_.end() && !known_deliveries) {
        absl::StatusOr<int> deliveries = DeliveriesOf(stream, id);
        if (!deliveries.ok()) return deliveries.status();
        failures = *deliveries - 1;  // deliveries before this one never acked
      }
      const redisReply* fields = entry->element[1];
      const redisReply* data = FieldOf(fields, "data");
      if (fields->type != REDIS_REPLY_ARRAY) {  // trimmed while pending: nothing to handle
        if (absl::Status status = Ack(stream, id); !status.ok()) return status;
        failures_.erase(key);
        continue;
      }
      Event event;
      if (data == nullptr || !event.ParseFromArray(data->str, static_cast<int>(data->len))) {
        // Redelivering cannot repair it: straight to the dead letters.
        if (absl::Status status = Bury(stream, id, fields, nullptr,
                                       "the entry is not a serialised centric.events.v1.Event",
                                       failures + 1);
            !status.ok()) {
          return status;
        }
        continue;
      }
      if (failures >= retry_.max_attempts) {
        // Delivered that often without an ack or a handler error: its consumers died
        // (or were stopped) each time they had it.
        if (absl::Status status = Bury(
                stream, id, fields, &event,
                absl::StrCat("delivered ", failures,
                             " times without an acknowledgement (its consumers stopped or "
                             "died while handling it)"),
                failures);
            !status.ok()) {
          return status;
        }
        continue;
      }
      absl::Status handled;
      {
        runtime::TraceScope trace(TraceOf(event));
        handled = handler_(event);
      }
      if (handled.ok()) {
        if (absl::Status status = Ack(stream, id); !status.ok()) return status;
        failures_.erase(key);
        continue;
      }
      ++failures;
      const std::string error = handled.ToString();
      if (IsPoison(handled) || failures >= retry_.max_attempts) {
        if (absl::Status status = Bury(stream, id, fields, &event, error, failures); !status.ok()) {
          return status;
        }
        continue;
      }
      runtime::LogWarning("event_handler_failed", {{"stream", stream},
                                                   {"group", options_.group},
                                                   {"consumer", options_.consumer},
                                                   {"event_id", event.id()},
                                                   {"attempts", int64_t{failures}},
                                                   {"error", error}});
      failures_[key] = {failures, absl::Now() + RetryDelay(retry_, failures,
                                                           absl::Uniform(bitgen_, 0.0, 1.0))};
    }
    return count;
  }

  // Moves the entry to the group's dead-letter queue and acknowledges it, in one
  // MULTI/EXEC: it is in exactly one of the two places whatever fails.
  absl::Status Bury(const std::string& stream, const std::string& id, const redisReply* fields,
                    const Event* event, const std::string& error, int attempts) {
    runtime::LogError("event_dead_lettered", {{"stream", stream},
                                              {"group", options_.group},
                                              {"consumer", options_.consumer},
                                              {"entry_id", id},
                                              {"event_id", event != nullptr ? event->id() : ""},
                                              {"attempts", int64_t{attempts}},
                                              {"error", error}});
    const std::string data = FieldString(fields, "data");
    std::vector<std::vector<std::string>> commands = {
        {"XADD", dead_letters_, "MAXLEN", "~", absl::StrCat(bus_options_.max_len), "*", "entry", id,
         "id", event != nullptr ? event->id() : FieldString(fields, "id"), "type",
         event != nullptr ? event->type() : FieldString(fields, "type"), "subject",
         event != nullptr ? event->subject() : "", "error", error, "attempts",
         absl::StrCat(attempts), "consumer", options_.consumer, "time",
         absl::StrCat(absl::ToUnixMillis(absl::Now())), "data", data},
        {"XACK", stream, options_.group, id}};
    if (absl::Status status = Transaction(connection_, commands); !status.ok()) return status;
    failures_.erase({stream, id});
    return absl::OkStatus();
  }

  absl::Status Ack(const std::string& stream, const std::string& id) {
    return connection_.Command({"XACK", stream, options_.group, id}).status();
  }

  const RedisStreamsOptions bus_options_;
  const SubscribeOptions options_;
  const Handler handler_;
  const std::string stream_;
  const std::string replay_;
  const std::string dead_letters_;
  absl::Notification stop_;
  // The fields below belong to the subscription's thread (and the constructor before
  // it starts).
  RetryPolicy retry_ = bus_options_.retry;
  Connection connection_;
  bool group_ready_ = false;
  // At start and after a connection failure: reread this consumer's unacked entries.
  bool read_own_pending_ = true;
  // Entries whose handler failed and that wait for their next delivery.
  std::map<EntryKey, Failure> failures_;
  std::string claim_cursor_ = "0-0";
  std::string replay_claim_cursor_ = "0-0";
  absl::BitGen bitgen_;
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
        if (subscribed_.contains({topic, name})) out.push_back({topic, name, lag + pending, 0});
      }
    }
    for (GroupLag& g : out) {
      absl::StatusOr<Reply> reply =
          publisher_.Command({"XLEN", DeadLetterKey(options_.key_prefix, g.topic, g.group)});
      if (!reply.ok()) {
        return absl::UnavailableError(absl::StrCat("redis XLEN: ", reply.status().message()));
      }
      if ((*reply)->type == REDIS_REPLY_INTEGER) g.dead_letters = (*reply)->integer;
    }
    std::sort(out.begin(), out.end(), [](const GroupLag& a, const GroupLag& b) {
      return std::tie(a.topic, a.group) < std::tie(b.topic, b.group);
    });
    return out;
  }

  absl::StatusOr<DeadLetterPage> ListDeadLetters(const std::string& topic,
                                                 const std::string& group, int limit,
                                                 const std::string& after) override {
    if (!after.empty() && !IsEntryId(after)) {
      return absl::InvalidArgumentError(absl::StrCat("not a dead letter id: \"", after, "\""));
    }
    const std::string key = DeadLetterKey(options_.key_prefix, topic, group);
    absl::MutexLock lock(&mu_);
    DeadLetterPage page;
    absl::StatusOr<Reply> length = publisher_.Command({"XLEN", key});
    if (!length.ok()) return Unavailable("XLEN", length.status());
    if ((*length)->type == REDIS_REPLY_INTEGER) page.total = (*length)->integer;
    // One more than asked for tells whether there is a next page.
    absl::StatusOr<Reply> range =
        publisher_.Command({"XRANGE", key, after.empty() ? "-" : absl::StrCat("(", after), "+",
                            "COUNT", absl::StrCat(std::max(1, limit) + 1)});
    if (!range.ok()) return Unavailable("XRANGE", range.status());
    const redisReply& entries = **range;
    if (entries.type != REDIS_REPLY_ARRAY) return page;
    for (size_t i = 0; i < entries.elements; ++i) {
      const redisReply* entry = entries.element[i];
      if (entry->type != REDIS_REPLY_ARRAY || entry->elements != 2) continue;
      if (static_cast<int>(page.dead_letters.size()) == limit) {
        page.next = page.dead_letters.back().id;
        break;
      }
      const redisReply* fields = entry->element[1];
      DeadLetter dead;
      dead.id = ReplyString(entry->element[0]);
      dead.topic = topic;
      dead.group = group;
      dead.event_id = FieldString(fields, "id");
      dead.event_type = FieldString(fields, "type");
      dead.subject = FieldString(fields, "subject");
      dead.data = FieldString(fields, "data");
      dead.error = FieldString(fields, "error");
      dead.consumer = FieldString(fields, "consumer");
      int64_t number = 0;
      if (absl::SimpleAtoi(FieldString(fields, "attempts"), &number)) {
        dead.attempts = static_cast<int>(number);
      }
      if (absl::SimpleAtoi(FieldString(fields, "time"), &number)) {
        dead.time = absl::FromUnixMillis(number);
      }
      page.dead_letters.push_back(std::move(dead));
    }
    return page;
  }

  absl::Status ReplayDeadLetter(const std::string& topic, const std::string& group,
                                const std::string& id) override {
    const std::string key = DeadLetterKey(options_.key_prefix, topic, group);
    absl::MutexLock lock(&mu_);
    if (!IsEntryId(id)) return NotFound(topic, group, id);
    absl::StatusOr<Reply> range = publisher_.Command({"XRANGE", key, id, id});
    if (!range.ok()) return Unavailable("XRANGE", range.status());
    if ((*range)->type != REDIS_REPLY_ARRAY || (*range)->elements != 1 ||
        (*range)->element[0]->type != REDIS_REPLY_ARRAY || (*range)->element[0]->elements != 2) {
      return NotFound(topic, group, id);
    }
    const redisReply* fields = (*range)->element[0]->element[1];
    const std::string data = FieldString(fields, "data");
    Event event;
    if (!event.ParseFromString(data)) {
      return absl::FailedPreconditionError(absl::StrCat(
          "dead letter ", id, " of topic ", topic, ", group ", group,
          " is not a serialised event, so it cannot be replayed; drop it"));
    }
    // The group's consumers read the replay stream beside the topic: no other group
    // sees the event again.
    absl::Status moved = Transaction(
        publisher_,
        {{"XADD", ReplayKey(options_.key_prefix, topic, group), "MAXLEN", "~",
          absl::StrCat(options_.max_len), "*", "id", event.id(), "type", event.type(), "data",
          data},
         {"XDEL", key, id}});
    if (!moved.ok()) return Unavailable("replay", moved);
    return absl::OkStatus();
  }

  absl::Status DropDeadLetter(const std::string& topic, const std::string& group,
                              const std::string& id) override {
    absl::MutexLock lock(&mu_);
    if (!IsEntryId(id)) return NotFound(topic, group, id);
    absl::StatusOr<Reply> deleted =
        publisher_.Command({"XDEL", DeadLetterKey(options_.key_prefix, topic, group), id});
    if (!deleted.ok()) return Unavailable("XDEL", deleted.status());
    if ((*deleted)->type != REDIS_REPLY_INTEGER || (*deleted)->integer == 0) {
      return NotFound(topic, group, id);
    }
    return absl::OkStatus();
  }

 private:
  static absl::Status Unavailable(absl::string_view what, const absl::Status& status) {
    return absl::UnavailableError(absl::StrCat("redis ", what, ": ", status.message()));
  }
  static absl::Status NotFound(const std::string& topic, const std::string& group,
                               const std::string& id) {
    return absl::NotFoundError(
        absl::StrCat("no dead letter ", id, " in topic ", topic, ", group ", group));
  }

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
