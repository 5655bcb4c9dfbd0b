// Profiles' tables and the SQL over them. Every function runs inside a caller's
// transaction; none decides business rules.
//
// Tables (prefix profiles_, created by ProfilesMigrations):
//   profiles_profiles      one row per profile id ever used: state, version, merged_into,
//                          the serialised Profile (a tombstone once erased)
//   profiles_identities    identity key → profile id (the uniqueness rule)
//   profiles_trait_index   (trait key, canonical JSON value) → profile id, for filters
//   profiles_memberships   account id → member person id
//   profiles_interactions  one row per event id, with its profile and time
//   profiles_requests      request_id → profile id, for idempotent create and merge
//   profiles_feedback      profile id → the Feedback service's latest FeedbackSummary of
//                          that profile name and its version (kept for merged names too:
//                          a survivor's feedback figures combine them)
#ifndef CENTRIC_SERVICES_PROFILES_PROFILE_STORE_H_
#define CENTRIC_SERVICES_PROFILES_PROFILE_STORE_H_

#include <optional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "centric/events/v1/events.pb.h"
#include "centric/profiles/v1/profiles.pb.h"
#include "libs/store/store.h"
#include "services/profiles/list_filter.h"

namespace centric::profiles {

std::vector<store::Migration> ProfilesMigrations();

struct StoredProfile {
  // name, kind, state, version, create/update time filled; etag is not stored.
  v1::Profile profile;
  // For MERGED rows: the survivor's id.
  std::string merged_into;
};

// How a read inside a write transaction treats the row.
enum class RowLock {
  kNone,
  // Locks the row until commit (SELECT ... FOR UPDATE on PostgreSQL; SQLite write
  // transactions are serialised already), so concurrent writers of one profile queue
  // instead of failing their version check.
  kForUpdate,
};

// The row of `id`, whatever its state. NOT_FOUND if the id was never used.
absl::StatusOr<StoredProfile> LoadProfile(store::Tx& tx, absl::string_view id,
                                          RowLock lock = RowLock::kNone);

// The rows of `ids` that exist (any state), keyed by id, read with few queries.
absl::StatusOr<std::map<std::string, StoredProfile>> LoadProfiles(
    store::Tx& tx, const std::vector<std::string>& ids);

// Inserts a new row. ALREADY_EXISTS if the id is taken (even by a tombstone).
absl::Status InsertProfile(store::Tx& tx, const StoredProfile& row, absl::Time now);

// Writes `row` (whose profile.version is the new version) if the stored version is still
// `expected_version`. ABORTED otherwise.
absl::Status UpdateProfile(store::Tx& tx, const StoredProfile& row, int64_t expected_version,
                           absl::string_view erase_reason = "");

// Whether `id` may already have rows to replace; kNone skips the DELETE (a profile being
// created has none), saving a round trip per table.
enum class DependentRows { kMayExist, kNone };

// Makes the identity, trait-index and membership rows of `id` match `profile`, each in
// one multi-row INSERT. ALREADY_EXISTS (reason IDENTITY_ALREADY_EXISTS, field violations
// naming each identity) if an identity belongs to another profile.
absl::Status ReplaceIdentities(store::Tx& tx, absl::string_view id, const v1::Profile& profile,
                               DependentRows rows = DependentRows::kMayExist);
absl::Status ReplaceTraitIndex(store::Tx& tx, absl::string_view id, const v1::Profile& profile,
                               DependentRows rows = DependentRows::kMayExist);
absl::Status ReplaceMemberships(store::Tx& tx, absl::string_view id, const v1::Profile& profile,
                                DependentRows rows = DependentRows::kMayExist);
// Removes every identity, trait-index, membership and interaction row of `id`.
absl::Status DeleteDependentRows(store::Tx& tx, absl::string_view id);

// Profile id holding the identity key, if any.
absl::StatusOr<std::optional<std::string>> FindIdentity(store::Tx& tx, absl::string_view key);

// Ids of PERSON profiles that are members of account `id`.
absl::StatusOr<std::vector<std::string>> MembersOf(store::Tx& tx, absl::string_view account_id);

// Active profiles after `after_id` in id order matching `filter`, at most `limit`.
absl::StatusOr<std::vector<v1::Profile>> ListActiveProfiles(store::Tx& tx,
                                                            const ListFilter& filter,
                                                            absl::string_view after_id,
                                                            int limit);

// Stores the interactions of `id` whose event ids are not stored yet (a few multi-row
// INSERTs) and returns the event ids actually stored.
absl::StatusOr<std::vector<std::string>> InsertInteractions(
    store::Tx& tx, absl::string_view id, const std::vector<const v1::Interaction*>& interactions);

// Timeline of `id`, newest first, strictly before the cursor (occur micros, event id)
// when given.
struct TimelineCursor {
  int64_t occur_micros;
  std::string event_id;
};
absl::StatusOr<std::vector<v1::Interaction>> ListTimeline(store::Tx& tx, absl::string_view id,
                                                          const std::optional<TimelineCursor>& before,
                                                          int limit);
absl::Status ReassignInteractions(store::Tx& tx, absl::string_view from_id,
                                  absl::string_view to_id);
// Re-points MERGED rows whose merged_into is `from_id` to `to_id`, so chains stay flat.
absl::Status RepointMerged(store::Tx& tx, absl::string_view from_id, absl::string_view to_id);

// Stores `summary` as the latest feedback summary of profile `id` unless one with the
// same or a higher version is stored already. Returns whether it was stored.
absl::StatusOr<bool> StoreFeedbackSummary(store::Tx& tx, absl::string_view id,
                                          const centric::events::v1::FeedbackSummary& summary);
// The feedback summaries stored for `ids` (at most one each), in id order.
absl::StatusOr<std::vector<centric::events::v1::FeedbackSummary>> LoadFeedbackSummaries(
    store::Tx& tx, const std::vector<std::string>& ids);
// Removes the feedback summaries of `ids` (erasure).
absl::Status DeleteFeedbackSummaries(store::Tx& tx, const std::vector<std::string>& ids);

// The profile id stored for a request id, if any.
absl::StatusOr<std::optional<std::string>> FindRequest(store::Tx& tx, absl::string_view request_id);
absl::Status SaveRequest(store::Tx& tx, absl::string_view request_id, absl::string_view id,
                         absl::Time now);
// Deletes request ids older than `before`; returns how many.
absl::StatusOr<int64_t> PurgeRequests(store::Database& db, absl::Time before);

}  // namespace centric::profiles

#endif  // CENTRIC_SERVICES_PROFILES_PROFILE_STORE_H_
