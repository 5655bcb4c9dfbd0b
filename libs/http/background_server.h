// Runs an httplib::Server on its own thread at a "host:port" address, the way every
// HTTP endpoint of Centric listens (the /metrics endpoint, the Reporting dashboard).
//
// The port is exclusive: httplib's default socket options add SO_REUSEPORT, which lets
// a second process bind the same port and silently take half the connections (half of
// Prometheus' scrapes would then go to the wrong process); here a taken port is an
// error at start instead.
#ifndef CENTRIC_LIBS_HTTP_BACKGROUND_SERVER_H_
#define CENTRIC_LIBS_HTTP_BACKGROUND_SERVER_H_

#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace httplib {
class Server;
}  // namespace httplib

namespace centric::http {

class BackgroundServer {
 public:
  // `server` has its routes set and must outlive this object.
  explicit BackgroundServer(httplib::Server& server) : server_(server) {}
  ~BackgroundServer() { Stop(); }
  BackgroundServer(const BackgroundServer&) = delete;
  BackgroundServer& operator=(const BackgroundServer&) = delete;

  // Binds `listen` ("127.0.0.1:9090", "[::1]:9090", "0.0.0.0:0" for any free port) and
  // serves until Stop. `what` names the endpoint in errors ("--metrics-listen").
  // Errors: INVALID_ARGUMENT (not host:port), UNAVAILABLE (the port is taken or the
  // address is not local), FAILED_PRECONDITION (already started).
  absl::Status Start(const std::string& listen, absl::string_view what);

  // "host:port" with the port actually bound (as given for the host); empty before Start.
  const std::string& address() const { return address_; }

  // Stops accepting, finishes requests in progress and joins the thread. Idempotent.
  void Stop();

 private:
  httplib::Server& server_;
  std::thread thread_;
  std::string address_;
};

}  // namespace centric::http

#endif  // CENTRIC_LIBS_HTTP_BACKGROUND_SERVER_H_
