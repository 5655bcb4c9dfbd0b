#include "services/reporting/dashboard/server.h"

#include <sys/socket.h>

#include <exception>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "httplib.h"
#include "libs/runtime/log.h"
#include "libs/runtime/resource.h"

namespace centric::reporting::dashboard {

namespace {

constexpr char kHtml[] = "text/html; charset=utf-8";

// Few threads: the dashboard has a handful of readers, and each request may run queries.
constexpr size_t kThreads = 4;

// Pages are self-contained: inline CSS, inline SVG, a data: favicon, no script.
constexpr char kContentSecurityPolicy[] =
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'";

struct ListenAddress {
  std::string host;     // as given, e.g. "[::1]"
  std::string bind_to;  // without IPv6 brackets, for bind()
  int port = 0;
};

absl::StatusOr<ListenAddress> ParseListen(const std::string& listen) {
  const absl::Status invalid = absl::InvalidArgumentError(
      absl::StrCat("dashboard listen address \"", listen,
                   "\" must be host:port, e.g. 127.0.0.1:8081 (port 0: any free port)"));
  size_t colon = listen.rfind(':');
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

void SendPage(httplib::Response& res, int status, std::string html) {
  res.status = status;
  res.set_content(std::move(html), kHtml);
}

void SendError(const httplib::Request& req, httplib::Response& res, const absl::Status& status) {
  const int code = HttpStatusOf(status);
  runtime::Log(code >= 500 ? runtime::LogLevel::kError : runtime::LogLevel::kInfo,
               "dashboard_request_failed",
               {{"path", req.path},
                {"status", static_cast<int64_t>(code)},
                {"code", absl::StatusCodeToString(status.code())},
                {"message", status.message()}});
  if (code == 503) res.set_header("Retry-After", "5");
  SendPage(res, code, RenderErrorPage(code, status));
}

}  // namespace

int HttpStatusOf(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kOk:
      return 200;
    case absl::StatusCode::kNotFound:
      return 404;
    case absl::StatusCode::kInvalidArgument:
      return 400;
    case absl::StatusCode::kUnavailable:
      return 503;
    default:
      return 500;
  }
}

DashboardServer::DashboardServer(DashboardSource source, runtime::Clock& clock)
    : source_(std::move(source)), clock_(clock), server_(std::make_unique<httplib::Server>()) {}

DashboardServer::~DashboardServer() { Stop(); }

absl::Status DashboardServer::Start(const std::string& listen) {
  if (started_) return absl::FailedPreconditionError("the dashboard server was already started");
  auto address = ParseListen(listen);
  if (!address.ok()) return address.status();

  httplib::Server& s = *server_;
  s.new_task_queue = [] { return new httplib::ThreadPool(kThreads); };
  // httplib's default also sets SO_REUSEPORT, which lets a second server bind the same
  // port and silently take half the connections; a taken port must be an error instead.
  s.set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  s.set_default_headers({{"Content-Security-Policy", kContentSecurityPolicy},
                         {"X-Content-Type-Options", "nosniff"},
                         {"Referrer-Policy", "no-referrer"},
                         {"Cache-Control", "no-store"}});
  s.Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("ok\n", "text/plain; charset=utf-8");
  });
  s.Get("/", [this](const httplib::Request& req, httplib::Response& res) {
    if (!source_.overview) {
      return SendError(req, res, absl::UnimplementedError("no overview source"));
    }
    absl::StatusOr<OverviewData> data = source_.overview(clock_.Now());
    if (!data.ok()) return SendError(req, res, data.status());
    SendPage(res, 200, RenderOverview(*data));
  });
  s.Get(R"(/experiments/([^/]+))", [this](const httplib::Request& req, httplib::Response& res) {
    const std::string id = req.matches[1];
    if (!runtime::ValidId(id)) {
      return SendError(
          req, res,
          absl::InvalidArgumentError(absl::StrCat(
              "\"", id, "\" is not an experiment id: ids are 1 to ", runtime::kMaxIdBytes,
              " bytes of a-z, 0-9 and '-', starting with a letter")));
    }
    if (!source_.experiment) {
      return SendError(req, res, absl::UnimplementedError("no experiment source"));
    }
    auto found = source_.experiment(id);
    if (!found.ok()) return SendError(req, res, found.status());
    SendPage(res, 200, RenderExperiment(found->first, found->second));
  });
  // Unrouted paths and methods get a page too (httplib calls this for every status >= 400;
  // pages set by the handlers above already have a body and are left alone).
  s.set_error_handler(
      httplib::Server::HandlerWithResponse([](const httplib::Request& req, httplib::Response& res) {
        if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
        absl::Status status =
            res.status == 404
                ? absl::NotFoundError(absl::StrCat("There is no page at ", req.path, "."))
                : absl::InvalidArgumentError(
                      "The dashboard answers GET /, GET /experiments/{id} and GET /healthz.");
        res.set_content(RenderErrorPage(res.status, status), kHtml);
        return httplib::Server::HandlerResponse::Handled;
      }));
  s.set_exception_handler(
      [](const httplib::Request& req, httplib::Response& res, std::exception_ptr ep) {
        std::string what = "unknown exception";
        try {
          std::rethrow_exception(ep);
        } catch (const std::exception& e) {
          what = e.what();
        } catch (...) {
        }
        SendError(req, res, absl::InternalError(what));
      });

  const int port = address->port == 0
                       ? s.bind_to_any_port(address->bind_to)
                       : (s.bind_to_port(address->bind_to, address->port) ? address->port : -1);
  if (port <= 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", listen, " for the dashboard"));
  }
  started_ = true;
  thread_ = std::thread([&s] { s.listen_after_bind(); });
  // stop() only takes effect once the accept loop runs, so Stop right after Start must
  // not race it: wait for the loop (it starts at once; the bound is a safety net).
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (!s.is_running() && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(1));
  if (!s.is_running()) {
    Stop();
    return absl::UnavailableError(
        absl::StrCat("the dashboard server on ", listen, " did not start"));
  }
  address_ = absl::StrCat(address->host, ":", port);
  runtime::LogInfo("dashboard_listening", {{"address", address_}});
  return absl::OkStatus();
}

void DashboardServer::Stop() {
  if (!thread_.joinable()) return;
  server_->stop();
  thread_.join();
}

}  // namespace centric::reporting::dashboard
