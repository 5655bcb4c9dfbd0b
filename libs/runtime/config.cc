#include "libs/runtime/config.h"

#include <thread>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

extern char** environ;

namespace centric::runtime {
namespace {

absl::Status CheckUrl(absl::string_view name, absl::string_view value,
                      std::initializer_list<absl::string_view> schemes) {
  for (absl::string_view scheme : schemes) {
    if (absl::StartsWith(value, scheme)) return absl::OkStatus();
  }
  std::string accepted;
  for (absl::string_view scheme : schemes) absl::StrAppend(&accepted, accepted.empty() ? "" : ", ", scheme);
  return absl::InvalidArgumentError(
      absl::StrCat(name, ": \"", RedactUrlPassword(value), "\" must start with one of ",
                   accepted));
}

absl::Status Apply(Config& config, absl::string_view name, absl::string_view value) {
  if (name == "listen") {
    if (value.rfind(':') == absl::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("--listen: \"", value, "\" must be HOST:PORT, e.g. 127.0.0.1:50051"));
    }
    config.listen = std::string(value);
  } else if (name == "database-url") {
    if (auto s = CheckUrl("--database-url", value, {"sqlite:", "postgresql://", "postgres://"});
        !s.ok()) {
      return s;
    }
    config.database_url = std::string(value);
  } else if (name == "redis-url") {
    if (auto s = CheckUrl("--redis-url", value, {"redis://"}); !s.ok()) return s;
    config.redis_url = std::string(value);
  } else if (name == "bus-url") {
    if (auto s = CheckUrl("--bus-url", value, {"redis://"}); !s.ok()) return s;
    config.bus_url = std::string(value);
  } else if (name == "near-cache-bytes") {
    absl::string_view number = value;
    uint64_t unit = 1;
    for (auto [suffix, bytes] : {std::pair{"KiB", uint64_t{1} << 10}, std::pair{"MiB", uint64_t{1} << 20},
                                 std::pair{"GiB", uint64_t{1} << 30}}) {
      if (absl::ConsumeSuffix(&number, suffix)) {
        unit = bytes;
        break;
      }
    }
    uint64_t n = 0;
    if (!absl::SimpleAtoi(number, &n) || n > (uint64_t{64} << 30) / unit) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--near-cache-bytes: \"", value,
          "\" must be a size of at most 64GiB, e.g. 268435456, 256MiB or 0 (off)"));
    }
    config.near_cache_bytes = static_cast<size_t>(n * unit);
  } else if (name == "drain-timeout") {
    absl::Duration d;
    if (!absl::ParseDuration(value, &d) || d < absl::ZeroDuration()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--drain-timeout: \"", value, "\" must be a duration such as 20s or 500ms"));
    }
    config.drain_timeout = d;
  } else if (name == "metrics-listen") {
    if (value.rfind(':') == absl::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--metrics-listen: \"", value, "\" must be HOST:PORT, e.g. 0.0.0.0:9090"));
    }
    config.metrics_listen = std::string(value);
  } else if (name == "profiles-target") {
    if (value.empty() || value.find(':') == absl::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--profiles-target: \"", value, "\" must be a gRPC target such as "
          "dns:///centric-profiles:50051 or 127.0.0.1:50051"));
    }
    config.profiles_target = std::string(value);
  } else if (name == "segmentation-target" || name == "feedback-target" ||
             name == "reporting-target") {
    if (value.empty() || value.find(':') == absl::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--", name, ": \"", value, "\" must be a gRPC target such as dns:///centric-", 
          name.substr(0, name.find('-')), ":50051 or 127.0.0.1:50051"));
    }
    (name == "feedback-target"    ? config.feedback_target
     : name == "reporting-target" ? config.reporting_target
                                  : config.segmentation_target) = std::string(value);
  } else if (name == "dashboard-listen") {
    if (value.rfind(':') == absl::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--dashboard-listen: \"", value, "\" must be HOST:PORT, e.g. 0.0.0.0:8080"));
    }
    config.dashboard_listen = std::string(value);
  } else if (name == "refresh-interval") {
    absl::Duration d;
    if (!absl::ParseDuration(value, &d) || d < absl::Seconds(1)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--refresh-interval: \"", value, "\" must be a duration of at least 1s, e.g. 60s"));
    }
    config.refresh_interval = d;
  } else if (name == "themes-file") {
    if (value.empty()) return absl::InvalidArgumentError("--themes-file: must name a file");
    config.themes_file = std::string(value);
  } else if (name == "tls-cert" || name == "tls-key" || name == "tls-ca" ||
             name == "tokens-file" || name == "policy-file" || name == "client-token-file" ||
             name == "grpc-service-config") {
    if (value.empty()) return absl::InvalidArgumentError(absl::StrCat("--", name, ": must name a file"));
    std::string* field = name == "tls-cert"      ? &config.tls_cert
                         : name == "tls-key"     ? &config.tls_key
                         : name == "tls-ca"      ? &config.tls_ca
                         : name == "tokens-file" ? &config.tokens_file
                         : name == "policy-file" ? &config.policy_file
                         : name == "client-token-file" ? &config.client_token_file
                                                       : &config.grpc_service_config;
    *field = std::string(value);
  } else if (name == "health-listen") {
    if (value.rfind(':') == absl::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--health-listen: \"", value, "\" must be HOST:PORT, e.g. 0.0.0.0:8081"));
    }
    config.health_listen = std::string(value);
  } else if (name == "insecure") {
    if (value != "1" && value != "true" && value != "0" && value != "false") {
      return absl::InvalidArgumentError(
          absl::StrCat("--insecure: \"", value, "\" must be 1, true, 0 or false"));
    }
    config.insecure = value == "1" || value == "true";
  } else if (name == "workers") {
    int n = 0;
    if (!absl::SimpleAtoi(value, &n) || n < 1 || n > 1024) {
      return absl::InvalidArgumentError(
          absl::StrCat("--workers: \"", value, "\" must be an integer from 1 to 1024"));
    }
    config.workers = n;
  } else {
    return absl::InvalidArgumentError(absl::StrCat("unknown flag --", name));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Config> LoadConfig(const std::vector<std::string>& args,
                                  const std::map<std::string, std::string>& env) {
  Config config;
  const std::pair<const char*, const char*> kEnv[] = {
      {"CENTRIC_LISTEN", "listen"},           {"CENTRIC_DATABASE_URL", "database-url"},
      {"CENTRIC_REDIS_URL", "redis-url"},     {"CENTRIC_BUS_URL", "bus-url"},
      {"CENTRIC_DRAIN_TIMEOUT", "drain-timeout"}, {"CENTRIC_WORKERS", "workers"},
      {"CENTRIC_PROFILES_TARGET", "profiles-target"},
      {"CENTRIC_METRICS_LISTEN", "metrics-listen"},
      {"CENTRIC_NEAR_CACHE_BYTES", "near-cache-bytes"},
      {"CENTRIC_REFRESH_INTERVAL", "refresh-interval"},
      {"CENTRIC_THEMES_FILE", "themes-file"},
      {"CENTRIC_SEGMENTATION_TARGET", "segmentation-target"},
      {"CENTRIC_FEEDBACK_TARGET", "feedback-target"},
      {"CENTRIC_REPORTING_TARGET", "reporting-target"},
      {"CENTRIC_DASHBOARD_LISTEN", "dashboard-listen"},
      {"CENTRIC_INSECURE", "insecure"},
      {"CENTRIC_TLS_CERT", "tls-cert"},
      {"CENTRIC_TLS_KEY", "tls-key"},
      {"CENTRIC_TLS_CA", "tls-ca"},
      {"CENTRIC_TOKENS_FILE", "tokens-file"},
      {"CENTRIC_POLICY_FILE", "policy-file"},
      {"CENTRIC_CLIENT_TOKEN_FILE", "client-token-file"},
      {"CENTRIC_HEALTH_LISTEN", "health-listen"},
      {"CENTRIC_GRPC_SERVICE_CONFIG", "grpc-service-config"}};
  for (const auto& [var, flag] : kEnv) {
    auto it = env.find(var);
    if (it == env.end() || it->second.empty()) continue;
    if (absl::Status s = Apply(config, flag, it->second); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(var, " (", s.message(), ")"));
    }
  }
  for (size_t i = 1; i < args.size(); ++i) {
    absl::string_view arg = args[i];
    if (!absl::ConsumePrefix(&arg, "--")) {
      return absl::InvalidArgumentError(absl::StrCat("unexpected argument \"", arg, "\""));
    }
    if (arg == "no-cache") {
      config.no_cache = true;
      continue;
    }
    if (arg == "demo") {
      config.demo = true;
      continue;
    }
    if (arg == "insecure") {
      config.insecure = true;
      continue;
    }
    size_t eq = arg.find('=');
    if (eq == absl::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat("--", arg, " needs a value: --", arg, "=..."));
    }
    if (absl::Status s = Apply(config, arg.substr(0, eq), arg.substr(eq + 1)); !s.ok()) return s;
  }
  if (config.bus_url.empty()) config.bus_url = config.redis_url;
  if (config.tls_cert.empty() != config.tls_key.empty()) {
    return absl::InvalidArgumentError("--tls-cert and --tls-key go together: set both or neither");
  }
  if (config.workers == 0) {
    config.workers = std::max(8, 4 * static_cast<int>(std::thread::hardware_concurrency()));
  }
  return config;
}

std::map<std::string, std::string> ProcessEnvironment() {
  std::map<std::string, std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    absl::string_view kv(*e);
    size_t eq = kv.find('=');
    if (eq != absl::string_view::npos) env[std::string(kv.substr(0, eq))] = std::string(kv.substr(eq + 1));
  }
  return env;
}

std::string ConfigUsage(const std::string& program) {
  return absl::StrCat(
      "usage: ", program,
      " [--listen=HOST:PORT] [--database-url=URL] [--redis-url=URL] [--bus-url=URL]\n"
      "       [--no-cache] [--near-cache-bytes=SIZE] [--drain-timeout=DURATION] [--workers=N]\n"
      "       [--profiles-target=TARGET] [--refresh-interval=DURATION] [--metrics-listen=HOST:PORT]\n"
      "       [--themes-file=PATH] [--segmentation-target=TARGET] [--feedback-target=TARGET]\n"
      "       [--reporting-target=TARGET]\n"
      "       [--dashboard-listen=HOST:PORT]\n"
      "       --insecure | --tls-cert=PEM --tls-key=PEM [--tls-ca=PEM]\n"
      "       [--tokens-file=PATH] [--policy-file=PATH] [--client-token-file=PATH]\n"
      "       [--health-listen=HOST:PORT] [--grpc-service-config=PATH]\n"
      "Environment: CENTRIC_LISTEN, CENTRIC_DATABASE_URL, CENTRIC_REDIS_URL, CENTRIC_BUS_URL,\n"
      "CENTRIC_DRAIN_TIMEOUT, CENTRIC_WORKERS, CENTRIC_PROFILES_TARGET, CENTRIC_REFRESH_INTERVAL,\n"
      "CENTRIC_METRICS_LISTEN, CENTRIC_NEAR_CACHE_BYTES, CENTRIC_THEMES_FILE, CENTRIC_SEGMENTATION_TARGET,\n"
      "CENTRIC_REPORTING_TARGET, "
      "CENTRIC_FEEDBACK_TARGET, CENTRIC_DASHBOARD_LISTEN, CENTRIC_INSECURE, CENTRIC_TLS_CERT,\n"
      "CENTRIC_TLS_KEY, CENTRIC_TLS_CA, CENTRIC_TOKENS_FILE, CENTRIC_POLICY_FILE,\n"
      "CENTRIC_CLIENT_TOKEN_FILE, CENTRIC_HEALTH_LISTEN, CENTRIC_GRPC_SERVICE_CONFIG,\n"
      "CENTRIC_LOG_LEVEL. Flags win over the environment.\n");
}

std::string RedactUrlPassword(absl::string_view url) {
  const size_t scheme_end = url.find("://");
  if (scheme_end == absl::string_view::npos) return std::string(url);
  const size_t authority = scheme_end + 3;
  // The user information ends at the last '@' of the authority; a password may hold '/'
  // or '?' (unescaped), so the authority is taken to run to the last '@' if there is one.
  const size_t at = url.rfind('@');
  if (at == absl::string_view::npos || at < authority) return std::string(url);
  const size_t colon = url.find(':', authority);
  if (colon == absl::string_view::npos || colon > at) return std::string(url);
  return absl::StrCat(url.substr(0, colon + 1), "***", url.substr(at));
}

}  // namespace centric::runtime
