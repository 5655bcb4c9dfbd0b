// KPI reports over Reporting's rollups: series by period and breakdown, the scorecard,
// cohort retention. Reads only; the rollups are written by ApplyEvent (rollups.h).
#ifndef CENTRIC_SERVICES_REPORTING_KPIS_H_
#define CENTRIC_SERVICES_REPORTING_KPIS_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "centric/reporting/v1/reporting_service.pb.h"
#include "libs/store/store.h"

namespace centric::reporting {

inline constexpr int kMaxPeriods = 1000;
inline constexpr int kMaxKeys = 100;
inline constexpr int kMaxCohortMonths = 120;
inline constexpr int kDefaultChurnWindowDays = 90;
inline constexpr int kMaxChurnWindowDays = 3650;

// Whether `kpi` can be broken down by `dimension` (DIMENSION_UNSPECIFIED always can).
bool HasDimension(v1::Kpi kpi, v1::Dimension dimension);

// Whether a smaller value of `kpi` is better (churn, times to act).
bool LowerIsBetter(v1::Kpi kpi);

// The headline KPIs of the executive scorecard and of each team-view row.
const std::vector<v1::Kpi>& ExecutiveKpis();
const std::vector<v1::Kpi>& TeamKpis();

class Kpis {
 public:
  explicit Kpis(store::Database& db) : db_(db) {}

  // Errors: INVALID_ARGUMENT naming the field (kpi, start_time, end_time, granularity,
  // dimension, keys, churn_window_days) and the limit.
  absl::StatusOr<v1::KpiSeries> GetKpiSeries(const v1::GetKpiSeriesRequest& request,
                                             absl::Time deadline);
  absl::StatusOr<v1::Scorecard> GetScorecard(const v1::GetScorecardRequest& request,
                                             absl::Time deadline);
  absl::StatusOr<v1::CohortRetention> GetCohortRetention(
      const v1::GetCohortRetentionRequest& request, absl::Time deadline);
  // The report as CSV (csv.h). Errors: INVALID_ARGUMENT on `report` when none is set,
  // and the report's own (field paths prefixed with the report's field name).
  absl::StatusOr<v1::ExportReportResponse> ExportReport(const v1::ExportReportRequest& request,
                                                        absl::Time deadline);

 private:
  store::Database& db_;
};

}  // namespace centric::reporting

#endif  // CENTRIC_SERVICES_REPORTING_KPIS_H_
