#include "services/reporting/dashboard/pages.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <regex>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "tests/services/reporting/dashboard/sample_data.h"

namespace centric::reporting::dashboard {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// The markup of the element whose opening tag contains `attribute` (e.g.
// data-kpi="KPI_NPS"), up to its closing tag; "" when absent. Enough for our pages, which
// never nest an element in one of the same name.
std::string Element(const std::string& html, const std::string& attribute) {
  size_t at = html.find(attribute);
  if (at == std::string::npos) return "";
  size_t open = html.rfind('<', at);
  size_t name_end = html.find_first_of(" >", open);
  std::string name = html.substr(open + 1, name_end - open - 1);
  size_t close = html.find("</" + name + ">", at);
  return close == std::string::npos ? "" : html.substr(open, close + name.size() + 3 - open);
}

// Checks that every element is closed in order (void elements and "/>" aside), that the
// document has one html, head and body, and that no raw '<' or '&' starts anything but
// markup or an entity: the well-formedness an HTML5 parser needs to read our pages as
// written.
::testing::AssertionResult WellFormed(const std::string& html) {
  static const std::vector<std::string> kVoid = {"meta", "link", "br", "hr", "img", "input"};
  if (!absl::StartsWith(html, "<!DOCTYPE html>\n"))
    return ::testing::AssertionFailure() << "no doctype";
  std::vector<std::string> stack;
  std::regex entity("^&(amp|lt|gt|quot|#39);");
  for (size_t i = std::string("<!DOCTYPE html>").size(); i < html.size(); ++i) {
    if (html[i] == '&') {
      std::string rest = html.substr(i, 8);
      if (!std::regex_search(rest, entity))
        return ::testing::AssertionFailure() << "raw & at " << i;
      continue;
    }
    if (html[i] != '<') continue;
    size_t end = html.find('>', i);
    if (end == std::string::npos) return ::testing::AssertionFailure() << "unclosed tag at " << i;
    std::string tag = html.substr(i + 1, end - i - 1);
    if (stack.size() >= 1 && stack.back() == "style") {
      if (tag != "/style") continue;  // CSS is raw text
    }
    i = end;
    if (tag.empty() || !(absl::ascii_isalpha(tag[0]) || tag[0] == '/')) {
      return ::testing::AssertionFailure() << "raw < before \"" << tag << "\"";
    }
    if (tag.back() == '/') continue;
    std::string name =
        tag.substr(tag[0] == '/' ? 1 : 0, tag.find_first_of(" \n") - (tag[0] == '/' ? 1 : 0));
    if (tag[0] == '/') {
      if (stack.empty() || stack.back() != name) {
        return ::testing::AssertionFailure()
               << "</" << name << "> closes <" << (stack.empty() ? "" : stack.back()) << ">";
      }
      stack.pop_back();
    } else if (std::find(kVoid.begin(), kVoid.end(), name) == kVoid.end()) {
      stack.push_back(name);
    }
  }
  if (!stack.empty())
    return ::testing::AssertionFailure() << "<" << stack.back() << "> never closed";
  for (const char* once : {"<html lang=\"en\">", "<head>", "<body>", "<main>"}) {
    size_t first = html.find(once);
    if (first == std::string::npos || html.find(once, first + 1) != std::string::npos) {
      return ::testing::AssertionFailure() << once << " not exactly once";
    }
  }
  return ::testing::AssertionSuccess();
}

TEST(FormatTest, ValuesInTheUnitOfTheirKpi) {
  EXPECT_EQ(FormatKpiValue(v1::KPI_NPS, 42), "+42.0");
  EXPECT_EQ(FormatKpiValue(v1::KPI_NPS, -3.46), "-3.5");
  EXPECT_EQ(FormatKpiValue(v1::KPI_NPS, -0.01), "0.0");
  EXPECT_EQ(FormatKpiValue(v1::KPI_CSAT, 87.5), "87.5 %");
  EXPECT_EQ(FormatKpiValue(v1::KPI_CHURN_RATE, 3.4), "3.4 %");
  EXPECT_EQ(FormatKpiValue(v1::KPI_CES, 2.314), "2.31");
  EXPECT_EQ(FormatKpiValue(v1::KPI_TIME_TO_FIRST_CONTACT, 45), "45 s");
  EXPECT_EQ(FormatKpiValue(v1::KPI_TIME_TO_FIRST_CONTACT, 750), "12.5 min");
  EXPECT_EQ(FormatKpiValue(v1::KPI_TIME_TO_FIRST_CONTACT, 11520), "3.2 h");
  EXPECT_EQ(FormatKpiValue(v1::KPI_TIME_TO_RESOLUTION, 3 * 86400 + 43200), "3.5 d");
  EXPECT_EQ(FormatKpiValue(v1::KPI_ACTIVE_CUSTOMERS, 1234567), "1,234,567");
  EXPECT_EQ(FormatKpiValue(v1::KPI_REVENUE, 1234.5), "1,234.50");
  EXPECT_EQ(FormatKpiValue(v1::KPI_REVENUE, -0.001), "0.00");
  EXPECT_EQ(FormatKpiValue(v1::KPI_NPS, NAN), "—");
}

TEST(FormatTest, ChangesAreSigned) {
  EXPECT_EQ(FormatKpiChange(v1::KPI_NPS, 2), "+2.0");
  EXPECT_EQ(FormatKpiChange(v1::KPI_NPS, 0), "0.0");
  EXPECT_EQ(FormatKpiChange(v1::KPI_CSAT, -0.6), "-0.6 pp");
  EXPECT_EQ(FormatKpiChange(v1::KPI_CES, -0.14), "-0.14");
  EXPECT_EQ(FormatKpiChange(v1::KPI_TIME_TO_FIRST_CONTACT, -2880), "-48.0 min");
  EXPECT_EQ(FormatKpiChange(v1::KPI_TIME_TO_RESOLUTION, 5400), "+1.5 h");
  EXPECT_EQ(FormatKpiChange(v1::KPI_TIME_TO_RESOLUTION, -0.2), "0 s");
  EXPECT_EQ(FormatKpiChange(v1::KPI_REVENUE, -0.001), "0.00");
  EXPECT_EQ(FormatKpiChange(v1::KPI_REVENUE, -1234.5), "-1,234.50");
  EXPECT_EQ(FormatKpiChange(v1::KPI_ACTIVE_CUSTOMERS, 445), "+445");
  EXPECT_EQ(FormatKpiChange(v1::KPI_ACTIVE_CUSTOMERS, -1200), "-1,200");
  EXPECT_EQ(FormatKpiChange(v1::KPI_REVENUE_PER_CUSTOMER, 4.1), "+4.10");
  EXPECT_EQ(FormatCount(0), "0");
  EXPECT_EQ(FormatCount(-1234), "-1,234");
  EXPECT_EQ(FormatCount(INT64_MIN), "-9,223,372,036,854,775,808");
}

TEST(OverviewTest, TilesShowValuesIntervalsSamplesAndTrends) {
  std::string html = RenderOverview(testdata::Overview());
  ASSERT_TRUE(WellFormed(html));

  std::string nps = Element(html, "data-kpi=\"KPI_NPS\"");
  ASSERT_FALSE(nps.empty());
  EXPECT_THAT(nps, HasSubstr("<p class=\"kpi-value\">+42.0</p>"));
  EXPECT_THAT(nps, HasSubstr("95 % interval +38.9 to +45.1"));
  EXPECT_THAT(nps, HasSubstr("n = 1,204 answers"));
  EXPECT_THAT(nps, HasSubstr("class=\"trend up good\""));
  EXPECT_THAT(nps, HasSubstr("▲"));
  EXPECT_THAT(
      nps,
      HasSubstr(
          "<span class=\"kpi-change\">+2.0</span> vs <span class=\"kpi-previous\">+40.0</span>"));

  std::string csat = Element(html, "data-kpi=\"KPI_CSAT\"");
  EXPECT_THAT(csat, HasSubstr(">87.5 %<"));
  EXPECT_THAT(csat, HasSubstr("class=\"trend flat neutral\""));
  EXPECT_THAT(csat, HasSubstr("▬"));
  EXPECT_THAT(csat, HasSubstr(">-0.6 pp<"));

  std::string ces = Element(html, "data-kpi=\"KPI_CES\"");
  EXPECT_THAT(ces, HasSubstr(">2.31<"));
  EXPECT_THAT(ces, HasSubstr("class=\"trend down good\""));
  EXPECT_THAT(ces, HasSubstr("▼"));

  std::string churn = Element(html, "data-kpi=\"KPI_CHURN_RATE\"");
  EXPECT_THAT(churn, HasSubstr(">3.4 %<"));
  EXPECT_THAT(churn, HasSubstr("class=\"trend up bad\""));
  EXPECT_THAT(churn, Not(HasSubstr("interval")));  // no interval for churn

  EXPECT_THAT(Element(html, "data-kpi=\"KPI_TIME_TO_FIRST_CONTACT\""), HasSubstr(">3.2 h<"));
  EXPECT_THAT(Element(html, "data-kpi=\"KPI_ACTIVE_CUSTOMERS\""), HasSubstr(">12,345<"));
  EXPECT_THAT(Element(html, "data-kpi=\"KPI_REVENUE_PER_CUSTOMER\""), HasSubstr(">84.20<"));
  EXPECT_THAT(html, HasSubstr("<time datetime=\"2026-11-01T00:00:00Z\">2026-11-01</time>"));
}

TEST(OverviewTest, UndefinedTileSaysNoData) {
  OverviewData data = testdata::Overview();
  v1::ScorecardTile* nps = data.scorecard.mutable_tiles(0);
  nps->mutable_current()->Clear();
  nps->set_trend(v1::ScorecardTile::TREND_UNSPECIFIED);
  std::string tile = Element(RenderOverview(data), "data-kpi=\"KPI_NPS\"");
  EXPECT_THAT(tile, HasSubstr("<p class=\"kpi-value\">—</p>"));
  EXPECT_THAT(tile, HasSubstr("no data"));
  EXPECT_THAT(tile, HasSubstr("No comparison"));
  EXPECT_THAT(tile, Not(HasSubstr("▲")));
}

TEST(OverviewTest, ChartsCarryTheirFigures) {
  std::string html = RenderOverview(testdata::Overview());
  // NPS by month: 12 labelled months, the band, each value as text.
  std::string trend = Element(html, "data-series=\"KPI_NPS\"");
  EXPECT_THAT(trend, HasSubstr("<polygon class=\"band\""));
  EXPECT_THAT(trend, HasSubstr(">2025-12</text>"));
  EXPECT_THAT(trend, HasSubstr(">2026-11</text>"));
  EXPECT_THAT(trend, HasSubstr(">+36.4</text>"));
  EXPECT_THAT(trend, HasSubstr("Whole range: <span class=\"series-total\">+37.8</span>"));
  EXPECT_THAT(trend, HasSubstr("<tr><th scope=\"row\">2026-06</th><td>+36.4</td>"));
  // Segments: bars highest first, without the "segments/" prefix, at-risk negative.
  std::string segments = Element(html, "data-breakdown=\"DIMENSION_SEGMENT\"");
  size_t vip = segments.find(">vip</text>");
  size_t loyal = segments.find(">loyal</text>");
  size_t at_risk = segments.find(">at-risk</text>");
  ASSERT_NE(vip, std::string::npos);
  EXPECT_LT(vip, loyal);
  EXPECT_LT(loyal, at_risk);
  EXPECT_THAT(segments, HasSubstr(">+58.3</text>"));
  EXPECT_THAT(segments, HasSubstr(">-12.6</text>"));
  EXPECT_THAT(segments, HasSubstr(">n = 1,610</text>"));
  // Cohorts: 6 + 5 + ... + 1 cells with their percents.
  size_t cells = 0;
  for (size_t at = html.find("<rect class=\"cell\""); at != std::string::npos;
       at = html.find("<rect class=\"cell\"", at + 1)) {
    ++cells;
  }
  EXPECT_EQ(cells, 21u);
  EXPECT_THAT(html, HasSubstr(">31.7 %</text>"));
  EXPECT_THAT(html, HasSubstr("2026-06 cohort, month 1: 31.7 % (385 of 1,216 customers)"));
  // Team view.
  EXPECT_THAT(html, HasSubstr("Channel · web"));
  EXPECT_THAT(html, HasSubstr("Touchpoint · checkout"));
}

TEST(OverviewTest, ExperimentSummaryWithRatesAndLink) {
  std::string html = RenderOverview(testdata::Overview());
  std::string card = Element(html, "data-experiment=\"checkout-button\"");
  ASSERT_FALSE(card.empty());
  EXPECT_THAT(card,
              HasSubstr("<a href=\"/experiments/checkout-button\">Checkout button colour</a>"));
  EXPECT_THAT(card, HasSubstr("<span class=\"state running\">Running</span>"));
  EXPECT_THAT(card, HasSubstr("purchase within 7 d"));
  EXPECT_THAT(card, HasSubstr("<td class=\"rate\">10.00 %</td>"));
  EXPECT_THAT(card, HasSubstr("<td class=\"rate\">11.00 %</td>"));
  EXPECT_THAT(card, HasSubstr(">+1.00 pp<"));
  EXPECT_THAT(card, HasSubstr("[+0.16, +1.85] pp"));
  EXPECT_THAT(card, HasSubstr("99.1 %"));
  EXPECT_THAT(card, HasSubstr("0.019 <strong>significant</strong>"));
  EXPECT_THAT(card, HasSubstr("Each variant needs 14,751 exposures"));
  EXPECT_THAT(card, HasSubstr("still needs 4,751 more"));
  EXPECT_THAT(card, Not(HasSubstr("class=\"srm-warning\"")));
}

TEST(OverviewTest, SampleRatioMismatchBanner) {
  OverviewData data = testdata::Overview();
  data.experiments = {testdata::CheckoutExperiment(/*sample_ratio_mismatch=*/true)};
  std::string html = RenderOverview(data);
  ASSERT_TRUE(WellFormed(html));
  std::string banner = Element(html, "class=\"srm-warning\"");
  EXPECT_THAT(banner, HasSubstr("Sample ratio mismatch"));
  EXPECT_THAT(banner, HasSubstr("χ² = 24.31, 1 degree of freedom, p &lt; 0.001"));
  EXPECT_THAT(banner, HasSubstr("role=\"alert\""));
}

TEST(OverviewTest, EmptyDataStillRendersAPage) {
  std::string html = RenderOverview(OverviewData{});
  ASSERT_TRUE(WellFormed(html));
  EXPECT_THAT(html, HasSubstr("No KPIs for this period."));
  EXPECT_THAT(html, HasSubstr("No cohorts in this range."));
  EXPECT_THAT(html, HasSubstr("No experiments."));
}

TEST(OverviewTest, TextFromTheDataIsEscaped) {
  OverviewData data = testdata::Overview();
  data.experiments[0].first.set_display_name("<img src=x onerror=alert(1)> & co");
  data.nps_by_segment.mutable_lines(1)->set_key("segments/<b>bold</b>");
  data.scorecard.mutable_rows(0)->set_key("\"web\"");
  std::string html = RenderOverview(data);
  ASSERT_TRUE(WellFormed(html));
  EXPECT_THAT(html, Not(HasSubstr("<img")));
  EXPECT_THAT(html, Not(HasSubstr("<b>")));
  EXPECT_THAT(html, HasSubstr("&lt;img src=x onerror=alert(1)&gt; &amp; co"));
  EXPECT_THAT(html, HasSubstr("&quot;web&quot;"));
}

TEST(OverviewTest, IsDeterministic) {
  EXPECT_EQ(RenderOverview(testdata::Overview()), RenderOverview(testdata::Overview()));
}

TEST(ExperimentPageTest, ShowsDesignResultsChartsAndGuardrails) {
  auto [experiment, results] = testdata::CheckoutExperiment();
  std::string html = RenderExperiment(experiment, results);
  ASSERT_TRUE(WellFormed(html));
  EXPECT_THAT(html,
              HasSubstr("<title>Checkout button colour · Experiments · Centric reporting</title>"));
  EXPECT_THAT(html, HasSubstr("A green checkout button is easier to find"));
  EXPECT_THAT(html, HasSubstr("<strong>green</strong> (weight 1): Green button"));
  EXPECT_THAT(html, HasSubstr("Minimum detectable effect</dt><dd>1.00 pp"));
  EXPECT_THAT(html, HasSubstr("Sample ratio check passed (χ² = 0.12, p = 0.725)"));
  EXPECT_THAT(html, Not(HasSubstr("class=\"srm-warning\"")));
  EXPECT_THAT(html, HasSubstr("<td class=\"rate\">11.00 %</td>"));
  // Rates with Wilson intervals and the uplift plot with its zero line.
  EXPECT_THAT(html, HasSubstr("class=\"chart interval-plot\""));
  EXPECT_THAT(html, HasSubstr(">10.00 % [9.43, 10.60]</text>"));
  EXPECT_THAT(html, HasSubstr(">+1.00 pp [+0.16, +1.85]</text>"));
  EXPECT_THAT(html, HasSubstr("<line class=\"zero\""));
  // Guardrail: tickets per variant.
  std::string guardrails = Element(html, "id=\"guardrails\"");
  EXPECT_THAT(guardrails, HasSubstr("support_ticket within 14 d"));
  EXPECT_THAT(guardrails, HasSubstr("<td class=\"rate\">2.12 %</td>"));
  EXPECT_THAT(guardrails, HasSubstr("<td class=\"rate\">2.19 %</td>"));
  EXPECT_THAT(html, HasSubstr("results of 2026-11-22 15:00 UTC"));
}

TEST(ExperimentPageTest, SampleRatioMismatchBanner) {
  auto [experiment, results] = testdata::CheckoutExperiment(/*sample_ratio_mismatch=*/true);
  std::string html = RenderExperiment(experiment, results);
  ASSERT_TRUE(WellFormed(html));
  EXPECT_THAT(Element(html, "class=\"srm-warning\""), HasSubstr("do not trust these results"));
  EXPECT_THAT(html, Not(HasSubstr("Sample ratio check passed")));
}

TEST(ExperimentPageTest, NoResultsYet) {
  auto [experiment, results] = testdata::CheckoutExperiment();
  results.clear_variants();
  std::string html = RenderExperiment(experiment, results);
  ASSERT_TRUE(WellFormed(html));
  EXPECT_THAT(html, HasSubstr("No results yet."));
  EXPECT_THAT(html, Not(HasSubstr("class=\"chart")));
}

TEST(ErrorPageTest, ShowsClientErrorsAndHidesInternalOnes) {
  std::string page = RenderErrorPage(404, absl::NotFoundError("no experiment \"x<y\""));
  ASSERT_TRUE(WellFormed(page));
  EXPECT_THAT(page, HasSubstr("<h1 class=\"error\">404 Not Found</h1>"));
  EXPECT_THAT(page, HasSubstr("no experiment &quot;x&lt;y&quot;"));
  page = RenderErrorPage(500, absl::InternalError("connection to postgresql://secret@db failed"));
  EXPECT_THAT(page, HasSubstr("500 Internal Server Error"));
  EXPECT_THAT(page, Not(HasSubstr("secret")));
  page = RenderErrorPage(503, absl::UnavailableError("the store is restarting"));
  EXPECT_THAT(page, HasSubstr("the store is restarting"));
  EXPECT_THAT(page, HasSubstr("Try again in a moment."));
}

}  // namespace
}  // namespace centric::reporting::dashboard
