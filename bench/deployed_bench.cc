// deployed_bench: the shipped binaries as a platform team runs them, driven from outside
// by h2load (Debian's nghttp2-client), against a bare gRPC server in the same run.
//
//   deployed  bin/centric-profiles as k8s/base/profiles runs it: TLS (a certificate this
//             program makes with openssl, the CA verifying optional client certificates),
//             a tokens file and a policy file (the caller holds pii:read and a rate limit
//             it never reaches, so the limiter runs), the audit log on, PostgreSQL with
//             fsync on and Redis with a password. With --binaries=...,centricd also
//             bin/centricd on its embedded SQLite store, security the same.
//   baseline  a gRPC server in this process serving Baseline.GetBlob (bench.proto) over
//             the same TLS: the handler returns a pre-built message of exactly the
//             serialised size of the GetProfile answer, from the gRPC callback thread.
//
// Both are read with the same h2load command line (the request body is the same
// length-prefixed gRPC message: a profile name), in alternating rounds, and compared by
// the median calls per second. h2load counts HTTP responses; the gRPC status is in the
// trailers, so the deployed server's own metrics (centric_rpc_requests_total by code)
// are read before and after each round and every call must have been OK. Afterwards the
// audit table must hold one row per call answered.
//
// A latency probe then sends --probe-calls calls one at a time to each server (raw
// bytes, no parsing on either client) and reports p50 and p99, so the difference is what
// the shipped stack adds per call with no queueing: security, cache read and the wait
// for the audit record's commit. The audit writer's batch sizes and commit times come
// from its metrics.
//
// Output: a table, then "bench: key=value" lines. Exit code 1 only when something failed
// (setup, a non-OK call, a missing audit row); timing never decides it.
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <httplib.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <map>
#include <memory>
#include <regex>
#include <sstream>
#include <tuple>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "bench/baseline.h"
#include "bench/bench_util.h"
#include "bench/pg_connection.h"
#include "centric/bench/v1/bench.grpc.pb.h"
#include "centric/profiles/v1/profiles_service.grpc.pb.h"
#include "libs/runtime/worker_pool.h"
#include "libs/security/tokens.h"
#include "libs/testing/servers.h"

namespace centric::deployed_bench {
namespace {

namespace v1 = ::centric::profiles::v1;
namespace bv1 = ::centric::bench::v1;

constexpr char kUsage[] = R"(usage: deployed_bench [--flag=N ...]
  --seconds=N       about this many seconds per h2load round (default 4)
  --rounds=N        rounds per server, alternating with the baseline (default 3)
  --connections=N   h2load connections, -c (default 8)
  --streams=N       h2load concurrent streams per connection, -m (default 16)
  --probe-calls=N   calls of the one-at-a-time latency probe per server (default 2000)
  --binaries=LIST   comma-separated: centric-profiles, centricd (default centric-profiles)
  --near-cache=0|1  the binaries' near cache (CENTRIC_NEAR_CACHE_BYTES=0 when 0; default 1)
)";

struct Options {
  int seconds = 4;
  int rounds = 3;
  int connections = 8;
  int streams = 16;
  int probe_calls = 2000;
  std::vector<std::string> binaries = {"centric-profiles"};
  bool near_cache = true;
};

absl::StatusOr<Options> ParseFlags(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (arg == "--help") return absl::CancelledError(kUsage);
    std::vector<std::string> kv = absl::StrSplit(arg, absl::MaxSplits('=', 1));
    if (kv.size() != 2 || kv[0].rfind("--", 0) != 0) {
      return absl::InvalidArgumentError(absl::StrCat("not --flag=value: ", arg, "\n", kUsage));
    }
    const std::string name = kv[0].substr(2);
    if (name == "binaries") {
      options.binaries = absl::StrSplit(kv[1], ',', absl::SkipEmpty());
      for (const std::string& binary : options.binaries) {
        if (binary != "centric-profiles" && binary != "centricd") {
          return absl::InvalidArgumentError(absl::StrCat(
              "--binaries: \"", binary, "\" is not centric-profiles or centricd"));
        }
      }
      if (options.binaries.empty()) return absl::InvalidArgumentError("--binaries: empty");
      continue;
    }
    int value = 0;
    if (!absl::SimpleAtoi(kv[1], &value) || value < (name == "near-cache" ? 0 : 1) ||
        value > 1000000) {
      return absl::InvalidArgumentError(
          absl::StrCat("--", name, ": \"", kv[1], "\" must be an integer from 1 to 1000000"));
    }
    if (name == "seconds") {
      options.seconds = value;
    } else if (name == "rounds") {
      options.rounds = value;
    } else if (name == "connections") {
      options.connections = value;
    } else if (name == "streams") {
      options.streams = value;
    } else if (name == "probe-calls") {
      options.probe_calls = value;
    } else if (name == "near-cache" && value <= 1) {
      options.near_cache = value == 1;
    } else {
      return absl::InvalidArgumentError(absl::StrCat("unknown flag --", name, "\n", kUsage));
    }
  }
  return options;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

absl::Status Run(const std::vector<std::string>& argv, const std::string& log) {
  if (testing::RunCommand(argv, log) != 0) {
    return absl::InternalError(absl::StrCat(argv[0], " failed: ", ReadFile(log)));
  }
  return absl::OkStatus();
}

// A CA and a server certificate for 127.0.0.1 signed by it: <dir>/ca.pem, server.pem,
// server.key.
absl::Status MakeCertificates(const std::string& dir) {
  const std::string log = dir + "/openssl.log";
  if (absl::Status s = Run({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                            "ec_paramgen_curve:P-256", "-nodes", "-keyout", dir + "/ca.key",
                            "-out", dir + "/ca.pem", "-days", "2", "-subj", "/CN=bench-ca"},
                           log);
      !s.ok()) {
    return s;
  }
  std::ofstream(dir + "/server.ext") << "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
                                        "extendedKeyUsage=serverAuth,clientAuth\n";
  if (absl::Status s = Run({"openssl", "req", "-newkey", "ec", "-pkeyopt",
                            "ec_paramgen_curve:P-256", "-nodes", "-keyout", dir + "/server.key",
                            "-out", dir + "/server.csr", "-subj", "/CN=centric-profiles"},
                           log);
      !s.ok()) {
    return s;
  }
  return Run({"openssl", "x509", "-req", "-in", dir + "/server.csr", "-CA", dir + "/ca.pem",
              "-CAkey", dir + "/ca.key", "-CAcreateserial", "-out", dir + "/server.pem", "-days",
              "2", "-extfile", dir + "/server.ext"},
             log);
}

constexpr char kCaller[] = "bench-platform";
constexpr char kToken[] = "bench-platform-token-0123456789abcdef";
// The caller may read and write profiles with personal data; its rate limit is far above
// what two cores can serve, so the limiter is consulted on every call but never refuses.
// centricd's modules call the process itself with its certificate (CN centric-profiles),
// as the services call each other in the k8s base.
constexpr char kPolicy[] = R"({"callers": [
  {"caller": "bench-platform", "methods": ["centric.profiles.v1.Profiles/*"],
   "scopes": ["pii:read", "pii:write"],
   "rateLimit": {"requestsPerSecond": 10000000, "burst": 10000000}},
  {"caller": "centric-profiles",
   "methods": ["centric.profiles.v1.Profiles/*", "centric.segmentation.v1.Segmentation/*",
               "centric.feedback.v1.Feedback/*", "centric.reporting.v1.Reporting/*"],
   "scopes": ["pii:read", "pii:write"]}]})";

// The first `"event":"<event>","address":"..."` of a JSON log, waiting up to 30 s.
std::string AddressFromLog(const std::string& log, const std::string& event,
                           testing::Process& process) {
  std::regex pattern(absl::StrCat("\"event\":\"", event, "\",\"address\":\"([0-9.:]+)\""));
  absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (absl::Now() < deadline && process.Running()) {
    std::ifstream in(log);
    std::string line;
    while (std::getline(in, line)) {
      std::smatch match;
      if (std::regex_search(line, match, pattern)) return match[1];
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
  return "";
}

// One shipped binary, started with the deployment's security settings.
struct Deployed {
  std::string binary;
  std::unique_ptr<testing::Process> process;
  std::string address;          // gRPC, TLS
  std::string metrics_address;  // Prometheus text over HTTP
  std::string log;
};

absl::StatusOr<Deployed> StartBinary(const std::string& binary, const std::string& dir,
                                     const std::vector<std::string>& env) {
  Deployed deployed;
  deployed.binary = binary;
  deployed.log = absl::StrCat(dir, "/", binary, ".log");
  std::vector<std::string> argv = {
      absl::StrCat(CENTRIC_BIN_DIR, "/", binary), "--listen=127.0.0.1:0",
      "--metrics-listen=127.0.0.1:0", "--drain-timeout=2s",
      absl::StrCat("--tls-cert=", dir, "/server.pem"),
      absl::StrCat("--tls-key=", dir, "/server.key"), absl::StrCat("--tls-ca=", dir, "/ca.pem"),
      absl::StrCat("--tokens-file=", dir, "/tokens"),
      absl::StrCat("--policy-file=", dir, "/policy.json")};
  auto process = testing::Process::Start(argv, deployed.log, env);
  if (!process.ok()) return process.status();
  deployed.process = std::move(*process);
  deployed.address = AddressFromLog(deployed.log, "listening", *deployed.process);
  deployed.metrics_address = AddressFromLog(deployed.log, "metrics_listening", *deployed.process);
  if (deployed.address.empty() || deployed.metrics_address.empty()) {
    return absl::UnavailableError(
        absl::StrCat(binary, " did not start listening: ", ReadFile(deployed.log)));
  }
  return deployed;
}

std::shared_ptr<grpc::Channel> Channel(const std::string& address, const std::string& dir) {
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = ReadFile(dir + "/ca.pem");
  return grpc::CreateChannel(address, grpc::CompositeChannelCredentials(
                                          grpc::SslCredentials(ssl),
                                          grpc::AccessTokenCredentials(kToken)));
}

// centric_rpc_requests_total of `method` by gRPC code, from the binary's /metrics.
absl::StatusOr<std::map<std::string, double>> CallsByCode(const std::string& metrics_address,
                                                           absl::string_view method) {
  httplib::Client client(absl::StrCat("http://", metrics_address));
  auto response = client.Get("/metrics");
  if (!response || response->status != 200) {
    return absl::UnavailableError(absl::StrCat("GET http://", metrics_address, "/metrics failed"));
  }
  std::map<std::string, double> by_code;
  std::regex pattern(absl::StrCat(R"(^centric_rpc_requests_total\{grpc_method="/)",
                                  std::string(method), R"re(",grpc_code="([A-Z_]+)"\} ([0-9.e+]+))re"));
  for (absl::string_view line : absl::StrSplit(response->body, '\n')) {
    std::smatch match;
    std::string text(line);
    if (std::regex_search(text, match, pattern)) by_code[match[1]] += std::stod(match[2]);
  }
  return by_code;
}

// Sum and count of a histogram, and its bucket counts by upper bound.
struct Histogram {
  double sum = 0;
  double count = 0;
  std::vector<std::pair<double, double>> buckets;  // (le, cumulative count)

  double Mean() const { return count > 0 ? sum / count : 0; }
  // The upper bound of the bucket holding quantile q (a bound, not an interpolation).
  double QuantileBound(double q) const {
    for (const auto& [le, cumulative] : buckets) {
      if (cumulative >= q * count) return le;
    }
    return buckets.empty() ? 0 : buckets.back().first;
  }
};

absl::StatusOr<Histogram> ReadHistogram(const std::string& metrics_address,
                                        const std::string& name) {
  httplib::Client client(absl::StrCat("http://", metrics_address));
  auto response = client.Get("/metrics");
  if (!response || response->status != 200) {
    return absl::UnavailableError(absl::StrCat("GET http://", metrics_address, "/metrics failed"));
  }
  Histogram histogram;
  std::regex bucket(absl::StrCat("^", name, R"re(_bucket\{.*le="([^"]+)"\} ([0-9.e+]+))re"));
  std::regex sum(absl::StrCat("^", name, R"(_sum(\{.*\})? ([0-9.e+-]+))"));
  std::regex count(absl::StrCat("^", name, R"(_count(\{.*\})? ([0-9.e+]+))"));
  for (absl::string_view line : absl::StrSplit(response->body, '\n')) {
    std::smatch match;
    std::string text(line);
    if (std::regex_search(text, match, bucket)) {
      double le = match[1] == "+Inf" ? 1e300 : std::stod(match[1]);
      histogram.buckets.emplace_back(le, std::stod(match[2]));
    } else if (std::regex_search(text, match, sum)) {
      histogram.sum += std::stod(match[2]);
    } else if (std::regex_search(text, match, count)) {
      histogram.count += std::stod(match[2]);
    }
  }
  std::sort(histogram.buckets.begin(), histogram.buckets.end());
  return histogram;
}

// CPU seconds so far of the processes a call goes through.
struct Cpu {
  double server = 0;    // the deployed binary, every thread
  double postgres = 0;  // every postgres process (the audit commits)
  double redis = 0;     // redis-server
  double h2load = 0;    // reaped children of this process: the h2load runs
  double bench = 0;     // this process: the bare server

  static Cpu Now(int server_pid) {
    Cpu cpu;
    for (int pid : bench::AllPids()) {
      std::optional<bench::ProcStat> stat = bench::ReadProcStat(pid);
      if (!stat) continue;
      if (pid == server_pid) cpu.server = stat->cpu_seconds;
      if (stat->comm == "postgres") cpu.postgres += stat->cpu_seconds;
      if (stat->comm == "redis-server") cpu.redis += stat->cpu_seconds;
    }
    if (std::optional<bench::ProcStat> self = bench::ReadProcStat(getpid())) {
      cpu.h2load = self->reaped_children_seconds;
      cpu.bench = self->cpu_seconds;
    }
    return cpu;
  }
  Cpu operator-(const Cpu& o) const {
    return {server - o.server, postgres - o.postgres, redis - o.redis, h2load - o.h2load,
            bench - o.bench};
  }
  Cpu operator+(const Cpu& o) const {
    return {server + o.server, postgres + o.postgres, redis + o.redis, h2load + o.h2load,
            bench + o.bench};
  }
};

// One h2load run.
struct LoadResult {
  double calls_per_second = 0;
  int64_t succeeded = 0;
  int64_t failed = 0;
  double mean_ms = 0;
};

// A gRPC request body for h2load: the length-prefixed (uncompressed) message.
std::string GrpcFrame(const std::string& message) {
  std::string frame(5, '\0');
  const uint32_t n = static_cast<uint32_t>(message.size());
  frame[1] = static_cast<char>(n >> 24);
  frame[2] = static_cast<char>(n >> 16);
  frame[3] = static_cast<char>(n >> 8);
  frame[4] = static_cast<char>(n);
  return frame + message;
}

double Milliseconds(const std::string& value, const std::string& unit) {
  double v = std::stod(value);
  if (unit == "us") return v / 1000;
  if (unit == "s") return v * 1000;
  return v;
}

// `calls` calls (h2load -n: every stream runs to its end, none is cut off by a timer).
absl::StatusOr<LoadResult> H2load(const Options& options, int64_t calls, const std::string& address,
                                  const std::string& path, const std::string& body_file,
                                  const std::string& log) {
  std::remove(log.c_str());
  std::vector<std::string> argv = {
      "h2load", absl::StrCat("--requests=", calls),
      absl::StrCat("--clients=", options.connections),
      absl::StrCat("--max-concurrent-streams=", options.streams), "--threads=1",
      absl::StrCat("--data=", body_file), "--header=content-type: application/grpc",
      "--header=te: trailers", absl::StrCat("--header=authorization: Bearer ", kToken),
      absl::StrCat("https://", address, path)};
  if (testing::RunCommand(argv, log) != 0) {
    return absl::InternalError(absl::StrCat("h2load failed: ", ReadFile(log)));
  }
  const std::string output = ReadFile(log);
  LoadResult result;
  std::smatch match;
  if (!std::regex_search(output, match, std::regex(R"(finished in [0-9.]+m?s, ([0-9.]+) req/s)"))) {
    return absl::InternalError(absl::StrCat("h2load printed no req/s: ", output));
  }
  result.calls_per_second = std::stod(match[1]);
  if (!std::regex_search(output, match,
                         std::regex(R"(([0-9]+) succeeded, ([0-9]+) failed, ([0-9]+) errored)"))) {
    return absl::InternalError(absl::StrCat("h2load printed no request counts: ", output));
  }
  result.succeeded = std::stoll(match[1]);
  result.failed = std::stoll(match[2]) + std::stoll(match[3]);
  if (std::regex_search(output, match,
                        std::regex(R"(time for request:\s+[0-9.]+[mu]?s\s+[0-9.]+[mu]?s\s+([0-9.]+)([mu]?s))"))) {
    result.mean_ms = Milliseconds(match[1], match[2]);
  }
  if (result.failed > 0 || result.succeeded == 0) {
    return absl::InternalError(absl::StrCat("h2load: ", result.failed, " failed calls: ", output));
  }
  return result;
}

// Latencies of `calls` calls sent one at a time as raw bytes, in microseconds, sorted.
absl::StatusOr<std::vector<double>> Probe(const std::shared_ptr<grpc::Channel>& channel,
                                          const std::string& method, const std::string& request,
                                          int calls) {
  grpc::GenericStub stub(channel);
  grpc::Slice slice(request);
  grpc::ByteBuffer buffer(&slice, 1);
  std::vector<double> micros;
  micros.reserve(calls);
  for (int i = 0; i < calls; ++i) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    grpc::ByteBuffer response;
    absl::Notification done;
    grpc::Status status;
    const absl::Time start = absl::Now();
    stub.UnaryCall(&context, method, grpc::StubOptions(), &buffer, &response,
                   [&](grpc::Status s) {
                     status = std::move(s);
                     done.Notify();
                   });
    done.WaitForNotification();
    micros.push_back(absl::ToDoubleMicroseconds(absl::Now() - start));
    if (!status.ok()) {
      return absl::InternalError(absl::StrCat(method, ": ", status.error_message()));
    }
  }
  std::sort(micros.begin(), micros.end());
  return micros;
}

double Percentile(const std::vector<double>& sorted, double q) {
  if (sorted.empty()) return 0;
  size_t i = static_cast<size_t>(q * static_cast<double>(sorted.size() - 1) + 0.5);
  return sorted[std::min(i, sorted.size() - 1)];
}

double Median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values.empty() ? 0 : values[values.size() / 2];
}

// The bare server: Baseline.GetBlob over the same TLS as the binaries.
class BareServer {
 public:
  absl::Status Start(const std::string& dir, bv1::Blob blob) {
    service_ = std::make_unique<bench::BaselineService>(pool_);
    service_->SetBlob(std::move(blob));
    grpc::SslServerCredentialsOptions tls(GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY);
    tls.pem_root_certs = ReadFile(dir + "/ca.pem");
    tls.pem_key_cert_pairs.push_back({ReadFile(dir + "/server.key"), ReadFile(dir + "/server.pem")});
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::SslServerCredentials(tls), &port);
    builder.RegisterService(service_.get());
    server_ = builder.BuildAndStart();
    if (server_ == nullptr || port == 0) return absl::UnavailableError("bare server did not start");
    address_ = absl::StrCat("127.0.0.1:", port);
    return absl::OkStatus();
  }
  ~BareServer() {
    if (server_ != nullptr) server_->Shutdown(std::chrono::system_clock::now());
  }
  const std::string& address() const { return address_; }

 private:
  runtime::WorkerPool pool_{1};
  std::unique_ptr<bench::BaselineService> service_;
  std::unique_ptr<grpc::Server> server_;
  std::string address_;
};

constexpr char kGetProfile[] = "centric.profiles.v1.Profiles/GetProfile";
constexpr char kGetBlob[] = "centric.bench.v1.Baseline/GetBlob";
constexpr char kBatchGet[] = "centric.profiles.v1.Profiles/BatchGetProfiles";
constexpr int kBatchSize = 100;

// BatchGetProfiles of kBatchSize cached profiles by h2load, in profiles per second (the
// median of the rounds). Every call must have been OK.
absl::StatusOr<double> MeasureBatchGet(const Options& options, const std::string& dir,
                                       Deployed& deployed, v1::Profiles::Stub& stub) {
  v1::BatchGetProfilesRequest batch;
  for (int i = 0; i < kBatchSize; ++i) {
    const std::string id = absl::StrFormat("bench-batch-%03d", i);
    v1::CreateProfileRequest create;
    create.set_profile_id(id);
    *create.mutable_profile() = bench::BenchProfile(id, i);
    v1::Profile created;
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    grpc::Status status = stub.CreateProfile(&context, create, &created);
    if (!status.ok()) return absl::InternalError(absl::StrCat("CreateProfile: ", status.error_message()));
    batch.add_names(created.name());
  }
  for (int i = 0; i < 3; ++i) {  // loads the cache, then the near cache
    grpc::ClientContext context;
    v1::BatchGetProfilesResponse response;
    grpc::Status status = stub.BatchGetProfiles(&context, batch, &response);
    if (!status.ok() || response.profiles_size() != kBatchSize) {
      return absl::InternalError(absl::StrCat("BatchGetProfiles: ", status.error_message()));
    }
  }
  const std::string body_file = dir + "/batch_get.body";
  std::ofstream(body_file, std::ios::binary) << GrpcFrame(batch.SerializeAsString());
  const std::string path = absl::StrCat("/", kBatchGet);
  auto warmup = H2load(options, 300, deployed.address, path, body_file, dir + "/h2load-batch.log");
  if (!warmup.ok()) return warmup.status();
  const int64_t calls =
      std::max<int64_t>(300, static_cast<int64_t>(warmup->calls_per_second * options.seconds));
  std::vector<double> rates;
  for (int round = 0; round < options.rounds; ++round) {
    auto before = CallsByCode(deployed.metrics_address, kBatchGet);
    if (!before.ok()) return before.status();
    auto run = H2load(options, calls, deployed.address, path, body_file, dir + "/h2load-batch.log");
    if (!run.ok()) return run.status();
    auto after = CallsByCode(deployed.metrics_address, kBatchGet);
    if (!after.ok()) return after.status();
    for (const auto& [code, n] : *after) {
      if (code != "OK" && n - (*before)[code] > 0) {
        return absl::InternalError(absl::StrCat(n - (*before)[code], " BatchGetProfiles calls answered ",
                                                code, "; see ", deployed.log));
      }
    }
    rates.push_back(run->calls_per_second * kBatchSize);
    absl::PrintF("  %-44s %12.0f %10.3f\n",
                 absl::StrCat(deployed.binary, ", BatchGetProfiles x", kBatchSize, " (profiles/s)"),
                 run->calls_per_second * kBatchSize, run->mean_ms);
  }
  return Median(rates);
}

// Measures one binary against the bare server; adds its lines to `metrics`.
absl::Status MeasureBinary(const Options& options, const std::string& dir, Deployed& deployed,
                           const std::string& audit_count_url, bench::Metrics& metrics) {
  const std::string key = deployed.binary == "centricd" ? "centricd" : "deployed";
  // One profile, created through the binary and read once so Redis holds it.
  auto channel = Channel(deployed.address, dir);
  auto stub = v1::Profiles::NewStub(channel);
  v1::CreateProfileRequest create;
  create.set_profile_id("bench-000001");
  *create.mutable_profile() = bench::BenchProfile("bench-000001", 1);
  v1::Profile created;
  {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    grpc::Status status = stub->CreateProfile(&context, create, &created);
    if (!status.ok()) {
      return absl::InternalError(absl::StrCat("CreateProfile: ", status.error_message()));
    }
  }
  v1::GetProfileRequest get;
  get.set_name(created.name());
  v1::Profile read;
  for (int i = 0; i < 2; ++i) {
    grpc::ClientContext context;
    grpc::Status status = stub->GetProfile(&context, get, &read);
    if (!status.ok()) return absl::InternalError(absl::StrCat("GetProfile: ", status.error_message()));
  }
  const size_t response_bytes = read.ByteSizeLong();

  BareServer bare;
  if (absl::Status s = bare.Start(dir, bench::BlobOfSize(response_bytes)); !s.ok()) return s;
  bv1::GetBlobRequest blob_request;
  blob_request.set_name(created.name());  // the same bytes as the GetProfileRequest
  const std::string body_file = dir + "/get_profile.body";
  std::ofstream(body_file, std::ios::binary) << GrpcFrame(get.SerializeAsString());

  absl::PrintF("%s: GetProfile of a cached %d-byte profile, h2load -c %d -m %d, ~%d s x %d rounds\n",
               deployed.binary, response_bytes, options.connections, options.streams,
               options.seconds, options.rounds);
  absl::PrintF("  %-44s %12s %10s\n", "phase", "calls/s", "mean ms");
  std::vector<double> deployed_rates, bare_rates;
  double answered = 0;
  const int server_pid = deployed.process->pid();
  Cpu deployed_cpu, bare_cpu;
  double deployed_total_calls = 0, bare_total_calls = 0;
  // A short unmeasured run of each sizes the rounds to about --seconds.
  int64_t bare_calls = 0;
  int64_t deployed_calls = 0;
  for (auto [path, address, calls] :
       {std::tuple{kGetBlob, bare.address(), &bare_calls},
        std::tuple{kGetProfile, deployed.address, &deployed_calls}}) {
    auto warmup = H2load(options, 3000, address, absl::StrCat("/", path), body_file,
                         dir + "/h2load-warmup.log");
    if (!warmup.ok()) return warmup.status();
    *calls = std::max<int64_t>(3000, static_cast<int64_t>(warmup->calls_per_second * options.seconds));
  }
  for (int round = 0; round < options.rounds; ++round) {
    const Cpu bare_start = Cpu::Now(server_pid);
    auto bare_run = H2load(options, bare_calls, bare.address(), absl::StrCat("/", kGetBlob), body_file,
                           dir + "/h2load-bare.log");
    if (!bare_run.ok()) return bare_run.status();
    bare_cpu = bare_cpu + (Cpu::Now(server_pid) - bare_start);
    bare_total_calls += static_cast<double>(bare_run->succeeded);
    bare_rates.push_back(bare_run->calls_per_second);
    absl::PrintF("  %-44s %12.0f %10.3f\n", "bare gRPC server, GetBlob", bare_run->calls_per_second,
                 bare_run->mean_ms);

    auto before = CallsByCode(deployed.metrics_address, kGetProfile);
    if (!before.ok()) return before.status();
    const Cpu start = Cpu::Now(server_pid);
    auto run = H2load(options, deployed_calls, deployed.address, absl::StrCat("/", kGetProfile), body_file,
                      dir + "/h2load-deployed.log");
    if (!run.ok()) return run.status();
    deployed_cpu = deployed_cpu + (Cpu::Now(server_pid) - start);
    deployed_total_calls += static_cast<double>(run->succeeded);
    auto after = CallsByCode(deployed.metrics_address, kGetProfile);
    if (!after.ok()) return after.status();
    for (const auto& [code, n] : *after) {
      const double delta = n - (*before)[code];
      if (code != "OK" && delta > 0) {
        return absl::InternalError(absl::StrCat(delta, " GetProfile calls answered ", code,
                                                " during the load; see ", deployed.log));
      }
      if (code == "OK") answered += delta;
    }
    deployed_rates.push_back(run->calls_per_second);
    absl::PrintF("  %-44s %12.0f %10.3f\n", absl::StrCat(deployed.binary, ", GetProfile"),
                 run->calls_per_second, run->mean_ms);
  }
  const double ratio = Median(deployed_rates) / Median(bare_rates);
  absl::PrintF("  median: %.0f against %.0f calls/s: %.3fx\n", Median(deployed_rates),
               Median(bare_rates), ratio);
  auto per_call = [](double seconds, double calls) { return calls > 0 ? seconds / calls * 1e6 : 0; };
  absl::PrintF("  CPU us per call: %s %.1f, postgres %.1f, redis %.1f, h2load %.1f; bare server %.1f, "
               "h2load on it %.1f\n",
               deployed.binary, per_call(deployed_cpu.server, deployed_total_calls),
               per_call(deployed_cpu.postgres, deployed_total_calls),
               per_call(deployed_cpu.redis, deployed_total_calls),
               per_call(deployed_cpu.h2load, deployed_total_calls),
               per_call(bare_cpu.bench, bare_total_calls), per_call(bare_cpu.h2load, bare_total_calls));
  metrics.Add(absl::StrCat(key, "_server_cpu_us_per_call"),
              per_call(deployed_cpu.server, deployed_total_calls));
  metrics.Add(absl::StrCat(key, "_postgres_cpu_us_per_call"),
              per_call(deployed_cpu.postgres, deployed_total_calls));
  metrics.Add(absl::StrCat(key, "_bare_cpu_us_per_call"), per_call(bare_cpu.bench, bare_total_calls));

  // Every answered read left its audit record.
  if (!audit_count_url.empty()) {
    bench::PgConnection pg;
    if (absl::Status s = pg.Connect(audit_count_url); !s.ok()) return s;
    auto rows = pg.Count(
        "SELECT count(*) FROM profiles_audit WHERE method LIKE '%Profiles/GetProfile'",
        true);
    if (!rows.ok()) return rows.status();
    absl::PrintF("  audit rows of GetProfile: %d for %.0f answered calls under load\n", *rows,
                 answered);
    if (static_cast<double>(*rows) < answered) {
      return absl::InternalError(absl::StrCat("only ", *rows, " audit rows for ", answered,
                                              " answered GetProfile calls"));
    }
  }

  auto batch_rate = MeasureBatchGet(options, dir, deployed, *stub);
  if (!batch_rate.ok()) return batch_rate.status();
  absl::PrintF("  BatchGetProfiles: %.0f profiles/s against %.0f by GetProfile: %.1fx\n", *batch_rate,
               Median(deployed_rates), *batch_rate / Median(deployed_rates));
  metrics.Add(absl::StrCat(key, "_batch_get_profiles_per_second"), *batch_rate);
  metrics.Add(absl::StrCat(key, "_batch_get_vs_get_profile"), *batch_rate / Median(deployed_rates));

  // Latency with nothing queued.
  auto deployed_probe = Probe(channel, absl::StrCat("/", kGetProfile), get.SerializeAsString(),
                              options.probe_calls);
  if (!deployed_probe.ok()) return deployed_probe.status();
  auto bare_probe = Probe(Channel(bare.address(), dir), absl::StrCat("/", kGetBlob),
                          blob_request.SerializeAsString(), options.probe_calls);
  if (!bare_probe.ok()) return bare_probe.status();
  absl::PrintF("  one call at a time (%d calls): %s p50 %.0f us p99 %.0f us; bare p50 %.0f us p99 %.0f us\n",
               options.probe_calls, deployed.binary, Percentile(*deployed_probe, 0.5),
               Percentile(*deployed_probe, 0.99), Percentile(*bare_probe, 0.5),
               Percentile(*bare_probe, 0.99));
  auto batch = ReadHistogram(deployed.metrics_address, "centric_audit_batch_records");
  auto commit = ReadHistogram(deployed.metrics_address, "centric_audit_commit_seconds");
  if (batch.ok() && commit.ok() && batch->count > 0) {
    absl::PrintF("  audit writer: %.0f batches, %.1f records per batch on average; commit mean %.3f ms, "
                 "p99 <= %.3f ms\n",
                 batch->count, batch->Mean(), commit->Mean() * 1000,
                 commit->QuantileBound(0.99) * 1000);
    metrics.Add(absl::StrCat(key, "_audit_records_per_batch"), batch->Mean());
    metrics.Add(absl::StrCat(key, "_audit_commit_mean_ms"), commit->Mean() * 1000);
  }
  metrics.Add(absl::StrCat(key, "_get_profile_ratio"), ratio);
  metrics.Add(absl::StrCat(key, "_get_profile_calls_per_second"), Median(deployed_rates));
  metrics.Add(absl::StrCat(key, "_bare_calls_per_second"), Median(bare_rates));
  metrics.Add(absl::StrCat(key, "_get_profile_p50_us"), Percentile(*deployed_probe, 0.5));
  metrics.Add(absl::StrCat(key, "_get_profile_p99_us"), Percentile(*deployed_probe, 0.99));
  metrics.Add(absl::StrCat(key, "_bare_p50_us"), Percentile(*bare_probe, 0.5));
  metrics.Add(absl::StrCat(key, "_bare_p99_us"), Percentile(*bare_probe, 0.99));
  metrics.Add(absl::StrCat(key, "_added_p50_us"),
              Percentile(*deployed_probe, 0.5) - Percentile(*bare_probe, 0.5));
  metrics.Add(absl::StrCat(key, "_added_p99_us"),
              Percentile(*deployed_probe, 0.99) - Percentile(*bare_probe, 0.99));
  return absl::OkStatus();
}

int RunBench(const Options& options) {
  testing::TempDir dir;
  if (absl::Status s = MakeCertificates(dir.path()); !s.ok()) {
    absl::FPrintF(stderr, "deployed_bench: %s\n", s.ToString());
    return 1;
  }
  std::ofstream(dir.path() + "/tokens") << kCaller << " " << security::TokenHashLine(kToken) << "\n";
  std::ofstream(dir.path() + "/policy.json") << kPolicy;
  bench::Metrics metrics;
  for (const std::string& binary : options.binaries) {
    std::unique_ptr<testing::PostgresServer> postgres;
    std::unique_ptr<testing::RedisServer> redis;
    std::vector<std::string> env;
    std::string audit_url;
    if (binary == "centric-profiles") {
      auto started_pg = testing::PostgresServer::Start(/*fast=*/false);
      auto started_redis = testing::RedisServer::Start("bench-Redis-Pass");
      if (!started_pg.ok() || !started_redis.ok()) {
        absl::FPrintF(stderr, "deployed_bench: %s %s\n", started_pg.status().ToString(),
                      started_redis.status().ToString());
        return 1;
      }
      postgres = std::move(*started_pg);
      redis = std::move(*started_redis);
      env = {absl::StrCat("CENTRIC_DATABASE_URL=", postgres->url()),
             absl::StrCat("CENTRIC_REDIS_URL=", redis->url())};
      audit_url = postgres->url();
    } else {
      env = {absl::StrCat("CENTRIC_DATABASE_URL=sqlite://", dir.path(), "/centricd.db")};
    }
    if (!options.near_cache) env.push_back("CENTRIC_NEAR_CACHE_BYTES=0");
    auto deployed = StartBinary(binary, dir.path(), env);
    if (!deployed.ok()) {
      absl::FPrintF(stderr, "deployed_bench: %s\n", deployed.status().ToString());
      return 1;
    }
    absl::Status measured = MeasureBinary(options, dir.path(), *deployed, audit_url, metrics);
    deployed->process->Signal(SIGTERM);
    if (!measured.ok()) {
      absl::FPrintF(stderr, "deployed_bench: %s: %s\n", binary, measured.ToString());
      return 1;
    }
  }
  metrics.Print();
  return 0;
}

}  // namespace
}  // namespace centric::deployed_bench

int main(int argc, char** argv) {
  auto options = centric::deployed_bench::ParseFlags(argc, argv);
  if (!options.ok()) {
    const bool help = absl::IsCancelled(options.status());
    absl::FPrintF(help ? stdout : stderr, "%s\n", options.status().message());
    return help ? 0 : 2;
  }
  return centric::deployed_bench::RunBench(*options);
}
