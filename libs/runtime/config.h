// Process configuration, 12-factor style: flags override environment variables, which
// override defaults. Every binary uses the same names.
//
//   --listen=HOST:PORT       CENTRIC_LISTEN          gRPC address; port 0 picks a free one
//   --database-url=URL       CENTRIC_DATABASE_URL    sqlite:///path.db (default
//                                                    sqlite://.centric/centric.db) or
//                                                    postgresql://...
//   --redis-url=URL          CENTRIC_REDIS_URL       redis://[user:password@]host:port for
//                                                    the cache (AUTH when a password is
//                                                    given; never logged)
//   --bus-url=URL            CENTRIC_BUS_URL         the same for Redis Streams; defaults
//                                                    to the redis url
//   --no-cache                                       run without the Redis cache
//   --near-cache-bytes=N     CENTRIC_NEAR_CACHE_BYTES  in-process cache of profiles in
//                                                    front of Redis, kept coherent by
//                                                    CLIENT TRACKING (256MiB; suffixes
//                                                    KiB, MiB, GiB; 0 turns it off)
//   --drain-timeout=DUR      CENTRIC_DRAIN_TIMEOUT   in-flight RPC drain on SIGTERM (20s)
//   --workers=N              CENTRIC_WORKERS         handler threads (default 4 × cores,
//                                                    at least 8)
//   --profiles-target=T      CENTRIC_PROFILES_TARGET the Profiles service for segmentation
//                                                    (centric-segmentation; centricd calls
//                                                    itself)
//   --refresh-interval=DUR   CENTRIC_REFRESH_INTERVAL how often segmentation re-evaluates
//                                                    rules reading `now` and RFM (60s)
//   --metrics-listen=H:P     CENTRIC_METRICS_LISTEN  Prometheus text metrics over HTTP at
//                                                    /metrics (off when empty)
//   --segmentation-target=T  CENTRIC_SEGMENTATION_TARGET  the Segmentation service, and
//   --feedback-target=T      CENTRIC_FEEDBACK_TARGET      the Feedback service, for
//                                                    centric-reporting's RebuildRollups
//                                                    (centricd calls itself)
//   --reporting-target=T     CENTRIC_REPORTING_TARGET     the Reporting service, for
//                                                    centric-profiles' ExportProfile (with
//                                                    the two above)
//   --dashboard-listen=H:P   CENTRIC_DASHBOARD_LISTEN     the reporting dashboard over HTTP
//                                                    (off when empty)
//   --demo                                           centricd only: load the generated demo
//                                                    population (libs/demo)
// Transport security and access (docs/SECURITY.md); a binary refuses to start with
// neither --tls-cert nor --insecure:
//   --insecure               CENTRIC_INSECURE=1      plain-text gRPC, for local development
//   --tls-cert=PEM, --tls-key=PEM  CENTRIC_TLS_CERT, CENTRIC_TLS_KEY  this process's
//                                                    certificate chain and key: served, and
//                                                    presented as client certificate to
//                                                    sibling services
//   --tls-ca=PEM             CENTRIC_TLS_CA          CA bundle verifying client certificates
//                                                    (mutual TLS) and sibling servers
//   --tokens-file=PATH       CENTRIC_TOKENS_FILE     "<caller> sha256:<hex>" lines: bearer
//                                                    tokens accepted (reread on change)
//   --policy-file=PATH       CENTRIC_POLICY_FILE     authorization policy (JSON of
//                                                    centric.security.v1.Policy, reread on
//                                                    change)
//   --client-token-file=PATH CENTRIC_CLIENT_TOKEN_FILE  bearer token this process sends to
//                                                    sibling services (reread per call)
//   --health-listen=H:P      CENTRIC_HEALTH_LISTEN   plain-text port for the kubelet's gRPC
//                                                    probes; only grpc.health.v1 answers
//                                                    there without credentials
//   --grpc-service-config=PATH CENTRIC_GRPC_SERVICE_CONFIG  service config JSON (retries,
//                                                    timeouts) for calls to sibling services
#ifndef CENTRIC_LIBS_RUNTIME_CONFIG_H_
#define CENTRIC_LIBS_RUNTIME_CONFIG_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace centric::runtime {

struct Config {
  std::string listen = "127.0.0.1:50051";
  std::string database_url = "sqlite://.centric/centric.db";
  std::string redis_url;
  std::string bus_url;
  bool no_cache = false;
  size_t near_cache_bytes = size_t{256} << 20;
  absl::Duration drain_timeout = absl::Seconds(20);
  int workers = 0;
  bool demo = false;
  std::string profiles_target;
  std::string metrics_listen;
  absl::Duration refresh_interval = absl::Seconds(60);
  // Feedback: the theme taxonomy (format of services/feedback/text/data/themes.tsv);
  // empty means the built-in one.
  std::string themes_file;
  // Reporting: the sources of RebuildRollups and the dashboard's HTTP address.
  std::string segmentation_target;
  std::string feedback_target;
  // Profiles: the Reporting service, for ExportProfile (with the segmentation and
  // feedback targets).
  std::string reporting_target;
  std::string dashboard_listen;
  // Security (see the flag list above).
  bool insecure = false;
  std::string tls_cert;
  std::string tls_key;
  std::string tls_ca;
  std::string tokens_file;
  std::string policy_file;
  std::string client_token_file;
  std::string health_listen;
  std::string grpc_service_config;
};

// Parses argv (argv[0] skipped) over `env`. Errors: INVALID_ARGUMENT naming the flag or
// variable and what it accepts.
absl::StatusOr<Config> LoadConfig(const std::vector<std::string>& args,
                                  const std::map<std::string, std::string>& env);

// The process environment as a map, for LoadConfig.
std::map<std::string, std::string> ProcessEnvironment();

// Usage text listing the flags above.
std::string ConfigUsage(const std::string& program);

// `url` with the password of its user information replaced by "***"
// ("postgresql://app:***@db:5432/centric"), for error messages and logs; unchanged when
// it has none.
std::string RedactUrlPassword(absl::string_view url);

}  // namespace centric::runtime

#endif  // CENTRIC_LIBS_RUNTIME_CONFIG_H_
