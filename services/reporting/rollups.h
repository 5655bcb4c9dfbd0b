// Reporting's incrementally maintained rollups: every event Reporting consumes becomes a
// few counter increments (and, for customers, a few set rows), so a report reads a number
// of rows that depends on the periods, keys and buckets asked for, never on how many
// responses or interactions there were. docs/REPORTING.md has the tables and the rules.
#ifndef CENTRIC_SERVICES_REPORTING_ROLLUPS_H_
#define CENTRIC_SERVICES_REPORTING_ROLLUPS_H_

#include <cstdint>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "centric/events/v1/events.pb.h"
#include "centric/reporting/v1/reporting_service.pb.h"
#include "libs/store/store.h"

namespace centric::reporting {

// Counter families of reporting_rollups. Buckets: the score for NPS (0-10), CSAT (1-5) and
// CES (1-7); 0 for counts; 1 (met / closed the loop) or 0 for the follow-up outcomes;
// DurationBucket for durations (total = summed seconds).
enum class Family : int {
  kNps = 1,
  kCsat = 2,
  kCes = 3,
  kResponses = 4,
  kInvitations = 5,
  kSlaDecided = 6,
  kFirstContact = 7,
  kResolution = 8,
  kClosed = 9,
};

// Rollup rows exist per day and per month (grain); weeks and arbitrary ranges add days.
enum class Grain : int { kDay = 1, kMonth = 3 };

// Durations go into logarithmic buckets 4 % wide: a median read from them is within 2 %
// of the exact one. Durations under a second share bucket 0.
int64_t DurationBucket(absl::Duration d);
// The geometric middle of a bucket, in seconds.
double DurationBucketSeconds(int64_t bucket);

// Counter increments gathered in memory and written in one upsert per chunk, in key order
// (so concurrent writers lock rows in the same order). Each increment is written to its
// day row and its month row.
class RollupBatch {
 public:
  // dimension: a reporting.v1.Dimension number (0 = the whole population, key "").
  void Add(Family family, int dimension, const std::string& key, int64_t day, int64_t bucket,
           int64_t n, double total);
  bool empty() const { return counters_.empty(); }
  size_t size() const { return counters_.size(); }
  absl::Status Write(store::Tx& tx);

 private:
  using Key = std::tuple<int, int, int, std::string, int64_t, int64_t>;
  std::map<Key, std::pair<int64_t, double>> counters_;
};

// Applies one event to the rollups and reporting's customer tables in `tx`. Handles
// ResponseReceived, FollowUpChanged, InteractionRecorded, MembershipChanged,
// ProfileChanged (persona), ProfilesMerged and ProfileErased; other types are ignored.
// Errors: store errors, INVALID_ARGUMENT for a payload that does not parse.
absl::Status ApplyEvent(store::Tx& tx, const events::v1::Event& event);

// Empties every table ApplyEvent writes (for a rebuild).
absl::Status ClearRollups(store::Tx& tx);

// The rows of the customer tables held under `profile` ("profiles/{id}"): groups,
// purchases, purchase months, activity and follow-ups, read in `tx` into `out` (for
// ExportProfileData; the rollup counters hold no profile). Errors: store errors.
absl::Status CustomerRowsOf(store::Tx& tx, const std::string& profile, v1::CustomerRecord& out);

}  // namespace centric::reporting

#endif  // CENTRIC_SERVICES_REPORTING_ROLLUPS_H_
