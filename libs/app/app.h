// Process wiring shared by every binary: the one place that turns configuration into
// concrete store, cache, bus, clock, id generator and worker pool, and that runs a
// server until SIGTERM.
#ifndef CENTRIC_LIBS_APP_APP_H_
#define CENTRIC_LIBS_APP_APP_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "libs/cache/cache.h"
#include "libs/cache/near_cache.h"
#include "libs/events/bus.h"
#include "libs/runtime/clock.h"
#include "libs/runtime/config.h"
#include "libs/runtime/metrics.h"
#include "libs/runtime/server.h"
#include "libs/runtime/worker_pool.h"
#include "libs/store/store.h"

namespace centric::app {

enum class Mode {
  // centricd: every service in one process; SQLite by default, in-process bus, Redis
  // cache only if CENTRIC_REDIS_URL is set.
  kEmbedded,
  // One binary per service: CENTRIC_REDIS_URL is required unless --no-cache; events go
  // to Redis Streams at CENTRIC_BUS_URL (default: the Redis URL).
  kService,
};

struct Infrastructure {
  runtime::Config config;
  std::unique_ptr<store::Database> db;
  std::unique_ptr<cache::VersionedCache> cache;
  // The near cache in front of Redis when it is on (owned by `cache`), for its metrics.
  cache::NearCache* near_cache = nullptr;
  std::unique_ptr<events::Bus> bus;
  std::unique_ptr<runtime::Clock> clock;
  std::unique_ptr<runtime::IdGenerator> ids;
  std::unique_ptr<runtime::WorkerPool> pool;
  // RPC metrics and the gauges modules register (served at --metrics-listen).
  std::unique_ptr<runtime::MetricsRegistry> metrics = std::make_unique<runtime::MetricsRegistry>();
};

// Errors: INVALID_ARGUMENT (bad or missing configuration, with what to set),
// UNAVAILABLE (the database cannot be opened).
absl::StatusOr<std::unique_ptr<Infrastructure>> OpenInfrastructure(const runtime::Config& config,
                                                                   Mode mode);

// A service hosted by a binary: started once the infrastructure is open, stopped (in
// reverse order) after the server has drained.
class Module {
 public:
  virtual ~Module() = default;
  // Migrates its schema, starts background work, registers its gRPC services.
  virtual absl::Status Start(runtime::Server& server) = 0;
  // Called once the server is bound and serving (e.g. to call sibling services, or this
  // process itself in centricd).
  virtual void Serving(const runtime::Server& server) {}
  virtual void Stop() = 0;
};

using ModuleFactory = std::function<std::unique_ptr<Module>(Infrastructure&)>;

// This process's consumer name within an event consumer group
// (events::SubscribeOptions::consumer): "<host name>-<pid>", the pod name in Kubernetes.
std::string ConsumerName();

// main() of every binary: config from argv and environment, infrastructure, modules,
// server; health SERVING once every module started; SIGTERM drains and exits 0.
// Returns the process exit code (2 for bad configuration, 1 for start-up failures).
int Main(int argc, char** argv, Mode mode, const std::vector<ModuleFactory>& modules,
         std::function<void(const runtime::Server&, Infrastructure&)> after_start = {});

}  // namespace centric::app

#endif  // CENTRIC_LIBS_APP_APP_H_
