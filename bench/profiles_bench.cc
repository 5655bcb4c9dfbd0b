// profiles_bench: throughput and latency of the Profiles service against baselines
// measured in the same run, on 127.0.0.1, with a real PostgreSQL (fsync on) and Redis.
//
//   Reads   GetProfile of cached profiles over gRPC, against Baseline.GetBlob: an RPC on
//           the same server whose handler returns a pre-built message of the same
//           serialised size straight from the gRPC callback. Each pair is driven by two
//           clients (--client): the generated stubs, which parse the response (a Profile
//           of google.protobuf.Value maps is far dearer to parse than a Blob), and a raw
//           client (grpc::GenericStub) that sends pre-serialised requests and keeps the
//           response as bytes, so neither side pays the client's parsing.
//   Writes  CreateProfile and UpdateProfile over gRPC, against raw single-row upserts
//           through libpq from as many connections as there are calls in flight.
//
// The Profiles service is wired as ProfilesModule wires it in the service binary (Redis
// cache, outbox relay publishing to Redis Streams, worker pool). Phases compared with
// each other run in alternating rounds, so drift on a shared machine hits both sides
// alike. Every run is metered: CPU time of this process, of redis-server and of
// PostgreSQL, and the SQL statements the service sent. With --breakdown (default), more
// phases attribute the gaps: the worker-pool hop alone, a Profile answered from memory,
// the domain calls without gRPC, and the rows a create writes sent through libpq
// directly, one statement per round trip and pipelined.
//
// Output: a table, then one "bench: key=value" line per metric. The exit code is 1 only
// when something failed (setup, or a call returned an error); timing never decides it.
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <libpq-fe.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/random/random.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/blocking_counter.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "centric/bench/v1/bench.grpc.pb.h"
#include "centric/profiles/v1/profiles_service.grpc.pb.h"
#include "libs/app/app.h"
#include "libs/cache/redis_cache.h"
#include "libs/events/redis_streams_bus.h"
#include "libs/runtime/config.h"
#include "libs/runtime/grpc_status.h"
#include "libs/runtime/handler.h"
#include "libs/runtime/log.h"
#include "libs/runtime/server.h"
#include "libs/store/store.h"
#include "bench/baseline.h"
#include "bench/bench_util.h"
#include "libs/testing/servers.h"
#include "services/profiles/module.h"
#include "services/profiles/profile_rules.h"

namespace centric::profiles_bench {
namespace {

namespace v1 = ::centric::profiles::v1;
namespace bv1 = ::centric::bench::v1;
using SteadyClock = std::chrono::steady_clock;

constexpr char kUsage[] = R"(usage: profiles_bench [--flag=N ...]
  --seconds=N         measured seconds per phase, split over the rounds (default 5)
  --warmup-seconds=N  unmeasured seconds before each phase's first round (default 1)
  --rounds=N          compared phases alternate this many times (default 5)
  --concurrency=N     calls in flight, and raw-upsert connections (default 32)
  --profiles=N        profiles read and updated (default 1000)
  --workers=N         server worker threads (default: as the service binary)
  --db-pool=N         PostgreSQL connections of the service (default: as store::Open)
  --redis-pool=N      Redis connections of the cache (default: as NewRedisCache)
  --breakdown=0|1     also run the phases that attribute the gaps (default 1)
  --reads=0|1         run the read phases (default 1)
  --writes=0|1        run the write phases (default 1)
  --client=typed|raw|both
                      client of the GetProfile / GetBlob read pair (default both):
                      typed = generated stubs, parsing each response; raw =
                      grpc::GenericStub, pre-serialised requests, responses kept as
                      bytes. The breakdown read phases that use a typed client run
                      only when the typed client does.
)";

struct Options {
  int seconds = 5;
  int warmup_seconds = 1;
  int rounds = 5;
  int concurrency = 32;
  int profiles = 1000;
  int workers = 0;
  int db_pool = store::OpenOptions().pool_size;
  int redis_pool = cache::RedisOptions().pool_size;
  int breakdown = 1;
  int reads = 1;
  int writes = 1;
  bool typed_client = true;  // --client=typed or both
  bool raw_client = true;    // --client=raw or both
};

absl::StatusOr<Options> ParseFlags(int argc, char** argv) {
  Options options;
  auto defaults = runtime::LoadConfig({"profiles_bench"}, {});
  if (!defaults.ok()) return defaults.status();
  options.workers = defaults->workers;
  const std::vector<std::pair<absl::string_view, int*>> flags = {
      {"seconds", &options.seconds},     {"warmup-seconds", &options.warmup_seconds},
      {"rounds", &options.rounds},       {"concurrency", &options.concurrency},
      {"profiles", &options.profiles},   {"workers", &options.workers},
      {"db-pool", &options.db_pool},     {"redis-pool", &options.redis_pool},
      {"breakdown", &options.breakdown}, {"reads", &options.reads},
      {"writes", &options.writes}};
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    const size_t eq = arg.find('=');
    if (arg.substr(0, 2) != "--" || eq == absl::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat("\"", arg, "\" is not --flag=N"));
    }
    const absl::string_view name = arg.substr(2, eq - 2);
    if (name == "client") {
      const absl::string_view client = arg.substr(eq + 1);
      if (client != "typed" && client != "raw" && client != "both") {
        return absl::InvalidArgumentError("--client needs typed, raw or both");
      }
      options.typed_client = client != "raw";
      options.raw_client = client != "typed";
      continue;
    }
    auto flag = std::find_if(flags.begin(), flags.end(),
                             [&](const auto& entry) { return entry.first == name; });
    int value = 0;
    if (flag == flags.end()) {
      return absl::InvalidArgumentError(absl::StrCat("unknown flag --", name));
    }
    if (!absl::SimpleAtoi(arg.substr(eq + 1), &value) || value < 0 ||
        (value == 0 && name != "breakdown" && name != "warmup-seconds" && name != "reads" &&
         name != "writes")) {
      return absl::InvalidArgumentError(absl::StrCat("--", name, " needs a positive integer"));
    }
    *flag->second = value;
  }
  return options;
}

// ---------------------------------------------------------------------------------------
// Measurement

double ProcessCpuSeconds() {
  timespec now{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) / 1e9;
}

using bench::AllPids;
using bench::ProcStat;
using bench::ReadProcStat;

// Jiffies of every core since boot, from /proc/stat: busy (not idle or iowait) and total.
void ReadMachineTicks(uint64_t& busy, uint64_t& total) {
  std::ifstream stat("/proc/stat");
  std::string label;
  stat >> label;  // "cpu": the sum over cores
  uint64_t value = 0;
  busy = total = 0;
  // user nice system idle iowait irq softirq steal
  for (int field = 0; field < 8 && stat >> value; ++field) {
    total += value;
    if (field != 3 && field != 4) busy += value;
  }
}

// store::Database that counts the transactions and statements the service runs (its
// outbox relay included), so the table can show what one call costs in round trips.
class CountingDatabase final : public store::Database {
 public:
  explicit CountingDatabase(std::unique_ptr<store::Database> inner) : inner_(std::move(inner)) {}

  store::Backend backend() const override { return inner_->backend(); }
  absl::Status Transact(absl::FunctionRef<absl::Status(store::Tx&)> fn,
                        const store::TxOptions& options) override {
    transactions_.fetch_add(1, std::memory_order_relaxed);
    return inner_->Transact(
        [&](store::Tx& tx) {
          CountingTx counting(tx, statements_);
          return fn(counting);
        },
        options);
  }
  absl::Status Ping() override { return inner_->Ping(); }

  int64_t transactions() const { return transactions_.load(std::memory_order_relaxed); }
  int64_t statements() const { return statements_.load(std::memory_order_relaxed); }

 private:
  class CountingTx final : public store::Tx {
   public:
    CountingTx(store::Tx& inner, std::atomic<int64_t>& statements)
        : inner_(inner), statements_(statements) {}
    absl::StatusOr<store::Rows> Query(absl::string_view sql, const store::Params& params) override {
      statements_.fetch_add(1, std::memory_order_relaxed);
      return inner_.Query(sql, params);
    }
    absl::StatusOr<int64_t> Exec(absl::string_view sql, const store::Params& params) override {
      statements_.fetch_add(1, std::memory_order_relaxed);
      return inner_.Exec(sql, params);
    }
    store::Backend backend() const override { return inner_.backend(); }

   private:
    store::Tx& inner_;
    std::atomic<int64_t>& statements_;
  };

  std::unique_ptr<store::Database> inner_;
  std::atomic<int64_t> transactions_{0};
  std::atomic<int64_t> statements_{0};
};

// Cumulative counters, read before and after each measured run.
struct Counters {
  double wall_seconds = 0;
  double bench_cpu = 0;     // this process: client, gRPC server, service (seconds)
  double redis_cpu = 0;     // redis-server (seconds)
  double postgres_cpu = 0;  // postmaster and every backend (seconds)
  int64_t statements = 0;
  int64_t transactions = 0;
  uint64_t machine_busy = 0;  // jiffies, every core and process, other tenants included
  uint64_t machine_total = 0;

  Counters& operator+=(const Counters& other) {
    wall_seconds += other.wall_seconds;
    bench_cpu += other.bench_cpu;
    redis_cpu += other.redis_cpu;
    postgres_cpu += other.postgres_cpu;
    statements += other.statements;
    transactions += other.transactions;
    machine_busy += other.machine_busy;
    machine_total += other.machine_total;
    return *this;
  }
  Counters operator-(const Counters& start) const {
    Counters d = *this;
    d.wall_seconds -= start.wall_seconds;
    d.bench_cpu -= start.bench_cpu;
    d.redis_cpu -= start.redis_cpu;
    d.postgres_cpu -= start.postgres_cpu;
    d.statements -= start.statements;
    d.transactions -= start.transactions;
    d.machine_busy -= start.machine_busy;
    d.machine_total -= start.machine_total;
    return d;
  }
};

// Reads the counters of this process, the Redis and PostgreSQL servers and the store.
class Probes {
 public:
  // Finds redis-server (our child) and the postmaster listening on `postgres_port`.
  Probes(const CountingDatabase& db, int postgres_port) : db_(db) {
    const std::string needle =
        absl::StrCat(std::string("-p\0", 3), postgres_port, std::string(1, '\0'));
    for (int pid : AllPids()) {
      std::optional<ProcStat> stat = ReadProcStat(pid);
      if (!stat.has_value()) continue;
      if (stat->comm == "redis-server" && stat->ppid == getpid()) redis_pid_ = pid;
      if (stat->comm == "postgres") {
        std::ifstream in(absl::StrCat("/proc/", pid, "/cmdline"), std::ios::binary);
        std::string cmdline((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        if (cmdline.find(needle) != std::string::npos) postmaster_pid_ = pid;
      }
    }
  }
  bool has_redis() const { return redis_pid_ != 0; }
  bool has_postgres() const { return postmaster_pid_ != 0; }

  Counters Read() const {
    Counters c;
    c.wall_seconds = std::chrono::duration<double>(SteadyClock::now().time_since_epoch()).count();
    c.bench_cpu = ProcessCpuSeconds();
    if (redis_pid_ != 0) {
      if (auto stat = ReadProcStat(redis_pid_)) c.redis_cpu = stat->cpu_seconds;
    }
    if (postmaster_pid_ != 0) {
      // Backends that exited are in the postmaster's reaped-children time.
      for (int pid : AllPids()) {
        std::optional<ProcStat> stat = ReadProcStat(pid);
        if (!stat.has_value()) continue;
        if (pid == postmaster_pid_) {
          c.postgres_cpu += stat->cpu_seconds + stat->reaped_children_seconds;
        } else if (stat->ppid == postmaster_pid_) {
          c.postgres_cpu += stat->cpu_seconds;
        }
      }
    }
    c.statements = db_.statements();
    c.transactions = db_.transactions();
    ReadMachineTicks(c.machine_busy, c.machine_total);
    return c;
  }

 private:
  const CountingDatabase& db_;
  int redis_pid_ = 0;
  int postmaster_pid_ = 0;
};

// What a phase measured, summed over its rounds.
struct Sample {
  std::vector<int64_t> latencies_ns;  // one per successful call
  int64_t response_bytes = 0;         // serialised responses received, when metered
  int64_t errors = 0;
  std::string first_error;
  Counters used;

  int64_t calls() const { return static_cast<int64_t>(latencies_ns.size()); }
  double PerSecond() const { return used.wall_seconds > 0 ? calls() / used.wall_seconds : 0; }
  // `seconds` of CPU spread over the calls, in microseconds per call.
  double MicrosPerCall(double seconds) const { return calls() > 0 ? seconds * 1e6 / calls() : 0; }
  double TotalCpuMicrosPerCall() const {
    return MicrosPerCall(used.bench_cpu + used.redis_cpu + used.postgres_cpu);
  }
  double ResponseBytesPerCall() const { return PerCall(response_bytes); }
  double PerCall(int64_t count) const {
    return calls() > 0 ? static_cast<double>(count) / calls() : 0;
  }
  double MachineBusy() const {
    return used.machine_total > 0 ? static_cast<double>(used.machine_busy) / used.machine_total : 0;
  }
  // Latency quantile q in milliseconds; sorts the latencies.
  double QuantileMs(double q) {
    if (latencies_ns.empty()) return 0;
    std::sort(latencies_ns.begin(), latencies_ns.end());
    size_t rank = static_cast<size_t>(std::ceil(q * latencies_ns.size()));
    rank = std::clamp<size_t>(rank, 1, latencies_ns.size());
    return latencies_ns[rank - 1] / 1e6;
  }
  void AddError(const absl::Status& status) {
    if (errors++ == 0) first_error = status.ToString();
  }
  void Add(Sample other) {
    latencies_ns.insert(latencies_ns.end(), other.latencies_ns.begin(), other.latencies_ns.end());
    response_bytes += other.response_bytes;
    if (errors == 0) first_error = std::move(other.first_error);
    errors += other.errors;
    used += other.used;
  }
};

int64_t NanosSince(SteadyClock::time_point start) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(SteadyClock::now() - start).count();
}

// `concurrency` closed loops of asynchronous unary calls (gRPC callback API): each loop
// starts its next call from the completion of the previous one until the time is up.
// Completions run on gRPC's threads; no client thread of ours is involved.
template <typename Request, typename Response>
class AsyncLoops {
 public:
  // Prepares the next request (the object is reused from call to call).
  using Fill = std::function<void(Request&, absl::BitGen&)>;
  // Starts a call, e.g. stub->async()->GetProfile(context, request, response, done).
  using Start = std::function<void(grpc::ClientContext*, const Request*, Response*,
                                   std::function<void(grpc::Status)>)>;
  // Optional: the serialised size of a response, summed into Sample::response_bytes.
  using Measure = std::function<size_t(const Response&)>;

  AsyncLoops(int concurrency, Fill fill, Start start, Measure measure = nullptr)
      : concurrency_(concurrency),
        fill_(std::move(fill)),
        start_(std::move(start)),
        measure_(std::move(measure)) {}

  Sample Run(absl::Duration duration) {
    std::vector<Loop> loops(concurrency_);
    absl::BlockingCounter finished(concurrency_);
    finished_ = &finished;
    stop_ = SteadyClock::now() + absl::ToChronoNanoseconds(duration);
    for (Loop& loop : loops) Issue(loop);
    finished.Wait();
    Sample sample;
    for (Loop& loop : loops) sample.Add(std::move(loop.sample));
    return sample;
  }

 private:
  struct Loop {
    std::unique_ptr<grpc::ClientContext> context;
    Request request;
    Response response;
    SteadyClock::time_point started;
    absl::BitGen rng;
    Sample sample;
  };

  void Issue(Loop& loop) {
    loop.context = std::make_unique<grpc::ClientContext>();
    loop.context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    loop.response.Clear();
    fill_(loop.request, loop.rng);
    loop.started = SteadyClock::now();
    start_(loop.context.get(), &loop.request, &loop.response,
           [this, &loop](grpc::Status status) { Done(loop, status); });
  }

  void Done(Loop& loop, const grpc::Status& status) {
    if (status.ok()) {
      loop.sample.latencies_ns.push_back(NanosSince(loop.started));
      if (measure_) loop.sample.response_bytes += static_cast<int64_t>(measure_(loop.response));
      if (SteadyClock::now() < stop_) {
        Issue(loop);
        return;
      }
    } else {
      // A failing loop stops: the run is reported as broken anyway.
      loop.sample.AddError(runtime::FromGrpcStatus(status));
    }
    finished_->DecrementCount();  // last touch of `loop`: Run may free it right after
  }

  const int concurrency_;
  const Fill fill_;
  const Start start_;
  const Measure measure_;
  absl::BlockingCounter* finished_ = nullptr;
  SteadyClock::time_point stop_;
};

// One operation done back to back by each of `threads` threads until the time is up.
using BlockingOp = std::function<absl::Status(int thread, absl::BitGen& rng)>;

Sample RunThreads(int threads, absl::Duration duration, const BlockingOp& op) {
  std::vector<Sample> per_thread(threads);
  const SteadyClock::time_point stop = SteadyClock::now() + absl::ToChronoNanoseconds(duration);
  std::vector<std::thread> running;
  for (int t = 0; t < threads; ++t) {
    running.emplace_back([&, t] {
      absl::BitGen rng;
      Sample& sample = per_thread[t];
      while (SteadyClock::now() < stop) {
        const SteadyClock::time_point started = SteadyClock::now();
        absl::Status status = op(t, rng);
        if (!status.ok()) {
          sample.AddError(status);
          return;
        }
        sample.latencies_ns.push_back(NanosSince(started));
      }
    });
  }
  for (std::thread& thread : running) thread.join();
  Sample sample;
  for (Sample& s : per_thread) sample.Add(std::move(s));
  return sample;
}

// Set by the signal watcher: SIGINT or SIGTERM asks the run to stop after the current
// phase, so the PostgreSQL and Redis servers are still stopped and removed.
std::atomic<bool> interrupted{false};

struct Phase {
  Phase(std::string key, std::string label, std::function<Sample(absl::Duration)> run)
      : key(std::move(key)), label(std::move(label)), run(std::move(run)) {}
  std::string key;    // metric name, e.g. "get_profile"
  std::string label;  // what the table says
  std::function<Sample(absl::Duration)> run;
  Sample result;
};

// Warms every phase up, then runs them in turn `rounds` times for seconds/rounds each.
// Each run is metered by `probes`.
void RunAlternating(std::vector<Phase*> phases, const Options& options, const Probes& probes) {
  for (Phase* phase : phases) {
    if (interrupted) return;
    if (options.warmup_seconds > 0) phase->run(absl::Seconds(options.warmup_seconds));
  }
  const absl::Duration slice = absl::Seconds(options.seconds) / options.rounds;
  for (int round = 0; round < options.rounds; ++round) {
    for (Phase* phase : phases) {
      if (interrupted) return;
      std::fprintf(stderr, "  round %d/%d: %s\n", round + 1, options.rounds, phase->key.c_str());
      const Counters before = probes.Read();
      Sample sample = phase->run(slice);
      sample.used = probes.Read() - before;
      phase->result.Add(std::move(sample));
    }
  }
}

using bench::ForEachIndex;

// ---------------------------------------------------------------------------------------
// Payloads

std::string SeedId(int i) { return absl::StrFormat("bench-%06d", i); }

using bench::BaselineService;
using bench::BenchInteractions;
using bench::BenchProfile;
using bench::BlobOfSize;

// Tables for RawWriter::CreateShaped, shaped like the rows CreateProfile writes (see
// services/profiles/profile_store.cc and libs/events/outbox.cc): same keys and indexes.
constexpr char kRawSchema[] = R"sql(
CREATE TABLE bench_raw (id TEXT PRIMARY KEY, data BYTEA NOT NULL);
CREATE TABLE bench_shape_profiles (id TEXT PRIMARY KEY, state BIGINT NOT NULL,
  version BIGINT NOT NULL, data BYTEA NOT NULL);
CREATE INDEX bench_shape_profiles_state_id ON bench_shape_profiles (state, id);
CREATE TABLE bench_shape_identities (identity_key TEXT PRIMARY KEY, profile_id TEXT NOT NULL);
CREATE INDEX bench_shape_identities_profile ON bench_shape_identities (profile_id);
CREATE TABLE bench_shape_traits (trait_key TEXT NOT NULL, trait_value TEXT NOT NULL,
  profile_id TEXT NOT NULL, PRIMARY KEY (trait_key, trait_value, profile_id));
CREATE INDEX bench_shape_traits_profile ON bench_shape_traits (profile_id);
CREATE TABLE bench_shape_outbox (seq BIGSERIAL PRIMARY KEY, event_id TEXT NOT NULL UNIQUE,
  payload BYTEA NOT NULL)
)sql";

// What one create-shaped transaction writes.
struct ShapedRows {
  std::string profile;                                      // serialised Profile
  std::vector<std::pair<std::string, std::string>> traits;  // (key, canonical JSON)
  std::string event;                                        // serialised outbox event
};

// Writes through libpq directly: one connection per thread, statements prepared once.
class RawWriter {
 public:
  ~RawWriter() {
    for (PGconn* connection : connections_) PQfinish(connection);
  }

  absl::Status Connect(const std::string& url, int connections) {
    const std::vector<std::pair<const char*, const char*>> statements = {
        {"upsert",
         "INSERT INTO bench_raw (id, data) VALUES ($1, $2) "
         "ON CONFLICT (id) DO UPDATE SET data = EXCLUDED.data"},
        {"profile",
         "INSERT INTO bench_shape_profiles (id, state, version, data) VALUES ($1, 1, 1, $2)"},
        {"identity",
         "INSERT INTO bench_shape_identities (identity_key, profile_id) VALUES ($1, $2)"},
        {"trait",
         "INSERT INTO bench_shape_traits (trait_key, trait_value, profile_id) VALUES ($1, $2, $3)"},
        {"outbox", "INSERT INTO bench_shape_outbox (event_id, payload) VALUES ($1, $2)"}};
    for (int i = 0; i < connections; ++i) {
      PGconn* connection = PQconnectdb(url.c_str());
      connections_.push_back(connection);
      if (PQstatus(connection) != CONNECTION_OK) {
        return absl::UnavailableError(absl::StrCat("libpq: ", PQerrorMessage(connection)));
      }
      for (const auto& [name, sql] : statements) {
        PGresult* result = PQprepare(connection, name, sql, 0, nullptr);
        const bool ok = PQresultStatus(result) == PGRES_COMMAND_OK;
        PQclear(result);
        if (!ok) return absl::InternalError(absl::StrCat("prepare: ", PQerrorMessage(connection)));
      }
    }
    return absl::OkStatus();
  }

  // One autocommit upsert of `data` at `id` on the connection of `thread`.
  absl::Status Upsert(int thread, const std::string& id, const std::string& data) {
    return Exec(connections_[thread], {"upsert", {id, data}, {0, 1}});
  }

  // One transaction writing the rows of a new profile `id`: BEGIN, profile, identity,
  // trait-index rows, outbox row, COMMIT. `pipelined` sends them all in one round trip
  // (libpq pipeline mode); otherwise each waits for the previous one, as the store does.
  absl::Status CreateShaped(int thread, const std::string& id, const ShapedRows& rows,
                            bool pipelined) {
    std::vector<Statement> statements;
    statements.push_back({"profile", {id, rows.profile}, {0, 1}});
    statements.push_back({"identity", {absl::StrCat("email::", id, "@example.com"), id}, {0, 0}});
    for (const auto& [key, json] : rows.traits)
      statements.push_back({"trait", {key, json, id}, {0, 0, 0}});
    statements.push_back({"outbox", {id, rows.event}, {0, 1}});
    PGconn* connection = connections_[thread];
    if (!pipelined) {
      if (absl::Status s = Simple(connection, "BEGIN"); !s.ok()) return s;
      for (const Statement& statement : statements) {
        if (absl::Status s = Exec(connection, statement); !s.ok()) {
          (void)Simple(connection, "ROLLBACK");
          return s;
        }
      }
      return Simple(connection, "COMMIT");
    }
    if (PQenterPipelineMode(connection) != 1) return absl::InternalError("no pipeline mode");
    int sent = 0;
    bool ok = PQsendQueryParams(connection, "BEGIN", 0, nullptr, nullptr, nullptr, nullptr, 0) == 1;
    sent += ok;
    for (const Statement& statement : statements) {
      if (!ok) break;
      std::vector<const char*> values;
      std::vector<int> lengths;
      for (const std::string& value : statement.values) {
        values.push_back(value.data());
        lengths.push_back(static_cast<int>(value.size()));
      }
      ok = PQsendQueryPrepared(connection, statement.name, static_cast<int>(values.size()),
                               values.data(), lengths.data(), statement.formats.data(), 0) == 1;
      sent += ok;
    }
    if (ok) {
      ok = PQsendQueryParams(connection, "COMMIT", 0, nullptr, nullptr, nullptr, nullptr, 0) == 1;
      sent += ok;
    }
    ok = PQpipelineSync(connection) == 1 && ok;
    std::string error;
    for (int i = 0; i < sent; ++i) {
      PGresult* result = PQgetResult(connection);
      if (PQresultStatus(result) != PGRES_COMMAND_OK && error.empty()) {
        error = PQerrorMessage(connection);
      }
      PQclear(result);
      PQclear(PQgetResult(connection));  // the NULL that ends each statement's results
    }
    PGresult* sync = PQgetResult(connection);
    ok = ok && PQresultStatus(sync) == PGRES_PIPELINE_SYNC;
    PQclear(sync);
    PQexitPipelineMode(connection);
    if (!error.empty() || !ok) return absl::InternalError(absl::StrCat("pipeline: ", error));
    return absl::OkStatus();
  }

 private:
  struct Statement {
    const char* name;
    std::vector<std::string> values;
    std::vector<int> formats;  // 0 text, 1 binary
  };

  static absl::Status Exec(PGconn* connection, const Statement& statement) {
    std::vector<const char*> values;
    std::vector<int> lengths;
    for (const std::string& value : statement.values) {
      values.push_back(value.data());
      lengths.push_back(static_cast<int>(value.size()));
    }
    PGresult* result = PQexecPrepared(connection, statement.name, static_cast<int>(values.size()),
                                      values.data(), lengths.data(), statement.formats.data(), 0);
    const bool ok = PQresultStatus(result) == PGRES_COMMAND_OK;
    PQclear(result);
    if (!ok)
      return absl::InternalError(absl::StrCat(statement.name, ": ", PQerrorMessage(connection)));
    return absl::OkStatus();
  }

  static absl::Status Simple(PGconn* connection, const char* sql) {
    PGresult* result = PQexec(connection, sql);
    const bool ok = PQresultStatus(result) == PGRES_COMMAND_OK;
    PQclear(result);
    if (!ok) return absl::InternalError(absl::StrCat(sql, ": ", PQerrorMessage(connection)));
    return absl::OkStatus();
  }

  std::vector<PGconn*> connections_;
};

// Runs `sql` on a new connection and returns the first column of the first row ("" if
// there is none).
absl::StatusOr<std::string> QueryOne(const std::string& url, const std::string& sql) {
  PGconn* connection = PQconnectdb(url.c_str());
  if (PQstatus(connection) != CONNECTION_OK) {
    std::string error = PQerrorMessage(connection);
    PQfinish(connection);
    return absl::UnavailableError(absl::StrCat("libpq: ", error));
  }
  PGresult* result = PQexec(connection, sql.c_str());
  absl::StatusOr<std::string> out;
  const ExecStatusType status = PQresultStatus(result);
  if (status == PGRES_TUPLES_OK && PQntuples(result) > 0) {
    out = std::string(PQgetvalue(result, 0, 0));
  } else if (status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK) {
    out = std::string();
  } else {
    out = absl::InternalError(absl::StrCat(sql, ": ", PQerrorMessage(connection)));
  }
  PQclear(result);
  PQfinish(connection);
  return out;
}

// ---------------------------------------------------------------------------------------
// The run

// CPU time of the calling thread, in microseconds per call of `fn`.
double ThreadMicrosPerCall(int iterations, const std::function<void()>& fn) {
  timespec start{}, end{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &start);
  for (int i = 0; i < iterations; ++i) fn();
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &end);
  const double micros = (end.tv_sec - start.tv_sec) * 1e6 + (end.tv_nsec - start.tv_nsec) / 1e3;
  return micros / iterations;
}

struct Report {
  bool has_redis = false;
  bool has_postgres = false;
};

void PrintHeader() {
  absl::PrintF("  %-42s %8s %7s %7s  %-30s  %-12s %6s\n", "", "", "", "",
               "------- CPU us per call -------", "-- per call --", "");
  absl::PrintF("  %-42s %8s %7s %7s  %7s %7s %7s %6s  %6s %5s %6s\n", "phase", "calls/s", "p50 ms",
               "p99 ms", "bench", "redis", "pg", "total", "SQL", "tx", "errors");
}

void PrintRow(Phase& phase, const Report& report) {
  Sample& s = phase.result;
  const std::string redis =
      report.has_redis ? absl::StrFormat("%.1f", s.MicrosPerCall(s.used.redis_cpu)) : "-";
  const std::string pg =
      report.has_postgres ? absl::StrFormat("%.1f", s.MicrosPerCall(s.used.postgres_cpu)) : "-";
  absl::PrintF("  %-42s %8.0f %7.2f %7.2f  %7.1f %7s %7s %6.0f  %6.1f %5.2f %6d\n", phase.label,
               s.PerSecond(), s.QuantileMs(0.50), s.QuantileMs(0.99),
               s.MicrosPerCall(s.used.bench_cpu), redis, pg, s.TotalCpuMicrosPerCall(),
               s.PerCall(s.used.statements), s.PerCall(s.used.transactions), s.errors);
}

void PrintGroupBusy(const std::vector<Phase*>& phases) {
  Counters sum;
  for (const Phase* phase : phases) sum += phase->result.used;
  if (sum.machine_total > 0) {
    absl::PrintF("  (machine CPU busy during these phases: %.0f%%, every process included)\n",
                 100.0 * sum.machine_busy / sum.machine_total);
  }
}

double Ratio(const Phase& measured, const Phase& baseline) {
  const double base = baseline.result.PerSecond();
  return base > 0 ? measured.result.PerSecond() / base : 0;
}

// What the throughput ratio would be if the machine's CPU were the only limit.
double CpuRatio(const Phase& measured, const Phase& baseline) {
  const double cost = measured.result.TotalCpuMicrosPerCall();
  return cost > 0 ? baseline.result.TotalCpuMicrosPerCall() / cost : 0;
}

void PrintRatio(absl::string_view label, const Phase& measured, const Phase& baseline,
                double goal) {
  const double ratio = Ratio(measured, baseline);
  absl::PrintF("  %-57s %5.2f", label, ratio);
  if (goal > 0) absl::PrintF("  goal >= %.2f: %-7s", goal, ratio >= goal ? "met" : "NOT MET");
  absl::PrintF("  (CPU per call predicts %.2f)\n", CpuRatio(measured, baseline));
}

void PrintMetrics(Phase& phase) {
  Sample& s = phase.result;
  absl::PrintF("bench: %s_per_second=%.1f\n", phase.key, s.PerSecond());
  absl::PrintF("bench: %s_p50_ms=%.3f\n", phase.key, s.QuantileMs(0.50));
  absl::PrintF("bench: %s_p99_ms=%.3f\n", phase.key, s.QuantileMs(0.99));
  absl::PrintF("bench: %s_cpu_us_per_call=%.1f\n", phase.key, s.TotalCpuMicrosPerCall());
  absl::PrintF("bench: %s_bench_cpu_us_per_call=%.1f\n", phase.key,
               s.MicrosPerCall(s.used.bench_cpu));
  absl::PrintF("bench: %s_redis_cpu_us_per_call=%.1f\n", phase.key,
               s.MicrosPerCall(s.used.redis_cpu));
  absl::PrintF("bench: %s_postgres_cpu_us_per_call=%.1f\n", phase.key,
               s.MicrosPerCall(s.used.postgres_cpu));
  absl::PrintF("bench: %s_sql_statements_per_call=%.2f\n", phase.key, s.PerCall(s.used.statements));
}

int Run(const Options& options) {
  runtime::SetMinLogLevel(runtime::LogLevel::kWarning);
  std::fprintf(stderr, "starting PostgreSQL (fsync on) and Redis...\n");
  auto postgres = testing::PostgresServer::Start(/*fast=*/false);
  if (!postgres.ok()) {
    std::fprintf(stderr, "PostgreSQL: %s\n", postgres.status().ToString().c_str());
    return 1;
  }
  auto redis = testing::RedisServer::Start();
  if (!redis.ok()) {
    std::fprintf(stderr, "Redis: %s\n", redis.status().ToString().c_str());
    return 1;
  }
  const std::string pg_url = (*postgres)->url();

  // The infrastructure of the service binary (app::OpenInfrastructure, kService mode),
  // with the pool sizes from the flags and the store wrapped to count statements.
  app::Infrastructure infra;
  auto opened = store::Open(pg_url, {.pool_size = options.db_pool});
  if (!opened.ok()) {
    std::fprintf(stderr, "store: %s\n", opened.status().ToString().c_str());
    return 1;
  }
  auto counting = std::make_unique<CountingDatabase>(std::move(*opened));
  const CountingDatabase& db = *counting;
  infra.db = std::move(counting);
  cache::RedisOptions cache_options;
  cache_options.port = (*redis)->port();
  cache_options.pool_size = options.redis_pool;
  infra.cache = cache::NewRedisCache(cache_options);
  events::RedisStreamsOptions bus_options;
  bus_options.port = (*redis)->port();
  infra.bus = events::NewRedisStreamsBus(bus_options);
  infra.clock = std::make_unique<runtime::SystemClock>();
  infra.ids = std::make_unique<runtime::UlidGenerator>(*infra.clock);
  infra.pool = std::make_unique<runtime::WorkerPool>(options.workers);
  const Probes probes(db, (*postgres)->port());
  const Report report{probes.has_redis(), probes.has_postgres()};

  profiles::ProfilesModule module(infra, /*standalone=*/false);
  BaselineService baseline(*infra.pool);
  runtime::Server server({.listen = "127.0.0.1:0", .drain_timeout = absl::Seconds(5)});
  if (absl::Status s = module.Start(server); !s.ok()) {
    std::fprintf(stderr, "profiles module: %s\n", s.ToString().c_str());
    return 1;
  }
  server.AddService(&baseline, "centric.bench.v1.Baseline");
  if (absl::Status s = server.Start(); !s.ok()) {
    std::fprintf(stderr, "server: %s\n", s.ToString().c_str());
    return 1;
  }
  server.SetServing(true);
  auto channel = grpc::CreateChannel(server.address(), grpc::InsecureChannelCredentials());
  auto profiles_stub = v1::Profiles::NewStub(channel);
  auto baseline_stub = bv1::Baseline::NewStub(channel);
  profiles::ProfileService& service = module.service();

  // Seed: profiles with interactions, each read once so the cache holds it.
  std::fprintf(stderr, "creating %d profiles...\n", options.profiles);
  std::vector<std::string> names;
  for (int i = 0; i < options.profiles; ++i) names.push_back("profiles/" + SeedId(i));
  std::vector<std::string> seeded_bytes(options.profiles);
  absl::Status seeded = ForEachIndex(options.concurrency, options.profiles, [&](int i) {
    v1::CreateProfileRequest create;
    create.set_profile_id(SeedId(i));
    *create.mutable_profile() = BenchProfile(SeedId(i), i);
    grpc::ClientContext create_context;
    v1::Profile created;
    grpc::Status status = profiles_stub->CreateProfile(&create_context, create, &created);
    if (!status.ok()) return runtime::FromGrpcStatus(status);
    grpc::ClientContext record_context;
    v1::RecordInteractionsResponse recorded;
    status =
        profiles_stub->RecordInteractions(&record_context, BenchInteractions(SeedId(i)), &recorded);
    if (!status.ok()) return runtime::FromGrpcStatus(status);
    grpc::ClientContext get_context;
    v1::GetProfileRequest get;
    get.set_name(names[i]);
    v1::Profile got;
    status = profiles_stub->GetProfile(&get_context, get, &got);
    seeded_bytes[i] = got.SerializeAsString();
    return runtime::FromGrpcStatus(status);
  });
  if (!seeded.ok()) {
    std::fprintf(stderr, "seeding: %s\n", seeded.ToString().c_str());
    return 1;
  }
  v1::Profile sample_profile;
  {
    grpc::ClientContext context;
    v1::GetProfileRequest get;
    get.set_name(names[0]);
    grpc::Status status = profiles_stub->GetProfile(&context, get, &sample_profile);
    if (!status.ok() || sample_profile.aggregates().interaction_count() == 0) {
      std::fprintf(stderr, "sample read failed or has no aggregates: %s\n",
                   status.error_message().c_str());
      return 1;
    }
  }
  const size_t response_bytes = sample_profile.ByteSizeLong();
  bv1::Blob blob = BlobOfSize(response_bytes);
  if (blob.ByteSizeLong() != response_bytes) {
    std::fprintf(stderr, "no Blob serialises to exactly %zu bytes (closest: %zu)\n", response_bytes,
                 blob.ByteSizeLong());
    return 1;
  }
  baseline.SetBlob(std::move(blob));
  // Profiles differ by a few bytes (e.g. "gold" or "silver"); the Blob has the size of
  // the first. The table shows the spread, and the raw client what it actually received.
  size_t seeded_min = SIZE_MAX, seeded_max = 0;
  double seeded_mean = 0;
  for (const std::string& bytes : seeded_bytes) {
    seeded_min = std::min(seeded_min, bytes.size());
    seeded_max = std::max(seeded_max, bytes.size());
    seeded_mean += static_cast<double>(bytes.size()) / static_cast<double>(seeded_bytes.size());
  }
  absl::flat_hash_map<std::string, std::string> in_memory;
  for (int i = 0; i < options.profiles; ++i) in_memory[names[i]] = std::move(seeded_bytes[i]);
  baseline.SetProfiles(std::move(in_memory));
  auto pick_name = [&names](absl::BitGen& rng) -> const std::string& {
    return names[absl::Uniform<size_t>(rng, 0, names.size())];
  };

  // ---- Reads
  AsyncLoops<bv1::GetBlobRequest, bv1::Blob> blob_loops(
      options.concurrency,
      [&](bv1::GetBlobRequest& request, absl::BitGen& rng) { request.set_name(pick_name(rng)); },
      [&](grpc::ClientContext* context, const bv1::GetBlobRequest* request, bv1::Blob* response,
          std::function<void(grpc::Status)> done) {
        baseline_stub->async()->GetBlob(context, request, response, std::move(done));
      });
  AsyncLoops<bv1::GetBlobRequest, bv1::Blob> pool_blob_loops(
      options.concurrency,
      [&](bv1::GetBlobRequest& request, absl::BitGen& rng) { request.set_name(pick_name(rng)); },
      [&](grpc::ClientContext* context, const bv1::GetBlobRequest* request, bv1::Blob* response,
          std::function<void(grpc::Status)> done) {
        baseline_stub->async()->GetBlobOnWorkerPool(context, request, response, std::move(done));
      });
  AsyncLoops<v1::GetProfileRequest, v1::Profile> get_loops(
      options.concurrency,
      [&](v1::GetProfileRequest& request, absl::BitGen& rng) { request.set_name(pick_name(rng)); },
      [&](grpc::ClientContext* context, const v1::GetProfileRequest* request, v1::Profile* response,
          std::function<void(grpc::Status)> done) {
        profiles_stub->async()->GetProfile(context, request, response, std::move(done));
      });

  // The same pair from a raw client: requests serialised once, responses received as
  // bytes and never parsed, so the client costs the same on both sides and the ratio is
  // the servers' alone. A GetBlobRequest and a GetProfileRequest of the same name
  // serialise to the same bytes; both phases send these buffers.
  grpc::GenericStub generic_stub(channel);
  const std::string get_profile_method =
      absl::StrCat("/", v1::Profiles::service_full_name(), "/GetProfile");
  const std::string get_blob_method =
      absl::StrCat("/", bv1::Baseline::service_full_name(), "/GetBlob");
  std::vector<grpc::ByteBuffer> raw_requests;
  raw_requests.reserve(names.size());
  for (const std::string& name : names) {
    v1::GetProfileRequest profile_request;
    profile_request.set_name(name);
    bv1::GetBlobRequest blob_request;
    blob_request.set_name(name);
    const std::string bytes = profile_request.SerializeAsString();
    if (bytes != blob_request.SerializeAsString()) {
      std::fprintf(stderr, "GetProfileRequest and GetBlobRequest serialise differently\n");
      return 1;
    }
    grpc::Slice slice(bytes);
    raw_requests.emplace_back(&slice, 1);
  }
  auto raw_loops = [&](const std::string& method) {
    return AsyncLoops<grpc::ByteBuffer, grpc::ByteBuffer>(
        options.concurrency,
        [&](grpc::ByteBuffer& request, absl::BitGen& rng) {
          request = raw_requests[absl::Uniform<size_t>(rng, 0, raw_requests.size())];
        },
        [&generic_stub, &method](grpc::ClientContext* context, const grpc::ByteBuffer* request,
                                 grpc::ByteBuffer* response,
                                 std::function<void(grpc::Status)> done) {
          generic_stub.UnaryCall(context, method, grpc::StubOptions(), request, response,
                                 std::move(done));
        },
        [](const grpc::ByteBuffer& response) { return response.Length(); });
  };
  AsyncLoops<grpc::ByteBuffer, grpc::ByteBuffer> raw_blob_loops = raw_loops(get_blob_method);
  AsyncLoops<grpc::ByteBuffer, grpc::ByteBuffer> raw_get_loops = raw_loops(get_profile_method);

  Phase read_baseline("baseline_get_blob", "baseline: GetBlob, same size, typed client",
                      [&](absl::Duration d) { return blob_loops.Run(d); });
  Phase get_profile("get_profile", "GetProfile (cache hit), typed client",
                    [&](absl::Duration d) { return get_loops.Run(d); });
  Phase raw_read_baseline("baseline_get_blob_raw_client",
                          "baseline: GetBlob, same size, raw client",
                          [&](absl::Duration d) { return raw_blob_loops.Run(d); });
  Phase raw_get_profile("get_profile_raw_client", "GetProfile (cache hit), raw client",
                        [&](absl::Duration d) { return raw_get_loops.Run(d); });
  Phase pool_baseline("baseline_get_blob_worker_pool", "  GetBlob via runtime::Unary (pool hop)",
                      [&](absl::Duration d) { return pool_blob_loops.Run(d); });
  AsyncLoops<bv1::GetBlobRequest, v1::Profile> memory_loops(
      options.concurrency,
      [&](bv1::GetBlobRequest& request, absl::BitGen& rng) { request.set_name(pick_name(rng)); },
      [&](grpc::ClientContext* context, const bv1::GetBlobRequest* request, v1::Profile* response,
          std::function<void(grpc::Status)> done) {
        baseline_stub->async()->GetProfileFromMemory(context, request, response, std::move(done));
      });
  Phase memory_profile("get_profile_from_memory", "  GetProfileFromMemory (no Redis, no hop)",
                       [&](absl::Duration d) { return memory_loops.Run(d); });
  Phase get_direct("get_profile_direct",
                   absl::StrCat("  GetProfile direct, ", options.workers, " threads, no gRPC"),
                   [&](absl::Duration d) {
                     return RunThreads(options.workers, d, [&](int, absl::BitGen& rng) {
                       v1::GetProfileRequest request;
                       request.set_name(pick_name(rng));
                       return service.GetProfile(request).status();
                     });
                   });
  std::vector<Phase*> read_phases;
  cache::CacheStats cache_used;
  if (options.reads) {
    if (options.typed_client) {
      read_phases.push_back(&read_baseline);
      read_phases.push_back(&get_profile);
    }
    if (options.raw_client) {
      read_phases.push_back(&raw_read_baseline);
      read_phases.push_back(&raw_get_profile);
    }
    if (options.breakdown) {
      if (options.typed_client) {  // compared with the typed baseline
        read_phases.push_back(&pool_baseline);
        read_phases.push_back(&memory_profile);
      }
      read_phases.push_back(&get_direct);
    }
    std::fprintf(stderr, "read phases...\n");
    const cache::CacheStats before = infra.cache->Stats();
    RunAlternating(read_phases, options, probes);
    const cache::CacheStats after = infra.cache->Stats();
    cache_used.hits = after.hits - before.hits;
    cache_used.misses = after.misses - before.misses;
    cache_used.errors = after.errors - before.errors;
  }

  // ---- Writes
  const std::string raw_payload = sample_profile.SerializeAsString();
  RawWriter raw;
  if (options.writes) {
    auto made = QueryOne(pg_url, kRawSchema);
    absl::Status connected = made.ok() ? raw.Connect(pg_url, options.concurrency) : made.status();
    if (!connected.ok()) {
      std::fprintf(stderr, "raw upserts: %s\n", connected.ToString().c_str());
      return 1;
    }
  }
  std::atomic<int64_t> next_write_id{0};
  auto fill_create = [&](v1::CreateProfileRequest& request, absl::BitGen&) {
    const int64_t n = next_write_id++;
    const std::string id = absl::StrFormat("write-%08d", n);
    request.set_profile_id(id);
    *request.mutable_profile() = BenchProfile(id, static_cast<int>(n));
  };
  auto fill_update = [&](v1::UpdateProfileRequest& request, absl::BitGen& rng) {
    static const char* const kPlans[] = {"gold", "silver", "bronze", "platinum"};
    request.Clear();
    request.mutable_profile()->set_name(pick_name(rng));
    (*request.mutable_profile()->mutable_traits())["plan"].set_string_value(
        kPlans[absl::Uniform(rng, 0, 4)]);
    request.mutable_update_mask()->add_paths("traits.plan");
  };
  AsyncLoops<v1::CreateProfileRequest, v1::Profile> create_loops(
      options.concurrency, fill_create,
      [&](grpc::ClientContext* context, const v1::CreateProfileRequest* request,
          v1::Profile* response, std::function<void(grpc::Status)> done) {
        profiles_stub->async()->CreateProfile(context, request, response, std::move(done));
      });
  AsyncLoops<v1::UpdateProfileRequest, v1::Profile> update_loops(
      options.concurrency, fill_update,
      [&](grpc::ClientContext* context, const v1::UpdateProfileRequest* request,
          v1::Profile* response, std::function<void(grpc::Status)> done) {
        profiles_stub->async()->UpdateProfile(context, request, response, std::move(done));
      });

  Phase raw_upsert(
      "raw_upsert", absl::StrCat("baseline: libpq upsert, ", options.concurrency, " connections"),
      [&](absl::Duration d) {
        return RunThreads(options.concurrency, d, [&](int t, absl::BitGen& rng) {
          return raw.Upsert(t, SeedId(absl::Uniform(rng, 0, options.profiles)), raw_payload);
        });
      });
  Phase create_profile("create_profile", "CreateProfile",
                       [&](absl::Duration d) { return create_loops.Run(d); });
  Phase update_profile("update_profile", "UpdateProfile (traits.plan, masked)",
                       [&](absl::Duration d) { return update_loops.Run(d); });
  Phase create_direct("create_profile_direct",
                      absl::StrCat("  CreateProfile direct, ", options.workers, " threads"),
                      [&](absl::Duration d) {
                        return RunThreads(options.workers, d, [&](int, absl::BitGen& rng) {
                          v1::CreateProfileRequest request;
                          fill_create(request, rng);
                          return service.CreateProfile(request).status();
                        });
                      });
  Phase update_direct("update_profile_direct",
                      absl::StrCat("  UpdateProfile direct, ", options.workers, " threads"),
                      [&](absl::Duration d) {
                        return RunThreads(options.workers, d, [&](int, absl::BitGen& rng) {
                          v1::UpdateProfileRequest request;
                          fill_update(request, rng);
                          return service.UpdateProfile(request).status();
                        });
                      });
  // The rows a create writes, sent through libpq without the store, two ways.
  ShapedRows shaped;
  shaped.profile = raw_payload;
  for (const auto& [key, value] : sample_profile.traits()) {
    if (value.kind_case() != google::protobuf::Value::kListValue &&
        value.kind_case() != google::protobuf::Value::kStructValue) {
      shaped.traits.emplace_back(key, profiles::TraitJson(value));
    }
  }
  shaped.event = std::string(200, 'e');
  std::atomic<int64_t> next_shaped_id{0};
  auto shaped_phase = [&](bool pipelined) {
    return [&, pipelined](absl::Duration d) {
      return RunThreads(options.concurrency, d, [&](int t, absl::BitGen&) {
        const std::string id = absl::StrFormat("shape-%08d", next_shaped_id++);
        return raw.CreateShaped(t, id, shaped, pipelined);
      });
    };
  };
  Phase shaped_sequential("raw_create_shaped_tx", "  libpq create-shaped tx, 1 stmt/round trip",
                          shaped_phase(false));
  Phase shaped_pipelined("raw_create_shaped_tx_pipelined", "  libpq create-shaped tx, pipelined",
                         shaped_phase(true));
  std::vector<Phase*> write_phases;
  if (options.writes) {
    write_phases = {&raw_upsert, &create_profile, &update_profile};
    if (options.breakdown) {
      write_phases.push_back(&create_direct);
      write_phases.push_back(&update_direct);
      write_phases.push_back(&shaped_sequential);
      write_phases.push_back(&shaped_pipelined);
    }
    std::fprintf(stderr, "write phases...\n");
    RunAlternating(write_phases, options, probes);
  }

  auto fsync = QueryOne(pg_url, "SHOW fsync");
  auto synchronous_commit = QueryOne(pg_url, "SHOW synchronous_commit");
  auto pg_version = QueryOne(pg_url, "SHOW server_version");
  server.Shutdown();
  if (interrupted) {
    std::fprintf(stderr, "interrupted; no results\n");
    return 1;
  }

  // CPU of the in-process steps the baselines do not have, on one idle thread.
  const std::string profile_bytes = sample_profile.SerializeAsString();
  const double proto_micros = ThreadMicrosPerCall(20000, [&] {
    v1::Profile server_copy;
    server_copy.ParseFromString(profile_bytes);
    const std::string wire = server_copy.SerializeAsString();
    v1::Profile client_copy;
    client_copy.ParseFromString(wire);
  });
  const v1::Profile input = BenchProfile("write-00000000", 0);
  const double normalize_micros = ThreadMicrosPerCall(2000, [&] {
    v1::Profile copy = input;
    std::vector<profiles::FieldViolation> violations;
    profiles::NormalizeMutableFields(copy, "profile", absl::Now(), violations);
  });
  const double trait_json_micros = ThreadMicrosPerCall(2000, [&] {
    for (const auto& [key, value] : input.traits()) profiles::TraitJson(value);
  });

  // ---- Report
  const std::string fsync_text = fsync.ok() ? *fsync : "?";
  absl::PrintF("\nCentric Profiles benchmark (bench/profiles_bench.cc)\n");
  absl::PrintF("  machine: %d cores; all on 127.0.0.1; client and gRPC server in this process\n",
               static_cast<int>(std::thread::hardware_concurrency()));
  absl::PrintF(
      "  PostgreSQL %s: fsync=%s synchronous_commit=%s (PostgresServer::Start(fast=false))\n",
      pg_version.ok() ? *pg_version : "?", fsync_text,
      synchronous_commit.ok() ? *synchronous_commit : "?");
  absl::PrintF("  Redis: no persistence; bus: Redis Streams with the outbox relay running\n");
  absl::PrintF("  server: workers=%d, db pool=%d, redis pool=%d; client: %d calls in flight\n",
               options.workers, options.db_pool, options.redis_pool, options.concurrency);
  absl::PrintF("  %d profiles; GetProfile response %d bytes; %d s per phase in %d rounds\n",
               options.profiles, response_bytes, options.seconds, options.rounds);
  absl::PrintF(
      "  CPU: bench = this process (client + server); SQL/tx = statements and\n"
      "  transactions the service ran per call, its outbox relay included\n\n");

  PrintHeader();
  if (!read_phases.empty()) {
    absl::PrintF("Reads\n");
    for (Phase* phase : read_phases) PrintRow(*phase, report);
    PrintGroupBusy(read_phases);
  }
  if (!write_phases.empty()) {
    absl::PrintF("Writes\n");
    for (Phase* phase : write_phases) PrintRow(*phase, report);
    PrintGroupBusy(write_phases);
  }
  absl::PrintF("\n");
  if (options.reads) {
    absl::PrintF("  cache during read phases: %d hits, %d misses, %d errors\n", cache_used.hits,
                 cache_used.misses, cache_used.errors);
    absl::PrintF("  serialised GetProfile responses: %d to %d bytes, mean %.1f; Blob %d bytes\n",
                 seeded_min, seeded_max, seeded_mean, response_bytes);
    if (options.raw_client) {
      absl::PrintF("  raw client, bytes received per call: GetBlob %.1f, GetProfile %.1f\n",
                   raw_read_baseline.result.ResponseBytesPerCall(),
                   raw_get_profile.result.ResponseBytesPerCall());
    }
  }
  absl::PrintF(
      "  one thread, CPU us: profile parse x2 + serialise x1 %.1f;"
      " NormalizeMutableFields %.1f; TraitJson of all traits %.1f\n",
      proto_micros, normalize_micros, trait_json_micros);

  absl::PrintF("\nRatios (throughput)\n");
  if (options.reads) {
    if (options.typed_client) {
      PrintRatio("GetProfile / GetBlob (typed client, parses responses)", get_profile,
                 read_baseline, 0.8);
    }
    if (options.raw_client) {
      PrintRatio("GetProfile / GetBlob (raw client, same bytes on the wire)", raw_get_profile,
                 raw_read_baseline, 0.8);
    }
    if (options.breakdown && options.typed_client) {
      PrintRatio("GetBlob via pool / GetBlob", pool_baseline, read_baseline, 0);
      PrintRatio("GetProfileFromMemory / GetBlob", memory_profile, read_baseline, 0);
    }
  }
  if (options.writes) {
    PrintRatio("CreateProfile / raw upsert", create_profile, raw_upsert, 0.7);
    PrintRatio("UpdateProfile / raw upsert", update_profile, raw_upsert, 0.7);
    if (options.breakdown) {
      PrintRatio("libpq create-shaped / raw upsert", shaped_sequential, raw_upsert, 0);
      PrintRatio("  same, pipelined / raw upsert", shaped_pipelined, raw_upsert, 0);
    }
  }

  absl::PrintF("\n");
  std::vector<Phase*> all = read_phases;
  all.insert(all.end(), write_phases.begin(), write_phases.end());
  bool failed = false;
  for (Phase* phase : all) {
    PrintMetrics(*phase);
    if (phase->result.errors > 0) {
      failed = true;
      std::fprintf(stderr, "%s: %lld errors, first: %s\n", phase->key.c_str(),
                   static_cast<long long>(phase->result.errors), phase->result.first_error.c_str());
    }
  }
  // What the raw client received must be what the comparison claims: every Blob exactly
  // the size of the sample response, GetProfile responses within the seeded spread.
  if (options.reads && options.raw_client && raw_get_profile.result.calls() > 0 &&
      raw_read_baseline.result.calls() > 0) {
    const double blob_bytes = raw_read_baseline.result.ResponseBytesPerCall();
    const double raw_profile_bytes = raw_get_profile.result.ResponseBytesPerCall();
    if (blob_bytes != static_cast<double>(response_bytes) ||
        raw_profile_bytes < static_cast<double>(seeded_min) ||
        raw_profile_bytes > static_cast<double>(seeded_max)) {
      failed = true;
      std::fprintf(stderr,
                   "raw client: received %.1f bytes per GetBlob and %.1f per GetProfile; "
                   "expected %zu and %zu to %zu\n",
                   blob_bytes, raw_profile_bytes, response_bytes, seeded_min, seeded_max);
    }
  }
  absl::PrintF("bench: postgres_fsync=%s\n", fsync_text);
  if (options.reads) {
    absl::PrintF("bench: cache_hits=%d\nbench: cache_misses=%d\nbench: cache_errors=%d\n",
                 cache_used.hits, cache_used.misses, cache_used.errors);
    if (options.typed_client) {
      absl::PrintF("bench: get_profile_ratio=%.2f\n", Ratio(get_profile, read_baseline));
    }
    if (options.raw_client) {
      absl::PrintF("bench: get_profile_raw_client_ratio=%.2f\n",
                   Ratio(raw_get_profile, raw_read_baseline));
      absl::PrintF("bench: baseline_get_blob_raw_client_response_bytes=%.1f\n",
                   raw_read_baseline.result.ResponseBytesPerCall());
      absl::PrintF("bench: get_profile_raw_client_response_bytes=%.1f\n",
                   raw_get_profile.result.ResponseBytesPerCall());
    }
  }
  if (options.writes) {
    absl::PrintF("bench: create_profile_ratio=%.2f\n", Ratio(create_profile, raw_upsert));
    absl::PrintF("bench: update_profile_ratio=%.2f\n", Ratio(update_profile, raw_upsert));
  }
  return failed ? 1 : 0;
}

}  // namespace
}  // namespace centric::profiles_bench

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (absl::string_view(argv[i]) == "--help") {
      std::fputs(centric::profiles_bench::kUsage, stdout);
      return 0;
    }
  }
  centric::runtime::BlockTerminationSignals();
  std::thread([] {
    centric::runtime::WaitForTerminationSignal();
    std::fprintf(stderr, "signal: stopping after the current phase\n");
    centric::profiles_bench::interrupted = true;
  }).detach();
  auto options = centric::profiles_bench::ParseFlags(argc, argv);
  if (!options.ok()) {
    std::fprintf(stderr, "%s\n%s", options.status().ToString().c_str(),
                 centric::profiles_bench::kUsage);
    return 2;
  }
  return centric::profiles_bench::Run(*options);
}
