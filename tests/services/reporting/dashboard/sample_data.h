// A realistic month of Reporting data for the dashboard tests: the scorecard of
// November 2026, 12 months of NPS with 95 % bands, NPS of 4 segments, 6 monthly cohorts
// and one experiment with 2 variants. The figures the tests look for are named below.
#ifndef CENTRIC_TESTS_SERVICES_REPORTING_DASHBOARD_SAMPLE_DATA_H_
#define CENTRIC_TESTS_SERVICES_REPORTING_DASHBOARD_SAMPLE_DATA_H_

#include <utility>

#include "centric/reporting/v1/reporting.pb.h"
#include "services/reporting/dashboard/pages.h"

namespace centric::reporting::dashboard::testdata {

// The NPS tile shows "+42.0" (95 % interval +38.9 to +45.1, n = 1,204 answers), up and
// improved; CSAT "87.5 %" flat; CES "2.31" down and improved; churn "3.4 %" up and not
// improved; time to first contact "3.2 h".
// Segments: vip +58.3, loyal +47.9, new-customers +28.4, at-risk -12.6.
// Cohort 2026-06 retains "31.7 %" in month 1. The "green" variant converts at "11.00 %"
// (control "10.00 %").
OverviewData Overview();

// "experiments/checkout-button" with its results; `sample_ratio_mismatch` sets a broken
// split (chi-square 24.31, p < 0.001).
std::pair<v1::Experiment, v1::ExperimentResults> CheckoutExperiment(
    bool sample_ratio_mismatch = false);

}  // namespace centric::reporting::dashboard::testdata

#endif  // CENTRIC_TESTS_SERVICES_REPORTING_DASHBOARD_SAMPLE_DATA_H_
