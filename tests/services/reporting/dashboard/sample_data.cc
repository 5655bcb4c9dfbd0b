#include "tests/services/reporting/dashboard/sample_data.h"

#include <cmath>
#include <string>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "libs/runtime/resource.h"

namespace centric::reporting::dashboard::testdata {

namespace {

google::protobuf::Timestamp Month(int year, int month) {
  return runtime::ToTimestamp(absl::FromCivil(absl::CivilMonth(year, month), absl::UTCTimeZone()));
}

v1::KpiValue Value(double value, double low, double high, int64_t sample_size) {
  v1::KpiValue v;
  v.set_defined(true);
  v.set_value(value);
  v.set_low(low);
  v.set_high(high);
  v.set_sample_size(sample_size);
  return v;
}

v1::KpiValue Exact(double value, int64_t sample_size) {
  return Value(value, value, value, sample_size);
}

void AddTile(v1::Scorecard& scorecard, v1::Kpi kpi, const v1::KpiValue& current,
             const v1::KpiValue& previous, v1::ScorecardTile::Trend trend, bool improved) {
  v1::ScorecardTile* tile = scorecard.add_tiles();
  tile->set_kpi(kpi);
  *tile->mutable_current() = current;
  *tile->mutable_previous() = previous;
  tile->set_change(current.value() - previous.value());
  tile->set_trend(trend);
  tile->set_improved(improved);
}

v1::ScorecardRow Row(v1::Dimension dimension, const std::string& key, double nps, double csat,
                     double ces, int64_t responses) {
  v1::ScorecardRow row;
  row.set_dimension(dimension);
  row.set_key(key);
  v1::ScorecardTile* t = row.add_tiles();
  t->set_kpi(v1::KPI_NPS);
  *t->mutable_current() = Value(nps, nps - 6, nps + 6, responses);
  t->set_trend(v1::ScorecardTile::TREND_UP);
  t->set_improved(true);
  t = row.add_tiles();
  t->set_kpi(v1::KPI_CSAT);
  *t->mutable_current() = Value(csat, csat - 3, csat + 3, responses / 2);
  t->set_trend(v1::ScorecardTile::TREND_DOWN);
  t = row.add_tiles();
  t->set_kpi(v1::KPI_CES);
  *t->mutable_current() = Value(ces, ces - 0.1, ces + 0.1, responses / 3);
  t->set_trend(v1::ScorecardTile::TREND_FLAT);
  t = row.add_tiles();
  t->set_kpi(v1::KPI_RESPONSES);
  *t->mutable_current() = Exact(static_cast<double>(responses), responses);
  return row;
}

v1::MetricResult Metric(const std::string& type, int64_t window_days, int64_t exposures,
                        int64_t conversions) {
  v1::MetricResult m;
  m.mutable_metric()->set_interaction_type(type);
  m.mutable_metric()->mutable_window()->set_seconds(window_days * 86400);
  m.set_exposures(exposures);
  m.set_conversions(conversions);
  m.set_rate(static_cast<double>(conversions) / static_cast<double>(exposures));
  return m;
}

}  // namespace

OverviewData Overview() {
  OverviewData data;
  v1::Scorecard& s = data.scorecard;
  *s.mutable_start_time() = Month(2026, 11);
  *s.mutable_end_time() = Month(2026, 12);
  *s.mutable_previous_start_time() = Month(2026, 10);
  using T = v1::ScorecardTile;
  AddTile(s, v1::KPI_NPS, Value(42.0, 38.9, 45.1, 1204), Value(40.0, 37.0, 43.0, 1150), T::TREND_UP,
          true);
  AddTile(s, v1::KPI_CSAT, Value(87.5, 85.4, 89.3, 980), Value(88.1, 86.0, 89.9, 1002),
          T::TREND_FLAT, false);
  AddTile(s, v1::KPI_CES, Value(2.31, 2.24, 2.38, 655), Value(2.45, 2.37, 2.53, 610), T::TREND_DOWN,
          true);
  AddTile(s, v1::KPI_ACTIVE_CUSTOMERS, Exact(12345, 12345), Exact(11900, 11900), T::TREND_UP, true);
  AddTile(s, v1::KPI_CHURN_RATE, Exact(3.4, 11210), Exact(3.1, 10950), T::TREND_UP, false);
  AddTile(s, v1::KPI_REVENUE_PER_CUSTOMER, Exact(84.2, 4321), Exact(80.1, 4105), T::TREND_UP, true);
  AddTile(s, v1::KPI_FOLLOW_UP_SLA_COMPLIANCE, Exact(91.2, 342), Exact(93.5, 318), T::TREND_DOWN,
          false);
  AddTile(s, v1::KPI_TIME_TO_FIRST_CONTACT, Exact(11520, 298), Exact(14400, 301), T::TREND_DOWN,
          true);
  *s.add_rows() = Row(v1::DIMENSION_CHANNEL, "web", 44.1, 88.2, 2.2, 702);
  *s.add_rows() = Row(v1::DIMENSION_CHANNEL, "email", 37.5, 85.9, 2.5, 388);
  *s.add_rows() = Row(v1::DIMENSION_TOUCHPOINT, "checkout", 39.8, 86.4, 2.4, 514);

  v1::KpiSeries& months = data.nps_by_month;
  months.set_kpi(v1::KPI_NPS);
  months.set_granularity(v1::GRANULARITY_MONTH);
  months.set_dimension(v1::DIMENSION_UNSPECIFIED);
  v1::KpiLine* all = months.add_lines();
  const double nps[12] = {31.5, 33.0, 34.2, 32.8, 35.5, 37.1, 36.4, 38.9, 39.6, 40.2, 40.0, 42.0};
  for (int i = 0; i < 12; ++i) {
    v1::KpiPoint* p = all->add_points();
    *p->mutable_start_time() = i == 0 ? Month(2025, 12) : Month(2026, i);
    const int64_t answers = 820 + 35 * i;
    const double margin = 110.0 / std::sqrt(static_cast<double>(answers));
    *p->mutable_value() = Value(nps[i], nps[i] - margin, nps[i] + margin, answers);
  }
  *all->mutable_total() = Value(37.8, 36.7, 38.9, 12165);

  v1::KpiSeries& segments = data.nps_by_segment;
  segments.set_kpi(v1::KPI_NPS);
  segments.set_granularity(v1::GRANULARITY_MONTH);
  segments.set_dimension(v1::DIMENSION_SEGMENT);
  v1::KpiLine* whole = segments.add_lines();
  *whole->mutable_total() = Value(37.8, 36.7, 38.9, 12165);
  struct Segment {
    const char* key;
    double nps;
    int64_t answers;
  };
  for (const Segment& seg :
       {Segment{"segments/loyal", 47.9, 5300}, Segment{"segments/new-customers", 28.4, 3010},
        Segment{"segments/vip", 58.3, 2120}, Segment{"segments/at-risk", -12.6, 1610}}) {
    v1::KpiLine* line = segments.add_lines();
    line->set_key(seg.key);
    const double margin = 110.0 / std::sqrt(static_cast<double>(seg.answers));
    *line->mutable_total() = Value(seg.nps, seg.nps - margin, seg.nps + margin, seg.answers);
  }

  const int64_t customers[6] = {1216, 1090, 1342, 980, 1105, 1250};
  const double keep[6] = {1.0, 0.3166, 0.2410, 0.2035, 0.1810, 0.1650};
  for (int c = 0; c < 6; ++c) {
    v1::Cohort* cohort = data.cohort_retention.add_cohorts();
    *cohort->mutable_month_start_time() = Month(2026, 6 + c);
    cohort->set_customers(customers[c]);
    for (int k = 0; k < 6 - c; ++k) {
      const auto retained =
          static_cast<int64_t>(std::llround(static_cast<double>(customers[c]) * keep[k]));
      cohort->add_retained(retained);
      cohort->add_retention_percent(100.0 * static_cast<double>(retained) /
                                    static_cast<double>(customers[c]));
    }
  }

  data.experiments.push_back(CheckoutExperiment());
  return data;
}

std::pair<v1::Experiment, v1::ExperimentResults> CheckoutExperiment(bool sample_ratio_mismatch) {
  v1::Experiment e;
  e.set_name("experiments/checkout-button");
  e.set_display_name("Checkout button colour");
  e.set_hypothesis("A green checkout button is easier to find, so more visitors buy.");
  e.set_change("Checkout button colour: blue (control) or green.");
  v1::Variant* control = e.add_variants();
  control->set_id("control");
  control->set_description("Blue button");
  control->set_weight(1);
  v1::Variant* green = e.add_variants();
  green->set_id("green");
  green->set_description("Green button");
  green->set_weight(1);
  e.mutable_primary_metric()->set_interaction_type("purchase");
  e.mutable_primary_metric()->mutable_window()->set_seconds(7 * 86400);
  v1::ExperimentMetric* guardrail = e.add_guardrail_metrics();
  guardrail->set_interaction_type("support_ticket");
  guardrail->mutable_window()->set_seconds(14 * 86400);
  e.set_minimum_detectable_effect(0.01);
  e.set_baseline_rate(0.1);
  e.set_alpha(0.05);
  e.set_power(0.8);
  e.set_state(v1::EXPERIMENT_STATE_RUNNING);
  *e.mutable_create_time() = Month(2026, 10);
  *e.mutable_start_time() = Month(2026, 11);

  v1::ExperimentResults r;
  r.set_experiment(e.name());
  r.set_state(v1::EXPERIMENT_STATE_RUNNING);
  const int64_t green_exposures = sample_ratio_mismatch ? 10500 : 10050;
  v1::VariantResult* c = r.add_variants();
  c->set_variant("control");
  c->set_exposures(10000);
  *c->mutable_primary() = Metric("purchase", 7, 10000, 1000);
  *c->add_guardrails() = Metric("support_ticket", 14, 10000, 212);
  v1::VariantResult* g = r.add_variants();
  g->set_variant("green");
  g->set_exposures(green_exposures);
  v1::MetricResult* primary = g->mutable_primary();
  *primary = Metric("purchase", 7, green_exposures, sample_ratio_mismatch ? 1155 : 1106);
  primary->set_absolute_uplift(primary->rate() - 0.1);
  primary->set_absolute_uplift_low(primary->rate() - 0.1 - 0.00842);
  primary->set_absolute_uplift_high(primary->rate() - 0.1 + 0.00842);
  primary->set_relative_uplift(primary->rate() / 0.1 - 1);
  primary->set_relative_uplift_low(primary->rate() / 0.1 - 1 - 0.085);
  primary->set_relative_uplift_high(primary->rate() / 0.1 - 1 + 0.085);
  primary->set_p_value(0.0193);
  primary->set_probability_to_beat_control(0.9906);
  primary->set_significant(true);
  v1::MetricResult* tickets = g->add_guardrails();
  *tickets = Metric("support_ticket", 14, green_exposures, 220);
  tickets->set_absolute_uplift(tickets->rate() - 0.0212);
  tickets->set_absolute_uplift_low(tickets->rate() - 0.0212 - 0.0040);
  tickets->set_absolute_uplift_high(tickets->rate() - 0.0212 + 0.0040);
  tickets->set_p_value(0.91);
  tickets->set_probability_to_beat_control(0.46);
  v1::SampleRatioCheck* srm = r.mutable_sample_ratio();
  srm->set_degrees_of_freedom(1);
  if (sample_ratio_mismatch) {
    srm->set_chi_square(24.31);
    srm->set_p_value(8.2e-7);
    srm->set_mismatch(true);
  } else {
    srm->set_chi_square(0.12);
    srm->set_p_value(0.725);
  }
  r.set_required_exposures_per_variant(14751);
  r.set_remaining_exposures(14751 - 10000);
  *r.mutable_compute_time() = runtime::ToTimestamp(
      absl::FromCivil(absl::CivilSecond(2026, 11, 22, 15, 0, 0), absl::UTCTimeZone()));
  return {e, r};
}

}  // namespace centric::reporting::dashboard::testdata
