#include "services/reporting/kpis.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "libs/runtime/errors.h"
#include "libs/runtime/resource.h"
#include "libs/stats/kpi.h"
#include "services/reporting/csv.h"
#include "services/reporting/rollups.h"
#include "services/reporting/schema.h"

namespace centric::reporting {
namespace {

using runtime::FromTimestamp;
using runtime::ToTimestamp;

constexpr double kZ95 = 1.959963984540054;

// Counts per bucket of one rollup family for one key and period.
struct Histogram {
  std::map<int64_t, std::pair<int64_t, double>> buckets;
  void Add(int64_t bucket, int64_t n, double total) {
    auto& b = buckets[bucket];
    b.first += n;
    b.second += total;
  }
  void Merge(const Histogram& other) {
    for (const auto& [bucket, c] : other.buckets) Add(bucket, c.first, c.second);
  }
  int64_t Count() const {
    int64_t n = 0;
    for (const auto& [bucket, c] : buckets) n += c.first;
    return n;
  }
  int64_t CountWhere(int64_t low, int64_t high) const {
    int64_t n = 0;
    for (const auto& [bucket, c] : buckets) {
      if (bucket >= low && bucket <= high) n += c.first;
    }
    return n;
  }
};

v1::KpiValue Exact(double value, int64_t sample_size, bool defined = true) {
  v1::KpiValue v;
  v.set_defined(defined);
  if (!defined) return v;
  v.set_value(value);
  v.set_low(value);
  v.set_high(value);
  v.set_sample_size(sample_size);
  return v;
}

v1::KpiValue Undefined() { return Exact(0, 0, false); }

v1::KpiValue Percent(int64_t part, int64_t whole) {
  if (whole <= 0) return Undefined();
  return Exact(100.0 * static_cast<double>(part) / static_cast<double>(whole), whole);
}

// The median of a duration histogram, in seconds (the midpoint of the two middle values
// for an even count).
v1::KpiValue Median(const Histogram& h) {
  const int64_t n = h.Count();
  if (n == 0) return Undefined();
  auto nth = [&](int64_t k) {  // 1-based
    int64_t seen = 0;
    for (const auto& [bucket, c] : h.buckets) {
      seen += c.first;
      if (seen >= k) return DurationBucketSeconds(bucket);
    }
    return DurationBucketSeconds(h.buckets.rbegin()->first);
  };
  double median = n % 2 == 1 ? nth((n + 1) / 2) : (nth(n / 2) + nth(n / 2 + 1)) / 2;
  return Exact(median, n);
}

// A KPI from its rollup histograms (`second` is the invitations of the response rate).
v1::KpiValue FromHistogram(v1::Kpi kpi, const Histogram& h, const Histogram& second) {
  const int64_t n = h.Count();
  switch (kpi) {
    case v1::KPI_NPS: {
      auto nps = stats::Nps(h.CountWhere(9, 10), h.CountWhere(7, 8), h.CountWhere(0, 6));
      if (!nps.ok()) return Undefined();
      v1::KpiValue v = Exact(nps->score, n);
      v.set_low(std::max(-100.0, nps->score - nps->margin_of_error));
      v.set_high(std::min(100.0, nps->score + nps->margin_of_error));
      return v;
    }
    case v1::KPI_CSAT: {
      auto csat = stats::Csat(h.CountWhere(4, 5), n);
      if (!csat.ok()) return Undefined();
      v1::KpiValue v = Exact(csat->percent_satisfied, n);
      v.set_low(csat->interval.low);
      v.set_high(csat->interval.high);
      return v;
    }
    case v1::KPI_CES: {
      if (n == 0) return Undefined();
      double sum = 0, squares = 0;
      for (const auto& [bucket, c] : h.buckets) {
        sum += static_cast<double>(bucket) * static_cast<double>(c.first);
        squares += static_cast<double>(bucket * bucket) * static_cast<double>(c.first);
      }
      const double mean = sum / static_cast<double>(n);
      v1::KpiValue v = Exact(mean, n);
      if (n > 1) {
        double variance = std::max(0.0, (squares - static_cast<double>(n) * mean * mean) /
                                             static_cast<double>(n - 1));
        double half = kZ95 * std::sqrt(variance / static_cast<double>(n));
        v.set_low(mean - half);
        v.set_high(mean + half);
      }
      return v;
    }
    case v1::KPI_RESPONSES:
      return Exact(static_cast<double>(n), n);
    case v1::KPI_RESPONSE_RATE:
      return Percent(n, second.Count());
    case v1::KPI_FOLLOW_UP_SLA_COMPLIANCE:
    case v1::KPI_CLOSED_LOOP_RATE:
      return Percent(h.CountWhere(1, 1), n);
    case v1::KPI_TIME_TO_FIRST_CONTACT:
    case v1::KPI_TIME_TO_RESOLUTION:
      return Median(h);
    default:
      return Undefined();
  }
}

// The rollup families a KPI reads; empty for the customer KPIs.
std::vector<Family> FamiliesOf(v1::Kpi kpi) {
  switch (kpi) {
    case v1::KPI_NPS: return {Family::kNps};
    case v1::KPI_CSAT: return {Family::kCsat};
    case v1::KPI_CES: return {Family::kCes};
    case v1::KPI_RESPONSES: return {Family::kResponses};
    case v1::KPI_RESPONSE_RATE: return {Family::kResponses, Family::kInvitations};
    case v1::KPI_FOLLOW_UP_SLA_COMPLIANCE: return {Family::kSlaDecided};
    case v1::KPI_TIME_TO_FIRST_CONTACT: return {Family::kFirstContact};
    case v1::KPI_TIME_TO_RESOLUTION: return {Family::kResolution};
    case v1::KPI_CLOSED_LOOP_RATE: return {Family::kClosed};
    default: return {};
  }
}

// One line of values: a value per period and one over all periods.
struct Line {
  std::vector<v1::KpiValue> points;
  v1::KpiValue total;
};
using Lines = std::map<std::string, Line>;

// Periods are [bounds[i], bounds[i + 1]) in day numbers.
struct Periods {
  std::vector<int64_t> bounds;
  bool months = false;  // every bound is a month start
  size_t count() const { return bounds.size() - 1; }
  // The period holding `day`, or count() when outside.
  size_t IndexOf(int64_t day) const {
    auto it = std::upper_bound(bounds.begin(), bounds.end(), day);
    if (it == bounds.begin() || it == bounds.end()) return count();
    return static_cast<size_t>(it - bounds.begin()) - 1;
  }
};

absl::StatusOr<Lines> EvaluateRollups(store::Tx& tx, v1::Kpi kpi, v1::Dimension dimension,
                                      const Periods& periods) {
  const std::vector<Family> families = FamiliesOf(kpi);
  const size_t n = periods.count();
  // key -> family index -> period -> histogram
  std::map<std::string, std::vector<std::vector<Histogram>>> cells;
  cells[""];
  const int grain = static_cast<int>(periods.months ? Grain::kMonth : Grain::kDay);
  for (size_t f = 0; f < families.size(); ++f) {
    auto rows = tx.Query(
        "SELECT dimension, dim_key, period, bucket, n, total FROM reporting_rollups WHERE "
        "family = $1 AND grain = $2 AND (dimension = 0 OR dimension = $3) AND period >= $4 AND "
        "period < $5",
        {int64_t{static_cast<int>(families[f])}, int64_t{grain}, int64_t{dimension},
         periods.bounds.front(), periods.bounds.back()});
    if (!rows.ok()) return rows.status();
    for (const store::Row& row : *rows) {
      size_t index = periods.IndexOf(row.GetInt(2));
      if (index >= n) continue;
      std::string key = row.GetInt(0) == 0 ? "" : row.GetString(1);
      if (row.GetInt(0) != 0 && key.empty()) continue;
      auto& per_family = cells[key];
      per_family.resize(families.size(), std::vector<Histogram>(n));
      per_family[f][index].Add(row.GetInt(3), row.GetInt(4), row.GetDouble(5));
    }
  }
  Lines lines;
  for (auto& [key, per_family] : cells) {
    per_family.resize(families.size(), std::vector<Histogram>(n));
    Line& line = lines[key];
    Histogram all_first, all_second;
    for (size_t i = 0; i < n; ++i) {
      const Histogram empty;
      const Histogram& second = families.size() > 1 ? per_family[1][i] : empty;
      line.points.push_back(FromHistogram(kpi, per_family[0][i], second));
      all_first.Merge(per_family[0][i]);
      all_second.Merge(second);
    }
    line.total = FromHistogram(kpi, all_first, all_second);
  }
  return lines;
}

// SQL pieces selecting the breakdown key of a customer table aliased `t`.
struct KeySql {
  std::string select;  // the key expression
  std::string join;    // joins needed
  std::string where;   // extra conditions
  // " GROUP BY <key>", empty without a breakdown (PostgreSQL refuses GROUP BY '').
  std::string group_by() const { return select == "''" ? "" : " GROUP BY " + select; }
};

KeySql KeyFor(v1::Dimension dimension, bool activity) {
  switch (dimension) {
    case v1::DIMENSION_SEGMENT:
      return {"m.grp", " JOIN reporting_memberships m ON m.profile = t.profile",
              " AND m.grp LIKE 'segments/%'" + std::string(activity ? " AND t.channel = ''" : "")};
    case v1::DIMENSION_PERSONA:
      return {"m.grp", " JOIN reporting_memberships m ON m.profile = t.profile",
              " AND m.grp LIKE 'personas/%'" + std::string(activity ? " AND t.channel = ''" : "")};
    case v1::DIMENSION_CHANNEL:
      return {"t.channel", "", activity ? " AND t.channel <> ''" : ""};
    default:
      return {"''", "", activity ? " AND t.channel = ''" : ""};
  }
}

// A customer KPI over [from, to) for the whole population (dimension UNSPECIFIED) or
// per key.
absl::StatusOr<std::map<std::string, v1::KpiValue>> CustomerKpi(store::Tx& tx, v1::Kpi kpi,
                                                                v1::Dimension dimension,
                                                                int64_t from, int64_t to,
                                                                int churn_days) {
  std::map<std::string, v1::KpiValue> out;
  if (kpi == v1::KPI_ACTIVE_CUSTOMERS) {
    KeySql k = KeyFor(dimension, /*activity=*/true);
    auto rows = tx.Query(absl::StrCat("SELECT ", k.select,
                                      ", COUNT(DISTINCT t.profile) FROM reporting_activity t",
                                      k.join, " WHERE t.day >= $1 AND t.day < $2", k.where,
                                      k.group_by()),
                         {from, to});
    if (!rows.ok()) return rows.status();
    for (const store::Row& row : *rows) {
      out[row.GetString(0)] = Exact(static_cast<double>(row.GetInt(1)), row.GetInt(1));
    }
    if (dimension == v1::DIMENSION_UNSPECIFIED && out.empty()) out[""] = Exact(0, 0);
    return out;
  }
  if (kpi == v1::KPI_REVENUE || kpi == v1::KPI_REVENUE_PER_CUSTOMER ||
      kpi == v1::KPI_HISTORICAL_CLV) {
    KeySql k = KeyFor(dimension, /*activity=*/false);
    const bool cumulative = kpi == v1::KPI_HISTORICAL_CLV;
    auto rows = tx.Query(
        absl::StrCat("SELECT ", k.select,
                     ", SUM(t.amount), SUM(t.purchases), COUNT(DISTINCT t.profile) FROM "
                     "reporting_purchases t",
                     k.join, " WHERE t.type = 'purchase' AND t.day >= $1 AND t.day < $2",
                     k.where, k.group_by()),
        {cumulative ? std::numeric_limits<int32_t>::min() : from, to});
    if (!rows.ok()) return rows.status();
    for (const store::Row& row : *rows) {
      // Rounded to millionths of the currency unit: SUM over doubles depends on the order
      // the database adds rows in, which a rebuild or a replica may change in the last bit.
      const double amount = std::round(row.GetDouble(1) * 1e6) / 1e6;
      const int64_t purchases = row.GetInt(2), customers = row.GetInt(3);
      if (kpi == v1::KPI_REVENUE) {
        out[row.GetString(0)] = Exact(amount, purchases);
      } else {
        out[row.GetString(0)] =
            customers > 0 ? Exact(amount / static_cast<double>(customers), customers) : Undefined();
      }
    }
    if (dimension == v1::DIMENSION_UNSPECIFIED && out.empty()) {
      out[""] = kpi == v1::KPI_REVENUE ? Exact(0, 0) : Undefined();
    }
    return out;
  }
  if (kpi == v1::KPI_CHURN_RATE) {
    KeySql k = KeyFor(dimension, /*activity=*/false);
    // Customers active at `from` (a purchase in [from - N, from)) and whether they are
    // still active at `to` (a purchase in [to - N, to)).
    std::string join = k.join.empty() ? "" : " JOIN reporting_memberships m ON m.profile = t.profile";
    auto rows = tx.Query(
        absl::StrCat(
            "SELECT ", k.select,
            ", COUNT(*), SUM(CASE WHEN EXISTS (SELECT 1 FROM reporting_purchases q WHERE "
            "q.profile = t.profile AND q.type = 'purchase' AND q.day >= $3 AND q.day < $4) THEN "
            "0 ELSE 1 END) FROM (SELECT DISTINCT profile FROM reporting_purchases WHERE type = "
            "'purchase' AND day >= $1 AND day < $2) t",
            join, " WHERE 1 = 1", k.where, k.group_by()),
        {from - churn_days, from, to - churn_days, to});
    if (!rows.ok()) return rows.status();
    for (const store::Row& row : *rows) {
      out[row.GetString(0)] = Percent(row.GetInt(2), row.GetInt(1));
    }
    if (dimension == v1::DIMENSION_UNSPECIFIED && out.empty()) out[""] = Undefined();
    return out;
  }
  return absl::InvalidArgumentError(absl::StrCat("kpi: ", v1::Kpi_Name(kpi), " is not a customer KPI"));
}

absl::StatusOr<Lines> EvaluateCustomers(store::Tx& tx, v1::Kpi kpi, v1::Dimension dimension,
                                        const Periods& periods, int churn_days) {
  const size_t n = periods.count();
  Lines lines;
  auto fill = [&](v1::Dimension d) -> absl::Status {
    for (size_t i = 0; i < n; ++i) {
      auto values = CustomerKpi(tx, kpi, d, periods.bounds[i], periods.bounds[i + 1], churn_days);
      if (!values.ok()) return values.status();
      for (auto& [key, value] : *values) {
        Line& line = lines[key];
        line.points.resize(n, kpi == v1::KPI_ACTIVE_CUSTOMERS || kpi == v1::KPI_REVENUE
                                  ? Exact(0, 0)
                                  : Undefined());
        line.points[i] = value;
      }
    }
    // Over the whole range: the same KPI on [first, last); for historical CLV the value
    // at the end.
    auto totals = CustomerKpi(tx, kpi, d, periods.bounds.front(), periods.bounds.back(), churn_days);
    if (!totals.ok()) return totals.status();
    for (auto& [key, value] : *totals) lines[key].total = value;
    return absl::OkStatus();
  };
  if (absl::Status s = fill(v1::DIMENSION_UNSPECIFIED); !s.ok()) return s;
  if (dimension != v1::DIMENSION_UNSPECIFIED) {
    if (absl::Status s = fill(dimension); !s.ok()) return s;
  }
  for (auto& [key, line] : lines) {
    line.points.resize(n, kpi == v1::KPI_ACTIVE_CUSTOMERS || kpi == v1::KPI_REVENUE ? Exact(0, 0)
                                                                                   : Undefined());
  }
  return lines;
}

// The days a google.protobuf.Timestamp can start (0001-01-01 to 9999-12-31): a period
// bound outside them has no timestamp to be reported as.
constexpr int64_t kFirstDay = -719162;
constexpr int64_t kLastDay = 2932896;

void CheckTime(const google::protobuf::Timestamp& t, const std::string& field,
               std::vector<runtime::FieldViolation>& violations) {
  if (!t.seconds() && !t.nanos()) {
    violations.push_back({field, "is required"});
  } else if (!runtime::ValidTimestamp(t)) {
    violations.push_back({field, runtime::kInvalidTimestamp});
  }
}

absl::StatusOr<Periods> MakePeriods(const google::protobuf::Timestamp& start,
                                    const google::protobuf::Timestamp& end,
                                    v1::Granularity granularity, const std::string& prefix) {
  std::vector<runtime::FieldViolation> violations;
  CheckTime(start, prefix + "start_time", violations);
  CheckTime(end, prefix + "end_time", violations);
  if (!violations.empty()) return runtime::InvalidArgument(std::move(violations));
  absl::Time from = FromTimestamp(start), to = FromTimestamp(end);
  if (to <= from) {
    return runtime::InvalidField(prefix + "end_time", "must be after start_time");
  }
  const int64_t first_day = DayNumber(from);
  const int64_t end_day = DayNumber(to - absl::Nanoseconds(1)) + 1;  // exclusive
  Periods periods;
  auto too_many = [&] {
    return runtime::InvalidField(
        prefix + "end_time",
        absl::StrCat("the range holds more than ", kMaxPeriods, " periods of the granularity"));
  };
  switch (granularity) {
    case v1::GRANULARITY_DAY:
      if (end_day - first_day > kMaxPeriods) return too_many();
      for (int64_t d = first_day; d <= end_day; ++d) periods.bounds.push_back(d);
      break;
    case v1::GRANULARITY_WEEK:
      for (int64_t d = WeekStartDay(first_day);; d += 7) {
        periods.bounds.push_back(d);
        if (d >= end_day) break;
        if (periods.bounds.size() > kMaxPeriods) return too_many();
      }
      break;
    case v1::GRANULARITY_MONTH:
    case v1::GRANULARITY_UNSPECIFIED:
      periods.months = true;
      for (int64_t d = MonthStartDay(first_day);; d = AddMonths(d, 1)) {
        periods.bounds.push_back(d);
        if (d >= end_day) break;
        if (periods.bounds.size() > kMaxPeriods) return too_many();
      }
      break;
    default:
      return runtime::InvalidField(prefix + "granularity",
                                   absl::StrCat("unknown value ", static_cast<int>(granularity)));
  }
  if (periods.bounds.back() > kLastDay) {
    return runtime::InvalidField(
        prefix + "end_time", "the last period of the granularity would end after 9999-12-31");
  }
  return periods;
}

absl::StatusOr<int> ChurnDays(int32_t requested, const std::string& field) {
  if (requested == 0) return kDefaultChurnWindowDays;
  if (requested < 1 || requested > kMaxChurnWindowDays) {
    return runtime::InvalidField(
        field, absl::StrCat("must be 1 to ", kMaxChurnWindowDays, " days (0 means ",
                            kDefaultChurnWindowDays, "), got ", requested));
  }
  return requested;
}

absl::StatusOr<Lines> Evaluate(store::Tx& tx, v1::Kpi kpi, v1::Dimension dimension,
                               const Periods& periods, int churn_days) {
  if (FamiliesOf(kpi).empty()) return EvaluateCustomers(tx, kpi, dimension, periods, churn_days);
  return EvaluateRollups(tx, kpi, dimension, periods);
}

v1::ScorecardTile Tile(v1::Kpi kpi, const v1::KpiValue& previous, const v1::KpiValue& current) {
  v1::ScorecardTile tile;
  tile.set_kpi(kpi);
  *tile.mutable_current() = current;
  *tile.mutable_previous() = previous;
  if (!current.defined() || !previous.defined()) return tile;
  const double change = current.value() - previous.value();
  tile.set_change(change);
  const bool moved = previous.value() == 0 ? change != 0
                                           : std::abs(change) >= 0.01 * std::abs(previous.value());
  if (!moved) {
    tile.set_trend(v1::ScorecardTile::TREND_FLAT);
    return tile;
  }
  tile.set_trend(change > 0 ? v1::ScorecardTile::TREND_UP : v1::ScorecardTile::TREND_DOWN);
  tile.set_improved((change < 0) == LowerIsBetter(kpi));
  return tile;
}

}  // namespace

bool HasDimension(v1::Kpi kpi, v1::Dimension dimension) {
  if (dimension == v1::DIMENSION_UNSPECIFIED) return true;
  const bool group = dimension == v1::DIMENSION_SEGMENT || dimension == v1::DIMENSION_PERSONA;
  switch (kpi) {
    case v1::KPI_NPS:
    case v1::KPI_CSAT:
    case v1::KPI_CES:
    case v1::KPI_RESPONSES:
      return dimension >= v1::DIMENSION_SEGMENT && dimension <= v1::DIMENSION_SURVEY;
    case v1::KPI_RESPONSE_RATE:
    case v1::KPI_ACTIVE_CUSTOMERS:
    case v1::KPI_REVENUE:
    case v1::KPI_REVENUE_PER_CUSTOMER:
    case v1::KPI_HISTORICAL_CLV:
      return group || dimension == v1::DIMENSION_CHANNEL;
    case v1::KPI_FOLLOW_UP_SLA_COMPLIANCE:
    case v1::KPI_TIME_TO_FIRST_CONTACT:
    case v1::KPI_TIME_TO_RESOLUTION:
    case v1::KPI_CLOSED_LOOP_RATE:
    case v1::KPI_CHURN_RATE:
      return group;
    default:
      return false;
  }
}

bool LowerIsBetter(v1::Kpi kpi) {
  return kpi == v1::KPI_CHURN_RATE ||
         kpi == v1::KPI_TIME_TO_FIRST_CONTACT || kpi == v1::KPI_TIME_TO_RESOLUTION;
}

const std::vector<v1::Kpi>& ExecutiveKpis() {
  static const auto* kpis = new std::vector<v1::Kpi>{
      v1::KPI_NPS,          v1::KPI_CSAT,           v1::KPI_CES,
      v1::KPI_ACTIVE_CUSTOMERS, v1::KPI_CHURN_RATE, v1::KPI_REVENUE_PER_CUSTOMER,
      v1::KPI_FOLLOW_UP_SLA_COMPLIANCE, v1::KPI_TIME_TO_FIRST_CONTACT};
  return *kpis;
}

const std::vector<v1::Kpi>& TeamKpis() {
  static const auto* kpis =
      new std::vector<v1::Kpi>{v1::KPI_NPS, v1::KPI_CSAT, v1::KPI_CES, v1::KPI_RESPONSES};
  return *kpis;
}

absl::StatusOr<v1::KpiSeries> Kpis::GetKpiSeries(const v1::GetKpiSeriesRequest& request,
                                                 absl::Time deadline) {
  if (request.kpi() == v1::KPI_UNSPECIFIED || !v1::Kpi_IsValid(request.kpi())) {
    return runtime::InvalidField("kpi", "is required: one of KPI_NPS, KPI_CSAT, ... (reporting.proto)");
  }
  if (!v1::Dimension_IsValid(request.dimension())) {
    return runtime::InvalidField("dimension", absl::StrCat("unknown value ", request.dimension()));
  }
  if (!HasDimension(request.kpi(), request.dimension())) {
    return runtime::InvalidField(
        "dimension", absl::StrCat(v1::Kpi_Name(request.kpi()), " has no breakdown by ",
                                  v1::Dimension_Name(request.dimension())));
  }
  if (request.keys_size() > kMaxKeys) {
    return runtime::InvalidField("keys", absl::StrCat("at most ", kMaxKeys, " keys, got ",
                                                      request.keys_size()));
  }
  if (request.keys_size() > 0 && request.dimension() == v1::DIMENSION_UNSPECIFIED) {
    return runtime::InvalidField("keys", "needs a dimension");
  }
  auto churn = ChurnDays(request.churn_window_days(), "churn_window_days");
  if (!churn.ok()) return churn.status();
  auto periods = MakePeriods(request.start_time(), request.end_time(), request.granularity(), "");
  if (!periods.ok()) return periods.status();
  Lines lines;
  absl::Status status = db_.Transact(
      [&](store::Tx& tx) -> absl::Status {
        auto evaluated = Evaluate(tx, request.kpi(), request.dimension(), *periods, *churn);
        if (!evaluated.ok()) return evaluated.status();
        lines = std::move(*evaluated);
        return absl::OkStatus();
      },
      {.deadline = deadline, .read_only = true});
  if (!status.ok()) return status;

  v1::KpiSeries series;
  series.set_kpi(request.kpi());
  series.set_granularity(request.granularity() == v1::GRANULARITY_UNSPECIFIED
                             ? v1::GRANULARITY_MONTH
                             : request.granularity());
  series.set_dimension(request.dimension());
  std::set<std::string> wanted(request.keys().begin(), request.keys().end());
  std::vector<std::pair<std::string, const Line*>> order;
  for (const auto& [key, line] : lines) {
    if (key.empty()) continue;
    if (!wanted.empty() && wanted.count(key) == 0) continue;
    order.emplace_back(key, &line);
  }
  std::stable_sort(order.begin(), order.end(), [](const auto& a, const auto& b) {
    return a.second->total.sample_size() > b.second->total.sample_size();
  });
  if (order.size() > static_cast<size_t>(kMaxKeys)) order.resize(kMaxKeys);
  Line empty_all;
  empty_all.points.resize(periods->count(), Undefined());
  empty_all.total = Undefined();
  order.insert(order.begin(), {"", lines.count("") ? &lines.at("") : &empty_all});
  for (const auto& [key, line] : order) {
    v1::KpiLine& out = *series.add_lines();
    out.set_key(key);
    for (size_t i = 0; i < periods->count(); ++i) {
      v1::KpiPoint& point = *out.add_points();
      *point.mutable_start_time() = ToTimestamp(DayStart(periods->bounds[i]));
      *point.mutable_value() = i < line->points.size() ? line->points[i] : Undefined();
    }
    *out.mutable_total() = line->total;
  }
  return series;
}

absl::StatusOr<v1::Scorecard> Kpis::GetScorecard(const v1::GetScorecardRequest& request,
                                                 absl::Time deadline) {
  auto churn = ChurnDays(request.churn_window_days(), "churn_window_days");
  if (!churn.ok()) return churn.status();
  auto range = MakePeriods(request.start_time(), request.end_time(), v1::GRANULARITY_DAY, "");
  if (!range.ok()) return range.status();
  // The previous period has the same number of days and ends where this one starts.
  const int64_t start = range->bounds.front(), end = range->bounds.back();
  if (start - (end - start) < kFirstDay) {
    return runtime::InvalidField("start_time",
                                 "the previous period of the same length would start before "
                                 "0001-01-01");
  }
  Periods periods;
  periods.bounds = {start - (end - start), start, end};
  v1::Scorecard card;
  *card.mutable_start_time() = ToTimestamp(DayStart(start));
  *card.mutable_end_time() = ToTimestamp(DayStart(end));
  *card.mutable_previous_start_time() = ToTimestamp(DayStart(periods.bounds.front()));
  absl::Status status = db_.Transact(
      [&](store::Tx& tx) -> absl::Status {
        for (v1::Kpi kpi : ExecutiveKpis()) {
          auto lines = Evaluate(tx, kpi, v1::DIMENSION_UNSPECIFIED, periods, *churn);
          if (!lines.ok()) return lines.status();
          const Line& line = (*lines)[""];
          *card.add_tiles() = Tile(kpi, line.points.size() > 0 ? line.points[0] : Undefined(),
                                   line.points.size() > 1 ? line.points[1] : Undefined());
        }
        if (!request.include_team_view()) return absl::OkStatus();
        for (v1::Dimension dimension : {v1::DIMENSION_CHANNEL, v1::DIMENSION_TOUCHPOINT}) {
          std::map<std::string, std::vector<v1::ScorecardTile>> rows;
          for (v1::Kpi kpi : TeamKpis()) {
            auto lines = Evaluate(tx, kpi, dimension, periods, *churn);
            if (!lines.ok()) return lines.status();
            for (auto& [key, line] : *lines) {
              if (key.empty()) continue;
              line.points.resize(2, Undefined());
              rows[key].push_back(Tile(kpi, line.points[0], line.points[1]));
            }
          }
          for (auto& [key, tiles] : rows) {
            v1::ScorecardRow& row = *card.add_rows();
            row.set_dimension(dimension);
            row.set_key(key);
            // Every row has every team KPI, in TeamKpis() order.
            for (v1::Kpi kpi : TeamKpis()) {
              auto it = std::find_if(tiles.begin(), tiles.end(),
                                     [&](const v1::ScorecardTile& t) { return t.kpi() == kpi; });
              *row.add_tiles() =
                  it != tiles.end() ? *it : Tile(kpi, Undefined(), Undefined());
            }
          }
        }
        return absl::OkStatus();
      },
      {.deadline = deadline, .read_only = true});
  if (!status.ok()) return status;
  return card;
}

absl::StatusOr<v1::CohortRetention> Kpis::GetCohortRetention(
    const v1::GetCohortRetentionRequest& request, absl::Time deadline) {
  auto range = MakePeriods(request.start_time(), request.end_time(), v1::GRANULARITY_MONTH, "");
  if (!range.ok()) return range.status();
  const int64_t first = range->bounds.front();
  const int64_t last = range->bounds[range->bounds.size() - 2];  // the month of end_time
  int months = 0;
  for (int64_t m = first; m <= last; m = AddMonths(m, 1)) ++months;
  if (months > kMaxCohortMonths) {
    return runtime::InvalidField("end_time", absl::StrCat("the range holds more than ",
                                                          kMaxCohortMonths, " months"));
  }
  // (cohort month, month) -> customers with a purchase in it.
  std::map<int64_t, std::map<int64_t, int64_t>> counts;
  absl::Status status = db_.Transact(
      [&](store::Tx& tx) -> absl::Status {
        auto rows = tx.Query(
            "SELECT f.first_month, pm.month, COUNT(*) FROM (SELECT profile, MIN(month) AS "
            "first_month FROM reporting_purchase_months GROUP BY profile) f JOIN "
            "reporting_purchase_months pm ON pm.profile = f.profile WHERE f.first_month >= $1 "
            "AND f.first_month <= $2 AND pm.month <= $2 GROUP BY f.first_month, pm.month",
            {first, last});
        if (!rows.ok()) return rows.status();
        for (const store::Row& row : *rows) counts[row.GetInt(0)][row.GetInt(1)] = row.GetInt(2);
        return absl::OkStatus();
      },
      {.deadline = deadline, .read_only = true});
  if (!status.ok()) return status;
  v1::CohortRetention retention;
  for (int64_t cohort = first; cohort <= last; cohort = AddMonths(cohort, 1)) {
    v1::Cohort& c = *retention.add_cohorts();
    *c.mutable_month_start_time() = ToTimestamp(DayStart(cohort));
    const auto& by_month = counts[cohort];
    const int64_t customers = by_month.count(cohort) ? by_month.at(cohort) : 0;
    c.set_customers(customers);
    for (int64_t month = cohort; month <= last; month = AddMonths(month, 1)) {
      const int64_t retained = by_month.count(month) ? by_month.at(month) : 0;
      c.add_retained(retained);
      c.add_retention_percent(customers > 0 ? 100.0 * static_cast<double>(retained) /
                                                  static_cast<double>(customers)
                                            : 0.0);
    }
  }
  return retention;
}

namespace {

std::string Date(const google::protobuf::Timestamp& t) {
  return absl::FormatTime("%Y-%m-%d", FromTimestamp(t), absl::UTCTimeZone());
}

// Prefixes the field paths of an INVALID_ARGUMENT with the report's field name.
absl::Status InReport(const absl::Status& status, const std::string& field) {
  if (status.code() != absl::StatusCode::kInvalidArgument) return status;
  std::vector<runtime::FieldViolation> violations = runtime::FieldViolations(status);
  if (violations.empty()) return status;
  for (auto& v : violations) v.field = absl::StrCat(field, ".", v.field);
  return runtime::InvalidArgument(std::move(violations));
}

}  // namespace

absl::StatusOr<v1::ExportReportResponse> Kpis::ExportReport(const v1::ExportReportRequest& request,
                                                            absl::Time deadline) {
  v1::ExportReportResponse out;
  out.set_content_type("text/csv; charset=utf-8");
  switch (request.report_case()) {
    case v1::ExportReportRequest::kKpiSeries: {
      auto series = GetKpiSeries(request.kpi_series(), deadline);
      if (!series.ok()) return InReport(series.status(), "kpi_series");
      out.set_filename(absl::StrCat(absl::AsciiStrToLower(v1::Kpi_Name(series->kpi())), "_",
                                    Date(request.kpi_series().start_time()), "_",
                                    Date(request.kpi_series().end_time()), ".csv"));
      out.set_content(KpiSeriesCsv(*series));
      return out;
    }
    case v1::ExportReportRequest::kScorecard: {
      auto card = GetScorecard(request.scorecard(), deadline);
      if (!card.ok()) return InReport(card.status(), "scorecard");
      out.set_filename(absl::StrCat("scorecard_", Date(card->start_time()), "_",
                                    Date(card->end_time()), ".csv"));
      out.set_content(ScorecardCsv(*card));
      return out;
    }
    case v1::ExportReportRequest::kCohortRetention: {
      auto cohorts = GetCohortRetention(request.cohort_retention(), deadline);
      if (!cohorts.ok()) return InReport(cohorts.status(), "cohort_retention");
      out.set_filename(absl::StrCat("cohort_retention_",
                                    Date(request.cohort_retention().start_time()), "_",
                                    Date(request.cohort_retention().end_time()), ".csv"));
      out.set_content(CohortRetentionCsv(*cohorts));
      return out;
    }
    default:
      return runtime::InvalidField(
          "report", "is required: one of kpi_series, scorecard, cohort_retention");
  }
}

}  // namespace centric::reporting
