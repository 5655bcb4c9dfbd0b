// Server-rendered SVG charts for the Reporting dashboard: a line with an error band, sorted
// horizontal bars, a heatmap and an interval plot. Each function returns one <svg> element
// to inline in HTML5. Output depends only on the arguments (no clock, no locale, no
// randomness), so the same data always gives the same bytes. Every string argument is
// text, never markup: it is XML-escaped on the way out.
//
// Values are plotted in whatever unit the caller passes; the caller also passes the text
// written next to each mark (`value_text`), so the charts never guess a unit. Tick labels
// are numbers followed by `tick_suffix` when one is given.
#ifndef CENTRIC_SERVICES_REPORTING_DASHBOARD_SVG_H_
#define CENTRIC_SERVICES_REPORTING_DASHBOARD_SVG_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"

namespace centric::reporting::dashboard {

// `text` with &, <, >, " and ' replaced by entities: safe in XML and HTML text and in
// quoted attribute values.
std::string XmlEscape(absl::string_view text);

// "2026-01": the UTC year and month of `t`.
std::string MonthLabel(absl::Time t);

// Axis ticks at "nice" numbers: multiples of step = 1, 2 or 5 × 10^k.
struct AxisTicks {
  // The first and last tick; min <= every value passed in, max >= every value.
  double min = 0;
  double max = 1;
  double step = 1;
  // min, min + step, ..., max (exact multiples of step).
  std::vector<double> values;
};

// The smallest nice step whose ticks cover [low, high] with at most `max_ticks` ticks
// (at least 2; values below are taken as 2). low > high is swapped; when low == high the
// range is widened around the value so there is still an axis. Non-finite inputs give
// the axis 0..1.
AxisTicks NiceTicks(double low, double high, int max_ticks = 6);

// `value` with as many decimals as `step` needs ("20", "0.5", "0.05"); never "-0".
std::string FormatTick(double value, double step);

// One point of a line chart.
struct SeriesPoint {
  // Label of the x position, e.g. MonthLabel(period start).
  std::string label;
  // False: nothing was measured; the line and band have a gap here.
  bool defined = false;
  double value = 0;
  // The band drawn around the line (e.g. the 95 % interval); equal to `value` when
  // there is none.
  double low = 0;
  double high = 0;
  // Written above the point, e.g. "+42.0"; empty writes nothing.
  std::string value_text;
  // Tooltip (an SVG <title>) of the point, e.g. "2026-01: +42.0 (+38.9 to +45.1)".
  std::string tooltip;
};

struct LineChartOptions {
  // Accessible name of the chart (aria-label and <title>).
  std::string title;
  int width = 760;
  int height = 300;
  // Appended to the y tick labels.
  std::string tick_suffix;
};

// A line through the defined points (a point with a number that is not finite counts as
// undefined) with a shaded band from low to high (class "band",
// one polygon per run of consecutive defined points; a run of one point gets a vertical
// bar, class "band-bar"), a marker per defined point, y gridlines at NiceTicks of the
// lowest low and highest high, a zero line when 0 is inside the axis, and x labels
// (thinned to about 12 when there are more points). No defined point: an empty frame
// that says "No data".
std::string LineChart(absl::Span<const SeriesPoint> points, const LineChartOptions& options);

// One bar of a bar chart.
struct Bar {
  std::string label;
  double value = 0;
  // Written at the end of the bar, e.g. "+45.2".
  std::string value_text;
  // Written in a column on the right, e.g. "n = 1,204".
  std::string note;
  std::string tooltip;
};

struct BarChartOptions {
  std::string title;
  int width = 760;
  // Height of one bar's row.
  int row_height = 30;
  std::string tick_suffix;
};

// Horizontal bars from zero, largest value first (ties by label), so the order never
// depends on the input order. Negative values extend left of the zero line; bars whose
// value is not finite are left out.
std::string BarChart(std::vector<Bar> bars, const BarChartOptions& options);

// One cell of a heatmap.
struct HeatmapCell {
  // Colours the cell, on the options' [min_value, max_value] scale (clamped).
  double value = 0;
  // Written in the cell, e.g. "42.1 %".
  std::string text;
  std::string tooltip;
};

struct HeatmapRow {
  // Written left of the row, e.g. "2026-01".
  std::string label;
  // Written between the label and the cells, e.g. "1,204".
  std::string note;
  // Left-aligned under the column labels; rows may be shorter than others (a cohort
  // triangle).
  std::vector<HeatmapCell> cells;
};

struct HeatmapOptions {
  std::string title;
  // Headers of the columns, e.g. "M0", "M1", ...; missing ones are left blank.
  std::vector<std::string> column_labels;
  // Header above the row labels and above the notes.
  std::string row_header;
  std::string note_header;
  double min_value = 0;
  double max_value = 100;
  int cell_width = 62;
  int cell_height = 28;
};

// A grid of rect class="cell" (one per cell, in row order), each with its text and
// tooltip. Colours go from pale to dark blue with the square root of the value's
// position on the scale, so small percentages still differ visibly.
std::string Heatmap(absl::Span<const HeatmapRow> rows, const HeatmapOptions& options);

// One row of an interval plot.
struct IntervalRow {
  std::string label;
  double estimate = 0;
  // False: only the estimate is drawn (e.g. the control of an uplift plot has none).
  bool has_interval = false;
  double low = 0;
  double high = 0;
  // Written on the right, e.g. "+1.20 pp [+0.40, +2.00]".
  std::string value_text;
  std::string tooltip;
  // Drawn in the accent colour (e.g. a significant result).
  bool highlight = false;
};

struct IntervalPlotOptions {
  std::string title;
  int width = 760;
  int row_height = 34;
  // Draws a line at 0 and keeps 0 on the axis.
  bool zero_line = true;
  std::string tick_suffix;
};

// One row per entry, in the given order: a horizontal line from low to high with end
// caps (class "ci") and a dot at the estimate (class "estimate"). A number that is not
// finite is not drawn; the row keeps its label and value text.
std::string IntervalPlot(absl::Span<const IntervalRow> rows, const IntervalPlotOptions& options);

}  // namespace centric::reporting::dashboard

#endif  // CENTRIC_SERVICES_REPORTING_DASHBOARD_SVG_H_
