// The Reporting dashboard over HTTP: GET / (the overview), GET /experiments/{id} (one
// experiment) and GET /healthz ("ok"). Pages come from pages.h; the data from a
// DashboardSource the service supplies, called on the server's own threads for every
// request (the source must be thread-safe; it decides what to cache).
//
// A source's error becomes a small HTML page with the matching HTTP status: NOT_FOUND →
// 404, INVALID_ARGUMENT → 400, UNAVAILABLE → 503 (with Retry-After), anything else → 500
// (its message is logged, not shown). An experiment id that is not a resource id
// (runtime::ValidId) is answered 400 without calling the source; other paths are 404.
// Responses carry a Content-Security-Policy that forbids scripts and every external
// resource, matching what the pages are.
#ifndef CENTRIC_SERVICES_REPORTING_DASHBOARD_SERVER_H_
#define CENTRIC_SERVICES_REPORTING_DASHBOARD_SERVER_H_

#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "centric/reporting/v1/reporting.pb.h"
#include "libs/http/background_server.h"
#include "libs/runtime/clock.h"
#include "services/reporting/dashboard/pages.h"

namespace httplib {
class Server;
}

namespace centric::reporting::dashboard {

struct DashboardSource {
  // What the overview shows at `now` (e.g. the scorecard of the month up to now).
  std::function<absl::StatusOr<OverviewData>(absl::Time now)> overview;
  // The experiment "experiments/{experiment_id}" and its latest results. NOT_FOUND when
  // there is no such experiment.
  std::function<absl::StatusOr<std::pair<v1::Experiment, v1::ExperimentResults>>(
      const std::string& experiment_id)>
      experiment;
};

// The HTTP status a source error is shown with (see the file comment); 200 for OK.
int HttpStatusOf(const absl::Status& status);

class DashboardServer {
 public:
  // `clock` gives the `now` passed to source.overview and must outlive the server.
  DashboardServer(DashboardSource source, runtime::Clock& clock);
  // Stops the server.
  ~DashboardServer();
  DashboardServer(const DashboardServer&) = delete;
  DashboardServer& operator=(const DashboardServer&) = delete;

  // Binds `listen` ("host:port"; "[::1]:port" for IPv6; port 0 picks a free port) and
  // serves on background threads until Stop. Returns once connections are accepted.
  // Errors: INVALID_ARGUMENT when `listen` is not host:port; UNAVAILABLE when the
  // address cannot be bound; FAILED_PRECONDITION when called a second time.
  absl::Status Start(const std::string& listen);
  // The bound "host:port" (the real port when 0 was asked for); "" before Start.
  std::string address() const { return background_.address(); }
  // Stops accepting, finishes the requests in flight and joins the threads. Idempotent.
  void Stop();

 private:
  // Sets the pages, headers and thread pool of server_ (once, before any Start).
  void Route();

  DashboardSource source_;
  runtime::Clock& clock_;
  std::unique_ptr<httplib::Server> server_;
  http::BackgroundServer background_;
  bool started_ = false;
};

}  // namespace centric::reporting::dashboard

#endif  // CENTRIC_SERVICES_REPORTING_DASHBOARD_SERVER_H_
