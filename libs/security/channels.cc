#include "libs/security/channels.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "libs/runtime/log.h"
#include "libs/runtime/server.h"

namespace centric::security {
namespace {

// Sends the token of --client-token-file as "authorization: Bearer ..." on every call,
// reading the file again when it changed (a rotated Secret).
class TokenFilePlugin final : public grpc::MetadataCredentialsPlugin {
 public:
  explicit TokenFilePlugin(std::string path) : path_(std::move(path)) {}
  grpc::Status GetMetadata(grpc::string_ref, grpc::string_ref, const grpc::AuthContext&,
                           std::multimap<grpc::string, grpc::string>* metadata) override {
    auto token = ReadFile(path_);
    if (!token.ok()) {
      return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                          absl::StrCat("--client-token-file: ", token.status().message()));
    }
    metadata->emplace("authorization",
                      absl::StrCat("Bearer ", absl::StripAsciiWhitespace(*token)));
    return grpc::Status::OK;
  }

 private:
  const std::string path_;
};

std::string ReadOrLog(const std::string& path, const char* flag) {
  if (path.empty()) return "";
  auto text = ReadFile(path);
  if (!text.ok()) {
    runtime::LogError("credentials_unreadable", {{"flag", flag}, {"error", text.status().ToString()}});
    return "";
  }
  return *text;
}

}  // namespace

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    int error = errno;
    std::string reason = std::strerror(error);
    if (error == EACCES) return absl::PermissionDeniedError(absl::StrCat(path, ": ", reason));
    return absl::NotFoundError(absl::StrCat(path, ": ", reason));
  }
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

absl::Status CheckTransportSecurity(const runtime::Config& config) {
  if (config.tls_cert.empty() && !config.insecure) {
    return absl::InvalidArgumentError(
        "no transport security: set --tls-cert and --tls-key (CENTRIC_TLS_CERT, "
        "CENTRIC_TLS_KEY; with --tls-ca for mutual TLS), or pass --insecure (CENTRIC_INSECURE=1) "
        "for local development");
  }
  for (const auto& [flag, path] :
       {std::pair<const char*, const std::string&>{"--tls-cert", config.tls_cert},
        {"--tls-key", config.tls_key},
        {"--tls-ca", config.tls_ca},
        {"--client-token-file", config.client_token_file},
        {"--grpc-service-config", config.grpc_service_config}}) {
    if (path.empty()) continue;
    if (auto text = ReadFile(path); !text.ok()) {
      return absl::Status(text.status().code(), absl::StrCat(flag, ": ", text.status().message()));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ServerCredentials(
    const runtime::Config& config) {
  if (config.tls_cert.empty()) return grpc::InsecureServerCredentials();
  auto cert = ReadFile(config.tls_cert);
  if (!cert.ok()) return cert.status();
  auto key = ReadFile(config.tls_key);
  if (!key.ok()) return key.status();
  grpc::SslServerCredentialsOptions options(
      config.tls_ca.empty() ? GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE
                            : GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY);
  if (!config.tls_ca.empty()) {
    auto ca = ReadFile(config.tls_ca);
    if (!ca.ok()) return ca.status();
    options.pem_root_certs = *ca;
  }
  options.pem_key_cert_pairs.push_back({*key, *cert});
  return grpc::SslServerCredentials(options);
}

std::shared_ptr<grpc::Channel> NewChannel(const runtime::Config& config, const std::string& target) {
  grpc::ChannelArguments args;
  args.SetLoadBalancingPolicyName("round_robin");
  args.SetMaxReceiveMessageSize(runtime::kMaxResponseBytes);
  if (!config.grpc_service_config.empty()) {
    std::string json = ReadOrLog(config.grpc_service_config, "--grpc-service-config");
    if (!json.empty()) args.SetServiceConfigJSON(json);
  }
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  if (config.tls_cert.empty() && config.tls_ca.empty()) {
    credentials = grpc::InsecureChannelCredentials();
  } else {
    grpc::SslCredentialsOptions options;
    options.pem_root_certs = ReadOrLog(config.tls_ca, "--tls-ca");
    options.pem_cert_chain = ReadOrLog(config.tls_cert, "--tls-cert");
    options.pem_private_key = ReadOrLog(config.tls_key, "--tls-key");
    credentials = grpc::SslCredentials(options);
    if (!config.client_token_file.empty()) {
      credentials = grpc::CompositeChannelCredentials(
          credentials, grpc::MetadataCredentialsFromPlugin(
                           std::make_unique<TokenFilePlugin>(config.client_token_file)));
    }
  }
  return grpc::CreateCustomChannel(target, credentials, args);
}

}  // namespace centric::security
