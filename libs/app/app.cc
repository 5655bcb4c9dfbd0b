#include "libs/app/app.h"

#include <unistd.h>

#include <cstdio>

#include "httplib.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "libs/cache/near_cache.h"
#include "libs/cache/redis_cache.h"
#include "libs/events/dead_letters_service.h"
#include "libs/events/in_process_bus.h"
#include "libs/events/redis_streams_bus.h"
#include "libs/http/background_server.h"
#include "libs/runtime/log.h"
#include "libs/security/audit.h"
#include "libs/security/channels.h"
#include "libs/security/guard.h"

namespace centric::app {

namespace {

void RegisterCacheMetrics(Infrastructure& infra) {
  using Type = runtime::MetricsRegistry::Type;
  runtime::MetricsRegistry& m = *infra.metrics;
  m.Describe("centric_cache_hits_total", Type::kCounter, "Cache reads answered by Redis.");
  m.Describe("centric_cache_misses_total", Type::kCounter, "Cache reads that went to the store.");
  m.Describe("centric_cache_errors_total", Type::kCounter, "Redis commands that failed or timed out.");
  m.Describe("centric_cache_outages_total", Type::kCounter, "Times Redis became unreachable.");
  m.AddCollector([cache = infra.cache.get()](runtime::MetricsRegistry& r) {
    cache::CacheStats s = cache->Stats();
    r.Set("centric_cache_hits_total", {}, static_cast<double>(s.hits));
    r.Set("centric_cache_misses_total", {}, static_cast<double>(s.misses));
    r.Set("centric_cache_errors_total", {}, static_cast<double>(s.errors));
    r.Set("centric_cache_outages_total", {}, static_cast<double>(s.outages));
  });
  if (infra.near_cache == nullptr) return;
  m.Describe("centric_near_cache_hits_total", Type::kCounter,
             "Cache reads answered from this process's memory.");
  m.Describe("centric_near_cache_misses_total", Type::kCounter,
             "Near cache reads that went to Redis.");
  m.Describe("centric_near_cache_bypassed_total", Type::kCounter,
             "Reads that skipped the near cache because invalidation tracking was not established.");
  m.Describe("centric_near_cache_invalidations_total", Type::kCounter,
             "Keys dropped from the near cache by invalidations.");
  m.Describe("centric_near_cache_resets_total", Type::kCounter,
             "Times the near cache was cleared: tracking lost (link down, late heartbeat) or a Redis flush.");
  m.Describe("centric_near_cache_bytes", Type::kGauge, "Bytes held by the near cache.");
  m.Describe("centric_near_cache_entries", Type::kGauge, "Entries held by the near cache.");
  m.Describe("centric_near_cache_tracking", Type::kGauge,
             "1 while invalidation tracking is established and the near cache is served.");
  m.AddCollector([near = infra.near_cache](runtime::MetricsRegistry& r) {
    cache::NearCacheStats s = near->NearStats();
    r.Set("centric_near_cache_hits_total", {}, static_cast<double>(s.hits));
    r.Set("centric_near_cache_misses_total", {}, static_cast<double>(s.misses));
    r.Set("centric_near_cache_bypassed_total", {}, static_cast<double>(s.bypassed));
    r.Set("centric_near_cache_invalidations_total", {}, static_cast<double>(s.invalidations));
    r.Set("centric_near_cache_resets_total", {}, static_cast<double>(s.resets));
    r.Set("centric_near_cache_bytes", {}, static_cast<double>(s.bytes));
    r.Set("centric_near_cache_entries", {}, static_cast<double>(s.entries));
    r.Set("centric_near_cache_tracking", {}, s.tracking ? 1.0 : 0.0);
  });
}

// centric_bus_consumer_lag{topic, group}: events the groups this process consumes have
// not acknowledged yet, read from the bus at every scrape.
void RegisterBusMetrics(Infrastructure& infra) {
  infra.metrics->Describe(
      "centric_bus_consumer_lag", runtime::MetricsRegistry::Type::kGauge,
      "Events published to a topic and not yet acknowledged by a consumer group of this "
      "process (undelivered, being handled, or waiting for redelivery).");
  infra.metrics->Describe(
      "centric_bus_dead_letters", runtime::MetricsRegistry::Type::kGauge,
      "Events a consumer group of this process gave up on (retries exhausted, or a payload "
      "no retry can fix), waiting in its dead-letter queue to be replayed or dropped.");
  infra.metrics->AddCollector([bus = infra.bus.get()](runtime::MetricsRegistry& r) {
    auto lag = bus->Lag();
    if (!lag.ok()) return;
    for (const events::GroupLag& g : *lag) {
      r.Set("centric_bus_consumer_lag", {{"topic", g.topic}, {"group", g.group}},
            static_cast<double>(g.events));
      r.Set("centric_bus_dead_letters", {{"topic", g.topic}, {"group", g.group}},
            static_cast<double>(g.dead_letters));
    }
  });
}

// Serves GET /metrics on `listen` until destroyed.
class MetricsEndpoint {
 public:
  explicit MetricsEndpoint(runtime::MetricsRegistry& registry)
      : registry_(registry), background_(server_) {}
  absl::Status Start(const std::string& listen) {
    server_.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
      res.set_content(registry_.Render(), "text/plain; version=0.0.4");
    });
    if (absl::Status status = background_.Start(listen, "--metrics-listen"); !status.ok()) {
      return status;
    }
    runtime::LogInfo("metrics_listening", {{"address", background_.address()}});
    return absl::OkStatus();
  }

 private:
  runtime::MetricsRegistry& registry_;
  httplib::Server server_;
  http::BackgroundServer background_;  // declared after server_: stops before it goes
};

}  // namespace

std::string ConsumerName() {
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  return absl::StrCat(host, "-", getpid());
}

absl::StatusOr<std::unique_ptr<Infrastructure>> OpenInfrastructure(const runtime::Config& config,
                                                                   Mode mode) {
  auto infra = std::make_unique<Infrastructure>();
  infra->config = config;
  if (mode == Mode::kService && config.redis_url.empty() && !config.no_cache) {
    return absl::InvalidArgumentError(
        "CENTRIC_REDIS_URL (or --redis-url) is required for a service binary; pass --no-cache "
        "to run without the cache");
  }
  auto db = store::Open(config.database_url);
  if (!db.ok()) return db.status();
  infra->db = std::move(*db);

  if (!config.redis_url.empty() && !config.no_cache) {
    auto options = cache::ParseRedisUrl(config.redis_url);
    if (!options.ok()) return options.status();
    infra->cache = cache::NewRedisCache(*options);
    if (config.near_cache_bytes > 0) {
      auto near = std::make_unique<cache::NearCache>(
          std::move(infra->cache), *options,
          cache::NearCacheOptions{.max_bytes = config.near_cache_bytes});
      infra->near_cache = near.get();
      infra->cache = std::move(near);
    }
  } else {
    infra->cache = std::make_unique<cache::NullCache>();
  }

  if (mode == Mode::kService && !config.bus_url.empty()) {
    auto redis = cache::ParseRedisUrl(config.bus_url);
    if (!redis.ok()) return redis.status();
    events::RedisStreamsOptions options;
    options.host = redis->host;
    options.port = redis->port;
    options.username = redis->username;
    options.password = redis->password;
    infra->bus = events::NewRedisStreamsBus(options);
  } else {
    if (mode == Mode::kService) {
      runtime::LogWarning("bus_in_process",
                          {{"detail", "no CENTRIC_BUS_URL or CENTRIC_REDIS_URL: events stay in "
                                      "this process"}});
    }
    infra->bus = events::NewInProcessBus();
  }
  infra->clock = std::make_unique<runtime::SystemClock>();
  infra->ids = std::make_unique<runtime::UlidGenerator>(*infra->clock);
  infra->pool = std::make_unique<runtime::WorkerPool>(config.workers);
  RegisterCacheMetrics(*infra);
  RegisterBusMetrics(*infra);
  runtime::LogInfo("infrastructure",
                   {{"database", infra->db->backend() == store::Backend::kSqlite ? "sqlite"
                                                                                 : "postgresql"},
                    {"cache", config.redis_url.empty() || config.no_cache ? "off"
                              : infra->near_cache != nullptr        ? "near+redis"
                                                                    : "redis"},
                    {"workers", int64_t{config.workers}}});
  return infra;
}

int Main(int argc, char** argv, Mode mode, const std::vector<ModuleFactory>& modules,
         std::function<void(const runtime::Server&, Infrastructure&)> after_start) {
  runtime::BlockTerminationSignals();
  // Debian's Abseil is built with the mutex deadlock detector on: a graph lookup on every
  // Lock (about 2% of a cached GetProfile's CPU). Tests keep it; the binaries do not.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  std::vector<std::string> args(argv, argv + argc);
  for (const std::string& arg : args) {
    if (arg == "--help" || arg == "-h") {
      std::fputs(runtime::ConfigUsage(args[0]).c_str(), stdout);
      return 0;
    }
  }
  auto config = runtime::LoadConfig(args, runtime::ProcessEnvironment());
  if (!config.ok()) {
    std::fprintf(stderr, "%s: %s\n%s", args[0].c_str(), std::string(config.status().message()).c_str(),
                 runtime::ConfigUsage(args[0]).c_str());
    return 2;
  }
  if (absl::Status s = security::CheckTransportSecurity(*config); !s.ok()) {
    runtime::LogError("startup_failed", {{"error", s.ToString()}});
    return 2;
  }
  auto guard = security::Guard::Open(*config);
  if (!guard.ok()) {
    runtime::LogError("startup_failed", {{"error", guard.status().ToString()}});
    return 2;
  }
  if (config->insecure) {
    std::fputs(
        "\n*** WARNING: --insecure: plain-text gRPC, no TLS. Anyone who can reach this port can"
        "\n*** read the traffic, and without --policy-file every caller may do everything."
        "\n*** For local development only; never in a shared or production environment.\n\n",
        stderr);
    runtime::LogWarning("insecure", {{"detail", "plain-text gRPC (--insecure)"},
                                     {"open_access", (*guard)->open_access() ? "true" : "false"}});
  }
  auto credentials = security::ServerCredentials(*config);
  if (!credentials.ok()) {
    runtime::LogError("startup_failed", {{"error", credentials.status().ToString()}});
    return 2;
  }
  auto infra = OpenInfrastructure(*config, mode);
  if (!infra.ok()) {
    runtime::LogError("startup_failed", {{"error", infra.status().ToString()}});
    return infra.status().code() == absl::StatusCode::kInvalidArgument ? 2 : 1;
  }
  security::Guard* guard_ptr = guard->get();
  runtime::Server server(
      {.listen = config->listen,
       .drain_timeout = config->drain_timeout,
       .metrics = (*infra)->metrics.get(),
       .credentials = *credentials,
       .health_listen = config->health_listen,
       .interceptors = {[guard_ptr] { return guard_ptr->NewInterceptorFactory(); }},
       // Reflection answers without the interceptor's checks: only in open dev mode.
       .reflection = (*guard)->open_access()});
  MetricsEndpoint metrics(*(*infra)->metrics);
  if (!config->metrics_listen.empty()) {
    if (absl::Status s = metrics.Start(config->metrics_listen); !s.ok()) {
      runtime::LogError("startup_failed", {{"error", s.ToString()}});
      return 1;
    }
  }
  std::vector<std::unique_ptr<Module>> started;
  for (const ModuleFactory& factory : modules) {
    started.push_back(factory(**infra));
    if (absl::Status s = started.back()->Start(server); !s.ok()) {
      runtime::LogError("startup_failed", {{"error", s.ToString()}});
      return 1;
    }
  }
  // Audit tables of the services this process hosts, and the AuditLog service.
  std::vector<std::string> audited;
  for (const std::string& name : server.service_names()) {
    // "centric.profiles.v1.Profiles" -> "profiles"
    std::vector<std::string> parts = absl::StrSplit(name, '.');
    if (parts.size() == 4 && parts[0] == "centric") audited.push_back(parts[1]);
  }
  // Replays and drops of dead letters (events.v1.DeadLetters, added below) are writes.
  audited.push_back("events");
  // The audit writer has a connection of its own on PostgreSQL, so that a pool busy with
  // handlers never delays the commits every audited answer waits for.
  std::unique_ptr<store::Database> audit_db;
  if ((*infra)->db->backend() == store::Backend::kPostgres) {
    auto opened = store::Open(config->database_url, {.pool_size = 1});
    if (!opened.ok()) {
      runtime::LogError("startup_failed", {{"error", opened.status().ToString()}});
      return 1;
    }
    audit_db = std::move(*opened);
  }
  security::AuditLog audit_log(audit_db != nullptr ? *audit_db : *(*infra)->db, audited,
                               {.metrics = (*infra)->metrics.get(),
                                .completions = (*infra)->pool.get()});
  if (absl::Status s = audit_log.Migrate(); !s.ok()) {
    runtime::LogError("startup_failed", {{"error", s.ToString()}});
    return 1;
  }
  (*guard)->SetAuditLog(&audit_log);
  security::AuditGrpcService audit_service(audit_log, *(*infra)->pool);
  server.AddService(&audit_service, "centric.security.v1.AuditLog");
  events::DeadLettersGrpcService dead_letters(*(*infra)->bus, *(*infra)->pool);
  server.AddService(&dead_letters, events::kDeadLettersServiceName);
  if (absl::Status s = server.Start(); !s.ok()) {
    runtime::LogError("startup_failed", {{"error", s.ToString()}});
    return 1;
  }
  // Storage is migrated and reachable once every module has started.
  if (absl::Status s = (*infra)->db->Ping(); !s.ok()) {
    runtime::LogError("startup_failed", {{"error", s.ToString()}});
    return 1;
  }
  server.SetServing(true);
  for (auto& module : started) module->Serving(server);
  runtime::LogInfo("serving");
  if (after_start) after_start(server, **infra);
  int signal_number = runtime::WaitForTerminationSignal();
  runtime::LogInfo("signal", {{"signal", int64_t{signal_number}}});
  server.Shutdown();
  for (auto it = started.rbegin(); it != started.rend(); ++it) (*it)->Stop();
  return 0;
}

}  // namespace centric::app
