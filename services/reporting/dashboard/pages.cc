#include "services/reporting/dashboard/pages.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "libs/runtime/resource.h"
#include "libs/stats/kpi.h"
#include "services/reporting/dashboard/svg.h"

namespace centric::reporting::dashboard {

namespace {

constexpr absl::string_view kDash = "—";

constexpr absl::string_view kStyle = R"css(
:root{--ink:#1e293b;--muted:#64748b;--line:#e2e8f0;--good:#15803d;--bad:#b91c1c;
  --neutral:#64748b;--accent:#1d4ed8}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:var(--ink);
  background:#f8fafc}
header.top{background:#0f172a;color:#fff;padding:12px 24px;display:flex;gap:12px;
  align-items:baseline}
header.top a{color:#fff;text-decoration:none;font-weight:600;font-size:16px}
main{max-width:1200px;margin:0 auto;padding:12px 24px 48px}
h1{font-size:22px;margin:12px 0 4px}h2{font-size:17px;margin:28px 0 10px}
h3{font-size:15px;margin:0 0 6px}
.muted,.period{color:var(--muted)}
.tiles{display:grid;grid-template-columns:repeat(auto-fill,minmax(230px,1fr));gap:12px}
.tile,.card{background:#fff;border:1px solid var(--line);border-radius:8px;padding:12px 14px}
.card{margin:0 0 12px;overflow-x:auto}
.tile h3{font-size:13px;font-weight:500;color:var(--muted)}
.tile p{margin:2px 0}
.tile .kpi-value{font-size:26px;font-weight:600}
.kpi-interval,.kpi-sample{color:var(--muted);font-size:12px}
.good{color:var(--good)}.bad{color:var(--bad)}.neutral{color:var(--neutral)}
svg.chart{max-width:100%;height:auto;display:block}
figure{margin:0}figcaption{color:var(--muted);font-size:12px;margin-top:4px}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{padding:5px 8px;border-bottom:1px solid var(--line);text-align:right;white-space:nowrap}
th:first-child,td:first-child{text-align:left}
thead th{color:var(--muted);font-weight:500}
tr.significant td{font-weight:600}
.srm-warning{background:#fef2f2;border:1px solid #fca5a5;color:#7f1d1d;border-radius:6px;
  padding:10px 12px;margin:8px 0}
.state{font-size:12px;border-radius:10px;padding:1px 8px;background:var(--line);font-weight:500}
.state.running{background:#dcfce7;color:#166534}.state.draft{background:#fef9c3;color:#713f12}
dl.design{display:grid;grid-template-columns:max-content 1fr;gap:4px 16px;margin:0}
dl.design dt{color:var(--muted)}dl.design dd{margin:0}
details summary{cursor:pointer;color:var(--muted);margin-top:8px}
a{color:var(--accent)}
)css";

std::string E(absl::string_view text) { return XmlEscape(text); }

std::string Page(absl::string_view title, absl::string_view body) {
  return absl::StrCat(
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>",
      E(title), "</title>\n<link rel=\"icon\" href=\"data:,\">\n<style>", kStyle,
      "</style>\n</head>\n<body>\n<header class=\"top\"><a href=\"/\">Centric</a>"
      "<span>Reporting dashboard</span></header>\n<main>\n",
      body, "\n</main>\n</body>\n</html>\n");
}

// Digits of a non-negative integer with a comma every three.
std::string GroupThousands(absl::string_view digits) {
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

// A formatted number that rounded to zero loses its sign: "-0.0" and "+0.0" are "0.0".
std::string WithoutSignedZero(std::string s) {
  if (!s.empty() && (s[0] == '-' || s[0] == '+') &&
      s.find_first_of("123456789") == std::string::npos) {
    s.erase(0, 1);
  }
  return s;
}

// `v` with `decimals` decimals and an explicit sign (none when it rounds to zero).
std::string Signed(double v, int decimals, absl::string_view suffix = "") {
  return absl::StrCat(WithoutSignedZero(absl::StrFormat("%+.*f", decimals, v)), suffix);
}

// Positive values get a "+" when `with_plus`; none when they round to zero.
std::string Money(double v, bool with_plus = false) {
  std::string s = absl::StrFormat("%.2f", std::abs(v));
  size_t dot = s.find('.');
  const absl::string_view sign = v < 0 ? "-" : with_plus ? "+" : "";
  return WithoutSignedZero(absl::StrCat(sign, GroupThousands(s.substr(0, dot)), s.substr(dot)));
}

std::string Seconds(double seconds, bool with_plus = false) {
  const double a = std::abs(seconds);
  const absl::string_view sign = seconds < 0 ? "-" : with_plus ? "+" : "";
  std::string s;
  if (a < 90) {
    s = absl::StrFormat("%s%.0f s", sign, a);
  } else if (a < 90 * 60) {
    s = absl::StrFormat("%s%.1f min", sign, a / 60);
  } else if (a < 48 * 3600) {
    s = absl::StrFormat("%s%.1f h", sign, a / 3600);
  } else {
    s = absl::StrFormat("%s%.1f d", sign, a / 86400);
  }
  return WithoutSignedZero(std::move(s));
}

std::string Percent(double percent, int decimals = 1) {
  return WithoutSignedZero(absl::StrFormat("%.*f %%", decimals, percent));
}

enum class Unit { kPoints, kPercent, kScore, kSeconds, kCount, kMoney };

Unit UnitOf(v1::Kpi kpi) {
  switch (kpi) {
    case v1::KPI_NPS:
      return Unit::kPoints;
    case v1::KPI_CSAT:
    case v1::KPI_RESPONSE_RATE:
    case v1::KPI_FOLLOW_UP_SLA_COMPLIANCE:
    case v1::KPI_CLOSED_LOOP_RATE:
    case v1::KPI_CHURN_RATE:
      return Unit::kPercent;
    case v1::KPI_TIME_TO_FIRST_CONTACT:
    case v1::KPI_TIME_TO_RESOLUTION:
      return Unit::kSeconds;
    case v1::KPI_ACTIVE_CUSTOMERS:
    case v1::KPI_RESPONSES:
      return Unit::kCount;
    case v1::KPI_REVENUE_PER_CUSTOMER:
    case v1::KPI_HISTORICAL_CLV:
    case v1::KPI_REVENUE:
      return Unit::kMoney;
    default:
      return Unit::kScore;
  }
}

// What a KpiValue's sample_size counts for `kpi` (reporting.proto, docs/REPORTING.md).
absl::string_view SampleNoun(v1::Kpi kpi) {
  switch (kpi) {
    case v1::KPI_NPS:
    case v1::KPI_CSAT:
    case v1::KPI_CES:
    case v1::KPI_RESPONSES:
      return "answers";
    case v1::KPI_RESPONSE_RATE:
      return "invitations";
    case v1::KPI_FOLLOW_UP_SLA_COMPLIANCE:
    case v1::KPI_TIME_TO_FIRST_CONTACT:
    case v1::KPI_TIME_TO_RESOLUTION:
    case v1::KPI_CLOSED_LOOP_RATE:
      return "follow-ups";
    case v1::KPI_REVENUE:
      return "purchases";
    default:
      return "customers";
  }
}

std::string SampleText(v1::Kpi kpi, int64_t sample_size) {
  return absl::StrCat("n = ", FormatCount(sample_size), " ", SampleNoun(kpi));
}

// "95 % interval +38.9 to +45.1" when the value has an interval, else "".
std::string IntervalText(v1::Kpi kpi, const v1::KpiValue& v) {
  if (!v.defined() || v.low() == v.high()) return "";
  return absl::StrCat("95 % interval ", FormatKpiValue(kpi, v.low()), " to ",
                      FormatKpiValue(kpi, v.high()));
}

std::string Day(const google::protobuf::Timestamp& ts) {
  return absl::FormatTime("%Y-%m-%d", runtime::FromTimestamp(ts), absl::UTCTimeZone());
}

std::string TimeElement(const google::protobuf::Timestamp& ts) {
  absl::Time t = runtime::FromTimestamp(ts);
  return absl::StrCat("<time datetime=\"",
                      absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone()), "\">",
                      Day(ts), "</time>");
}

std::string PeriodLabel(v1::Granularity granularity, const google::protobuf::Timestamp& start) {
  if (granularity == v1::GRANULARITY_MONTH) return MonthLabel(runtime::FromTimestamp(start));
  return Day(start);
}

absl::string_view GranularityNoun(v1::Granularity granularity) {
  switch (granularity) {
    case v1::GRANULARITY_DAY:
      return "day";
    case v1::GRANULARITY_WEEK:
      return "week";
    case v1::GRANULARITY_MONTH:
      return "month";
    default:
      return "period";
  }
}

// "segments/vip" → "vip"; channel and touchpoint keys have no collection.
std::string KeyLabel(absl::string_view key) {
  size_t slash = key.find('/');
  return std::string(slash == absl::string_view::npos ? key : key.substr(slash + 1));
}

// "experiments/{id}" → id; any other name is shown as it is.
std::string ExperimentId(absl::string_view name) {
  absl::ConsumePrefix(&name, "experiments/");
  return std::string(name);
}

// Percent-encodes everything but RFC 3986 unreserved characters, for a path segment.
std::string PathSegment(absl::string_view segment) {
  std::string out;
  for (char c : segment) {
    if (absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_' ||
        c == '~') {
      out += c;
    } else {
      absl::StrAppendFormat(&out, "%%%02X", static_cast<unsigned char>(c));
    }
  }
  return out;
}

// ----- Scorecard -----

struct TrendLook {
  absl::string_view arrow;      // "" when there is no trend
  absl::string_view direction;  // CSS class and spoken name
  absl::string_view tone;       // "good", "bad" or "neutral"
};

// A flat trend is neither good nor bad news whatever `improved` says, so it is grey
// rather than red.
TrendLook LookOf(const v1::ScorecardTile& tile) {
  absl::string_view tone = tile.improved() ? "good" : "bad";
  switch (tile.trend()) {
    case v1::ScorecardTile::TREND_UP:
      return {"▲", "up", tone};
    case v1::ScorecardTile::TREND_DOWN:
      return {"▼", "down", tone};
    case v1::ScorecardTile::TREND_FLAT:
      return {"▬", "flat", "neutral"};
    default:
      return {"", "none", "neutral"};
  }
}

std::string Arrow(const TrendLook& look) {
  if (look.arrow.empty()) return "";
  return absl::StrCat("<span class=\"arrow\" role=\"img\" aria-label=\"", look.direction, ", ",
                      look.tone == "good"  ? "good news"
                      : look.tone == "bad" ? "bad news"
                                           : "no change",
                      "\">", look.arrow, "</span>");
}

std::string Tile(const v1::ScorecardTile& tile) {
  const v1::Kpi kpi = tile.kpi();
  const v1::KpiValue& current = tile.current();
  const v1::KpiValue& previous = tile.previous();
  std::string out = absl::StrCat(
      "<article class=\"tile\" data-kpi=\"", E(v1::Kpi_Name(kpi)), "\"><h3 class=\"kpi-name\">",
      E(KpiDisplayName(kpi)), "</h3><p class=\"kpi-value\">",
      current.defined() ? E(FormatKpiValue(kpi, current.value())) : kDash, "</p>");
  std::string interval = IntervalText(kpi, current);
  if (!interval.empty()) absl::StrAppend(&out, "<p class=\"kpi-interval\">", E(interval), "</p>");
  TrendLook look = LookOf(tile);
  absl::StrAppend(&out, "<p class=\"trend ", look.direction, " ", look.tone, "\">", Arrow(look));
  if (current.defined() && previous.defined()) {
    absl::StrAppend(&out, " <span class=\"kpi-change\">", E(FormatKpiChange(kpi, tile.change())),
                    "</span> vs <span class=\"kpi-previous\">",
                    E(FormatKpiValue(kpi, previous.value())), "</span> before");
  } else {
    absl::StrAppend(&out, "No comparison with the previous period");
  }
  absl::StrAppend(&out, "</p><p class=\"kpi-sample\">",
                  current.defined() ? E(SampleText(kpi, current.sample_size())) : "no data",
                  "</p></article>");
  return out;
}

std::string Tiles(const v1::Scorecard& scorecard) {
  if (scorecard.tiles().empty()) return "<p class=\"muted\">No KPIs for this period.</p>";
  std::string out = "<div class=\"tiles\">";
  for (const v1::ScorecardTile& tile : scorecard.tiles()) absl::StrAppend(&out, Tile(tile));
  return absl::StrCat(out, "</div>");
}

std::string PeriodLine(const v1::Scorecard& scorecard) {
  if (!scorecard.has_start_time() || !scorecard.has_end_time()) return "";
  std::string out = absl::StrCat("<p class=\"period\">From ", TimeElement(scorecard.start_time()),
                                 " to ", TimeElement(scorecard.end_time()), " (UTC)");
  if (scorecard.has_previous_start_time()) {
    absl::StrAppend(&out, ", compared with ", TimeElement(scorecard.previous_start_time()), " to ",
                    TimeElement(scorecard.start_time()));
  }
  return absl::StrCat(out, ".</p>");
}

absl::string_view DimensionNoun(v1::Dimension dimension) {
  switch (dimension) {
    case v1::DIMENSION_SEGMENT:
      return "Segment";
    case v1::DIMENSION_PERSONA:
      return "Persona";
    case v1::DIMENSION_CHANNEL:
      return "Channel";
    case v1::DIMENSION_TOUCHPOINT:
      return "Touchpoint";
    case v1::DIMENSION_SURVEY:
      return "Survey";
    default:
      return "All";
  }
}

// The team view: one row per channel or touchpoint, one column per KPI in the order the
// KPIs first appear.
std::string TeamView(const v1::Scorecard& scorecard) {
  std::vector<v1::Kpi> kpis;
  for (const v1::ScorecardRow& row : scorecard.rows()) {
    for (const v1::ScorecardTile& tile : row.tiles()) {
      if (std::find(kpis.begin(), kpis.end(), tile.kpi()) == kpis.end()) kpis.push_back(tile.kpi());
    }
  }
  std::string out =
      "<div class=\"card\"><table class=\"team-view\"><thead><tr><th scope=\"col\">"
      "Channel or touchpoint</th>";
  for (v1::Kpi kpi : kpis) {
    absl::StrAppend(&out, "<th scope=\"col\">", E(KpiDisplayName(kpi)), "</th>");
  }
  absl::StrAppend(&out, "</tr></thead><tbody>");
  for (const v1::ScorecardRow& row : scorecard.rows()) {
    absl::StrAppend(&out, "<tr><th scope=\"row\">", DimensionNoun(row.dimension()), " · ",
                    E(row.key()), "</th>");
    for (v1::Kpi kpi : kpis) {
      auto it = std::find_if(row.tiles().begin(), row.tiles().end(),
                             [kpi](const v1::ScorecardTile& t) { return t.kpi() == kpi; });
      if (it == row.tiles().end() || !it->current().defined()) {
        absl::StrAppend(&out, "<td data-kpi=\"", E(v1::Kpi_Name(kpi)), "\">", kDash, "</td>");
        continue;
      }
      TrendLook look = LookOf(*it);
      absl::StrAppend(
          &out, "<td data-kpi=\"", E(v1::Kpi_Name(kpi)), "\"><span class=\"kpi-value\">",
          E(FormatKpiValue(kpi, it->current().value())), "</span> <span class=\"trend ",
          look.direction, " ", look.tone, "\">", Arrow(look), "</span><br><small class=\"muted\">",
          E(SampleText(kpi, it->current().sample_size())), "</small></td>");
    }
    absl::StrAppend(&out, "</tr>");
  }
  return absl::StrCat(out, "</tbody></table></div>");
}

// ----- KPI series -----

std::string SeriesFigure(const v1::KpiSeries& series) {
  if (series.lines().empty()) return "<p class=\"muted\">No data for this range.</p>";
  const v1::Kpi kpi = series.kpi();
  const v1::KpiLine& line = series.lines(0);
  const absl::string_view period = GranularityNoun(series.granularity());
  std::vector<SeriesPoint> points;
  std::string rows;
  for (const v1::KpiPoint& p : line.points()) {
    const v1::KpiValue& v = p.value();
    SeriesPoint point;
    point.label = PeriodLabel(series.granularity(), p.start_time());
    point.defined = v.defined();
    std::string value = v.defined() ? FormatKpiValue(kpi, v.value()) : std::string(kDash);
    std::string interval = IntervalText(kpi, v);
    if (v.defined()) {
      point.value = v.value();
      point.low = v.low();
      point.high = v.high();
      point.value_text = value;
      point.tooltip =
          absl::StrCat(point.label, ": ", value, interval.empty() ? "" : " (", interval,
                       interval.empty() ? "" : ")", ", ", SampleText(kpi, v.sample_size()));
    }
    absl::StrAppend(&rows, "<tr><th scope=\"row\">", E(point.label), "</th><td>", E(value),
                    "</td><td>", interval.empty() ? kDash : E(interval), "</td><td>",
                    v.defined() ? FormatCount(v.sample_size()) : "0", "</td></tr>");
    points.push_back(std::move(point));
  }
  const std::string name = KpiDisplayName(kpi);
  LineChartOptions options;
  options.title = absl::StrCat(name, " by ", period, " with its 95 % interval");
  std::string out = absl::StrCat("<figure class=\"card\" data-series=\"", E(v1::Kpi_Name(kpi)),
                                 "\">", LineChart(points, options), "<figcaption>", E(name),
                                 " per ", period, "; the band is the 95 % interval.");
  if (line.total().defined()) {
    std::string interval = IntervalText(kpi, line.total());
    absl::StrAppend(&out, " Whole range: <span class=\"series-total\">",
                    E(FormatKpiValue(kpi, line.total().value())), "</span>",
                    interval.empty() ? "" : absl::StrCat(" (", E(interval), ")"), ", ",
                    E(SampleText(kpi, line.total().sample_size())), ".");
  }
  absl::StrAppend(&out,
                  "</figcaption><details><summary>Figures</summary><table><thead><tr>"
                  "<th scope=\"col\">",
                  absl::AsciiStrToUpper(period.substr(0, 1)), period.substr(1),
                  "</th><th scope=\"col\">", E(name),
                  "</th><th scope=\"col\">Interval</th><th scope=\"col\">",
                  absl::AsciiStrToUpper(SampleNoun(kpi).substr(0, 1)), SampleNoun(kpi).substr(1),
                  "</th></tr></thead><tbody>", rows, "</tbody></table></details></figure>");
  return out;
}

std::string BreakdownFigure(const v1::KpiSeries& series) {
  const v1::Kpi kpi = series.kpi();
  std::vector<Bar> bars;
  std::vector<std::string> without_data;
  for (const v1::KpiLine& line : series.lines()) {
    if (line.key().empty()) continue;
    if (!line.total().defined()) {
      without_data.push_back(E(KeyLabel(line.key())));
      continue;
    }
    const v1::KpiValue& total = line.total();
    std::string value = FormatKpiValue(kpi, total.value());
    std::string interval = IntervalText(kpi, total);
    bars.push_back(
        {.label = KeyLabel(line.key()),
         .value = total.value(),
         .value_text = value,
         .note = absl::StrCat("n = ", FormatCount(total.sample_size())),
         .tooltip = absl::StrCat(line.key(), ": ", value,
                                 interval.empty() ? "" : absl::StrCat(" (", interval, ")"), ", ",
                                 SampleText(kpi, total.sample_size()))});
  }
  if (bars.empty() && without_data.empty()) {
    return "<p class=\"muted\">No breakdown for this range.</p>";
  }
  const std::string name = KpiDisplayName(kpi);
  const std::string dimension = absl::AsciiStrToLower(DimensionNoun(series.dimension()));
  BarChartOptions options;
  options.title = absl::StrCat(name, " by ", dimension, " over the range");
  std::string out = absl::StrCat("<figure class=\"card\" data-breakdown=\"",
                                 E(v1::Dimension_Name(series.dimension())), "\">",
                                 BarChart(std::move(bars), options), "<figcaption>", E(name),
                                 " of each ", dimension, " over the whole range, highest first.");
  if (!without_data.empty()) {
    absl::StrAppend(&out, " No ", SampleNoun(kpi), ": ", absl::StrJoin(without_data, ", "), ".");
  }
  return absl::StrCat(out, "</figcaption></figure>");
}

std::string CohortFigure(const v1::CohortRetention& retention) {
  if (retention.cohorts().empty()) return "<p class=\"muted\">No cohorts in this range.</p>";
  std::vector<HeatmapRow> rows;
  size_t columns = 0;
  for (const v1::Cohort& cohort : retention.cohorts()) {
    HeatmapRow row;
    row.label = MonthLabel(runtime::FromTimestamp(cohort.month_start_time()));
    row.note = FormatCount(cohort.customers());
    for (int k = 0; k < cohort.retention_percent_size(); ++k) {
      std::string text = Percent(cohort.retention_percent(k));
      std::string of = k < cohort.retained_size()
                           ? absl::StrCat(" (", FormatCount(cohort.retained(k)), " of ",
                                          FormatCount(cohort.customers()), " customers)")
                           : "";
      row.cells.push_back(
          {.value = cohort.retention_percent(k),
           .text = text,
           .tooltip = absl::StrCat(row.label, " cohort, month ", k, ": ", text, of)});
    }
    columns = std::max(columns, row.cells.size());
    rows.push_back(std::move(row));
  }
  HeatmapOptions options;
  options.title =
      "Cohort retention: percent of each month's new customers who bought again k months later";
  options.row_header = "Cohort";
  options.note_header = "Customers";
  for (size_t k = 0; k < columns; ++k) options.column_labels.push_back(absl::StrCat("M", k));
  return absl::StrCat("<figure class=\"card\">", Heatmap(rows, options),
                      "<figcaption>Rows: customers acquired (first purchase) in a month. Column "
                      "Mk: percent of them with a purchase k months later (M0 is the month of "
                      "acquisition).</figcaption></figure>");
}

// ----- Experiments -----

double AlphaOf(const v1::Experiment& e) {
  return e.alpha() > 0 && e.alpha() < 1 ? e.alpha() : 0.05;
}

// "95 %" for alpha 0.05.
std::string LevelText(double alpha) { return absl::StrFormat("%.3g %%", (1 - alpha) * 100); }

std::string RateText(double rate) { return Percent(rate * 100, 2); }

std::string PointsText(double fraction) { return Signed(fraction * 100, 2, " pp"); }

std::string PValueText(double p) { return p < 0.001 ? "< 0.001" : absl::StrFormat("%.3f", p); }

// "p = 0.725" or "p < 0.001".
std::string PEqualsText(double p) {
  return absl::StrCat("p ", p < 0.001 ? "" : "= ", PValueText(p));
}

std::string WindowText(const google::protobuf::Duration& d) {
  int64_t s = d.seconds();
  if (s > 0 && s % 86400 == 0) return absl::StrCat(s / 86400, " d");
  if (s > 0 && s % 3600 == 0) return absl::StrCat(s / 3600, " h");
  if (s > 0 && s % 60 == 0) return absl::StrCat(s / 60, " min");
  return absl::StrCat(s, " s");
}

std::string MetricText(const v1::ExperimentMetric& m) {
  return absl::StrCat(m.interaction_type(), " within ", WindowText(m.window()));
}

std::string StateBadge(v1::ExperimentState state) {
  switch (state) {
    case v1::EXPERIMENT_STATE_DRAFT:
      return "<span class=\"state draft\">Draft</span>";
    case v1::EXPERIMENT_STATE_RUNNING:
      return "<span class=\"state running\">Running</span>";
    case v1::EXPERIMENT_STATE_STOPPED:
      return "<span class=\"state stopped\">Stopped</span>";
    default:
      return "<span class=\"state\">Unknown state</span>";
  }
}

std::string SrmBanner(const v1::SampleRatioCheck& check) {
  if (!check.mismatch()) return "";
  return absl::StrCat(
      "<div class=\"srm-warning\" role=\"alert\"><strong>Sample ratio mismatch.</strong> "
      "Exposures are not split the way the variant weights say (χ² = ",
      absl::StrFormat("%.2f", check.chi_square()), ", ", check.degrees_of_freedom(),
      check.degrees_of_freedom() == 1 ? " degree" : " degrees", " of freedom, ",
      E(PEqualsText(check.p_value())),
      "). Assignment or exposure logging is broken: do not trust these results until the "
      "cause is found.</div>");
}

// "[+0.16, +1.85]": the interval of the absolute uplift in percentage points; "" without one.
std::string UpliftIntervalText(const v1::MetricResult& r) {
  if (!r.has_absolute_uplift_low() || !r.has_absolute_uplift_high()) return "";
  return absl::StrCat("[", Signed(r.absolute_uplift_low() * 100, 2), ", ",
                      Signed(r.absolute_uplift_high() * 100, 2), "]");
}

// One variant's result for one metric, as a table row.
struct MetricRow {
  std::string variant;
  std::string description;
  const v1::MetricResult* result;
};

std::string MetricTable(const std::vector<MetricRow>& rows, double alpha) {
  std::string out = absl::StrCat(
      "<table class=\"variants\"><thead><tr><th scope=\"col\">Variant</th><th scope=\"col\">"
      "Exposures</th><th scope=\"col\">Conversions</th><th scope=\"col\">Rate</th><th "
      "scope=\"col\">Uplift</th><th scope=\"col\">",
      LevelText(alpha),
      " interval</th><th scope=\"col\">Relative uplift</th><th scope=\"col\">P(beats "
      "control)</th><th scope=\"col\">p-value</th></tr></thead><tbody>");
  for (const MetricRow& row : rows) {
    const v1::MetricResult& r = *row.result;
    std::string interval = UpliftIntervalText(r);
    interval = interval.empty() ? std::string(kDash) : absl::StrCat(interval, " pp");
    std::string relative(kDash);
    if (r.has_relative_uplift()) {
      relative = Signed(r.relative_uplift() * 100, 1, " %");
      if (r.has_relative_uplift_low() && r.has_relative_uplift_high()) {
        absl::StrAppend(&relative, " [", Signed(r.relative_uplift_low() * 100, 1), ", ",
                        Signed(r.relative_uplift_high() * 100, 1), "]");
      }
    }
    absl::StrAppend(
        &out, "<tr data-variant=\"", E(row.variant), "\"",
        r.significant() ? " class=\"significant\"" : "", "><th scope=\"row\"",
        row.description.empty() ? "" : absl::StrCat(" title=\"", E(row.description), "\""), ">",
        E(row.variant), "</th><td>", FormatCount(r.exposures()), "</td><td>",
        FormatCount(r.conversions()), "</td><td class=\"rate\">", E(RateText(r.rate())),
        "</td><td>", r.has_absolute_uplift() ? E(PointsText(r.absolute_uplift())) : kDash,
        "</td><td>", E(interval), "</td><td>", E(relative), "</td><td>",
        r.has_probability_to_beat_control() ? E(Percent(r.probability_to_beat_control() * 100))
                                            : kDash,
        "</td><td>", r.has_p_value() ? E(PValueText(r.p_value())) : kDash,
        r.significant() ? " <strong>significant</strong>" : "", "</td></tr>");
  }
  return absl::StrCat(out, "</tbody></table>");
}

std::string VariantDescription(const v1::Experiment& e, absl::string_view variant) {
  for (const v1::Variant& v : e.variants()) {
    if (v.id() == variant) return v.description();
  }
  return "";
}

std::vector<MetricRow> PrimaryRows(const v1::Experiment& e, const v1::ExperimentResults& r) {
  std::vector<MetricRow> rows;
  for (const v1::VariantResult& v : r.variants()) {
    rows.push_back({v.variant(), VariantDescription(e, v.variant()), &v.primary()});
  }
  return rows;
}

std::string Progress(const v1::Experiment& e, const v1::ExperimentResults& r) {
  if (r.required_exposures_per_variant() <= 0) return "";
  const double mde = e.minimum_detectable_effect() > 0 ? e.minimum_detectable_effect() : 0.01;
  std::string out = absl::StrCat(
      "<p class=\"progress\">Each variant needs ", FormatCount(r.required_exposures_per_variant()),
      " exposures to detect a change of ", absl::StrFormat("%.1f pp", mde * 100), " at ",
      LevelText(AlphaOf(e)), " confidence");
  if (r.remaining_exposures() > 0) {
    absl::StrAppend(&out, "; the smallest variant still needs ",
                    FormatCount(r.remaining_exposures()), " more.</p>");
  } else {
    absl::StrAppend(&out, "; every variant has them.</p>");
  }
  return out;
}

std::string ExperimentTitle(const v1::Experiment& e) {
  return e.display_name().empty() ? ExperimentId(e.name()) : e.display_name();
}

std::string ExperimentSummary(const v1::Experiment& e, const v1::ExperimentResults& r) {
  const std::string id = ExperimentId(e.name());
  return absl::StrCat(
      "<article class=\"card experiment\" data-experiment=\"", E(id),
      "\"><h3><a href=\"/experiments/", E(PathSegment(id)), "\">", E(ExperimentTitle(e)), "</a> ",
      StateBadge(r.state()),
      "</h3><p class=\"muted\">Primary metric: ", E(MetricText(e.primary_metric())),
      e.variants().empty() ? "" : absl::StrCat(" · control: ", E(e.variants(0).id())), "</p>",
      SrmBanner(r.sample_ratio()), MetricTable(PrimaryRows(e, r), AlphaOf(e)), Progress(e, r),
      "</article>");
}

std::string RateFigure(const v1::Experiment& e, const std::vector<MetricRow>& rows,
                       absl::string_view metric) {
  const double alpha = AlphaOf(e);
  std::vector<IntervalRow> plot;
  for (const MetricRow& row : rows) {
    const v1::MetricResult& r = *row.result;
    IntervalRow p;
    p.label = row.variant;
    p.estimate = r.rate() * 100;
    std::string text = RateText(r.rate());
    auto wilson = stats::WilsonInterval(r.conversions(), r.exposures(), alpha);
    if (wilson.ok()) {
      p.has_interval = true;
      p.low = wilson->low * 100;
      p.high = wilson->high * 100;
      absl::StrAppend(&text, absl::StrFormat(" [%.2f, %.2f]", p.low, p.high));
    }
    p.value_text = text;
    p.tooltip = absl::StrCat(row.variant, ": ", text, ", ", FormatCount(r.conversions()), " of ",
                             FormatCount(r.exposures()), " exposures converted");
    plot.push_back(std::move(p));
  }
  IntervalPlotOptions options;
  options.title = absl::StrCat("Conversion rate (", metric, ") by variant with ", LevelText(alpha),
                               " Wilson intervals");
  options.zero_line = false;
  options.tick_suffix = " %";
  return absl::StrCat("<figure class=\"card\">", IntervalPlot(plot, options),
                      "<figcaption>Conversion rate of each variant with its ", LevelText(alpha),
                      " Wilson interval.</figcaption></figure>");
}

std::string UpliftFigure(const v1::Experiment& e, const std::vector<MetricRow>& rows,
                         absl::string_view metric) {
  std::vector<IntervalRow> plot;
  for (const MetricRow& row : rows) {
    const v1::MetricResult& r = *row.result;
    if (!r.has_absolute_uplift()) continue;
    IntervalRow p;
    p.label = row.variant;
    p.estimate = r.absolute_uplift() * 100;
    p.highlight = r.significant();
    p.value_text = PointsText(r.absolute_uplift());
    if (r.has_absolute_uplift_low() && r.has_absolute_uplift_high()) {
      p.has_interval = true;
      p.low = r.absolute_uplift_low() * 100;
      p.high = r.absolute_uplift_high() * 100;
      absl::StrAppend(&p.value_text, " ", UpliftIntervalText(r));
    }
    p.tooltip = absl::StrCat(row.variant, " against the control: ", p.value_text,
                             r.significant() ? ", significant" : ", not significant");
    plot.push_back(std::move(p));
  }
  if (plot.empty()) return "";
  const std::string level = LevelText(AlphaOf(e));
  IntervalPlotOptions options;
  options.title =
      absl::StrCat("Uplift of ", metric, " against the control, in percentage points, with ", level,
                   " intervals");
  options.tick_suffix = " pp";
  return absl::StrCat("<figure class=\"card\">", IntervalPlot(plot, options),
                      "<figcaption>Difference from the control in percentage points with its ",
                      level,
                      " interval; significant variants are drawn in blue.</figcaption></figure>");
}

std::string DesignList(const v1::Experiment& e) {
  std::string variants;
  for (const v1::Variant& v : e.variants()) {
    absl::StrAppend(&variants, variants.empty() ? "" : "<br>", "<strong>", E(v.id()),
                    "</strong> (weight ", v.weight(), ")",
                    v.description().empty() ? "" : absl::StrCat(": ", E(v.description())));
  }
  std::vector<std::string> guardrails;
  for (const v1::ExperimentMetric& m : e.guardrail_metrics())
    guardrails.push_back(E(MetricText(m)));
  const double mde = e.minimum_detectable_effect() > 0 ? e.minimum_detectable_effect() : 0.01;
  const double baseline = e.baseline_rate() > 0 ? e.baseline_rate() : 0.1;
  const double power = e.power() > 0 && e.power() < 1 ? e.power() : 0.8;
  auto item = [](absl::string_view term, absl::string_view html) {
    return absl::StrCat("<dt>", term, "</dt><dd>", html, "</dd>");
  };
  return absl::StrCat(
      "<dl class=\"design card\">", item("Hypothesis", E(e.hypothesis())),
      item("Change", E(e.change())), item("Variants", variants),
      item("Target", e.target_segment().empty() ? "Everyone" : E(e.target_segment())),
      item("Primary metric", E(MetricText(e.primary_metric()))),
      item("Guardrail metrics", guardrails.empty() ? "None" : absl::StrJoin(guardrails, ", ")),
      item("Minimum detectable effect", absl::StrFormat("%.2f pp", mde * 100)),
      item("Baseline rate", E(RateText(baseline))),
      item("Significance level",
           absl::StrFormat("α = %.3g (%s confidence), power %s", AlphaOf(e),
                           E(LevelText(AlphaOf(e))), E(Percent(power * 100, 0)))),
      "</dl>");
}

}  // namespace

std::string FormatCount(int64_t count) {
  // Unsigned magnitude: -INT64_MIN does not fit in int64_t.
  uint64_t magnitude = count < 0 ? 0 - static_cast<uint64_t>(count) : static_cast<uint64_t>(count);
  std::string grouped = GroupThousands(absl::StrCat(magnitude));
  return count < 0 ? absl::StrCat("-", grouped) : grouped;
}

std::string FormatKpiValue(v1::Kpi kpi, double value) {
  if (!std::isfinite(value)) return std::string(kDash);
  switch (UnitOf(kpi)) {
    case Unit::kPoints:
      return Signed(value, 1);
    case Unit::kPercent:
      return Percent(value);
    case Unit::kSeconds:
      return Seconds(value);
    case Unit::kCount:
      return FormatCount(std::llround(value));
    case Unit::kMoney:
      return Money(value);
    case Unit::kScore:
      break;
  }
  return WithoutSignedZero(absl::StrFormat("%.2f", value));
}

std::string FormatKpiChange(v1::Kpi kpi, double change) {
  if (!std::isfinite(change)) return std::string(kDash);
  switch (UnitOf(kpi)) {
    case Unit::kPoints:
      return Signed(change, 1);
    case Unit::kPercent:
      return Signed(change, 1, " pp");
    case Unit::kSeconds:
      return Seconds(change, /*with_plus=*/true);
    case Unit::kCount: {
      const int64_t rounded = std::llround(change);
      return absl::StrCat(rounded > 0 ? "+" : "", FormatCount(rounded));
    }
    case Unit::kMoney:
      return Money(change, /*with_plus=*/true);
    case Unit::kScore:
      break;
  }
  return Signed(change, 2);
}

std::string KpiDisplayName(v1::Kpi kpi) {
  switch (kpi) {
    case v1::KPI_NPS:
      return "NPS";
    case v1::KPI_CSAT:
      return "CSAT";
    case v1::KPI_CES:
      return "Customer effort (CES)";
    case v1::KPI_RESPONSE_RATE:
      return "Response rate";
    case v1::KPI_FOLLOW_UP_SLA_COMPLIANCE:
      return "Follow-up SLA compliance";
    case v1::KPI_TIME_TO_FIRST_CONTACT:
      return "Time to first contact";
    case v1::KPI_TIME_TO_RESOLUTION:
      return "Time to resolution";
    case v1::KPI_CLOSED_LOOP_RATE:
      return "Closed-loop rate";
    case v1::KPI_ACTIVE_CUSTOMERS:
      return "Active customers";
    case v1::KPI_CHURN_RATE:
      return "Churn rate";
    case v1::KPI_REVENUE_PER_CUSTOMER:
      return "Revenue per customer";
    case v1::KPI_HISTORICAL_CLV:
      return "Historical CLV";
    case v1::KPI_REVENUE:
      return "Revenue";
    case v1::KPI_RESPONSES:
      return "Survey responses";
    default:
      return "KPI";
  }
}

std::string RenderOverview(const OverviewData& data) {
  const std::string period(GranularityNoun(data.nps_by_month.granularity()));
  std::string body = absl::StrCat(
      "<h1>Customer experience overview</h1>", PeriodLine(data.scorecard),
      "<section id=\"kpis\"><h2>Headline KPIs</h2>", Tiles(data.scorecard), "</section>",
      "<section id=\"nps-trend\"><h2>NPS by ", period, "</h2>", SeriesFigure(data.nps_by_month),
      "</section><section id=\"nps-segments\"><h2>NPS by segment</h2>",
      BreakdownFigure(data.nps_by_segment),
      "</section><section id=\"cohorts\"><h2>Cohort retention</h2>",
      CohortFigure(data.cohort_retention), "</section>");
  if (!data.scorecard.rows().empty()) {
    absl::StrAppend(&body, "<section id=\"team-view\"><h2>By channel and touchpoint</h2>",
                    TeamView(data.scorecard), "</section>");
  }
  absl::StrAppend(&body, "<section id=\"experiments\"><h2>Experiments</h2>");
  if (data.experiments.empty()) absl::StrAppend(&body, "<p class=\"muted\">No experiments.</p>");
  for (const auto& [experiment, results] : data.experiments) {
    absl::StrAppend(&body, ExperimentSummary(experiment, results));
  }
  absl::StrAppend(&body, "</section>");
  return Page("Overview · Centric reporting", body);
}

std::string RenderExperiment(const v1::Experiment& experiment,
                             const v1::ExperimentResults& results) {
  const v1::Experiment& e = experiment;
  const std::string id = ExperimentId(e.name());
  std::string dates = E(e.name());
  if (e.has_create_time()) absl::StrAppend(&dates, " · created ", TimeElement(e.create_time()));
  if (e.has_start_time()) absl::StrAppend(&dates, " · started ", TimeElement(e.start_time()));
  if (e.has_stop_time()) absl::StrAppend(&dates, " · stopped ", TimeElement(e.stop_time()));
  if (results.has_compute_time()) {
    absl::StrAppend(
        &dates, " · results of ",
        absl::FormatTime("%Y-%m-%d %H:%M UTC", runtime::FromTimestamp(results.compute_time()),
                         absl::UTCTimeZone()));
  }
  const v1::SampleRatioCheck& srm = results.sample_ratio();
  std::string srm_text = SrmBanner(srm);
  if (srm_text.empty() && !results.variants().empty()) {
    srm_text = absl::StrCat("<p class=\"srm-ok muted\">Sample ratio check passed (χ² = ",
                            absl::StrFormat("%.2f", srm.chi_square()), ", ",
                            E(PEqualsText(srm.p_value())), ").</p>");
  }
  const std::string primary = MetricText(e.primary_metric());
  std::vector<MetricRow> rows = PrimaryRows(e, results);
  std::string body = absl::StrCat(
      "<p><a href=\"/\">Overview</a> › Experiments</p><h1 data-experiment=\"", E(id), "\">",
      E(ExperimentTitle(e)), " ", StateBadge(results.state()), "</h1><p class=\"muted\">", dates,
      "</p>", srm_text, "<section id=\"design\"><h2>Design</h2>", DesignList(e),
      "</section><section id=\"primary\"><h2>Primary metric: ", E(primary), "</h2>");
  if (rows.empty()) {
    absl::StrAppend(&body, "<p class=\"muted\">No results yet.</p>");
  } else {
    absl::StrAppend(&body, "<div class=\"card\">", MetricTable(rows, AlphaOf(e)),
                    Progress(e, results), "</div>", RateFigure(e, rows, primary),
                    UpliftFigure(e, rows, primary));
  }
  absl::StrAppend(&body, "</section>");
  if (e.guardrail_metrics_size() > 0) {
    absl::StrAppend(&body, "<section id=\"guardrails\"><h2>Guardrail metrics</h2>");
    for (int g = 0; g < e.guardrail_metrics_size(); ++g) {
      std::vector<MetricRow> guardrail;
      for (const v1::VariantResult& v : results.variants()) {
        if (g < v.guardrails_size()) {
          guardrail.push_back({v.variant(), VariantDescription(e, v.variant()), &v.guardrails(g)});
        }
      }
      absl::StrAppend(&body, "<div class=\"card\"><h3>", E(MetricText(e.guardrail_metrics(g))),
                      "</h3>",
                      guardrail.empty() ? "<p class=\"muted\">No results yet.</p>"
                                        : MetricTable(guardrail, AlphaOf(e)),
                      "</div>");
    }
    absl::StrAppend(&body, "</section>");
  }
  return Page(absl::StrCat(ExperimentTitle(e), " · Experiments · Centric reporting"), body);
}

std::string RenderErrorPage(int http_status, const absl::Status& status) {
  absl::string_view reason = "Error";
  switch (http_status) {
    case 400:
      reason = "Bad Request";
      break;
    case 404:
      reason = "Not Found";
      break;
    case 500:
      reason = "Internal Server Error";
      break;
    case 503:
      reason = "Service Unavailable";
      break;
  }
  std::string message =
      http_status >= 500 && http_status != 503
          ? "Something went wrong on our side; the details are in the service log."
          : std::string(status.message());
  if (http_status == 503 && message.empty()) message = "The data is not available right now.";
  return Page(
      absl::StrCat(http_status, " ", reason),
      absl::StrCat("<h1 class=\"error\">", http_status, " ", reason, "</h1><p class=\"message\">",
                   E(message), "</p>", http_status == 503 ? "<p>Try again in a moment.</p>" : "",
                   "<p><a href=\"/\">Back to the overview</a></p>"));
}

}  // namespace centric::reporting::dashboard
