#include "services/reporting/dashboard/server.h"

#include <exception>

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
    : source_(std::move(source)),
      clock_(clock),
      server_(std::make_unique<httplib::Server>()),
      background_(*server_) {
  Route();
}

DashboardServer::~DashboardServer() { Stop(); }

void DashboardServer::Route() {
  httplib::Server& s = *server_;
  s.new_task_queue = [] { return new httplib::ThreadPool(kThreads); };
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
}

absl::Status DashboardServer::Start(const std::string& listen) {
  if (started_) return absl::FailedPreconditionError("the dashboard server was already started");
  if (absl::Status status = background_.Start(listen, "--dashboard-listen"); !status.ok()) {
    return status;
  }
  started_ = true;
  runtime::LogInfo("dashboard_listening", {{"address", background_.address()}});
  return absl::OkStatus();
}

void DashboardServer::Stop() { background_.Stop(); }

}  // namespace centric::reporting::dashboard
