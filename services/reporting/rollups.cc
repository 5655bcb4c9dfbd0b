#include "services/reporting/rollups.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <tuple>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "centric/reporting/v1/reporting.pb.h"
#include "libs/events/bus.h"
#include "libs/runtime/resource.h"
#include "services/reporting/schema.h"

namespace centric::reporting {
namespace {

namespace ev = events::v1;
using runtime::FromTimestamp;

constexpr double kDurationBase = 1.04;
constexpr int kAll = 0;
constexpr int kSegment = v1::DIMENSION_SEGMENT;
constexpr int kPersona = v1::DIMENSION_PERSONA;
constexpr int kChannel = v1::DIMENSION_CHANNEL;
constexpr int kTouchpoint = v1::DIMENSION_TOUCHPOINT;
constexpr int kSurvey = v1::DIMENSION_SURVEY;

// reporting_follow_ups.decided
constexpr int64_t kUndecided = 0;
constexpr int64_t kMet = 1;
constexpr int64_t kMissed = 2;

// The purchase type every customer KPI counts.
constexpr char kPurchase[] = "purchase";
// Interactions counted as survey invitations (the response rate's denominator).
constexpr char kSurveyInvited[] = "survey_invited";

// The groups ("segments/..", "personas/..") `profile` is in now.
absl::StatusOr<std::vector<std::string>> GroupsOf(store::Tx& tx, const std::string& profile) {
  auto rows = tx.Query("SELECT grp FROM reporting_memberships WHERE profile = $1 ORDER BY grp",
                       {profile});
  if (!rows.ok()) return rows.status();
  std::vector<std::string> groups;
  for (const store::Row& row : *rows) groups.push_back(row.GetString(0));
  return groups;
}

void AddGroups(RollupBatch& batch, Family family, const std::vector<std::string>& groups,
               int64_t day, int64_t bucket, int64_t n, double total) {
  for (const std::string& group : groups) {
    int dimension = absl::StartsWith(group, "personas/") ? kPersona : kSegment;
    batch.Add(family, dimension, group, day, bucket, n, total);
  }
}

absl::Status ApplyResponse(store::Tx& tx, const ev::ResponseReceived& r) {
  auto groups = GroupsOf(tx, r.profile());
  if (!groups.ok()) return groups.status();
  const int64_t day = DayNumber(FromTimestamp(r.submit_time()));
  std::vector<std::pair<Family, int64_t>> counts = {{Family::kResponses, 0}};
  if (r.has_score()) {
    if (r.kind() == "NPS") counts.emplace_back(Family::kNps, r.score());
    if (r.kind() == "CSAT") counts.emplace_back(Family::kCsat, r.score());
    if (r.kind() == "CES") counts.emplace_back(Family::kCes, r.score());
  }
  RollupBatch batch;
  for (const auto& [family, bucket] : counts) {
    const double total = family == Family::kResponses ? 0.0 : static_cast<double>(bucket);
    batch.Add(family, kAll, "", day, bucket, 1, total);
    if (!r.channel().empty()) batch.Add(family, kChannel, r.channel(), day, bucket, 1, total);
    if (!r.touchpoint().empty()) {
      batch.Add(family, kTouchpoint, r.touchpoint(), day, bucket, 1, total);
    }
    if (!r.survey().empty()) batch.Add(family, kSurvey, r.survey(), day, bucket, 1, total);
    AddGroups(batch, family, *groups, day, bucket, 1, total);
  }
  return batch.Write(tx);
}

struct FollowUpRow {
  absl::Time open_time;
  std::vector<std::string> groups;
  bool contacted = false;
  bool resolved = false;
  bool closed = false;
  int64_t decided = kUndecided;
};

// The follow-up's row, created from the event when Reporting missed its opening.
absl::StatusOr<FollowUpRow> LoadFollowUp(store::Tx& tx, const ev::FollowUpChanged& f) {
  auto rows = tx.Query(
      "SELECT open_micros, groups, contacted, resolved, closed, decided FROM "
      "reporting_follow_ups WHERE follow_up = $1",
      {f.follow_up()});
  if (!rows.ok()) return rows.status();
  FollowUpRow row;
  if (!rows->empty()) {
    const store::Row& r = rows->front();
    row.open_time = absl::FromUnixMicros(r.GetInt(0));
    std::string groups = r.GetString(1);
    if (!groups.empty()) row.groups = absl::StrSplit(groups, '\n');
    row.contacted = r.GetInt(2) != 0;
    row.resolved = r.GetInt(3) != 0;
    row.closed = r.GetInt(4) != 0;
    row.decided = r.GetInt(5);
    return row;
  }
  auto groups = GroupsOf(tx, f.profile());
  if (!groups.ok()) return groups.status();
  row.open_time = FromTimestamp(f.open_time());
  row.groups = std::move(*groups);
  auto inserted = tx.Exec(
      "INSERT INTO reporting_follow_ups (follow_up, profile, open_micros, groups, contacted, "
      "resolved, closed, decided) VALUES ($1, $2, $3, $4, 0, 0, 0, 0)",
      {f.follow_up(), f.profile(), absl::ToUnixMicros(row.open_time),
       absl::StrJoin(row.groups, "\n")});
  if (!inserted.ok()) return inserted.status();
  return row;
}

absl::Status ApplyFollowUp(store::Tx& tx, const ev::FollowUpChanged& f, absl::Time event_time) {
  auto row = LoadFollowUp(tx, f);
  if (!row.ok()) return row.status();
  RollupBatch batch;
  auto count = [&](Family family, absl::Time at, int64_t bucket, double total) {
    const int64_t day = DayNumber(at);
    batch.Add(family, kAll, "", day, bucket, 1, total);
    AddGroups(batch, family, row->groups, day, bucket, 1, total);
  };
  // The outcome of the SLAs is decided by the first breach or by the resolution
  // (closing without resolving counts as resolving).
  auto decide = [&](int64_t outcome, absl::Time at) {
    if (row->decided != kUndecided) return;
    row->decided = outcome;
    count(Family::kSlaDecided, at, outcome == kMet ? 1 : 0, 0);
  };
  const std::string& change = f.change();
  if (change == "CONTACTED" && !row->contacted) {
    row->contacted = true;
    absl::Duration d = std::max(absl::ZeroDuration(), event_time - row->open_time);
    count(Family::kFirstContact, event_time, DurationBucket(d), absl::ToDoubleSeconds(d));
  } else if (change == "RESOLVED" && !row->resolved) {
    row->resolved = true;
    absl::Duration d = std::max(absl::ZeroDuration(), event_time - row->open_time);
    count(Family::kResolution, event_time, DurationBucket(d), absl::ToDoubleSeconds(d));
    decide(kMet, event_time);
  } else if (change == "SLA_BREACHED") {
    // Counted on the day of the deadline missed, which a rebuild can tell too.
    decide(kMissed, f.has_due_time() ? FromTimestamp(f.due_time()) : event_time);
  } else if (change == "CLOSED" && !row->closed) {
    row->closed = true;
    decide(kMet, event_time);
    count(Family::kClosed, event_time, f.closed_loop() ? 1 : 0, 0);
  }
  if (batch.empty()) return absl::OkStatus();
  auto updated = tx.Exec(
      "UPDATE reporting_follow_ups SET contacted = $2, resolved = $3, closed = $4, decided = $5 "
      "WHERE follow_up = $1",
      {f.follow_up(), int64_t{row->contacted}, int64_t{row->resolved}, int64_t{row->closed},
       row->decided});
  if (!updated.ok()) return updated.status();
  return batch.Write(tx);
}

absl::Status ApplyInteractions(store::Tx& tx, const ev::InteractionRecorded& recorded) {
  const std::string& profile = recorded.profile();
  std::vector<std::string> groups;
  bool groups_loaded = false;
  RollupBatch batch;
  // (type, day, channel) -> amount, count; day set for activity; months for cohorts.
  std::map<std::tuple<std::string, int64_t, std::string>, std::pair<double, int64_t>> money;
  std::set<std::pair<int64_t, std::string>> active;
  std::set<int64_t> months;
  for (const ev::InteractionSummary& i : recorded.interactions()) {
    const int64_t day = DayNumber(FromTimestamp(i.occur_time()));
    active.emplace(day, "");
    if (!i.channel().empty()) active.emplace(day, i.channel());
    if (i.type() == kPurchase || i.monetary_value() > 0) {
      auto& [amount, purchases] = money[{i.type(), day, i.channel()}];
      amount += i.monetary_value();
      purchases += 1;
      if (i.type() == kPurchase) months.insert(MonthStartDay(day));
    }
    if (i.type() == kSurveyInvited) {
      if (!groups_loaded) {
        auto g = GroupsOf(tx, profile);
        if (!g.ok()) return g.status();
        groups = std::move(*g);
        groups_loaded = true;
      }
      batch.Add(Family::kInvitations, kAll, "", day, 0, 1, 0);
      if (!i.channel().empty()) batch.Add(Family::kInvitations, kChannel, i.channel(), day, 0, 1, 0);
      AddGroups(batch, Family::kInvitations, groups, day, 0, 1, 0);
    }
  }
  if (!money.empty()) {
    std::vector<store::Params> rows;
    for (const auto& [key, value] : money) {
      rows.push_back({profile, std::get<0>(key), std::get<1>(key), std::get<2>(key), value.first,
                      value.second});
    }
    auto s = store::InsertMany(
        tx, "INSERT INTO reporting_purchases (profile, type, day, channel, amount, purchases) VALUES",
        rows,
        "ON CONFLICT (profile, type, day, channel) DO UPDATE SET amount = "
        "reporting_purchases.amount + excluded.amount, purchases = reporting_purchases.purchases "
        "+ excluded.purchases");
    if (!s.ok()) return s.status();
  }
  if (!months.empty()) {
    std::vector<store::Params> rows;
    for (int64_t month : months) rows.push_back({profile, month});
    auto s = store::InsertMany(tx, "INSERT INTO reporting_purchase_months (profile, month) VALUES",
                               rows, "ON CONFLICT (profile, month) DO NOTHING");
    if (!s.ok()) return s.status();
  }
  if (!active.empty()) {
    std::vector<store::Params> rows;
    for (const auto& [day, channel] : active) rows.push_back({profile, day, channel});
    auto s = store::InsertMany(tx, "INSERT INTO reporting_activity (profile, day, channel) VALUES",
                               rows, "ON CONFLICT (profile, day, channel) DO NOTHING");
    if (!s.ok()) return s.status();
  }
  return batch.Write(tx);
}

absl::Status ApplyMembership(store::Tx& tx, const ev::MembershipChanged& m) {
  if (m.entered()) {
    return tx
        .Exec("INSERT INTO reporting_memberships (profile, grp) VALUES ($1, $2) ON CONFLICT "
              "(profile, grp) DO NOTHING",
              {m.profile(), m.segment()})
        .status();
  }
  return tx
      .Exec("DELETE FROM reporting_memberships WHERE profile = $1 AND grp = $2",
            {m.profile(), m.segment()})
      .status();
}

absl::Status ApplyPersona(store::Tx& tx, const ev::ProfileChanged& p) {
  auto current = tx.Query(
      "SELECT grp FROM reporting_memberships WHERE profile = $1 AND grp LIKE 'personas/%'",
      {p.profile()});
  if (!current.ok()) return current.status();
  if (current->size() == 1 && current->front().GetString(0) == p.persona()) {
    return absl::OkStatus();
  }
  auto deleted = tx.Exec(
      "DELETE FROM reporting_memberships WHERE profile = $1 AND grp LIKE 'personas/%'",
      {p.profile()});
  if (!deleted.ok()) return deleted.status();
  if (p.persona().empty()) return absl::OkStatus();
  return tx
      .Exec("INSERT INTO reporting_memberships (profile, grp) VALUES ($1, $2)",
            {p.profile(), p.persona()})
      .status();
}

// Gives `from`'s purchases, months, activity and follow-ups to `to` (a merge survivor,
// or an anonymous name on erasure). Memberships of `from` are dropped: segmentation
// publishes the survivor's own.
absl::Status MoveCustomer(store::Tx& tx, const std::string& from, const std::string& to) {
  // Statements reading both names, then those reading only `from`.
  const char* moves[] = {
      "INSERT INTO reporting_purchases (profile, type, day, channel, amount, purchases) "
      "SELECT $2, type, day, channel, amount, purchases FROM reporting_purchases WHERE profile = "
      "$1 ON CONFLICT (profile, type, day, channel) DO UPDATE SET amount = "
      "reporting_purchases.amount + excluded.amount, purchases = reporting_purchases.purchases + "
      "excluded.purchases",
      "INSERT INTO reporting_purchase_months (profile, month) SELECT $2, month FROM "
      "reporting_purchase_months WHERE profile = $1 ON CONFLICT (profile, month) DO NOTHING",
      "INSERT INTO reporting_activity (profile, day, channel) SELECT $2, day, channel FROM "
      "reporting_activity WHERE profile = $1 ON CONFLICT (profile, day, channel) DO NOTHING",
      "UPDATE reporting_follow_ups SET profile = $2 WHERE profile = $1",
  };
  const char* deletes[] = {
      "DELETE FROM reporting_purchases WHERE profile = $1",
      "DELETE FROM reporting_purchase_months WHERE profile = $1",
      "DELETE FROM reporting_activity WHERE profile = $1",
      "DELETE FROM reporting_memberships WHERE profile = $1",
  };
  for (const char* sql : moves) {
    if (auto s = tx.Exec(sql, {from, to}); !s.ok()) return s.status();
  }
  for (const char* sql : deletes) {
    if (auto s = tx.Exec(sql, {from}); !s.ok()) return s.status();
  }
  return absl::OkStatus();
}

}  // namespace

int64_t DurationBucket(absl::Duration d) {
  double seconds = absl::ToDoubleSeconds(d);
  if (seconds < 1) return 0;
  return static_cast<int64_t>(std::floor(std::log(seconds) / std::log(kDurationBase))) + 1;
}

double DurationBucketSeconds(int64_t bucket) {
  if (bucket <= 0) return 0.5;
  return std::pow(kDurationBase, static_cast<double>(bucket - 1) + 0.5);
}

void RollupBatch::Add(Family family, int dimension, const std::string& key, int64_t day,
                      int64_t bucket, int64_t n, double total) {
  for (auto [grain, period] : {std::pair{Grain::kDay, day}, {Grain::kMonth, MonthStartDay(day)}}) {
    auto& counter = counters_[Key{static_cast<int>(family), dimension, static_cast<int>(grain),
                                  key, period, bucket}];
    counter.first += n;
    counter.second += total;
  }
}

absl::Status RollupBatch::Write(store::Tx& tx) {
  if (counters_.empty()) return absl::OkStatus();
  std::vector<store::Params> rows;
  rows.reserve(counters_.size());
  for (const auto& [key, counter] : counters_) {
    const auto& [family, dimension, grain, dim_key, period, bucket] = key;
    rows.push_back({int64_t{family}, int64_t{dimension}, dim_key, int64_t{grain}, period, bucket,
                    counter.first, counter.second});
  }
  auto s = store::InsertMany(
      tx,
      "INSERT INTO reporting_rollups (family, dimension, dim_key, grain, period, bucket, n, total) "
      "VALUES",
      rows,
      "ON CONFLICT (family, dimension, grain, dim_key, period, bucket) DO UPDATE SET n = "
      "reporting_rollups.n + excluded.n, total = reporting_rollups.total + excluded.total");
  if (!s.ok()) return s.status();
  counters_.clear();
  return absl::OkStatus();
}

absl::Status ApplyEvent(store::Tx& tx, const events::v1::Event& event) {
  const auto& payload = event.payload();
  auto unpack = [&](google::protobuf::Message& message) -> absl::Status {
    if (!payload.UnpackTo(&message)) {
      // No redelivery fixes it: the bus dead-letters it at once.
      return events::PoisonError(
          absl::StrCat("event ", event.id(), ": payload is not a ", event.type()));
    }
    return absl::OkStatus();
  };
  if (payload.Is<ev::ResponseReceived>()) {
    ev::ResponseReceived r;
    if (absl::Status s = unpack(r); !s.ok()) return s;
    return ApplyResponse(tx, r);
  }
  if (payload.Is<ev::FollowUpChanged>()) {
    ev::FollowUpChanged f;
    if (absl::Status s = unpack(f); !s.ok()) return s;
    return ApplyFollowUp(tx, f, FromTimestamp(event.time()));
  }
  if (payload.Is<ev::InteractionRecorded>()) {
    ev::InteractionRecorded i;
    if (absl::Status s = unpack(i); !s.ok()) return s;
    return ApplyInteractions(tx, i);
  }
  if (payload.Is<ev::MembershipChanged>()) {
    ev::MembershipChanged m;
    if (absl::Status s = unpack(m); !s.ok()) return s;
    return ApplyMembership(tx, m);
  }
  if (payload.Is<ev::ProfileChanged>()) {
    ev::ProfileChanged p;
    if (absl::Status s = unpack(p); !s.ok()) return s;
    return ApplyPersona(tx, p);
  }
  if (payload.Is<ev::ProfilesMerged>()) {
    ev::ProfilesMerged m;
    if (absl::Status s = unpack(m); !s.ok()) return s;
    for (const std::string& merged : m.merged()) {
      if (absl::Status s = MoveCustomer(tx, merged, m.survivor()); !s.ok()) return s;
    }
    return absl::OkStatus();
  }
  if (payload.Is<ev::ProfileErased>()) {
    ev::ProfileErased e;
    if (absl::Status s = unpack(e); !s.ok()) return s;
    // The counts stay; the profile id goes. One erased profile maps to one anonymous
    // name, so its purchases still count once per day.
    return MoveCustomer(tx, e.profile(), absl::StrCat("erased/", event.id()));
  }
  return absl::OkStatus();
}

absl::Status CustomerRowsOf(store::Tx& tx, const std::string& profile, v1::CustomerRecord& out) {
  const store::Params params = {profile};
  auto day = [](int64_t day_number) { return runtime::ToTimestamp(DayStart(day_number)); };
  auto groups =
      tx.Query("SELECT grp FROM reporting_memberships WHERE profile = $1 ORDER BY grp", params);
  if (!groups.ok()) return groups.status();
  for (const store::Row& row : *groups) out.add_groups(row.GetString(0));
  auto purchases = tx.Query(
      "SELECT day, type, channel, amount, purchases FROM reporting_purchases WHERE profile = $1 "
      "ORDER BY day, type, channel",
      params);
  if (!purchases.ok()) return purchases.status();
  for (const store::Row& row : *purchases) {
    v1::PurchaseDay* p = out.add_purchases();
    *p->mutable_day() = day(row.GetInt(0));
    p->set_type(row.GetString(1));
    p->set_channel(row.GetString(2));
    p->set_amount(row.GetDouble(3));
    p->set_count(row.GetInt(4));
  }
  auto months = tx.Query(
      "SELECT month FROM reporting_purchase_months WHERE profile = $1 ORDER BY month", params);
  if (!months.ok()) return months.status();
  for (const store::Row& row : *months) *out.add_purchase_months() = day(row.GetInt(0));
  auto activity = tx.Query(
      "SELECT day, channel FROM reporting_activity WHERE profile = $1 ORDER BY day, channel",
      params);
  if (!activity.ok()) return activity.status();
  for (const store::Row& row : *activity) {
    v1::ActivityDay* a = out.add_activity();
    *a->mutable_day() = day(row.GetInt(0));
    a->set_channel(row.GetString(1));
  }
  auto follow_ups = tx.Query(
      "SELECT follow_up, open_micros, contacted, resolved, closed FROM reporting_follow_ups "
      "WHERE profile = $1 ORDER BY open_micros, follow_up",
      params);
  if (!follow_ups.ok()) return follow_ups.status();
  for (const store::Row& row : *follow_ups) {
    v1::FollowUpRecord* f = out.add_follow_ups();
    f->set_follow_up(row.GetString(0));
    *f->mutable_open_time() = runtime::ToTimestamp(absl::FromUnixMicros(row.GetInt(1)));
    f->set_contacted(row.GetInt(2) != 0);
    f->set_resolved(row.GetInt(3) != 0);
    f->set_closed(row.GetInt(4) != 0);
  }
  return absl::OkStatus();
}

absl::Status ClearRollups(store::Tx& tx) {
  for (const char* table : {"reporting_rollups", "reporting_memberships", "reporting_follow_ups",
                            "reporting_purchases", "reporting_activity",
                            "reporting_purchase_months"}) {
    if (auto s = tx.Exec(absl::StrCat("DELETE FROM ", table)); !s.ok()) return s.status();
  }
  return absl::OkStatus();
}

}  // namespace centric::reporting
