#include "libs/http/background_server.h"

#include <sys/socket.h>

#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "httplib.h"

namespace centric::http {
namespace {

struct ListenAddress {
  std::string host;     // as given, e.g. "[::1]"
  std::string bind_to;  // without IPv6 brackets, for bind()
  int port = 0;
};

absl::StatusOr<ListenAddress> ParseListen(const std::string& listen, absl::string_view what) {
  const absl::Status invalid = absl::InvalidArgumentError(
      absl::StrCat(what, ": \"", listen,
                   "\" must be host:port, e.g. 127.0.0.1:9090 ([::1]:9090 for IPv6; port 0: "
                   "any free port)"));
  const size_t colon = listen.rfind(':');
  if (colon == std::string::npos || colon == 0) return invalid;
  ListenAddress address;
  address.host = listen.substr(0, colon);
  address.bind_to = address.host;
  if (address.host.front() == '[') {
    if (address.host.size() < 3 || address.host.back() != ']') return invalid;
    address.bind_to = address.host.substr(1, address.host.size() - 2);
  } else if (address.host.find(':') != std::string::npos) {
    return invalid;  // an IPv6 address needs brackets
  }
  if (!absl::SimpleAtoi(listen.substr(colon + 1), &address.port) || address.port < 0 ||
      address.port > 65535) {
    return invalid;
  }
  return address;
}

}  // namespace

absl::Status BackgroundServer::Start(const std::string& listen, absl::string_view what) {
  if (thread_.joinable()) {
    return absl::FailedPreconditionError(absl::StrCat(what, ": already serving on ", address_));
  }
  auto address = ParseListen(listen, what);
  if (!address.ok()) return address.status();

  server_.set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  const int port =
      address->port == 0
          ? server_.bind_to_any_port(address->bind_to)
          : (server_.bind_to_port(address->bind_to, address->port) ? address->port : -1);
  if (port <= 0) {
    return absl::UnavailableError(absl::StrCat(
        what, ": cannot listen on ", listen, " (port taken, or not an address of this host)"));
  }
  thread_ = std::thread([this] { server_.listen_after_bind(); });
  // stop() only takes effect once the accept loop runs, so a Stop right after Start must
  // not race it: wait for the loop (it starts at once; the bound is a safety net).
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (!server_.is_running() && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(1));
  if (!server_.is_running()) {
    Stop();
    return absl::UnavailableError(absl::StrCat(what, ": the server on ", listen, " did not start"));
  }
  address_ = absl::StrCat(address->host, ":", port);
  return absl::OkStatus();
}

void BackgroundServer::Stop() {
  if (!thread_.joinable()) return;
  server_.stop();
  thread_.join();
}

}  // namespace centric::http
