#include "services/profiles/profile_store.h"

#include <google/protobuf/util/time_util.h>

#include "absl/strings/str_cat.h"
#include "libs/events/outbox.h"
#include "libs/runtime/errors.h"
#include "services/profiles/profile_rules.h"

namespace centric::profiles {
namespace {

using google::protobuf::util::TimeUtil;
using store::Blob;
using store::Params;

int64_t Micros(const google::protobuf::Timestamp& t) { return TimeUtil::TimestampToMicroseconds(t); }

absl::StatusOr<v1::Profile> ParseProfile(const std::string& bytes) {
  v1::Profile profile;
  if (!profile.ParseFromString(bytes)) return absl::DataLossError("stored profile is corrupt");
  return profile;
}

// INSERT INTO <table> (<columns>) VALUES (...), (...): one statement for all `rows`.
absl::StatusOr<int64_t> InsertRows(store::Tx& tx, absl::string_view table,
                                   absl::string_view columns, size_t width,
                                   const std::vector<store::Params>& rows) {
  if (rows.empty()) return 0;
  std::string sql = absl::StrCat("INSERT INTO ", table, " (", columns, ") VALUES ");
  Params params;
  params.reserve(rows.size() * width);
  for (size_t r = 0; r < rows.size(); ++r) {
    sql += r == 0 ? "(" : ", (";
    for (size_t c = 0; c < width; ++c) {
      params.push_back(rows[r][c]);
      absl::StrAppend(&sql, c == 0 ? "$" : ", $", params.size());
    }
    sql += ")";
  }
  return tx.Exec(sql, params);
}

// "$1, $2, ..., $<count>".
std::string Placeholders(size_t count) {
  std::string out;
  for (size_t i = 1; i <= count; ++i) absl::StrAppend(&out, i == 1 ? "$" : ", $", i);
  return out;
}

}  // namespace

std::vector<store::Migration> ProfilesMigrations() {
  return {
      {1, "profiles, identities, trait index, memberships, interactions, requests", R"sql(
CREATE TABLE profiles_profiles (
  id TEXT PRIMARY KEY,
  kind BIGINT NOT NULL,
  state BIGINT NOT NULL,
  version BIGINT NOT NULL,
  merged_into TEXT,
  data {{BLOB}} NOT NULL,
  create_time BIGINT NOT NULL,
  update_time BIGINT NOT NULL,
  erase_reason TEXT
);
CREATE INDEX profiles_profiles_state_id ON profiles_profiles (state, id);
CREATE INDEX profiles_profiles_merged_into ON profiles_profiles (merged_into);
CREATE TABLE profiles_identities (
  identity_key TEXT PRIMARY KEY,
  profile_id TEXT NOT NULL
);
CREATE INDEX profiles_identities_profile ON profiles_identities (profile_id);
CREATE TABLE profiles_trait_index (
  trait_key TEXT NOT NULL,
  trait_value TEXT NOT NULL,
  profile_id TEXT NOT NULL,
  PRIMARY KEY (trait_key, trait_value, profile_id)
);
CREATE INDEX profiles_trait_index_profile ON profiles_trait_index (profile_id);
CREATE TABLE profiles_memberships (
  account_id TEXT NOT NULL,
  member_id TEXT NOT NULL,
  PRIMARY KEY (account_id, member_id)
);
CREATE INDEX profiles_memberships_member ON profiles_memberships (member_id);
CREATE TABLE profiles_interactions (
  event_id TEXT PRIMARY KEY,
  profile_id TEXT NOT NULL,
  occur_time BIGINT NOT NULL,
  data {{BLOB}} NOT NULL
);
CREATE INDEX profiles_interactions_timeline
  ON profiles_interactions (profile_id, occur_time, event_id);
CREATE TABLE profiles_requests (
  request_id TEXT PRIMARY KEY,
  profile_id TEXT NOT NULL,
  create_time BIGINT NOT NULL
);
CREATE INDEX profiles_requests_time ON profiles_requests (create_time)
)sql"},
      events::OutboxMigration(2, "profiles"),
      {3, "feedback summaries per profile", R"sql(
CREATE TABLE profiles_feedback (
  profile_id TEXT PRIMARY KEY,
  version BIGINT NOT NULL,
  data {{BLOB}} NOT NULL
)
)sql"},
  };
}

absl::StatusOr<StoredProfile> LoadProfile(store::Tx& tx, absl::string_view id, RowLock lock) {
  const bool for_update = lock == RowLock::kForUpdate && tx.backend() == store::Backend::kPostgres;
  auto rows = tx.Query(for_update ? "SELECT merged_into, data FROM profiles_profiles WHERE id = $1"
                                    " FOR UPDATE"
                                  : "SELECT merged_into, data FROM profiles_profiles WHERE id = $1",
                       {std::string(id)});
  if (!rows.ok()) return rows.status();
  if (rows->empty()) {
    return runtime::Error(absl::StatusCode::kNotFound, "PROFILE_NOT_FOUND",
                          absl::StrCat("profile \"", ProfileName(id), "\" does not exist"));
  }
  StoredProfile out;
  out.merged_into = (*rows)[0].GetString(0);
  auto profile = ParseProfile((*rows)[0].GetString(1));
  if (!profile.ok()) return profile.status();
  out.profile = std::move(*profile);
  return out;
}

absl::StatusOr<std::map<std::string, StoredProfile>> LoadProfiles(
    store::Tx& tx, const std::vector<std::string>& ids) {
  std::map<std::string, StoredProfile> out;
  // Chunks of 256 then powers of two: at most nine distinct statements to prepare.
  for (size_t next = 0; next < ids.size();) {
    size_t chunk = 256;
    while (chunk > ids.size() - next) chunk /= 2;
    auto rows = tx.Query(absl::StrCat("SELECT id, merged_into, data FROM profiles_profiles "
                                      "WHERE id IN (",
                                      Placeholders(chunk), ")"),
                         Params(ids.begin() + next, ids.begin() + next + chunk));
    if (!rows.ok()) return rows.status();
    for (const auto& row : *rows) {
      StoredProfile stored;
      stored.merged_into = row.GetString(1);
      auto profile = ParseProfile(row.GetString(2));
      if (!profile.ok()) return profile.status();
      stored.profile = std::move(*profile);
      out[row.GetString(0)] = std::move(stored);
    }
    next += chunk;
  }
  return out;
}

absl::Status InsertProfile(store::Tx& tx, const StoredProfile& row, absl::Time now) {
  const v1::Profile& p = row.profile;
  auto id = ParseProfileName(p.name(), "profile.name");
  if (!id.ok()) return id.status();
  auto inserted = tx.Exec(
      "INSERT INTO profiles_profiles (id, kind, state, version, merged_into, data, create_time,"
      " update_time) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
      {*id, int64_t{p.kind()}, int64_t{p.state()}, p.version(),
       row.merged_into.empty() ? store::Value{} : store::Value{row.merged_into},
       Blob{p.SerializeAsString()}, Micros(p.create_time()), Micros(p.update_time())});
  if (inserted.status().code() == absl::StatusCode::kAlreadyExists) {
    return runtime::Error(absl::StatusCode::kAlreadyExists, "PROFILE_ALREADY_EXISTS",
                          absl::StrCat("profile \"", p.name(), "\" already exists"));
  }
  return inserted.status();
}

absl::Status UpdateProfile(store::Tx& tx, const StoredProfile& row, int64_t expected_version,
                           absl::string_view erase_reason) {
  const v1::Profile& p = row.profile;
  auto id = ParseProfileName(p.name(), "profile.name");
  if (!id.ok()) return id.status();
  auto changed = tx.Exec(
      "UPDATE profiles_profiles SET state = $1, version = $2, merged_into = $3, data = $4,"
      " update_time = $5, erase_reason = $6 WHERE id = $7 AND version = $8",
      {int64_t{p.state()}, p.version(),
       row.merged_into.empty() ? store::Value{} : store::Value{row.merged_into},
       Blob{p.SerializeAsString()}, Micros(p.update_time()),
       erase_reason.empty() ? store::Value{} : store::Value{std::string(erase_reason)}, *id,
       expected_version});
  if (!changed.ok()) return changed.status();
  if (*changed == 0) {
    return runtime::Error(absl::StatusCode::kAborted, "CONCURRENT_UPDATE",
                          absl::StrCat("profile \"", p.name(),
                                       "\" changed while this request ran; read it and retry"));
  }
  return absl::OkStatus();
}

absl::Status ReplaceIdentities(store::Tx& tx, absl::string_view id, const v1::Profile& profile,
                               DependentRows existing) {
  if (profile.identities_size() > 0) {
    // One round trip finds every identity already held by another profile, so the
    // caller learns all conflicts at once (and PostgreSQL's transaction is not spoilt by
    // a failed INSERT).
    std::string sql = "SELECT identity_key, profile_id FROM profiles_identities WHERE profile_id <> $1"
                      " AND identity_key IN (";
    Params params = {std::string(id)};
    for (int i = 0; i < profile.identities_size(); ++i) {
      params.push_back(IdentityKey(profile.identities(i)));
      absl::StrAppend(&sql, i == 0 ? "$" : ", $", params.size());
    }
    sql += ")";
    auto taken = tx.Query(sql, params);
    if (!taken.ok()) return taken.status();
    if (!taken->empty()) {
      std::vector<runtime::FieldViolation> violations;
      std::string message;
      for (const auto& row : *taken) {
        for (int i = 0; i < profile.identities_size(); ++i) {
          if (IdentityKey(profile.identities(i)) != row.GetString(0)) continue;
          std::string field = absl::StrCat("profile.identities[", i, "]");
          std::string description = absl::StrCat(
              "belongs to another profile, ", ProfileName(row.GetString(1)),
              "; merge the two with MergeProfiles instead");
          absl::StrAppend(&message, message.empty() ? "" : "; ", field, ": ", description);
          violations.push_back({std::move(field), std::move(description)});
        }
      }
      return runtime::WithViolations(
          runtime::Error(absl::StatusCode::kAlreadyExists, "IDENTITY_ALREADY_EXISTS", message),
          violations);
    }
  }
  if (existing == DependentRows::kMayExist) {
    auto deleted =
        tx.Exec("DELETE FROM profiles_identities WHERE profile_id = $1", {std::string(id)});
    if (!deleted.ok()) return deleted.status();
  }
  std::vector<Params> rows;
  for (const auto& identity : profile.identities()) {
    rows.push_back({IdentityKey(identity), std::string(id)});
  }
  auto inserted = InsertRows(tx, "profiles_identities", "identity_key, profile_id", 2, rows);
  if (inserted.status().code() == absl::StatusCode::kAlreadyExists) {
    // A concurrent transaction claimed one after the check above.
    return runtime::Error(absl::StatusCode::kAborted, "CONCURRENT_UPDATE",
                          "an identity was claimed concurrently; retry");
  }
  return inserted.status();
}

absl::Status ReplaceTraitIndex(store::Tx& tx, absl::string_view id, const v1::Profile& profile,
                               DependentRows existing) {
  if (existing == DependentRows::kMayExist) {
    auto deleted =
        tx.Exec("DELETE FROM profiles_trait_index WHERE profile_id = $1", {std::string(id)});
    if (!deleted.ok()) return deleted.status();
  }
  std::vector<Params> rows;
  for (const auto& [key, value] : profile.traits()) {
    // Only scalars are indexed: filters compare whole values with "=".
    if (value.kind_case() != google::protobuf::Value::kStringValue &&
        value.kind_case() != google::protobuf::Value::kNumberValue &&
        value.kind_case() != google::protobuf::Value::kBoolValue) {
      continue;
    }
    rows.push_back({key, TraitJson(value), std::string(id)});
  }
  return InsertRows(tx, "profiles_trait_index", "trait_key, trait_value, profile_id", 3, rows)
      .status();
}

absl::Status ReplaceMemberships(store::Tx& tx, absl::string_view id, const v1::Profile& profile,
                                DependentRows existing) {
  if (existing == DependentRows::kMayExist) {
    auto deleted =
        tx.Exec("DELETE FROM profiles_memberships WHERE member_id = $1", {std::string(id)});
    if (!deleted.ok()) return deleted.status();
  }
  std::vector<Params> rows;
  for (const auto& membership : profile.account_memberships()) {
    auto account = ParseProfileName(membership.account(), "account");
    if (!account.ok()) return account.status();
    rows.push_back({*account, std::string(id)});
  }
  return InsertRows(tx, "profiles_memberships", "account_id, member_id", 2, rows).status();
}

absl::Status DeleteDependentRows(store::Tx& tx, absl::string_view id) {
  for (const char* sql : {"DELETE FROM profiles_identities WHERE profile_id = $1",
                          "DELETE FROM profiles_trait_index WHERE profile_id = $1",
                          "DELETE FROM profiles_memberships WHERE member_id = $1",
                          "DELETE FROM profiles_interactions WHERE profile_id = $1"}) {
    if (auto s = tx.Exec(sql, {std::string(id)}); !s.ok()) return s.status();
  }
  return absl::OkStatus();
}

absl::StatusOr<std::optional<std::string>> FindIdentity(store::Tx& tx, absl::string_view key) {
  auto rows = tx.Query("SELECT profile_id FROM profiles_identities WHERE identity_key = $1",
                       {std::string(key)});
  if (!rows.ok()) return rows.status();
  if (rows->empty()) return std::optional<std::string>();
  return std::optional<std::string>((*rows)[0].GetString(0));
}

absl::StatusOr<std::vector<std::string>> MembersOf(store::Tx& tx, absl::string_view account_id) {
  auto rows = tx.Query(
      "SELECT member_id FROM profiles_memberships WHERE account_id = $1 ORDER BY member_id",
      {std::string(account_id)});
  if (!rows.ok()) return rows.status();
  std::vector<std::string> out;
  for (const auto& row : *rows) out.push_back(row.GetString(0));
  return out;
}

absl::StatusOr<std::vector<v1::Profile>> ListActiveProfiles(store::Tx& tx,
                                                            const ListFilter& filter,
                                                            absl::string_view after_id,
                                                            int limit) {
  std::string sql = "SELECT p.data FROM profiles_profiles p WHERE p.state = $1 AND p.id > $2";
  Params params = {int64_t{v1::PROFILE_STATE_ACTIVE}, std::string(after_id)};
  if (filter.kind.has_value()) {
    params.push_back(int64_t{*filter.kind});
    absl::StrAppend(&sql, " AND p.kind = $", params.size());
  }
  for (const auto& [key, value] : filter.traits) {
    params.push_back(key);
    params.push_back(value);
    absl::StrAppend(&sql,
                    " AND EXISTS (SELECT 1 FROM profiles_trait_index t WHERE t.profile_id = p.id"
                    " AND t.trait_key = $",
                    params.size() - 1, " AND t.trait_value = $", params.size(), ")");
  }
  params.push_back(int64_t{limit});
  absl::StrAppend(&sql, " ORDER BY p.id LIMIT $", params.size());
  auto rows = tx.Query(sql, params);
  if (!rows.ok()) return rows.status();
  std::vector<v1::Profile> out;
  out.reserve(rows->size());
  for (const auto& row : *rows) {
    auto profile = ParseProfile(row.GetString(0));
    if (!profile.ok()) return profile.status();
    out.push_back(std::move(*profile));
  }
  return out;
}

absl::StatusOr<std::vector<std::string>> InsertInteractions(
    store::Tx& tx, absl::string_view id, const std::vector<const v1::Interaction*>& interactions) {
  constexpr size_t kRowsPerStatement = 250;
  std::vector<std::string> stored;
  for (size_t start = 0; start < interactions.size(); start += kRowsPerStatement) {
    size_t end = std::min(interactions.size(), start + kRowsPerStatement);
    std::string sql =
        "INSERT INTO profiles_interactions (event_id, profile_id, occur_time, data) VALUES ";
    Params params;
    params.reserve((end - start) * 4);
    for (size_t i = start; i < end; ++i) {
      const v1::Interaction& interaction = *interactions[i];
      size_t n = params.size();
      absl::StrAppend(&sql, i == start ? "" : ", ", "($", n + 1, ", $", n + 2, ", $", n + 3,
                      ", $", n + 4, ")");
      params.push_back(interaction.event_id());
      params.push_back(std::string(id));
      params.push_back(Micros(interaction.occur_time()));
      params.push_back(Blob{interaction.SerializeAsString()});
    }
    sql += " ON CONFLICT (event_id) DO NOTHING RETURNING event_id";
    auto rows = tx.Query(sql, params);
    if (!rows.ok()) return rows.status();
    for (const auto& row : *rows) stored.push_back(row.GetString(0));
  }
  return stored;
}

absl::StatusOr<std::vector<v1::Interaction>> ListTimeline(
    store::Tx& tx, absl::string_view id, const std::optional<TimelineCursor>& before, int limit) {
  absl::StatusOr<store::Rows> rows;
  if (before.has_value()) {
    rows = tx.Query(
        "SELECT data FROM profiles_interactions WHERE profile_id = $1 AND (occur_time < $2 OR"
        " (occur_time = $2 AND event_id < $3)) ORDER BY occur_time DESC, event_id DESC LIMIT $4",
        {std::string(id), before->occur_micros, before->event_id, int64_t{limit}});
  } else {
    rows = tx.Query(
        "SELECT data FROM profiles_interactions WHERE profile_id = $1"
        " ORDER BY occur_time DESC, event_id DESC LIMIT $2",
        {std::string(id), int64_t{limit}});
  }
  if (!rows.ok()) return rows.status();
  std::vector<v1::Interaction> out;
  out.reserve(rows->size());
  for (const auto& row : *rows) {
    v1::Interaction interaction;
    if (!interaction.ParseFromString(row.GetString(0))) {
      return absl::DataLossError("stored interaction is corrupt");
    }
    interaction.set_profile(ProfileName(id));
    out.push_back(std::move(interaction));
  }
  return out;
}

absl::Status ReassignInteractions(store::Tx& tx, absl::string_view from_id,
                                  absl::string_view to_id) {
  return tx.Exec("UPDATE profiles_interactions SET profile_id = $1 WHERE profile_id = $2",
                 {std::string(to_id), std::string(from_id)})
      .status();
}

absl::Status RepointMerged(store::Tx& tx, absl::string_view from_id, absl::string_view to_id) {
  return tx.Exec("UPDATE profiles_profiles SET merged_into = $1 WHERE merged_into = $2",
                 {std::string(to_id), std::string(from_id)})
      .status();
}

absl::StatusOr<bool> StoreFeedbackSummary(store::Tx& tx, absl::string_view id,
                                          const centric::events::v1::FeedbackSummary& summary) {
  auto stored = tx.Exec(
      "INSERT INTO profiles_feedback (profile_id, version, data) VALUES ($1, $2, $3)"
      " ON CONFLICT (profile_id) DO UPDATE SET version = excluded.version, data = excluded.data"
      " WHERE profiles_feedback.version < excluded.version",
      {std::string(id), summary.version(), Blob{summary.SerializeAsString()}});
  if (!stored.ok()) return stored.status();
  return *stored > 0;
}

absl::StatusOr<std::vector<centric::events::v1::FeedbackSummary>> LoadFeedbackSummaries(
    store::Tx& tx, const std::vector<std::string>& ids) {
  std::vector<centric::events::v1::FeedbackSummary> out;
  if (ids.empty()) return out;
  auto rows = tx.Query(absl::StrCat("SELECT data FROM profiles_feedback WHERE profile_id IN (",
                                    Placeholders(ids.size()), ") ORDER BY profile_id"),
                       Params(ids.begin(), ids.end()));
  if (!rows.ok()) return rows.status();
  for (const auto& row : *rows) {
    if (!out.emplace_back().ParseFromString(row.GetString(0))) {
      return absl::DataLossError("stored feedback summary is corrupt");
    }
  }
  return out;
}

absl::Status DeleteFeedbackSummaries(store::Tx& tx, const std::vector<std::string>& ids) {
  if (ids.empty()) return absl::OkStatus();
  return tx.Exec(absl::StrCat("DELETE FROM profiles_feedback WHERE profile_id IN (",
                              Placeholders(ids.size()), ")"),
                 Params(ids.begin(), ids.end()))
      .status();
}

absl::StatusOr<std::optional<std::string>> FindRequest(store::Tx& tx,
                                                       absl::string_view request_id) {
  auto rows = tx.Query("SELECT profile_id FROM profiles_requests WHERE request_id = $1",
                       {std::string(request_id)});
  if (!rows.ok()) return rows.status();
  if (rows->empty()) return std::optional<std::string>();
  return std::optional<std::string>((*rows)[0].GetString(0));
}

absl::Status SaveRequest(store::Tx& tx, absl::string_view request_id, absl::string_view id,
                         absl::Time now) {
  return tx.Exec(
               "INSERT INTO profiles_requests (request_id, profile_id, create_time)"
               " VALUES ($1, $2, $3)",
               {std::string(request_id), std::string(id), absl::ToUnixMicros(now)})
      .status();
}

absl::StatusOr<int64_t> PurgeRequests(store::Database& db, absl::Time before) {
  return db.Exec("DELETE FROM profiles_requests WHERE create_time < $1",
                 {absl::ToUnixMicros(before)});
}

}  // namespace centric::profiles
