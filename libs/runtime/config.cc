#include "libs/runtime/config.h"

#include <thread>

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
      absl::StrCat(name, ": \"", value, "\" must start with one of ", accepted));
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
  } else if (name == "segmentation-target" || name == "feedback-target") {
    if (value.empty() || value.find(':') == absl::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--", name, ": \"", value, "\" must be a gRPC target such as dns:///centric-", 
          name.substr(0, name.find('-')), ":50051 or 127.0.0.1:50051"));
    }
    (name == "feedback-target" ? config.feedback_target : config.segmentation_target) =
        std::string(value);
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
      {"CENTRIC_REFRESH_INTERVAL", "refresh-interval"},
      {"CENTRIC_THEMES_FILE", "themes-file"},
      {"CENTRIC_SEGMENTATION_TARGET", "segmentation-target"},
      {"CENTRIC_FEEDBACK_TARGET", "feedback-target"},
      {"CENTRIC_DASHBOARD_LISTEN", "dashboard-listen"}};
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
    size_t eq = arg.find('=');
    if (eq == absl::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat("--", arg, " needs a value: --", arg, "=..."));
    }
    if (absl::Status s = Apply(config, arg.substr(0, eq), arg.substr(eq + 1)); !s.ok()) return s;
  }
  if (config.bus_url.empty()) config.bus_url = config.redis_url;
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
      "       [--no-cache] [--drain-timeout=DURATION] [--workers=N]\n"
      "       [--profiles-target=TARGET] [--refresh-interval=DURATION] [--metrics-listen=HOST:PORT]\n"
      "       [--themes-file=PATH] [--segmentation-target=TARGET] [--feedback-target=TARGET]\n"
      "       [--dashboard-listen=HOST:PORT]\n"
      "Environment: CENTRIC_LISTEN, CENTRIC_DATABASE_URL, CENTRIC_REDIS_URL, CENTRIC_BUS_URL,\n"
      "CENTRIC_DRAIN_TIMEOUT, CENTRIC_WORKERS, CENTRIC_PROFILES_TARGET, CENTRIC_REFRESH_INTERVAL,\n"
      "CENTRIC_METRICS_LISTEN, CENTRIC_THEMES_FILE, CENTRIC_SEGMENTATION_TARGET,\n"
      "CENTRIC_FEEDBACK_TARGET, CENTRIC_DASHBOARD_LISTEN,\n"
      "CENTRIC_LOG_LEVEL. Flags win over the environment.\n");
}

}  // namespace centric::runtime
