// Reports as CSV (RFC 4180: comma-separated, fields with a comma, quote, CR or LF quoted,
// quotes doubled, CRLF line ends, a header line first).
#ifndef CENTRIC_SERVICES_REPORTING_CSV_H_
#define CENTRIC_SERVICES_REPORTING_CSV_H_

#include <string>
#include <vector>

#include "centric/reporting/v1/reporting.pb.h"

namespace centric::reporting {

// One CSV record, CRLF-terminated.
std::string CsvLine(const std::vector<std::string>& fields);

// period_start,key,value,low,high,sample_size (undefined values leave value, low and
// high empty). Times are RFC 3339 UTC.
std::string KpiSeriesCsv(const v1::KpiSeries& series);
// view,dimension,key,kpi,current,previous,change,trend
std::string ScorecardCsv(const v1::Scorecard& card);
// cohort_month,customers,month_offset,retained,retention_percent
std::string CohortRetentionCsv(const v1::CohortRetention& retention);

}  // namespace centric::reporting

#endif  // CENTRIC_SERVICES_REPORTING_CSV_H_
