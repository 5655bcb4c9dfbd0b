#include "services/reporting/dashboard/svg.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace centric::reporting::dashboard {

namespace {

constexpr absl::string_view kFont = "system-ui, -apple-system, 'Segoe UI', sans-serif";
constexpr absl::string_view kInk = "#1e293b";
constexpr absl::string_view kMuted = "#64748b";
constexpr absl::string_view kGrid = "#e2e8f0";
constexpr absl::string_view kAccent = "#1d4ed8";
constexpr absl::string_view kBand = "#93c5fd";
constexpr absl::string_view kNegative = "#ea580c";

// Coordinates with one decimal: finer than a pixel, and stable text.
std::string Num(double v) {
  std::string s = absl::StrFormat("%.1f", v);
  return s == "-0.0" ? "0.0" : s;
}

// Maps the domain [d0, d1] linearly onto [r0, r1].
struct Scale {
  double d0, d1, r0, r1;
  double operator()(double v) const {
    if (d1 == d0) return (r0 + r1) / 2;
    return r0 + (v - d0) * (r1 - r0) / (d1 - d0);
  }
};

std::string SvgOpen(int width, int height, absl::string_view css_class, absl::string_view title) {
  std::string escaped = XmlEscape(title);
  return absl::StrCat("<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart ", css_class,
                      "\" viewBox=\"0 0 ", width, " ", height, "\" width=\"", width, "\" height=\"",
                      height, "\" role=\"img\" aria-label=\"", escaped, "\" font-family=\"", kFont,
                      "\" font-size=\"12\" fill=\"", kInk, "\"><title>", escaped, "</title>");
}

std::string Tooltip(absl::string_view tooltip) {
  return tooltip.empty() ? "" : absl::StrCat("<title>", XmlEscape(tooltip), "</title>");
}

// anchor: "start", "middle" or "end".
std::string Text(double x, double y, absl::string_view css_class, absl::string_view anchor,
                 absl::string_view text, absl::string_view extra_attributes = "") {
  return absl::StrCat("<text class=\"", css_class, "\" x=\"", Num(x), "\" y=\"", Num(y),
                      "\" text-anchor=\"", anchor, "\"", extra_attributes, ">", XmlEscape(text),
                      "</text>");
}

std::string Line(double x1, double y1, double x2, double y2, absl::string_view css_class,
                 absl::string_view stroke, absl::string_view extra_attributes = "") {
  return absl::StrCat("<line class=\"", css_class, "\" x1=\"", Num(x1), "\" y1=\"", Num(y1),
                      "\" x2=\"", Num(x2), "\" y2=\"", Num(y2), "\" stroke=\"", stroke, "\"",
                      extra_attributes, "/>");
}

// At most `max_chars` characters (UTF-8 code points), the last one "…" when cut.
std::string Shorten(absl::string_view text, size_t max_chars) {
  auto starts_char = [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; };
  if (static_cast<size_t>(std::count_if(text.begin(), text.end(), starts_char)) <= max_chars) {
    return std::string(text);
  }
  size_t chars = 0;
  size_t cut = 0;
  while (cut < text.size() && (!starts_char(text[cut]) || chars++ < max_chars - 1)) ++cut;
  return absl::StrCat(text.substr(0, cut), "…");
}

// Vertical gridlines and tick labels below a horizontal axis.
std::string VerticalGrid(const AxisTicks& ticks, const Scale& x, double top, double bottom,
                         absl::string_view suffix) {
  std::string out;
  for (double v : ticks.values) {
    absl::StrAppend(&out, Line(x(v), top, x(v), bottom, "grid", kGrid),
                    Text(x(v), bottom + 16, "tick tick-x", "middle",
                         absl::StrCat(FormatTick(v, ticks.step), suffix),
                         absl::StrCat(" fill=\"", kMuted, "\"")));
  }
  return out;
}

std::string ZeroLine(const AxisTicks& ticks, const Scale& x, double top, double bottom) {
  if (ticks.min > 0 || ticks.max < 0) return "";
  return Line(x(0), top, x(0), bottom, "zero", kMuted, " stroke-width=\"1.5\"");
}

std::string NoData(int width, int height) {
  return Text(width / 2.0, height / 2.0, "no-data", "middle", "No data",
              absl::StrCat(" fill=\"", kMuted, "\""));
}

// The exact value k · step for a step m · 10^e: dividing by 10^-e for negative e keeps
// 0.1-style steps exact where multiplying by 10^e would not.
double TickValue(int64_t k, double mantissa, int exponent) {
  double v = exponent < 0 ? static_cast<double>(k) * mantissa / std::pow(10.0, -exponent)
                          : static_cast<double>(k) * mantissa * std::pow(10.0, exponent);
  return v == 0 ? 0.0 : v;
}

}  // namespace

std::string XmlEscape(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string MonthLabel(absl::Time t) { return absl::FormatTime("%Y-%m", t, absl::UTCTimeZone()); }

AxisTicks NiceTicks(double low, double high, int max_ticks) {
  if (!std::isfinite(low) || !std::isfinite(high)) {
    low = 0;
    high = 1;
  }
  if (low > high) std::swap(low, high);
  if (low == high) {
    double pad = low == 0 ? 1 : std::abs(low) * 0.1;
    low -= pad;
    high += pad;
  }
  // Two ticks cannot cover a range that straddles zero at multiples of a step.
  max_ticks = std::max(max_ticks, 3);
  int exponent = static_cast<int>(std::floor(std::log10((high - low) / (max_ticks - 1)))) - 1;
  AxisTicks ticks;
  for (int e = exponent; e < exponent + 40; ++e) {
    for (double mantissa : {1.0, 2.0, 5.0}) {
      double step = TickValue(1, mantissa, e);
      // Tick indexes must fit int64_t; a larger step comes.
      if (std::abs(low / step) > 1e15 || std::abs(high / step) > 1e15) continue;
      auto first = static_cast<int64_t>(std::floor(low / step + 1e-9));
      if (TickValue(first, mantissa, e) > low) --first;
      auto last = static_cast<int64_t>(std::ceil(high / step - 1e-9));
      if (TickValue(last, mantissa, e) < high) ++last;
      if (last - first + 1 > max_ticks) continue;
      ticks.step = step;
      for (int64_t k = first; k <= last; ++k) ticks.values.push_back(TickValue(k, mantissa, e));
      ticks.min = ticks.values.front();
      ticks.max = ticks.values.back();
      return ticks;
    }
  }
  // Not reached for finite input: some step in 40 decades covers any finite range.
  ticks.min = low;
  ticks.max = high;
  ticks.step = high - low;
  ticks.values = {low, high};
  return ticks;
}

std::string FormatTick(double value, double step) {
  int decimals = 0;
  if (step > 0 && step < 1) decimals = static_cast<int>(std::ceil(-std::log10(step) - 1e-9));
  std::string s = absl::StrFormat("%.*f", decimals, value);
  if (s[0] == '-' && s.find_first_not_of("-0.") == std::string::npos) s.erase(0, 1);
  return s;
}

std::string LineChart(absl::Span<const SeriesPoint> points, const LineChartOptions& options) {
  const int w = options.width;
  const int h = options.height;
  std::string out = SvgOpen(w, h, "line-chart", options.title);
  // Points drawn: defined ones with finite numbers (anything else is a gap).
  std::vector<bool> drawn;
  double lowest = 0;
  double highest = 0;
  bool any = false;
  for (const SeriesPoint& p : points) {
    drawn.push_back(p.defined && std::isfinite(p.value) && std::isfinite(p.low) &&
                    std::isfinite(p.high));
    if (!drawn.back()) continue;
    double lo = std::min({p.low, p.value, p.high});
    double hi = std::max({p.low, p.value, p.high});
    lowest = any ? std::min(lowest, lo) : lo;
    highest = any ? std::max(highest, hi) : hi;
    any = true;
  }
  if (!any) return absl::StrCat(out, NoData(w, h), "</svg>");

  const double left = 60, right = w - 20.0, top = 26, bottom = h - 36.0;
  AxisTicks ticks = NiceTicks(lowest, highest, 6);
  Scale y{ticks.min, ticks.max, bottom, top};
  const size_t n = points.size();
  auto x = [&](size_t i) {
    const double inner_left = left + 14, inner_right = right - 14;
    return n == 1 ? (inner_left + inner_right) / 2
                  : inner_left + static_cast<double>(i) * (inner_right - inner_left) / (n - 1);
  };

  for (double v : ticks.values) {
    absl::StrAppend(&out, Line(left, y(v), right, y(v), "grid", kGrid),
                    Text(left - 8, y(v) + 4, "tick tick-y", "end",
                         absl::StrCat(FormatTick(v, ticks.step), options.tick_suffix),
                         absl::StrCat(" fill=\"", kMuted, "\"")));
  }
  if (ticks.min < 0 && ticks.max > 0) {
    absl::StrAppend(&out, Line(left, y(0), right, y(0), "zero", kMuted, " stroke-width=\"1.5\""));
  }
  const size_t label_every = (n + 11) / 12;
  for (size_t i = 0; i < n; i += label_every) {
    absl::StrAppend(&out, Text(x(i), bottom + 20, "tick tick-x", "middle", points[i].label,
                               absl::StrCat(" fill=\"", kMuted, "\"")));
  }

  // Runs of consecutive drawn points: each gets its own band and line, so a gap in the
  // data is a gap in the chart rather than a line drawn across it.
  std::string bands, lines;
  for (size_t a = 0; a < n;) {
    if (!drawn[a]) {
      ++a;
      continue;
    }
    size_t b = a;
    while (b + 1 < n && drawn[b + 1]) ++b;
    if (a == b) {
      absl::StrAppend(&bands, Line(x(a), y(points[a].low), x(a), y(points[a].high), "band-bar",
                                   kBand, " stroke-width=\"6\" stroke-linecap=\"round\""));
    } else {
      std::string polygon, polyline;
      for (size_t i = a; i <= b; ++i) {
        absl::StrAppend(&polygon, polygon.empty() ? "" : " ", Num(x(i)), ",",
                        Num(y(points[i].high)));
        absl::StrAppend(&polyline, polyline.empty() ? "" : " ", Num(x(i)), ",",
                        Num(y(points[i].value)));
      }
      for (size_t i = b + 1; i-- > a;) {
        absl::StrAppend(&polygon, " ", Num(x(i)), ",", Num(y(points[i].low)));
      }
      absl::StrAppend(&bands, "<polygon class=\"band\" points=\"", polygon, "\" fill=\"", kBand,
                      "\" fill-opacity=\"0.45\" stroke=\"none\"/>");
      absl::StrAppend(&lines, "<polyline class=\"line\" points=\"", polyline,
                      "\" fill=\"none\" stroke=\"", kAccent,
                      "\" stroke-width=\"2\" stroke-linejoin=\"round\"/>");
    }
    a = b + 1;
  }
  absl::StrAppend(&out, bands, lines);
  for (size_t i = 0; i < n; ++i) {
    const SeriesPoint& p = points[i];
    if (!drawn[i]) continue;
    absl::StrAppend(&out, "<circle class=\"point\" cx=\"", Num(x(i)), "\" cy=\"", Num(y(p.value)),
                    "\" r=\"3.5\" fill=\"", kAccent, "\" stroke=\"#ffffff\" stroke-width=\"1.5\">",
                    Tooltip(p.tooltip), "</circle>");
    if (!p.value_text.empty()) {
      absl::StrAppend(&out, Text(x(i), y(std::max(p.high, p.value)) - 7, "value", "middle",
                                 p.value_text, " font-size=\"11\""));
    }
  }
  return absl::StrCat(out, "</svg>");
}

std::string BarChart(std::vector<Bar> bars, const BarChartOptions& options) {
  bars.erase(std::remove_if(bars.begin(), bars.end(),
                            [](const Bar& b) { return !std::isfinite(b.value); }),
             bars.end());
  std::sort(bars.begin(), bars.end(), [](const Bar& a, const Bar& b) {
    if (a.value != b.value) return a.value > b.value;
    return a.label < b.label;
  });
  const int w = options.width;
  const double row = options.row_height;
  const double top = 10;
  const double bottom = top + row * static_cast<double>(std::max<size_t>(bars.size(), 1));
  const int h = static_cast<int>(bottom + 30);
  std::string out = SvgOpen(w, h, "bar-chart", options.title);
  if (bars.empty()) return absl::StrCat(out, NoData(w, h), "</svg>");

  double lowest = 0, highest = 0;
  for (const Bar& b : bars) {
    lowest = std::min(lowest, b.value);
    highest = std::max(highest, b.value);
  }
  AxisTicks ticks = NiceTicks(lowest, highest, 6);
  // Label column, then room for a value left of negative bars, the plot, room for a
  // value right of positive bars, and the note column.
  const double label_right = 168;
  const double left = label_right + 10 + (ticks.min < 0 ? 56 : 0);
  const double note_left = w - 100.0;
  const double right = note_left - 64;
  Scale x{ticks.min, ticks.max, left, right};
  absl::StrAppend(&out, VerticalGrid(ticks, x, top, bottom, options.tick_suffix));
  for (size_t i = 0; i < bars.size(); ++i) {
    const Bar& b = bars[i];
    const double center = top + row * (static_cast<double>(i) + 0.5);
    const double bar_height = row * 0.62;
    const double x0 = x(0), x1 = x(b.value);
    absl::StrAppend(&out, "<g class=\"bar-row\">", Tooltip(b.tooltip.empty() ? b.label : b.tooltip),
                    Text(label_right, center + 4, "label", "end", Shorten(b.label, 24)),
                    "<rect class=\"bar\" x=\"", Num(std::min(x0, x1)), "\" y=\"",
                    Num(center - bar_height / 2), "\" width=\"", Num(std::abs(x1 - x0)),
                    "\" height=\"", Num(bar_height), "\" rx=\"2\" fill=\"",
                    b.value < 0 ? kNegative : kAccent, "\"/>");
    if (b.value < 0) {
      absl::StrAppend(&out, Text(x1 - 6, center + 4, "value", "end", b.value_text));
    } else {
      absl::StrAppend(&out, Text(x1 + 6, center + 4, "value", "start", b.value_text));
    }
    absl::StrAppend(&out,
                    Text(note_left + 8, center + 4, "note", "start", b.note,
                         absl::StrCat(" fill=\"", kMuted, "\"")),
                    "</g>");
  }
  absl::StrAppend(&out, ZeroLine(ticks, x, top, bottom));
  return absl::StrCat(out, "</svg>");
}

std::string Heatmap(absl::Span<const HeatmapRow> rows, const HeatmapOptions& options) {
  size_t columns = options.column_labels.size();
  for (const HeatmapRow& r : rows) columns = std::max(columns, r.cells.size());
  const double cw = options.cell_width, ch = options.cell_height;
  const double label_left = 8, note_right = 150, cells_left = 160, header = 26;
  const int w = static_cast<int>(cells_left + cw * static_cast<double>(columns) + 8);
  const int h =
      static_cast<int>(header + ch * static_cast<double>(std::max<size_t>(rows.size(), 1)) + 8);
  std::string out = SvgOpen(std::max(w, 240), h, "heatmap", options.title);
  if (rows.empty()) return absl::StrCat(out, NoData(std::max(w, 240), h), "</svg>");

  const std::string muted = absl::StrCat(" fill=\"", kMuted, "\"");
  absl::StrAppend(&out, Text(label_left, header - 9, "header", "start", options.row_header, muted),
                  Text(note_right, header - 9, "header", "end", options.note_header, muted));
  for (size_t j = 0; j < options.column_labels.size(); ++j) {
    absl::StrAppend(&out, Text(cells_left + cw * (static_cast<double>(j) + 0.5), header - 9,
                               "header", "middle", options.column_labels[j], muted));
  }
  const double span = options.max_value - options.min_value;
  for (size_t i = 0; i < rows.size(); ++i) {
    const HeatmapRow& r = rows[i];
    const double y = header + ch * static_cast<double>(i);
    absl::StrAppend(&out, Text(label_left, y + ch / 2 + 4, "label", "start", r.label),
                    Text(note_right, y + ch / 2 + 4, "note", "end", r.note, muted));
    for (size_t j = 0; j < r.cells.size(); ++j) {
      const HeatmapCell& c = r.cells[j];
      double t = span > 0 ? (c.value - options.min_value) / span : 0;
      t = std::sqrt(std::clamp(std::isfinite(t) ? t : 0.0, 0.0, 1.0));
      // Pale blue (239, 246, 255) to dark blue (30, 64, 175).
      auto mix = [t](int from, int to) {
        return static_cast<int>(std::lround(from + (to - from) * t));
      };
      std::string fill =
          absl::StrFormat("#%02x%02x%02x", mix(239, 30), mix(246, 64), mix(255, 175));
      const double x = cells_left + cw * static_cast<double>(j);
      absl::StrAppend(
          &out, "<rect class=\"cell\" x=\"", Num(x + 1), "\" y=\"", Num(y + 1), "\" width=\"",
          Num(cw - 2), "\" height=\"", Num(ch - 2), "\" rx=\"2\" fill=\"", fill, "\">",
          Tooltip(c.tooltip), "</rect>",
          Text(x + cw / 2, y + ch / 2 + 4, "cell-text", "middle", c.text,
               absl::StrCat(" font-size=\"11\" fill=\"", t > 0.6 ? "#ffffff" : kInk, "\"")));
    }
  }
  return absl::StrCat(out, "</svg>");
}

std::string IntervalPlot(absl::Span<const IntervalRow> rows, const IntervalPlotOptions& options) {
  const int w = options.width;
  const double row = options.row_height;
  const double top = 10;
  const double bottom = top + row * static_cast<double>(std::max<size_t>(rows.size(), 1));
  const int h = static_cast<int>(bottom + 30);
  std::string out = SvgOpen(w, h, "interval-plot", options.title);
  if (rows.empty()) return absl::StrCat(out, NoData(w, h), "</svg>");

  // Numbers that are not finite are not drawn (the row keeps its label and text).
  double lowest = 0, highest = 0;
  bool any = options.zero_line;
  auto include = [&](double v) {
    if (!std::isfinite(v)) return;
    lowest = any ? std::min(lowest, v) : v;
    highest = any ? std::max(highest, v) : v;
    any = true;
  };
  for (const IntervalRow& r : rows) {
    include(r.estimate);
    if (r.has_interval) {
      include(r.low);
      include(r.high);
    }
  }
  AxisTicks ticks = NiceTicks(lowest, highest, 6);
  const double label_right = 150, left = 164, value_left = w - 230.0, right = value_left - 16;
  Scale x{ticks.min, ticks.max, left, right};
  absl::StrAppend(&out, VerticalGrid(ticks, x, top, bottom, options.tick_suffix));
  if (options.zero_line) absl::StrAppend(&out, ZeroLine(ticks, x, top, bottom));
  for (size_t i = 0; i < rows.size(); ++i) {
    const IntervalRow& r = rows[i];
    const double y = top + row * (static_cast<double>(i) + 0.5);
    const absl::string_view colour = r.highlight ? kAccent : kInk;
    absl::StrAppend(&out, "<g class=\"interval-row\">",
                    Tooltip(r.tooltip.empty() ? r.label : r.tooltip),
                    Text(label_right, y + 4, "label", "end", Shorten(r.label, 22)));
    if (r.has_interval && std::isfinite(r.low) && std::isfinite(r.high)) {
      constexpr absl::string_view kStroke = " stroke-width=\"2\"";
      absl::StrAppend(&out, Line(x(r.low), y, x(r.high), y, "ci", colour, kStroke),
                      Line(x(r.low), y - 6, x(r.low), y + 6, "ci-cap", colour, kStroke),
                      Line(x(r.high), y - 6, x(r.high), y + 6, "ci-cap", colour, kStroke));
    }
    if (std::isfinite(r.estimate)) {
      absl::StrAppend(&out, "<circle class=\"estimate\" cx=\"", Num(x(r.estimate)), "\" cy=\"",
                      Num(y), "\" r=\"5\" fill=\"", colour, "\"/>");
    }
    absl::StrAppend(&out, Text(value_left, y + 4, "value", "start", r.value_text), "</g>");
  }
  return absl::StrCat(out, "</svg>");
}

}  // namespace centric::reporting::dashboard
