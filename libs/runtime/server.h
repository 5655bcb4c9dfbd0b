// Server bootstrap shared by every Centric binary: callback-API gRPC server with
// grpc.health.v1 (NOT_SERVING until the binary says storage is ready), server
// reflection, and graceful shutdown on SIGTERM/SIGINT (health flips to NOT_SERVING, new
// calls are refused, in-flight calls drain for up to the drain timeout).
#ifndef CENTRIC_LIBS_RUNTIME_SERVER_H_
#define CENTRIC_LIBS_RUNTIME_SERVER_H_

#include <grpcpp/grpcpp.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"

#include "libs/runtime/metrics.h"

namespace centric::runtime {

// Blocks SIGTERM, SIGINT and SIGPIPE in the calling thread and every thread it creates
// later. Call first thing in main, before gRPC starts threads.
void BlockTerminationSignals();

// Waits for SIGTERM or SIGINT (after BlockTerminationSignals) and returns its number.
int WaitForTerminationSignal();

// Largest response the suite's own clients accept, bytes: sibling channels
// (security::NewChannel) and centricctl. Above gRPC's 4 MiB default because
// ExportProfile gathers every service's data about one person into one message.
inline constexpr int kMaxResponseBytes = 64 * 1024 * 1024;

struct ServerOptions {
  std::string listen = "127.0.0.1:0";
  absl::Duration drain_timeout = absl::Seconds(20);
  // Largest request accepted, bytes.
  int max_receive_message_bytes = 16 * 1024 * 1024;
  // When set, every RPC is counted and timed into it (metrics.h); must outlive the server.
  MetricsRegistry* metrics = nullptr;
  // Credentials of the listening port; plain text when null.
  std::shared_ptr<grpc::ServerCredentials> credentials = nullptr;
  // A second, plain-text port for the kubelet's gRPC health probes (empty: none). Every
  // service answers there too, so the security interceptor must refuse unauthenticated
  // calls other than grpc.health.v1.
  std::string health_listen = "";
  // Interceptors run after the metrics one (e.g. libs/security's); when any is given,
  // RequireAdmission(true) is set at Start.
  std::vector<std::function<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>()>>
      interceptors = {};
  // Serve grpc.reflection (schemas only, no data).
  bool reflection = true;
};

class Server {
 public:
  explicit Server(ServerOptions options) : options_(std::move(options)) {}
  ~Server();

  // `service` must outlive the server. `full_name` (e.g. "centric.profiles.v1.Profiles")
  // gets its own health status.
  void AddService(grpc::Service* service, std::string full_name);

  // Binds and starts serving; health is NOT_SERVING for every service until
  // SetServing(true). Logs {"event":"listening","address":"127.0.0.1:PORT"}.
  // Errors: UNAVAILABLE if the address cannot be bound.
  absl::Status Start();
  // "HOST:PORT" actually bound.
  const std::string& address() const { return address_; }
  int port() const { return port_; }
  // The health port actually bound ("" without one).
  const std::string& health_address() const { return health_address_; }
  // Full names of the services added, e.g. "centric.profiles.v1.Profiles".
  std::vector<std::string> service_names() const;

  void SetServing(bool serving);

  // Graceful stop: NOT_SERVING, refuse new calls, wait for in-flight calls up to the
  // drain timeout, then cancel what is left.
  void Shutdown();

 private:
  ServerOptions options_;
  std::vector<std::pair<grpc::Service*, std::string>> services_;
  std::unique_ptr<grpc::Server> server_;
  std::string address_;
  int port_ = 0;
  std::string health_address_;
  int health_port_ = 0;
};

}  // namespace centric::runtime

#endif  // CENTRIC_LIBS_RUNTIME_SERVER_H_
