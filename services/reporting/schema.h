// The Reporting service's own tables (migrations of service "reporting"). Experiments
// and CLV fits keep theirs under "reporting_experiments" and "reporting_clv".
//
//   reporting_rollups      counters per (family, dimension, key, grain, period, bucket):
//                          the survey, follow-up and invitation KPIs read only these.
//   reporting_memberships  (profile, grp): the segments ("segments/{id}") and the primary
//                          persona ("personas/{id}") each profile is in now, from
//                          MembershipChanged and ProfileChanged events.
//   reporting_follow_ups   one row per follow-up: its opening time, the groups of its
//                          profile when it opened, and which outcomes were counted.
//   reporting_purchases    money per (profile, type, day, channel): every "purchase"
//                          interaction and any other with a monetary value, summed per
//                          UTC day. Customer KPIs and CLV fits read it.
//   reporting_activity     (profile, day, channel): who was active when; channel "" is
//                          any channel. Active customers read it.
//   reporting_purchase_months (profile, month): months with a purchase, for cohorts.
//   reporting_processed_events  ids of the events applied (and an unused outbox: Reporting
//                          publishes nothing).
#ifndef CENTRIC_SERVICES_REPORTING_SCHEMA_H_
#define CENTRIC_SERVICES_REPORTING_SCHEMA_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "libs/store/store.h"

namespace centric::reporting {

std::vector<store::Migration> ReportingMigrations();

// Days since 1970-01-01 (UTC) of `t`, rounded down.
int64_t DayNumber(absl::Time t);
absl::Time DayStart(int64_t day);
// Day number of the first day of the month (UTC) holding `day`, of the Monday starting
// its ISO week, and of the month `months` after the month starting at month_start_day.
int64_t MonthStartDay(int64_t day);
int64_t WeekStartDay(int64_t day);
int64_t AddMonths(int64_t month_start_day, int64_t months);

// Whether `profile` ("profiles/{id}") is in `group` ("segments/{id}" or "personas/{id}")
// according to the events Reporting has applied.
absl::StatusOr<bool> IsMember(store::Tx& tx, const std::string& profile, const std::string& group);

}  // namespace centric::reporting

#endif  // CENTRIC_SERVICES_REPORTING_SCHEMA_H_
