// reporting_bench: the Reporting goal, NPS by month x segment over many responses read from
// the rollups (Kpis::GetKpiSeries) against the same aggregate as SQL over the raw rows on
// PostgreSQL, in the same run, on the same server and the same data.
//
//   bin/reporting_bench [--responses=10000000] [--runs=5] [--chunk=1000000] [--variants=1]
//
// Data (deterministic; the C++ and SQL formulas below use the same constants and bigint
// arithmetic, so both sides hold exactly the same values):
//   response i in [0, N): profile i % P with P = N / 10; submitted on day (i * 7919) % 365
//   of 2025 at second (i * 104729) % 86400 of that day (UTC); score from
//   h = (i * 2654435761) % 4294967291 % 1000 through kScoreUpper (55 % promoters, 28 %
//   passives, 17 % detractors).
//   profile p is in segment s (0..19, key "segments/s<s>") when
//   ((p * 20 + s) * 2246822519) % 4294967291 % 10 = 0: two segments per profile on average.
//
// Baseline: tables responses(profile, submit_time, score) and memberships(profile, segment)
// filled with INSERT ... SELECT FROM generate_series, primary key on memberships(profile,
// segment), an index on responses(submit_time), VACUUM ANALYZE; then one statement:
// counts of promoters, passives and detractors per (segment, month) through a join, plus
// the whole population per month (the rollup series has that line too). PostgreSQL's
// defaults (parallel workers, JIT), fsync on; with --variants=1 also JIT off and a larger
// work_mem, session settings a DBA could use for this query.
//
// Rollups: the same responses aggregated in memory with RollupBatch, family kNps, the
// whole population (dimension 0, key "") and one DIMENSION_SEGMENT key per membership,
// bucket = score, n = 1, total = score (what ApplyEvent does for a ResponseReceived),
// written --chunk responses at a time in one transaction each into reporting_rollups of
// the same database. Then GetKpiSeries(KPI_NPS, 2025, GRANULARITY_MONTH, DIMENSION_SEGMENT).
//
// Timed: best of --runs of each, alternating SQL and GetKpiSeries so drift hits both. Every
// (key, month) NPS value and sample size of the series must equal what the SQL counts give
// (within 1e-9); the exit code is 1 when they differ or anything fails, never from timing.
#include <libpq-fe.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "bench/bench_util.h"
#include "bench/pg_connection.h"
#include "centric/reporting/v1/reporting_service.pb.h"
#include "libs/clv/clv.h"
#include "libs/runtime/clock.h"
#include "libs/runtime/log.h"
#include "libs/runtime/resource.h"
#include "libs/store/store.h"
#include "libs/testing/servers.h"
#include "services/reporting/clv/clv_reports.h"
#include "services/reporting/kpis.h"
#include "services/reporting/rollups.h"
#include "services/reporting/schema.h"

namespace centric::reporting_bench {
namespace {

namespace rv1 = ::centric::reporting::v1;
using SteadyClock = std::chrono::steady_clock;

struct Options {
  int64_t responses = 10'000'000;
  int64_t runs = 5;
  int64_t chunk = 1'000'000;
  bool variants = true;
};

// ---------------------------------------------------------------------------------------
// The synthetic data, one formula per value, written once for C++ and once as SQL.

constexpr int64_t kSegments = 20;
constexpr int64_t kPrime = 4294967291;  // largest prime below 2^32
constexpr int64_t kScoreMultiplier = 2654435761;
constexpr int64_t kSegmentMultiplier = 2246822519;
constexpr int64_t kDayMultiplier = 7919;
constexpr int64_t kSecondMultiplier = 104729;
constexpr int64_t kDaysIn2025 = 365;
constexpr int64_t kStart2025 = 1735689600;  // 2025-01-01T00:00:00Z, Unix seconds
constexpr int64_t kStartDay2025 = kStart2025 / 86400;
// Score k is given to h (0..999) below kScoreUpper[k] (and not below kScoreUpper[k - 1]);
// 10 to the rest: 0-6 17 %, 7-8 28 %, 9-10 55 % (NPS +38).
constexpr int64_t kScoreUpper[10] = {20, 30, 40, 60, 80, 120, 170, 270, 450, 700};

int64_t ProfileOf(int64_t i, int64_t profiles) { return i % profiles; }
int64_t DayOffsetOf(int64_t i) { return i * kDayMultiplier % kDaysIn2025; }
int64_t ScoreOf(int64_t i) {
  const int64_t h = i * kScoreMultiplier % kPrime % 1000;
  for (int64_t k = 0; k < 10; ++k) {
    if (h < kScoreUpper[k]) return k;
  }
  return 10;
}
bool IsMember(int64_t profile, int64_t segment) {
  return (profile * kSegments + segment) * kSegmentMultiplier % kPrime % 10 == 0;
}
std::string SegmentKey(int64_t segment) { return absl::StrCat("segments/s", segment); }

std::string ScoreSql(absl::string_view h) {
  std::string sql = "CASE";
  for (int64_t k = 0; k < 10; ++k) {
    absl::StrAppend(&sql, " WHEN ", h, " < ", kScoreUpper[k], " THEN ", k);
  }
  return absl::StrCat(sql, " ELSE 10 END");
}

std::string InsertResponsesSql(int64_t responses, int64_t profiles) {
  return absl::StrCat("INSERT INTO responses (profile, submit_time, score) SELECT i % ", profiles,
                      ", to_timestamp(", kStart2025, " + (i * ", kDayMultiplier, " % ", kDaysIn2025,
                      ") * 86400 + i * ", kSecondMultiplier, " % 86400), ", ScoreSql("h"),
                      " FROM (SELECT i, i * ", kScoreMultiplier, " % ", kPrime,
                      " % 1000 AS h FROM generate_series(CAST(0 AS BIGINT), ", responses - 1,
                      ") AS g(i)) AS t");
}

std::string InsertMembershipsSql(int64_t profiles) {
  return absl::StrCat(
      "INSERT INTO memberships (profile, segment) SELECT p, 'segments/s' || s "
      "FROM generate_series(CAST(0 AS BIGINT), ",
      profiles - 1, ") AS gp(p) CROSS JOIN generate_series(CAST(0 AS BIGINT), ", kSegments - 1,
      ") AS gs(s) WHERE (p * ", kSegments, " + s) * ", kSegmentMultiplier, " % ", kPrime,
      " % 10 = 0");
}

// NPS per (segment, month) of 2025 through the join, then per month for everyone.
std::string BaselineSql() {
  const std::string counts =
      "count(*) FILTER (WHERE r.score >= 9), count(*) FILTER (WHERE r.score BETWEEN 7 AND 8), "
      "count(*) FILTER (WHERE r.score <= 6)";
  const std::string range =
      "r.submit_time >= '2025-01-01 00:00:00+00' AND r.submit_time < '2026-01-01 00:00:00+00'";
  return absl::StrCat(
      "SELECT m.segment, date_trunc('month', r.submit_time AT TIME ZONE 'UTC'), ", counts,
      " FROM responses r JOIN memberships m ON m.profile = r.profile WHERE ", range,
      " GROUP BY 1, 2 UNION ALL SELECT '', date_trunc('month', r.submit_time AT TIME ZONE 'UTC'), ",
      counts, " FROM responses r WHERE ", range, " GROUP BY 2");
}

// ---------------------------------------------------------------------------------------
// Small helpers

int Fail(absl::string_view what, const absl::Status& status) {
  std::fprintf(stderr, "%s: %s\n", std::string(what).c_str(), status.ToString().c_str());
  return 1;
}

double MillisSince(SteadyClock::time_point start) {
  return std::chrono::duration<double, std::milli>(SteadyClock::now() - start).count();
}

double Best(const std::vector<double>& v) { return *std::min_element(v.begin(), v.end()); }
double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

std::string LoadAverage() {
  std::ifstream in("/proc/loadavg");
  std::string one;
  in >> one;
  return one.empty() ? "?" : one;
}

using bench::Metrics;

using bench::PgConnection;

// The plan's nodes on one line ("Append / HashAggregate / Hash Join / ...").
std::string PlanOf(PgConnection& pg, const std::string& sql) {
  auto rows = pg.Rows(absl::StrCat("EXPLAIN (COSTS OFF) ", sql));
  if (!rows.ok()) return rows.status().ToString();
  std::vector<std::string> nodes;
  for (const auto& row : *rows) {
    const std::string& line = row[0];
    const size_t start = line.find_first_not_of(" ->");
    if (start == std::string::npos || line.find(':') != std::string::npos) continue;
    nodes.push_back(line.substr(start));
  }
  return absl::StrJoin(nodes, " / ");
}

// ---------------------------------------------------------------------------------------
// The two sides

// Counts per (key, month start day); key "" is everyone.
struct Counts {
  int64_t promoters = 0, passives = 0, detractors = 0;
  int64_t total() const { return promoters + passives + detractors; }
};
using CountsByCell = std::map<std::pair<std::string, int64_t>, Counts>;

absl::StatusOr<CountsByCell> ParseBaseline(const std::vector<std::vector<std::string>>& rows) {
  CountsByCell cells;
  for (const auto& row : rows) {
    int year = 0, month = 0;
    Counts c;
    if (row.size() != 5 || std::sscanf(row[1].c_str(), "%d-%d-", &year, &month) != 2 ||
        !absl::SimpleAtoi(row[2], &c.promoters) || !absl::SimpleAtoi(row[3], &c.passives) ||
        !absl::SimpleAtoi(row[4], &c.detractors)) {
      return absl::InternalError(
          absl::StrCat("unexpected baseline row: ", absl::StrJoin(row, "|")));
    }
    const int64_t day = absl::CivilDay(year, month, 1) - absl::CivilDay(1970, 1, 1);
    cells[{row[0], day}] = c;
  }
  return cells;
}

struct TimedBaseline {
  double ms;
  CountsByCell cells;
};

absl::StatusOr<TimedBaseline> RunBaseline(PgConnection& pg, const std::string& sql) {
  const SteadyClock::time_point start = SteadyClock::now();
  auto rows = pg.Rows(sql);
  const double ms = MillisSince(start);
  if (!rows.ok()) return rows.status();
  auto cells = ParseBaseline(*rows);
  if (!cells.ok()) return cells.status();
  return TimedBaseline{ms, std::move(*cells)};
}

rv1::GetKpiSeriesRequest SeriesRequest() {
  rv1::GetKpiSeriesRequest request;
  request.set_kpi(rv1::KPI_NPS);
  *request.mutable_start_time() = runtime::ToTimestamp(absl::FromUnixSeconds(kStart2025));
  *request.mutable_end_time() =
      runtime::ToTimestamp(absl::FromCivil(absl::CivilDay(2026, 1, 1), absl::UTCTimeZone()));
  request.set_granularity(rv1::GRANULARITY_MONTH);
  request.set_dimension(rv1::DIMENSION_SEGMENT);
  return request;
}

// Every (key, month) of the series against the SQL counts: the same cells, NPS within
// 1e-9, the same sample sizes. Returns the number of cells compared.
absl::StatusOr<int> Compare(const rv1::KpiSeries& series, const CountsByCell& baseline) {
  int compared = 0, defined = 0;
  for (const rv1::KpiLine& line : series.lines()) {
    for (const rv1::KpiPoint& point : line.points()) {
      const int64_t day = reporting::DayNumber(runtime::FromTimestamp(point.start_time()));
      const rv1::KpiValue& value = point.value();
      auto it = baseline.find({line.key(), day});
      ++compared;
      if (it == baseline.end()) {
        if (value.defined()) {
          return absl::InternalError(absl::StrFormat(
              "%s day %d: rollups say %.12g, SQL has no rows", line.key(), day, value.value()));
        }
        continue;
      }
      const Counts& c = it->second;
      const double n = static_cast<double>(c.total());
      const double expected =
          100.0 * (static_cast<double>(c.promoters) - static_cast<double>(c.detractors)) / n;
      if (!value.defined() || value.sample_size() != c.total() ||
          std::abs(value.value() - expected) > 1e-9) {
        return absl::InternalError(
            absl::StrFormat("%s day %d: rollups %s %.12g (n=%d), SQL %.12g (n=%d)", line.key(), day,
                            value.defined() ? "defined" : "undefined", value.value(),
                            value.sample_size(), expected, c.total()));
      }
      ++defined;
    }
  }
  if (defined != static_cast<int>(baseline.size())) {
    return absl::InternalError(
        absl::StrFormat("SQL has %d (key, month) cells, the series %d", baseline.size(), defined));
  }
  return compared;
}

// ---------------------------------------------------------------------------------------
// CLV fit time on CDNOW: FitClvModel (read the purchase days from PostgreSQL, summarise,
// BG/NBD, Gamma-Gamma, holdout check, store the model) against libs/clv alone on the same
// transactions already in memory (summarise and fit: the floor of any implementation).

absl::Status RunClvFit(store::Database& db, int64_t runs, Metrics& metrics) {
  absl::PrintF("\n-- CLV fit on the CDNOW sample (calibration to 1997-09-30, holdout to "
               "1998-06-30) --\n");
  std::ifstream in(std::string(CENTRIC_CDNOW_DIR) + "/CDNOW_sample.txt");
  if (!in) return absl::NotFoundError(absl::StrCat("no CDNOW_sample.txt in ", CENTRIC_CDNOW_DIR));
  std::vector<clv::Purchase> purchases;
  std::map<std::pair<std::string, int64_t>, double> days;  // (profile, day) -> amount
  std::string master, sample, date;
  int cds;
  double dollars;
  while (in >> master >> sample >> date >> cds >> dollars) {
    absl::CivilDay day(std::stoi(date.substr(0, 4)), std::stoi(date.substr(4, 2)),
                       std::stoi(date.substr(6, 2)));
    absl::Time t = absl::FromCivil(day, absl::UTCTimeZone());
    purchases.push_back({master, t, dollars});
    days[{absl::StrCat("profiles/c", master), reporting::DayNumber(t)}] += dollars;
  }
  if (absl::Status s = store::Migrate(db, "reporting_clv", reporting::ClvReports::Migrations());
      !s.ok()) {
    return s;
  }
  std::vector<store::Params> rows;
  for (const auto& [key, amount] : days) {
    rows.push_back({key.first, std::string("purchase"), key.second, std::string("web"), amount,
                    int64_t{1}});
  }
  absl::Status loaded = db.Transact([&](store::Tx& tx) {
    return store::InsertMany(tx,
                             "INSERT INTO reporting_purchases (profile, type, day, channel, "
                             "amount, purchases) VALUES",
                             rows)
        .status();
  });
  if (!loaded.ok()) return loaded;

  runtime::SystemClock clock;
  runtime::UlidGenerator ids(clock);
  reporting::ClvReports service({.db = &db, .clock = &clock, .ids = &ids});
  rv1::FitClvModelRequest request;
  *request.mutable_calibration_end_time() =
      runtime::ToTimestamp(absl::FromCivil(absl::CivilDay(1997, 9, 30), absl::UTCTimeZone()));
  *request.mutable_holdout_end_time() =
      runtime::ToTimestamp(absl::FromCivil(absl::CivilDay(1998, 7, 1), absl::UTCTimeZone()));
  std::vector<double> service_ms, library_ms;
  rv1::ClvModel model;
  for (int64_t run = 0; run < runs; ++run) {
    SteadyClock::time_point start = SteadyClock::now();
    auto fitted = service.FitClvModel(request, absl::InfiniteFuture());
    service_ms.push_back(MillisSince(start));
    if (!fitted.ok()) return fitted.status();
    model = *fitted;
    start = SteadyClock::now();
    auto summaries =
        clv::SummarizePurchases(purchases, {.calibration_end = absl::CivilDay(1997, 9, 30)});
    if (!summaries.ok()) return summaries.status();
    auto bg = clv::FitBgNbd(*summaries);
    if (!bg.ok()) return bg.status();
    auto gg = clv::FitGammaGamma(*summaries);
    if (!gg.ok()) return gg.status();
    library_ms.push_back(MillisSince(start));
  }
  absl::PrintF("  %-40s %10s %10s\n", "", "best ms", "median ms");
  absl::PrintF("  %-40s %10.1f %10.1f\n", "FitClvModel (PostgreSQL, stored)", Best(service_ms),
               Median(service_ms));
  absl::PrintF("  %-40s %10.1f %10.1f\n", "libs/clv alone, in memory", Best(library_ms),
               Median(library_ms));
  absl::PrintF("  customers %d, r=%.4f alpha=%.4f a=%.4f b=%.4f LL=%.1f; holdout %d actual, "
               "%.0f predicted\n",
               model.customers(), model.bg_nbd().r(), model.bg_nbd().alpha(), model.bg_nbd().a(),
               model.bg_nbd().b(), model.bg_nbd().log_likelihood(),
               model.holdout().actual_repeat_purchases(),
               model.holdout().predicted_repeat_purchases());
  absl::PrintF("  service / library: %.2f\n", Best(service_ms) / Best(library_ms));
  metrics.Add("clv_fit_ms", Best(service_ms));
  metrics.Add("clv_library_fit_ms", Best(library_ms));
  metrics.Add("clv_fit_ratio_to_library", Best(service_ms) / Best(library_ms));
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------------------

int Run(const Options& options) {
  runtime::SetMinLogLevel(runtime::LogLevel::kWarning);
  Metrics metrics;
  const int64_t n = options.responses;
  const int64_t profiles = std::max<int64_t>(1, n / 10);
  absl::PrintF(
      "== Reporting: NPS by month x segment, %d responses, %d profiles, %d segments "
      "(load average %s) ==\n",
      n, profiles, kSegments, LoadAverage());

  std::fprintf(stderr, "starting PostgreSQL (fsync on)...\n");
  auto postgres = testing::PostgresServer::Start(/*fast=*/false);
  if (!postgres.ok()) return Fail("PostgreSQL", postgres.status());
  auto url = (*postgres)->CreateDatabase("reportingbench");
  if (!url.ok()) return Fail("PostgreSQL", url.status());
  PgConnection pg;
  if (absl::Status s = pg.Connect(*url); !s.ok()) return Fail("libpq", s);
  std::vector<std::string> settings;
  for (const char* name :
       {"server_version", "shared_buffers", "work_mem", "max_parallel_workers_per_gather", "jit",
        "fsync", "synchronous_commit"}) {
    auto value = pg.Value(absl::StrCat("SHOW ", name));
    settings.push_back(absl::StrCat(name, "=", value.ok() ? *value : "?"));
  }
  auto jit_available = pg.Value("SELECT pg_jit_available()");
  settings.push_back(
      absl::StrCat("pg_jit_available()=", jit_available.ok() ? *jit_available : "?"));
  absl::PrintF("PostgreSQL settings: %s\n", absl::StrJoin(settings, " "));

  // Baseline tables.
  absl::PrintF("\n-- PostgreSQL raw tables (INSERT ... SELECT FROM generate_series) --\n");
  struct Step {
    const char* label;
    std::string sql;
  };
  const std::vector<Step> steps = {
      {"create tables",
       "CREATE TABLE responses (profile BIGINT NOT NULL, submit_time TIMESTAMPTZ NOT NULL, "
       "score INT NOT NULL); CREATE TABLE memberships (profile BIGINT NOT NULL, segment TEXT "
       "NOT NULL)"},
      {"insert responses", InsertResponsesSql(n, profiles)},
      {"insert memberships", InsertMembershipsSql(profiles)},
      {"primary key memberships (profile, segment)",
       "ALTER TABLE memberships ADD PRIMARY KEY (profile, segment)"},
      {"index responses (submit_time)",
       "CREATE INDEX responses_submit_time ON responses (submit_time)"},
      {"VACUUM ANALYZE responses", "VACUUM ANALYZE responses"},
      {"VACUUM ANALYZE memberships", "VACUUM ANALYZE memberships"},
  };
  double generate_ms = 0;
  for (const Step& step : steps) {
    const SteadyClock::time_point start = SteadyClock::now();
    if (absl::Status s = pg.Exec(step.sql); !s.ok()) return Fail(step.label, s);
    const double ms = MillisSince(start);
    generate_ms += ms;
    absl::PrintF("  %-44s %9.1f s\n", step.label, ms / 1000);
  }
  auto sizes = pg.Rows(
      "SELECT (SELECT count(*) FROM responses), (SELECT count(*) FROM memberships), "
      "pg_size_pretty(pg_total_relation_size('responses')), "
      "pg_size_pretty(pg_total_relation_size('memberships'))");
  if (!sizes.ok()) return Fail("sizes", sizes.status());
  const auto& size_row = sizes->front();
  absl::PrintF("  %-44s %9.1f s  (responses %s rows, %s; memberships %s rows, %s)\n", "total",
               generate_ms / 1000, size_row[0], size_row[2], size_row[1], size_row[3]);
  int64_t sql_memberships = 0;
  if (!absl::SimpleAtoi(size_row[1], &sql_memberships))
    return Fail("sizes", absl::InternalError(size_row[1]));
  metrics.Add("pg_generate_s", generate_ms / 1000);

  // Rollups, in the same database.
  absl::PrintF("\n-- Rollups (RollupBatch, %d responses per transaction) --\n", options.chunk);
  auto db = store::Open(*url);
  if (!db.ok()) return Fail("open", db.status());
  if (absl::Status s = store::Migrate(**db, "reporting", reporting::ReportingMigrations());
      !s.ok()) {
    return Fail("migrate", s);
  }
  std::vector<uint32_t> segments_of(profiles);
  int64_t memberships = 0;
  for (int64_t p = 0; p < profiles; ++p) {
    for (int64_t s = 0; s < kSegments; ++s) {
      if (IsMember(p, s)) {
        segments_of[p] |= uint32_t{1} << s;
        ++memberships;
      }
    }
  }
  if (memberships != sql_memberships) {
    return Fail("memberships", absl::InternalError(absl::StrFormat("C++ formula gives %d, SQL %d",
                                                                   memberships, sql_memberships)));
  }
  std::vector<std::string> keys;
  for (int64_t s = 0; s < kSegments; ++s) keys.push_back(SegmentKey(s));
  const std::string everyone;
  double aggregate_ms = 0, write_ms = 0;
  int64_t written = 0;
  reporting::RollupBatch batch;
  for (int64_t first = 0; first < n; first += options.chunk) {
    const SteadyClock::time_point start = SteadyClock::now();
    for (int64_t i = first; i < std::min(n, first + options.chunk); ++i) {
      const int64_t day = kStartDay2025 + DayOffsetOf(i);
      const int64_t score = ScoreOf(i);
      const double total = static_cast<double>(score);
      batch.Add(reporting::Family::kNps, 0, everyone, day, score, 1, total);
      for (uint32_t mask = segments_of[ProfileOf(i, profiles)]; mask != 0; mask &= mask - 1) {
        batch.Add(reporting::Family::kNps, rv1::DIMENSION_SEGMENT, keys[__builtin_ctz(mask)], day,
                  score, 1, total);
      }
    }
    const SteadyClock::time_point write_start = SteadyClock::now();
    aggregate_ms += std::chrono::duration<double, std::milli>(write_start - start).count();
    written += static_cast<int64_t>(batch.size());
    if (absl::Status s = (*db)->Transact([&](store::Tx& tx) { return batch.Write(tx); }); !s.ok()) {
      return Fail("rollup write", s);
    }
    write_ms += MillisSince(write_start);
  }
  auto rollup_rows = pg.Rows(
      "SELECT count(*), count(*) FILTER (WHERE grain = 3), "
      "pg_size_pretty(pg_total_relation_size('reporting_rollups')) FROM reporting_rollups");
  if (!rollup_rows.ok()) return Fail("rollups", rollup_rows.status());
  const auto& rollup_row = rollup_rows->front();
  absl::PrintF("  %-44s %9.1f s  (%d responses, %d memberships; %.0f responses/s)\n",
               "aggregate in memory (RollupBatch::Add)", aggregate_ms / 1000, n, memberships,
               static_cast<double>(n) / (aggregate_ms / 1000));
  absl::PrintF("  %-44s %9.1f s  (%d rows upserted in %d transactions)\n",
               "write (RollupBatch::Write)", write_ms / 1000, written,
               (n + options.chunk - 1) / options.chunk);
  absl::PrintF("  %-44s %9.1f s  (%.0f responses/s)\n", "total", (aggregate_ms + write_ms) / 1000,
               static_cast<double>(n) / ((aggregate_ms + write_ms) / 1000));
  absl::PrintF("  reporting_rollups: %s rows (%s of them month rows), %s\n", rollup_row[0],
               rollup_row[1], rollup_row[2]);
  if (absl::Status s = pg.Exec("VACUUM ANALYZE reporting_rollups"); !s.ok())
    return Fail("vacuum", s);
  metrics.Add("rollup_ingest_s", (aggregate_ms + write_ms) / 1000);
  metrics.Add("rollup_ingest_per_s", static_cast<double>(n) / ((aggregate_ms + write_ms) / 1000));

  // The comparison.
  const std::string sql = BaselineSql();
  reporting::Kpis kpis(**db);
  const rv1::GetKpiSeriesRequest request = SeriesRequest();
  struct Variant {
    const char* key;
    const char* label;
    const char* setup;  // cumulative session settings
  };
  std::vector<Variant> variants = {{"", "PostgreSQL defaults", "RESET ALL"}};
  if (options.variants) {
    variants.push_back({"_nojit", "jit off", "SET jit = off"});
    variants.push_back({"_nojit_workmem", "jit off, work_mem 256MB", "SET work_mem = '256MB'"});
  }
  absl::PrintF(
      "\n-- Query: best of %d runs, SQL and GetKpiSeries alternating (load average %s) --\n",
      options.runs, LoadAverage());
  absl::PrintF("  %-40s %10s %10s %10s  %s\n", "", "best ms", "median ms", "SQL/rollups",
               "plan (EXPLAIN)");
  struct Measured {
    const Variant* variant;
    std::vector<double> ms;
    std::string plan;
  };
  std::vector<Measured> measured;
  std::vector<double> rollup_ms;
  int compared = 0, lines = 0, periods = 0;
  for (const Variant& variant : variants) {
    if (absl::Status s = pg.Exec(variant.setup); !s.ok()) return Fail("settings", s);
    Measured m{&variant, {}, PlanOf(pg, sql)};
    for (int64_t run = 0; run < options.runs; ++run) {
      auto baseline = RunBaseline(pg, sql);
      if (!baseline.ok()) return Fail("baseline", baseline.status());
      m.ms.push_back(baseline->ms);
      const SteadyClock::time_point start = SteadyClock::now();
      auto series = kpis.GetKpiSeries(request, absl::InfiniteFuture());
      rollup_ms.push_back(MillisSince(start));
      if (!series.ok()) return Fail("GetKpiSeries", series.status());
      auto checked = Compare(*series, baseline->cells);
      if (!checked.ok()) return Fail("rollups and SQL differ", checked.status());
      compared = *checked;
      lines = series->lines_size();
      periods = lines > 0 ? series->lines(0).points_size() : 0;
    }
    measured.push_back(std::move(m));
  }
  const double best_rollups = Best(rollup_ms);
  double default_ratio = 0, best_ratio = 0;
  for (const Measured& m : measured) {
    const double ratio = Best(m.ms) / best_rollups;
    if (m.variant->key[0] == '\0') default_ratio = ratio;
    if (best_ratio == 0 || ratio < best_ratio) best_ratio = ratio;
    absl::PrintF("  %-40s %10.1f %10.1f %10.0f  %s\n", absl::StrCat("SQL, ", m.variant->label),
                 Best(m.ms), Median(m.ms), ratio, m.plan);
    metrics.Add(absl::StrCat("sql", m.variant->key, "_ms"), Best(m.ms));
  }
  absl::PrintF("  %-40s %10.2f %10.2f %10s  (%d runs, alternating with the SQL runs)\n",
               "GetKpiSeries (rollups)", best_rollups, Median(rollup_ms), "", rollup_ms.size());
  // For scale, neither gives the report: the least PostgreSQL can spend touching every
  // response once, and the rollup statement GetKpiSeries sends, alone through the store.
  if (absl::Status s = pg.Exec("RESET ALL"); !s.ok()) return Fail("settings", s);
  const std::string rollup_read_sql =
      "SELECT dimension, dim_key, period, bucket, n, total FROM reporting_rollups WHERE "
      "family = $1 AND grain = $2 AND (dimension = 0 OR dimension = $3) AND period >= $4 AND "
      "period < $5";
  const store::Params rollup_read_params = {int64_t{static_cast<int>(reporting::Family::kNps)},
                                            int64_t{static_cast<int>(reporting::Grain::kMonth)},
                                            int64_t{rv1::DIMENSION_SEGMENT}, kStartDay2025,
                                            kStartDay2025 + kDaysIn2025};
  std::vector<double> count_ms, read_ms;
  size_t read_rows = 0;
  for (int64_t run = 0; run < options.runs; ++run) {
    SteadyClock::time_point start = SteadyClock::now();
    auto count = pg.Value("SELECT count(*) FROM responses");
    count_ms.push_back(MillisSince(start));
    if (!count.ok()) return Fail("count", count.status());
    start = SteadyClock::now();
    auto rows = (*db)->Query(rollup_read_sql, rollup_read_params);
    read_ms.push_back(MillisSince(start));
    if (!rows.ok()) return Fail("rollup read", rows.status());
    read_rows = rows->size();
  }
  absl::PrintF("  %-40s %10.1f %10.1f %10.0f  (floor: every response read once, no join)\n",
               "SQL, SELECT count(*) FROM responses", Best(count_ms), Median(count_ms),
               Best(count_ms) / best_rollups);
  absl::PrintF(
      "  %-40s %10.2f %10.2f %10s  (%d rows; GetKpiSeries adds histograms and the protobuf)\n",
      "rollup SELECT alone (store::Query)", Best(read_ms), Median(read_ms), "", read_rows);
  metrics.Add("sql_count_floor_ms", Best(count_ms));
  metrics.Add("rollup_read_ms", Best(read_ms));
  absl::PrintF(
      "  equal on both sides: %d cells (%d lines x %d months), NPS within 1e-9, the same "
      "sample sizes, in every run\n",
      compared, lines, periods);
  absl::PrintF(
      "  ratio SQL / rollups (best of each): %.0f against PostgreSQL's defaults, %.0f "
      "against its fastest setting above;  goal >= 100: %s\n",
      default_ratio, best_ratio, best_ratio >= 100 ? "met" : "NOT MET");
  metrics.Add("rollups_ms", best_rollups);
  metrics.Add("ratio", default_ratio);
  metrics.Add("ratio_best_sql", best_ratio);
  metrics.AddText("goal_100x", best_ratio >= 100 ? "met" : "not_met");

  // What PostgreSQL did, once, under its defaults.
  auto explain = pg.Rows(absl::StrCat("EXPLAIN (ANALYZE) ", sql));
  if (!explain.ok()) return Fail("explain", explain.status());
  absl::PrintF(
      "\n-- EXPLAIN ANALYZE of the SQL (defaults; the JIT summary shows only with costs) --\n");
  for (const auto& row : *explain) absl::PrintF("  %s\n", row[0]);
  auto rollup_plan = pg.Rows(
      "EXPLAIN (ANALYZE, COSTS OFF) SELECT dimension, dim_key, period, bucket, n, total FROM "
      "reporting_rollups WHERE family = 1 AND grain = 3 AND (dimension = 0 OR dimension = 1) AND "
      "period >= 20089 AND period < 20454");
  if (!rollup_plan.ok()) return Fail("explain", rollup_plan.status());
  absl::PrintF("\n-- EXPLAIN ANALYZE of the rollup read GetKpiSeries sends --\n");
  for (const auto& row : *rollup_plan) absl::PrintF("  %s\n", row[0]);

  if (absl::Status s = RunClvFit(**db, options.runs, metrics); !s.ok()) return Fail("clv", s);

  absl::PrintF("\n");
  metrics.Print();
  return 0;
}

}  // namespace
}  // namespace centric::reporting_bench

int main(int argc, char** argv) {
  centric::reporting_bench::Options options;
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    int64_t* target = nullptr;
    int64_t variants = -1;
    if (absl::ConsumePrefix(&arg, "--responses=")) target = &options.responses;
    if (absl::ConsumePrefix(&arg, "--runs=")) target = &options.runs;
    if (absl::ConsumePrefix(&arg, "--chunk=")) target = &options.chunk;
    if (absl::ConsumePrefix(&arg, "--variants=")) target = &variants;
    // 10^9 responses keep every product of the formulas below 2^63.
    if (target == nullptr || !absl::SimpleAtoi(arg, target) || *target < 0 ||
        (target != &variants && *target == 0) || options.responses > 1'000'000'000 ||
        variants > 1) {
      std::fprintf(stderr,
                   "usage: reporting_bench [--responses=10000000] [--runs=5] [--chunk=1000000] "
                   "[--variants=1|0]\n");
      return 2;
    }
    if (target == &variants) options.variants = variants == 1;
  }
  return centric::reporting_bench::Run(options);
}
