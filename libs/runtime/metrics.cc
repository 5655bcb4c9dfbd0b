#include "libs/runtime/metrics.h"

#include <chrono>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_format.h"

namespace centric::runtime {
namespace {

std::string Escape(const std::string& v) {
  return absl::StrReplaceAll(v, {{"\\", "\\\\"}, {"\"", "\\\""}, {"\n", "\\n"}});
}

std::string LabelText(const MetricLabels& labels, const std::string& extra = "") {
  std::string out;
  for (const auto& [k, v] : labels) {
    absl::StrAppend(&out, out.empty() ? "" : ",", k, "=\"", Escape(v), "\"");
  }
  if (!extra.empty()) absl::StrAppend(&out, out.empty() ? "" : ",", extra);
  return out.empty() ? "" : absl::StrCat("{", out, "}");
}

// Integers print exactly up to 10^15; other values with 15 significant digits.
std::string Number(double v) { return absl::StrFormat("%.15g", v); }

const char* TypeName(MetricsRegistry::Type type) {
  switch (type) {
    case MetricsRegistry::Type::kCounter: return "counter";
    case MetricsRegistry::Type::kGauge: return "gauge";
    default: return "histogram";
  }
}

class RpcMetrics : public grpc::experimental::Interceptor {
 public:
  RpcMetrics(MetricsRegistry& registry, std::string method)
      : registry_(registry), method_(std::move(method)), start_(std::chrono::steady_clock::now()) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::PRE_SEND_STATUS)) {
      // gRPC and absl number their status codes alike.
      std::string name = absl::StatusCodeToString(
          static_cast<absl::StatusCode>(methods->GetSendStatus().error_code()));
      double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
      registry_.Add("centric_rpc_requests_total", {{"grpc_method", method_}, {"grpc_code", name}});
      registry_.Observe("centric_rpc_duration_seconds", {{"grpc_method", method_}}, seconds);
    }
    methods->Proceed();
  }

 private:
  MetricsRegistry& registry_;
  std::string method_;
  std::chrono::steady_clock::time_point start_;
};

class RpcMetricsFactory : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit RpcMetricsFactory(MetricsRegistry& registry) : registry_(registry) {
    registry_.Describe("centric_rpc_requests_total", MetricsRegistry::Type::kCounter,
                       "RPCs finished, by method and gRPC status code.");
    registry_.Describe("centric_rpc_duration_seconds", MetricsRegistry::Type::kHistogram,
                       "Time from the start of an RPC to its status, by method.");
  }
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    return new RpcMetrics(registry_, info->method());
  }

 private:
  MetricsRegistry& registry_;
};

}  // namespace

void MetricsRegistry::Describe(const std::string& name, Type type, const std::string& help,
                               std::vector<double> buckets) {
  absl::MutexLock lock(&mu_);
  if (families_.contains(name)) return;
  Family& f = families_[name];
  f.type = type;
  f.help = help;
  if (type == Type::kHistogram && buckets.empty()) {
    buckets = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
  }
  f.buckets = std::move(buckets);
}

MetricsRegistry::Series& MetricsRegistry::SeriesOf(const std::string& name,
                                                   const MetricLabels& labels) {
  Family& f = families_[name];
  Series& s = f.series[LabelText(labels)];
  if (s.labels.empty()) s.labels = labels;
  if (f.type == Type::kHistogram && s.bucket_counts.size() != f.buckets.size()) {
    s.bucket_counts.assign(f.buckets.size(), 0);
  }
  return s;
}

void MetricsRegistry::Add(const std::string& name, const MetricLabels& labels, double value) {
  absl::MutexLock lock(&mu_);
  SeriesOf(name, labels).value += value;
}

void MetricsRegistry::Set(const std::string& name, const MetricLabels& labels, double value) {
  absl::MutexLock lock(&mu_);
  SeriesOf(name, labels).value = value;
}

void MetricsRegistry::Observe(const std::string& name, const MetricLabels& labels, double value) {
  absl::MutexLock lock(&mu_);
  const std::vector<double>& buckets = families_[name].buckets;
  Series& s = SeriesOf(name, labels);
  for (size_t i = 0; i < buckets.size(); ++i) {
    if (value <= buckets[i]) ++s.bucket_counts[i];
  }
  s.sum += value;
  ++s.count;
}

void MetricsRegistry::AddCollector(std::function<void(MetricsRegistry&)> collector) {
  absl::MutexLock lock(&collectors_mu_);
  collectors_.push_back(std::move(collector));
}

std::string MetricsRegistry::Render() {
  {
    absl::MutexLock lock(&collectors_mu_);
    for (auto& collect : collectors_) collect(*this);
  }
  absl::MutexLock lock(&mu_);
  std::string out;
  for (const auto& [name, f] : families_) {
    absl::StrAppend(&out, "# HELP ", name, " ", f.help, "\n# TYPE ", name, " ", TypeName(f.type), "\n");
    for (const auto& [key, s] : f.series) {
      if (f.type != Type::kHistogram) {
        absl::StrAppend(&out, name, key, " ", Number(s.value), "\n");
        continue;
      }
      for (size_t i = 0; i < f.buckets.size(); ++i) {
        absl::StrAppend(&out, name, "_bucket",
                        LabelText(s.labels, absl::StrCat("le=\"", Number(f.buckets[i]), "\"")), " ",
                        s.bucket_counts[i], "\n");
      }
      absl::StrAppend(&out, name, "_bucket", LabelText(s.labels, "le=\"+Inf\""), " ", s.count, "\n");
      absl::StrAppend(&out, name, "_sum", key, " ", Number(s.sum), "\n");
      absl::StrAppend(&out, name, "_count", key, " ", s.count, "\n");
    }
  }
  return out;
}

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> NewRpcMetricsInterceptor(
    MetricsRegistry& registry) {
  return std::make_unique<RpcMetricsFactory>(registry);
}

}  // namespace centric::runtime
