#include "libs/runtime/server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <signal.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "libs/runtime/admission.h"
#include "libs/runtime/log.h"

namespace centric::runtime {

void BlockTerminationSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

int WaitForTerminationSignal() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  int signal_number = 0;
  sigwait(&set, &signal_number);
  return signal_number;
}

void Server::AddService(grpc::Service* service, std::string full_name) {
  services_.emplace_back(service, std::move(full_name));
}

std::vector<std::string> Server::service_names() const {
  std::vector<std::string> names;
  for (const auto& [service, name] : services_) names.push_back(name);
  return names;
}

absl::Status Server::Start() {
  grpc::EnableDefaultHealthCheckService(true);
  if (options_.reflection) grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options_.listen,
                           options_.credentials != nullptr ? options_.credentials
                                                           : grpc::InsecureServerCredentials(),
                           &port_);
  if (!options_.health_listen.empty()) {
    builder.AddListeningPort(options_.health_listen, grpc::InsecureServerCredentials(),
                             &health_port_);
  }
  builder.SetMaxReceiveMessageSize(options_.max_receive_message_bytes);
  // Accept the keepalive pings clients are configured to send (k8s/ service config).
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 10000);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PING_STRIKES, 0);
  for (auto& [service, name] : services_) builder.RegisterService(service);
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> creators;
  if (options_.metrics != nullptr) creators.push_back(NewRpcMetricsInterceptor(*options_.metrics));
  for (const auto& make : options_.interceptors) creators.push_back(make());
  if (!options_.interceptors.empty()) RequireAdmission(true);
  if (!creators.empty()) builder.experimental().SetInterceptorCreators(std::move(creators));
  server_ = builder.BuildAndStart();
  if (server_ == nullptr || port_ == 0 || (!options_.health_listen.empty() && health_port_ == 0)) {
    server_.reset();
    return absl::UnavailableError(absl::StrCat(
        "cannot listen on ", options_.listen,
        options_.health_listen.empty() ? "" : absl::StrCat(" and ", options_.health_listen)));
  }
  std::string host = options_.listen.substr(0, options_.listen.rfind(':'));
  address_ = absl::StrCat(host, ":", port_);
  if (health_port_ != 0) {
    health_address_ = absl::StrCat(
        options_.health_listen.substr(0, options_.health_listen.rfind(':')), ":", health_port_);
    LogInfo("health_listening", {{"address", health_address_}});
  }
  SetServing(false);
  LogInfo("listening", {{"address", address_}});
  return absl::OkStatus();
}

void Server::SetServing(bool serving) {
  if (server_ == nullptr) return;
  grpc::HealthCheckServiceInterface* health = server_->GetHealthCheckService();
  if (health == nullptr) return;
  health->SetServingStatus("", serving);
  for (auto& [service, name] : services_) health->SetServingStatus(name, serving);
}

void Server::Shutdown() {
  if (server_ == nullptr) return;
  SetServing(false);
  LogInfo("draining", {{"drain_timeout_ms", absl::ToInt64Milliseconds(options_.drain_timeout)}});
  server_->Shutdown(absl::ToChronoTime(absl::Now() + options_.drain_timeout));
  server_->Wait();
  server_.reset();
  LogInfo("stopped");
}

Server::~Server() { Shutdown(); }

}  // namespace centric::runtime
