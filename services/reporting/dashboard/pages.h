// The Reporting dashboard's HTML pages, rendered on the server from the service's
// messages: complete HTML5 documents with inline CSS and inline SVG charts (svg.h), no
// JavaScript and no external resource. Every figure on a page is text in the DOM (in the
// tiles, tables, chart labels or chart tooltips), so pages can be read without a browser
// and tested by their text. Rendering never fails: missing or undefined values are shown
// as "—" / "No data".
//
// Hooks for tests and styling: tiles carry data-kpi="KPI_NPS" (the Kpi enum name) with
// the value in class "kpi-value"; trends are class "trend up|down|flat" plus "good" or
// "bad" (the tile's `improved`); the sample ratio mismatch warning is class "srm-warning".
#ifndef CENTRIC_SERVICES_REPORTING_DASHBOARD_PAGES_H_
#define CENTRIC_SERVICES_REPORTING_DASHBOARD_PAGES_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "centric/reporting/v1/reporting.pb.h"

namespace centric::reporting::dashboard {

// Everything the overview page shows.
struct OverviewData {
  // Headline tiles and the team view (rows per channel and touchpoint).
  v1::Scorecard scorecard;
  // KPI_NPS by month without breakdown: the first line is drawn with its 95 % band.
  v1::KpiSeries nps_by_month;
  // KPI_NPS broken down by segment: one bar per line with a key, from the line's
  // `total`; lines whose total is undefined are listed as having no answers.
  v1::KpiSeries nps_by_segment;
  v1::CohortRetention cohort_retention;
  // The experiments to summarise, each with its latest results.
  std::vector<std::pair<v1::Experiment, v1::ExperimentResults>> experiments;
};

std::string RenderOverview(const OverviewData& data);

// One experiment: design, sample size progress, the sample ratio check, rates with
// Wilson intervals at the experiment's alpha, uplifts against the control with their
// intervals, and the guardrail metrics.
std::string RenderExperiment(const v1::Experiment& experiment,
                             const v1::ExperimentResults& results);

// A small page for a failed request: `http_status` and the status message. For 5xx
// other than 503 the message is replaced by a generic sentence, so internal details
// (queries, hosts) stay in the logs.
std::string RenderErrorPage(int http_status, const absl::Status& status);

// Value formatting, by the Kpi's unit (reporting.proto): NPS signed with one decimal
// ("+42.0", "-3.5"); percents "87.5 %"; CES "2.31"; durations from seconds "45 s",
// "12.5 min", "3.2 h", "2.1 d"; counts "12,345"; money "1,234.50". Not finite: "—".
std::string FormatKpiValue(v1::Kpi kpi, double value);
// A change in the KPI's unit, always signed: NPS "+2.0", percents "+1.2 pp", durations
// "-1.5 h", counts "+120", money "+12.30".
std::string FormatKpiChange(v1::Kpi kpi, double change);
// Short display name, e.g. "NPS", "Time to first contact".
std::string KpiDisplayName(v1::Kpi kpi);
// 1234567 → "1,234,567".
std::string FormatCount(int64_t count);

}  // namespace centric::reporting::dashboard

#endif  // CENTRIC_SERVICES_REPORTING_DASHBOARD_PAGES_H_
