// Server bootstrap shared by every Centric binary: callback-API gRPC server with
// grpc.health.v1 (NOT_SERVING until the binary says storage is ready), server
// reflection, and graceful shutdown on SIGTERM/SIGINT (health flips to NOT_SERVING, new
// calls are refused, in-flight calls drain for up to the drain timeout).
#ifndef CENTRIC_LIBS_RUNTIME_SERVER_H_
#define CENTRIC_LIBS_RUNTIME_SERVER_H_

#include <grpcpp/grpcpp.h>

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

struct ServerOptions {
  std::string listen = "127.0.0.1:0";
  absl::Duration drain_timeout = absl::Seconds(20);
  // Largest request accepted, bytes.
  int max_receive_message_bytes = 16 * 1024 * 1024;
  // When set, every RPC is counted and timed into it (metrics.h); must outlive the server.
  MetricsRegistry* metrics = nullptr;
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
};

}  // namespace centric::runtime

#endif  // CENTRIC_LIBS_RUNTIME_SERVER_H_
