#include "services/reporting/dashboard/svg.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <regex>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/civil_time.h"

namespace centric::reporting::dashboard {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

// Every match of `pattern`'s first group in `text`.
std::vector<std::string> All(const std::string& text, const std::string& pattern) {
  std::vector<std::string> out;
  std::regex re(pattern);
  for (auto it = std::sregex_iterator(text.begin(), text.end(), re); it != std::sregex_iterator();
       ++it) {
    out.push_back((*it)[1]);
  }
  return out;
}

// "x1,y1 x2,y2 ..." → points.
std::vector<std::pair<double, double>> Points(const std::string& list) {
  std::vector<std::pair<double, double>> out;
  for (absl::string_view pair : absl::StrSplit(list, ' ')) {
    std::pair<absl::string_view, absl::string_view> xy = absl::StrSplit(pair, ',');
    double x = 0, y = 0;
    EXPECT_TRUE(absl::SimpleAtod(xy.first, &x) && absl::SimpleAtod(xy.second, &y)) << pair;
    out.emplace_back(x, y);
  }
  return out;
}

size_t Count(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

TEST(XmlEscapeTest, EscapesMarkupAndQuotes) {
  EXPECT_EQ(XmlEscape("<a href=\"x\">Tom & Jerry's</a>"),
            "&lt;a href=&quot;x&quot;&gt;Tom &amp; Jerry&#39;s&lt;/a&gt;");
  EXPECT_EQ(XmlEscape("plain ▲ 42.0 %"), "plain ▲ 42.0 %");
  EXPECT_EQ(XmlEscape("&amp;"), "&amp;amp;");
}

TEST(MonthLabelTest, IsUtcYearAndMonth) {
  EXPECT_EQ(
      MonthLabel(absl::FromCivil(absl::CivilSecond(2026, 1, 31, 23, 59, 59), absl::UTCTimeZone())),
      "2026-01");
  EXPECT_EQ(MonthLabel(absl::FromCivil(absl::CivilMonth(2025, 12), absl::UTCTimeZone())),
            "2025-12");
}

TEST(NiceTicksTest, PicksOneTwoOrFiveTimesAPowerOfTen) {
  AxisTicks t = NiceTicks(0, 100, 6);
  EXPECT_EQ(t.step, 20);
  EXPECT_THAT(t.values, ElementsAre(0, 20, 40, 60, 80, 100));

  t = NiceTicks(-12.3, 47.9, 6);
  EXPECT_EQ(t.step, 20);
  EXPECT_THAT(t.values, ElementsAre(-20, 0, 20, 40, 60));

  t = NiceTicks(28.1, 45.7, 6);
  EXPECT_EQ(t.step, 5);
  EXPECT_EQ(t.min, 25);
  EXPECT_EQ(t.max, 50);

  t = NiceTicks(0.0312, 0.0487, 5);
  EXPECT_DOUBLE_EQ(t.step, 0.005);
  ASSERT_EQ(t.values.size(), 5u);
  EXPECT_DOUBLE_EQ(t.values.front(), 0.03);
  EXPECT_DOUBLE_EQ(t.values.back(), 0.05);
}

TEST(NiceTicksTest, CoversTheRangeWithinTheTickBudget) {
  const std::pair<double, double> ranges[] = {
      {0, 1},   {-100, 100},  {0.3, 0.7}, {-0.004, 0.013}, {1e6, 3.7e6},
      {-7, -3}, {99.1, 99.4}, {0, 1e-9},  {-61.2, 12.5},   {3, 3}};
  for (auto [low, high] : ranges) {
    for (int max_ticks : {3, 5, 6, 10}) {
      AxisTicks t = NiceTicks(low, high, max_ticks);
      SCOPED_TRACE(testing::Message() << low << ".." << high << " in " << max_ticks);
      EXPECT_LE(t.min, low);
      EXPECT_GE(t.max, high);
      EXPECT_LE(t.values.size(), static_cast<size_t>(max_ticks));
      EXPECT_GE(t.values.size(), 2u);
      for (size_t i = 1; i < t.values.size(); ++i)
        EXPECT_NEAR(t.values[i] - t.values[i - 1], t.step, t.step * 1e-9);
      double mantissa = t.step / std::pow(10.0, std::floor(std::log10(t.step)));
      EXPECT_TRUE(std::abs(mantissa - 1) < 1e-9 || std::abs(mantissa - 2) < 1e-9 ||
                  std::abs(mantissa - 5) < 1e-9)
          << t.step;
    }
  }
}

TEST(NiceTicksTest, DegenerateInputStillGivesAnAxis) {
  AxisTicks t = NiceTicks(5, 5);
  EXPECT_LT(t.min, 5);
  EXPECT_GT(t.max, 5);
  t = NiceTicks(0, 0);
  EXPECT_LT(t.min, 0);
  EXPECT_GT(t.max, 0);
  t = NiceTicks(10, -10);  // swapped
  EXPECT_EQ(t.min, -10);
  EXPECT_EQ(t.max, 10);
  t = NiceTicks(NAN, 3);
  EXPECT_EQ(t.min, 0);
  EXPECT_EQ(t.max, 1);
}

TEST(FormatTickTest, UsesTheDecimalsOfTheStep) {
  EXPECT_EQ(FormatTick(40, 20), "40");
  EXPECT_EQ(FormatTick(-20, 20), "-20");
  EXPECT_EQ(FormatTick(0.5, 0.5), "0.5");
  EXPECT_EQ(FormatTick(0.05, 0.05), "0.05");
  EXPECT_EQ(FormatTick(0.3, 0.1), "0.3");
  EXPECT_EQ(FormatTick(-0.0, 0.1), "0.0");
  EXPECT_EQ(FormatTick(-1e-12, 1), "0");
}

std::vector<SeriesPoint> NpsPoints() {
  std::vector<SeriesPoint> points;
  const double values[] = {31.5, 33.0, 34.2, 32.8, 35.5, 37.1};
  for (int i = 0; i < 6; ++i) {
    SeriesPoint p;
    p.label = absl::StrCat("2026-0", i + 1);
    p.defined = true;
    p.value = values[i];
    p.low = values[i] - 3 - i * 0.5;
    p.high = values[i] + 2 + i * 0.25;
    p.value_text = absl::StrCat("+", values[i]);
    p.tooltip = absl::StrCat(p.label, ": +", values[i]);
    points.push_back(p);
  }
  return points;
}

// The band polygon goes along the highs and back along the lows, at the line's x
// positions, and every y comes from one linear map of values (the same as the ticks').
TEST(LineChartTest, BandPolygonCoversLowToHigh) {
  std::vector<SeriesPoint> points = NpsPoints();
  std::string svg =
      LineChart(points, {.title = "NPS", .width = 760, .height = 300, .tick_suffix = ""});
  std::vector<std::string> polygons = All(svg, "<polygon class=\"band\" points=\"([^\"]+)\"");
  std::vector<std::string> lines = All(svg, "<polyline class=\"line\" points=\"([^\"]+)\"");
  ASSERT_EQ(polygons.size(), 1u);
  ASSERT_EQ(lines.size(), 1u);
  auto band = Points(polygons[0]);
  auto line = Points(lines[0]);
  ASSERT_EQ(line.size(), 6u);
  ASSERT_EQ(band.size(), 12u);

  // y = a + b · value from the first point's high and low; b < 0 (SVG y grows down).
  const double b = (band[0].second - band[11].second) / (points[0].high - points[0].low);
  const double a = band[0].second - b * points[0].high;
  ASSERT_LT(b, 0);
  for (size_t i = 0; i < 6; ++i) {
    SCOPED_TRACE(i);
    EXPECT_NEAR(band[i].first, line[i].first, 0.01);
    EXPECT_NEAR(band[11 - i].first, line[i].first, 0.01);
    EXPECT_NEAR(band[i].second, a + b * points[i].high, 0.3);
    EXPECT_NEAR(band[11 - i].second, a + b * points[i].low, 0.3);
    EXPECT_NEAR(line[i].second, a + b * points[i].value, 0.3);
    EXPECT_LT(band[i].second, line[i].second);       // high above the line
    EXPECT_GT(band[11 - i].second, line[i].second);  // low below it
  }
  // The y axis ticks follow the same map and cover the band.
  std::regex tick(
      "<text class=\"tick tick-y\" x=\"[0-9.]+\" y=\"([0-9.]+)\" text-anchor=\"end\" "
      "fill=\"#[0-9a-f]+\">(-?[0-9.]+)</text>");
  std::vector<double> tick_values;
  for (auto it = std::sregex_iterator(svg.begin(), svg.end(), tick); it != std::sregex_iterator();
       ++it) {
    double y = 0, v = 0;
    ASSERT_TRUE(absl::SimpleAtod((*it)[1].str(), &y) && absl::SimpleAtod((*it)[2].str(), &v));
    EXPECT_NEAR(y - 4, a + b * v, 0.3) << v;  // labels sit 4 px below the gridline
    tick_values.push_back(v);
  }
  ASSERT_GE(tick_values.size(), 3u);
  EXPECT_LE(tick_values.front(), 28.5);  // lowest low: 31.5 - 3
  EXPECT_GE(tick_values.back(), 39.35);  // highest high: 37.1 + 2 + 1.25
  EXPECT_THAT(svg, HasSubstr(">2026-01</text>"));
  EXPECT_THAT(svg, HasSubstr(">+37.1</text>"));
  EXPECT_THAT(svg, HasSubstr("<title>2026-03: +34.2</title>"));
}

TEST(LineChartTest, UndefinedPointsSplitTheBandAndTheLine) {
  std::vector<SeriesPoint> points = NpsPoints();
  points[2].defined = false;  // runs 0-1 and 3-5
  points[4].defined = false;  // runs 0-1, 3 and 5
  std::string svg =
      LineChart(points, {.title = "NPS", .width = 760, .height = 300, .tick_suffix = ""});
  EXPECT_EQ(Count(svg, "<polygon class=\"band\""), 1u);
  EXPECT_EQ(Count(svg, "<polyline class=\"line\""), 1u);
  EXPECT_EQ(Count(svg, "<line class=\"band-bar\""), 2u);
  EXPECT_EQ(Count(svg, "<circle class=\"point\""), 4u);
  EXPECT_THAT(svg, Not(HasSubstr(">+34.2<")));

  points = NpsPoints();
  points[3].high = NAN;  // not finite: a gap like an undefined point
  svg = LineChart(points, {.title = "NPS", .width = 760, .height = 300, .tick_suffix = ""});
  EXPECT_EQ(Count(svg, "<polygon class=\"band\""), 2u);
  EXPECT_THAT(svg, Not(HasSubstr("nan")));

  for (SeriesPoint& p : points) p.defined = false;
  svg = LineChart(points, {.title = "NPS", .width = 760, .height = 300, .tick_suffix = ""});
  EXPECT_THAT(svg, HasSubstr(">No data</text>"));
  EXPECT_THAT(svg, Not(HasSubstr("<polygon")));
}

TEST(LineChartTest, EscapesTextAndIsDeterministic) {
  std::vector<SeriesPoint> points = NpsPoints();
  points[0].label = "<script>alert(1)</script>";
  points[1].tooltip = "a & b";
  LineChartOptions options{
      .title = "NPS \"by\" month", .width = 760, .height = 300, .tick_suffix = ""};
  std::string svg = LineChart(points, options);
  EXPECT_THAT(svg, Not(HasSubstr("<script>")));
  EXPECT_THAT(svg, HasSubstr("&lt;script&gt;alert(1)&lt;/script&gt;"));
  EXPECT_THAT(svg, HasSubstr("<title>a &amp; b</title>"));
  EXPECT_THAT(svg, HasSubstr("aria-label=\"NPS &quot;by&quot; month\""));
  EXPECT_EQ(svg, LineChart(points, options));
}

TEST(BarChartTest, SortsLargestFirstAndDrawsNegativesLeftOfZero) {
  std::vector<Bar> bars = {{"loyal", 47.9, "+47.9", "n = 5,300", ""},
                           {"at-risk", -12.6, "-12.6", "n = 1,610", ""},
                           {"vip", 58.3, "+58.3", "n = 2,120", ""},
                           {"new", 28.4, "+28.4", "n = 3,010", ""}};
  std::string svg = BarChart(
      bars, {.title = "NPS by segment", .width = 760, .row_height = 30, .tick_suffix = ""});
  EXPECT_THAT(All(svg, "<text class=\"label\"[^>]*>([^<]*)</text>"),
              ElementsAre("vip", "loyal", "new", "at-risk"));
  EXPECT_THAT(All(svg, "<text class=\"value\"[^>]*>([^<]*)</text>"),
              ElementsAre("+58.3", "+47.9", "+28.4", "-12.6"));
  EXPECT_THAT(svg, HasSubstr(">n = 2,120</text>"));

  // Bars start at the zero line: the negative one ends there, the positive ones begin there.
  std::vector<std::string> zero = All(svg, "<line class=\"zero\" x1=\"([0-9.]+)\"");
  ASSERT_EQ(zero.size(), 1u);
  std::regex bar("<rect class=\"bar\" x=\"([0-9.]+)\" y=\"[0-9.]+\" width=\"([0-9.]+)\"");
  std::vector<std::pair<double, double>> rects;
  for (auto it = std::sregex_iterator(svg.begin(), svg.end(), bar); it != std::sregex_iterator();
       ++it) {
    double x = 0, w = 0;
    ASSERT_TRUE(absl::SimpleAtod((*it)[1].str(), &x) && absl::SimpleAtod((*it)[2].str(), &w));
    rects.emplace_back(x, w);
  }
  ASSERT_EQ(rects.size(), 4u);
  double zero_x = 0;
  ASSERT_TRUE(absl::SimpleAtod(zero[0], &zero_x));
  for (int i = 0; i < 3; ++i) EXPECT_NEAR(rects[i].first, zero_x, 0.3);
  EXPECT_NEAR(rects[3].first + rects[3].second, zero_x, 0.3);
  EXPECT_GT(rects[0].second, rects[1].second);
  // Widths are proportional to the values.
  EXPECT_NEAR(rects[0].second / rects[2].second, 58.3 / 28.4, 0.01);

  // Long labels are cut on a character boundary; the tooltip keeps them whole.
  const std::string long_label = "übermäßig-lange-segment-bezeichnung-für-tests";
  std::string cut = BarChart({{long_label, 1, "+1.0", "", ""}},
                             {.title = "t", .width = 760, .row_height = 30, .tick_suffix = ""});
  EXPECT_THAT(cut, HasSubstr(">übermäßig-lange-segment…</text>"));
  EXPECT_THAT(cut, HasSubstr(absl::StrCat("<title>", long_label, "</title>")));

  // A bar without a finite value is left out rather than breaking the sort.
  std::vector<Bar> with_nan = bars;
  with_nan.push_back({"broken", NAN, "—", "", ""});
  EXPECT_THAT(
      All(BarChart(with_nan,
                   {.title = "NPS by segment", .width = 760, .row_height = 30, .tick_suffix = ""}),
          "<text class=\"label\"[^>]*>([^<]*)</text>"),
      ElementsAre("vip", "loyal", "new", "at-risk"));

  // The order never depends on the input order.
  std::vector<Bar> reversed(bars.rbegin(), bars.rend());
  EXPECT_EQ(
      svg,
      BarChart(reversed,
               {.title = "NPS by segment", .width = 760, .row_height = 30, .tick_suffix = ""}));
}

TEST(HeatmapTest, OneCellPerValueWithItsText) {
  std::vector<HeatmapRow> rows;
  for (int r = 0; r < 4; ++r) {
    HeatmapRow row{.label = absl::StrCat("2026-0", r + 1), .note = "1,000", .cells = {}};
    for (int k = 0; k < 4 - r; ++k) {
      double v = k == 0 ? 100 : 30.0 / k + r;
      row.cells.push_back(
          {v, absl::StrFormat("%.1f %%", v), absl::StrCat(row.label, " month ", k)});
    }
    rows.push_back(row);
  }
  HeatmapOptions options;
  options.title = "Retention";
  options.column_labels = {"M0", "M1", "M2", "M3"};
  std::string svg = Heatmap(rows, options);
  EXPECT_EQ(Count(svg, "<rect class=\"cell\""), 10u);  // 4 + 3 + 2 + 1
  std::vector<std::string> texts = All(svg, "<text class=\"cell-text\"[^>]*>([^<]*)</text>");
  ASSERT_EQ(texts.size(), 10u);
  EXPECT_EQ(texts[0], "100.0 %");
  EXPECT_EQ(texts[1], "30.0 %");
  EXPECT_EQ(texts[9], "100.0 %");
  EXPECT_THAT(svg, HasSubstr("<title>2026-02 month 1</title>"));
  EXPECT_THAT(svg, HasSubstr(">M3</text>"));
  // 100 % is the darkest colour, 0 % the palest; larger values are never paler.
  EXPECT_THAT(svg, HasSubstr("fill=\"#1e40af\""));
  rows = {{"low", "", {{0, "0.0 %", ""}, {25, "25.0 %", ""}, {64, "64.0 %", ""}}}};
  std::vector<std::string> fills =
      All(Heatmap(rows, options), "<rect class=\"cell\"[^>]* fill=\"#([0-9a-f]{6})\"");
  ASSERT_EQ(fills.size(), 3u);
  EXPECT_EQ(fills[0], "eff6ff");
  EXPECT_GT(fills[0], fills[1]);  // the red component shrinks as the value grows
  EXPECT_GT(fills[1], fills[2]);
}

TEST(IntervalPlotTest, DrawsIntervalsAroundEstimatesAndTheZeroLine) {
  std::vector<IntervalRow> rows = {
      {"green", 1.0, true, 0.16, 1.84, "+1.00 pp [+0.16, +1.84]", "", true},
      {"red", -0.5, true, -1.4, 0.4, "-0.50 pp [-1.40, +0.40]", "", false},
  };
  std::string svg = IntervalPlot(
      rows,
      {.title = "Uplift", .width = 760, .row_height = 34, .zero_line = true, .tick_suffix = " pp"});
  EXPECT_EQ(Count(svg, "<line class=\"zero\""), 1u);
  std::regex ci("<line class=\"ci\" x1=\"([0-9.]+)\" y1=\"[0-9.]+\" x2=\"([0-9.]+)\"");
  std::vector<std::string> estimates = All(svg, "<circle class=\"estimate\" cx=\"([0-9.]+)\"");
  ASSERT_EQ(estimates.size(), 2u);
  int i = 0;
  for (auto it = std::sregex_iterator(svg.begin(), svg.end(), ci); it != std::sregex_iterator();
       ++it, ++i) {
    double lo = 0, hi = 0, est = 0;
    ASSERT_TRUE(absl::SimpleAtod((*it)[1].str(), &lo) && absl::SimpleAtod((*it)[2].str(), &hi) &&
                absl::SimpleAtod(estimates[i], &est));
    EXPECT_LT(lo, est);
    EXPECT_LT(est, hi);
  }
  EXPECT_EQ(i, 2);
  EXPECT_THAT(svg, HasSubstr(">+1.00 pp [+0.16, +1.84]</text>"));
  EXPECT_THAT(svg, HasSubstr(" pp</text>"));  // tick labels carry the unit

  // Numbers that are not finite are not drawn and do not break the axis.
  rows.push_back({"broken", NAN, true, -INFINITY, 1, "—", "", false});
  svg = IntervalPlot(
      rows,
      {.title = "Uplift", .width = 760, .row_height = 34, .zero_line = true, .tick_suffix = " pp"});
  EXPECT_EQ(Count(svg, "<circle class=\"estimate\""), 2u);
  EXPECT_EQ(Count(svg, "<line class=\"ci\""), 2u);
  EXPECT_THAT(svg, Not(HasSubstr("nan")));
  EXPECT_THAT(svg, Not(HasSubstr("inf")));

  // Rates far from zero: no zero line when asked for none.
  rows = {{"control", 10, true, 9.4, 10.6, "10.00 %", "", false}};
  svg = IntervalPlot(
      rows,
      {.title = "Rates", .width = 760, .row_height = 34, .zero_line = false, .tick_suffix = " %"});
  EXPECT_THAT(svg, Not(HasSubstr("class=\"zero\"")));
  EXPECT_THAT(svg, Not(HasSubstr(">0 %</text>")));
}

}  // namespace
}  // namespace centric::reporting::dashboard
