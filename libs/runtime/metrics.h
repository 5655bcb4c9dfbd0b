// Prometheus metrics: a registry of counters, gauges and histograms with labels, rendered
// in the text exposition format (version 0.0.4), and a gRPC server interceptor that counts
// every RPC by method and status code and times it.
//
//   centric_rpc_requests_total{grpc_method="/centric.profiles.v1.Profiles/GetProfile",grpc_code="OK"}
//   centric_rpc_duration_seconds_bucket{grpc_method="...",le="0.005"}
//
// Names follow Prometheus conventions: base units (seconds, bytes), counters end in
// _total. Collectors registered with AddCollector set gauges just before each render
// (outbox backlog, cache statistics, segmentation engine size).
#ifndef CENTRIC_LIBS_RUNTIME_METRICS_H_
#define CENTRIC_LIBS_RUNTIME_METRICS_H_

#include <grpcpp/support/server_interceptor.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"

namespace centric::runtime {

using MetricLabels = std::vector<std::pair<std::string, std::string>>;

class MetricsRegistry {
 public:
  enum class Type { kCounter, kGauge, kHistogram };

  // Declares a metric (once; later calls are ignored). Histograms get `buckets` (upper
  // bounds, ascending), by default latency buckets from 1 ms to 10 s.
  void Describe(const std::string& name, Type type, const std::string& help,
                std::vector<double> buckets = {});
  // Counter += value.
  void Add(const std::string& name, const MetricLabels& labels, double value = 1);
  // Gauge = value (also used by collectors for counters read from elsewhere).
  void Set(const std::string& name, const MetricLabels& labels, double value);
  void Observe(const std::string& name, const MetricLabels& labels, double value);
  // Called (outside the registry lock) before every Render.
  void AddCollector(std::function<void(MetricsRegistry&)> collector);
  std::string Render();

 private:
  struct Series {
    MetricLabels labels;
    double value = 0;
    std::vector<uint64_t> bucket_counts;
    double sum = 0;
    uint64_t count = 0;
  };
  struct Family {
    Type type = Type::kCounter;
    std::string help;
    std::vector<double> buckets;
    std::map<std::string, Series> series;  // by rendered label set
  };
  Series& SeriesOf(const std::string& name, const MetricLabels& labels)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  absl::Mutex mu_;
  std::map<std::string, Family> families_ ABSL_GUARDED_BY(mu_);
  absl::Mutex collectors_mu_;
  std::vector<std::function<void(MetricsRegistry&)>> collectors_ ABSL_GUARDED_BY(collectors_mu_);
};

// Counts and times every RPC of a server into `registry` (which must outlive it).
std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> NewRpcMetricsInterceptor(
    MetricsRegistry& registry);

}  // namespace centric::runtime

#endif  // CENTRIC_LIBS_RUNTIME_METRICS_H_
