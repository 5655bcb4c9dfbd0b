#include "services/reporting/schema.h"

#include <cmath>

#include "absl/time/civil_time.h"
#include "libs/events/outbox.h"

namespace centric::reporting {

std::vector<store::Migration> ReportingMigrations() {
  return {
      {1, "rollups, memberships, follow-ups, purchases, activity",
       "CREATE TABLE reporting_rollups ("
       " family INTEGER NOT NULL, dimension INTEGER NOT NULL, dim_key TEXT NOT NULL,"
       " grain INTEGER NOT NULL, period BIGINT NOT NULL, bucket BIGINT NOT NULL,"
       " n BIGINT NOT NULL, total DOUBLE PRECISION NOT NULL,"
       " PRIMARY KEY (family, dimension, grain, dim_key, period, bucket));"
       "CREATE TABLE reporting_memberships ("
       " profile TEXT NOT NULL, grp TEXT NOT NULL, PRIMARY KEY (profile, grp));"
       "CREATE INDEX reporting_memberships_grp ON reporting_memberships (grp, profile);"
       "CREATE TABLE reporting_follow_ups ("
       " follow_up TEXT PRIMARY KEY, profile TEXT NOT NULL, open_micros BIGINT NOT NULL,"
       " groups TEXT NOT NULL, contacted INTEGER NOT NULL, resolved INTEGER NOT NULL,"
       " closed INTEGER NOT NULL, decided INTEGER NOT NULL);"
       "CREATE TABLE reporting_purchases ("
       " profile TEXT NOT NULL, type TEXT NOT NULL, day BIGINT NOT NULL, channel TEXT NOT NULL,"
       " amount DOUBLE PRECISION NOT NULL, purchases BIGINT NOT NULL,"
       " PRIMARY KEY (profile, type, day, channel));"
       "CREATE INDEX reporting_purchases_day ON reporting_purchases (type, day);"
       "CREATE TABLE reporting_activity ("
       " profile TEXT NOT NULL, day BIGINT NOT NULL, channel TEXT NOT NULL,"
       " PRIMARY KEY (profile, day, channel));"
       "CREATE INDEX reporting_activity_day ON reporting_activity (channel, day, profile);"
       "CREATE TABLE reporting_purchase_months ("
       " profile TEXT NOT NULL, month BIGINT NOT NULL, PRIMARY KEY (profile, month))"},
      // reporting_processed_events: the ids of the events applied (idempotent consumer).
      events::OutboxMigration(2, "reporting"),
  };
}

int64_t DayNumber(absl::Time t) {
  const int64_t seconds = absl::ToUnixSeconds(t);  // rounds down
  return seconds >= 0 ? seconds / 86400 : -((-seconds + 86399) / 86400);
}

absl::Time DayStart(int64_t day) { return absl::UnixEpoch() + absl::Hours(24 * day); }

int64_t MonthStartDay(int64_t day) {
  absl::CivilDay civil = absl::CivilDay(1970, 1, 1) + day;
  return absl::CivilDay(absl::CivilMonth(civil)) - absl::CivilDay(1970, 1, 1);
}

int64_t AddMonths(int64_t month_start_day, int64_t months) {
  absl::CivilMonth month(absl::CivilDay(1970, 1, 1) + month_start_day);
  return absl::CivilDay(month + months) - absl::CivilDay(1970, 1, 1);
}

int64_t WeekStartDay(int64_t day) {
  // 1970-01-01 was a Thursday; ISO weeks start on Monday.
  int64_t weekday = ((day + 3) % 7 + 7) % 7;  // 0 = Monday
  return day - weekday;
}

absl::StatusOr<bool> IsMember(store::Tx& tx, const std::string& profile,
                              const std::string& group) {
  auto rows = tx.Query("SELECT 1 FROM reporting_memberships WHERE profile = $1 AND grp = $2",
                       {profile, group});
  if (!rows.ok()) return rows.status();
  return !rows->empty();
}

}  // namespace centric::reporting
