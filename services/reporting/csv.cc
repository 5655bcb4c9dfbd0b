#include "services/reporting/csv.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "absl/time/time.h"
#include "libs/runtime/resource.h"

namespace centric::reporting {
namespace {

std::string Time(const google::protobuf::Timestamp& t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", runtime::FromTimestamp(t), absl::UTCTimeZone());
}

std::string Month(const google::protobuf::Timestamp& t) {
  return absl::FormatTime("%Y-%m", runtime::FromTimestamp(t), absl::UTCTimeZone());
}

// Shortest text that reads back as the same double.
// Up to 10 significant digits: enough for every KPI, short enough to read.
std::string Number(double v) { return absl::StrFormat("%.10g", v); }

void AddValue(std::vector<std::string>& fields, const v1::KpiValue& v) {
  if (!v.defined()) {
    fields.insert(fields.end(), {"", "", ""});
  } else {
    fields.insert(fields.end(), {Number(v.value()), Number(v.low()), Number(v.high())});
  }
}

std::string ValueOrEmpty(const v1::KpiValue& v) { return v.defined() ? Number(v.value()) : ""; }

void AddTile(std::string& out, const std::string& view, const std::string& dimension,
             const std::string& key, const v1::ScorecardTile& tile) {
  const bool both = tile.current().defined() && tile.previous().defined();
  out += CsvLine({view, dimension, key, v1::Kpi_Name(tile.kpi()), ValueOrEmpty(tile.current()),
                  ValueOrEmpty(tile.previous()), both ? Number(tile.change()) : "",
                  v1::ScorecardTile::Trend_Name(tile.trend())});
}

}  // namespace

std::string CsvLine(const std::vector<std::string>& fields) {
  std::string line;
  for (size_t i = 0; i < fields.size(); ++i) {
    if (i > 0) line += ',';
    const std::string& f = fields[i];
    if (f.find_first_of(",\"\r\n") == std::string::npos) {
      line += f;
    } else {
      absl::StrAppend(&line, "\"", absl::StrReplaceAll(f, {{"\"", "\"\""}}), "\"");
    }
  }
  line += "\r\n";
  return line;
}

std::string KpiSeriesCsv(const v1::KpiSeries& series) {
  std::string out = CsvLine({"period_start", "key", "value", "low", "high", "sample_size"});
  for (const v1::KpiLine& line : series.lines()) {
    for (const v1::KpiPoint& point : line.points()) {
      std::vector<std::string> fields = {Time(point.start_time()), line.key()};
      AddValue(fields, point.value());
      fields.push_back(absl::StrCat(point.value().sample_size()));
      out += CsvLine(fields);
    }
  }
  return out;
}

std::string ScorecardCsv(const v1::Scorecard& card) {
  std::string out =
      CsvLine({"view", "dimension", "key", "kpi", "current", "previous", "change", "trend"});
  for (const v1::ScorecardTile& tile : card.tiles()) AddTile(out, "executive", "", "", tile);
  for (const v1::ScorecardRow& row : card.rows()) {
    for (const v1::ScorecardTile& tile : row.tiles()) {
      AddTile(out, "team", v1::Dimension_Name(row.dimension()), row.key(), tile);
    }
  }
  return out;
}

std::string CohortRetentionCsv(const v1::CohortRetention& retention) {
  std::string out = CsvLine(
      {"cohort_month", "customers", "month_offset", "retained", "retention_percent"});
  for (const v1::Cohort& cohort : retention.cohorts()) {
    for (int k = 0; k < cohort.retained_size(); ++k) {
      out += CsvLine({Month(cohort.month_start_time()), absl::StrCat(cohort.customers()),
                      absl::StrCat(k), absl::StrCat(cohort.retained(k)),
                      Number(cohort.retention_percent(k))});
    }
  }
  return out;
}

}  // namespace centric::reporting
