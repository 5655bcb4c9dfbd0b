#include "services/feedback/feedback_service.h"

#include <algorithm>
#include <set>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "libs/events/outbox.h"
#include "libs/profile_cel/profile_cel.h"
#include "libs/runtime/errors.h"
#include "libs/runtime/log.h"
#include "libs/runtime/resource.h"
#include "services/feedback/validation.h"

namespace centric::feedback {
namespace {

namespace pv1 = ::centric::profiles::v1;
namespace ev = ::centric::events::v1;
using runtime::CheckBytes;
using runtime::FieldViolation;
using runtime::FromTimestamp;
using runtime::IdOfName;
using runtime::ToTimestamp;
using runtime::ValidId;
using runtime::ValidTeam;
using store::DefinitionKind;
using store::StoredDefinition;

constexpr char kService[] = "feedback";
constexpr DefinitionKind kSurveys{"survey", "surveys", "SURVEY", "survey_id", kMaxSurveys};
constexpr DefinitionKind kPolicies{"policy", "followUpPolicies", "FOLLOW_UP_POLICY", "policy_id",
                                   kMaxPolicies};
constexpr DefinitionKind kFeatureRequests{"feature_request", "featureRequests", "FEATURE_REQUEST",
                                          "feature_request_id", kMaxFeatureRequests};
// Follow-up states that count as open for the profile's open_follow_ups.
constexpr int64_t kOpen = v1::FOLLOW_UP_STATE_OPEN;
constexpr int64_t kContacted = v1::FOLLOW_UP_STATE_CONTACTED;
// Bits of feedback_follow_ups.breached.
constexpr int64_t kContactBreached = 1;
constexpr int64_t kResolutionBreached = 2;
constexpr int kBreachBatch = 500;

int64_t Micros(absl::Time t) { return absl::ToUnixMicros(t); }
absl::Time FromMicros(int64_t us) { return absl::FromUnixMicros(us); }

std::string Serialize(const google::protobuf::Message& m) { return m.SerializeAsString(); }

using profile_cel::ChannelName;

// "surveys/{survey}/responses/{response}" -> {survey, response}.
absl::StatusOr<std::pair<std::string, std::string>> ResponseIds(absl::string_view field,
                                                                 absl::string_view name) {
  std::vector<std::string> parts = absl::StrSplit(name, '/');
  if (parts.size() != 4 || parts[0] != "surveys" || parts[2] != "responses" ||
      !ValidId(parts[1]) || !ValidId(parts[3])) {
    return runtime::InvalidField(
        field, absl::StrCat("must be \"surveys/{survey}/responses/{response}\", got \"", name,
                            "\""));
  }
  return std::make_pair(parts[1], parts[3]);
}

// Runs `sql_head` + " IN (...)" + `sql_tail` over `keys` in chunks, after `fixed` params.
absl::StatusOr<store::Rows> QueryIn(store::Tx& tx, absl::string_view head, const store::Params& fixed,
                                    const std::vector<std::string>& keys,
                                    absl::string_view tail = "") {
  store::Rows out;
  size_t next = 0;
  while (next < keys.size()) {
    size_t chunk = 256;
    while (chunk > keys.size() - next) chunk /= 2;
    std::string sql = absl::StrCat(head, " IN (");
    store::Params params = fixed;
    for (size_t i = 0; i < chunk; ++i) {
      absl::StrAppend(&sql, i == 0 ? "$" : ", $", params.size() + 1);
      params.push_back(keys[next + i]);
    }
    absl::StrAppend(&sql, ")", tail);
    auto rows = tx.Query(sql, params);
    if (!rows.ok()) return rows.status();
    for (store::Row& row : *rows) out.push_back(std::move(row));
    next += chunk;
  }
  return out;
}

// A SELECT assembled filter by filter and paged by a (time column, id) keyset, as the
// List methods of responses and follow-ups need.
class FilteredQuery {
 public:
  explicit FilteredQuery(absl::string_view select) : sql_(absl::StrCat(select, " WHERE 1 = 1")) {}
  // Adds " AND <condition>" with "?" standing for `value`.
  void And(absl::string_view condition, store::Value value) {
    params_.push_back(std::move(value));
    absl::StrAppend(&sql_, " AND ",
                    absl::StrReplaceAll(condition, {{"?", absl::StrCat("$", params_.size())}}));
  }
  void And(absl::string_view condition) { absl::StrAppend(&sql_, " AND ", condition); }
  // Resumes after the cursor of `page_token` (made by PageToken below), orders by
  // `time_column` then id and limits to `limit` rows. Errors: INVALID_ARGUMENT on
  // page_token.
  absl::Status Page(const std::string& page_token, absl::string_view kind,
                    absl::string_view time_column, bool descending, int limit) {
    const char* after = descending ? "<" : ">";
    if (!page_token.empty()) {
      auto cursor = runtime::PageCursor(page_token, kind);
      if (!cursor.ok()) return cursor.status();
      std::pair<std::string, std::string> parts = absl::StrSplit(*cursor, absl::MaxSplits('|', 1));
      int64_t t = 0;
      if (!absl::SimpleAtoi(parts.first, &t)) {
        return runtime::InvalidField("page_token", "is not a token returned by this method");
      }
      params_.push_back(t);
      size_t time_param = params_.size();
      params_.push_back(parts.second);
      absl::StrAppend(&sql_, " AND (", time_column, " ", after, " $", time_param, " OR (",
                      time_column, " = $", time_param, " AND id ", after, " $", params_.size(),
                      "))");
    }
    params_.push_back(int64_t{limit});
    const char* order = descending ? " DESC" : "";
    absl::StrAppend(&sql_, " ORDER BY ", time_column, order, ", id", order, " LIMIT $",
                    params_.size());
    return absl::OkStatus();
  }
  static std::string PageToken(absl::string_view kind, int64_t time, absl::string_view id) {
    return runtime::PageToken(kind, absl::StrCat(time, "|", id));
  }
  absl::StatusOr<store::Rows> Run(store::Database& db) const { return db.Query(sql_, params_); }

 private:
  std::string sql_;
  store::Params params_;
};

// The profile's feedback figures as events carry them, from a feedback_profiles row
// (version, last_nps, last_nps_time, last_csat, last_csat_time, open_follow_ups).
ev::FeedbackSummary SummaryOf(const store::Row& row, size_t first) {
  ev::FeedbackSummary s;
  s.set_version(row.GetInt(first));
  if (row.GetInt(first + 1) >= 0) {
    s.set_last_nps_score(static_cast<int32_t>(row.GetInt(first + 1)));
    *s.mutable_last_nps_time() = ToTimestamp(FromMicros(row.GetInt(first + 2)));
  }
  if (row.GetInt(first + 3) >= 0) {
    s.set_last_csat_score(static_cast<int32_t>(row.GetInt(first + 3)));
    *s.mutable_last_csat_time() = ToTimestamp(FromMicros(row.GetInt(first + 4)));
  }
  s.set_open_follow_ups(row.GetInt(first + 5));
  return s;
}

// A change of a profile's feedback figures, folded into feedback_profiles in one
// statement so concurrent writers cannot lose each other's changes.
struct ProfileDelta {
  int64_t last_nps = -1;
  int64_t last_nps_time = 0;
  int64_t last_csat = -1;
  int64_t last_csat_time = 0;
  int64_t open_follow_ups = 0;
  // Revenue total as the Profiles service reported it; < 0 keeps the stored one.
  double revenue = -1;
};

constexpr char kProfileUpsertHead[] =
    "INSERT INTO feedback_profiles (profile, version, last_nps, last_nps_time, last_csat, "
    "last_csat_time, open_follow_ups, revenue) VALUES";
constexpr char kProfileUpsertTail[] =
    "ON CONFLICT (profile) DO UPDATE SET version = feedback_profiles.version + 1, "
    "last_nps = CASE WHEN excluded.last_nps >= 0 AND excluded.last_nps_time >= "
    "feedback_profiles.last_nps_time THEN excluded.last_nps ELSE feedback_profiles.last_nps END, "
    "last_nps_time = CASE WHEN excluded.last_nps >= 0 AND excluded.last_nps_time >= "
    "feedback_profiles.last_nps_time THEN excluded.last_nps_time ELSE "
    "feedback_profiles.last_nps_time END, "
    "last_csat = CASE WHEN excluded.last_csat >= 0 AND excluded.last_csat_time >= "
    "feedback_profiles.last_csat_time THEN excluded.last_csat ELSE feedback_profiles.last_csat END, "
    "last_csat_time = CASE WHEN excluded.last_csat >= 0 AND excluded.last_csat_time >= "
    "feedback_profiles.last_csat_time THEN excluded.last_csat_time ELSE "
    "feedback_profiles.last_csat_time END, "
    "open_follow_ups = feedback_profiles.open_follow_ups + excluded.open_follow_ups, "
    "revenue = CASE WHEN excluded.revenue >= 0 THEN excluded.revenue ELSE "
    "feedback_profiles.revenue END "
    "RETURNING profile, version, last_nps, last_nps_time, last_csat, last_csat_time, "
    "open_follow_ups";

// Applies the deltas; returns each profile's summary after the change.
absl::StatusOr<std::map<std::string, ev::FeedbackSummary>> ApplyProfileDeltas(
    store::Tx& tx, const std::map<std::string, ProfileDelta>& deltas) {
  std::vector<store::Params> rows;
  for (const auto& [profile, d] : deltas) {
    rows.push_back({profile, int64_t{1}, d.last_nps, d.last_nps_time, d.last_csat,
                    d.last_csat_time, std::max<int64_t>(d.open_follow_ups, 0),
                    d.revenue < 0 ? 0.0 : d.revenue});
  }
  // A new row with a negative open count cannot happen: a closing follow-up's profile
  // row exists since its opening. Negative deltas go through a separate statement.
  auto returned = store::InsertMany(tx, kProfileUpsertHead, rows, kProfileUpsertTail);
  if (!returned.ok()) return returned.status();
  std::map<std::string, ev::FeedbackSummary> out;
  for (const store::Row& row : *returned) out[row.GetString(0)] = SummaryOf(row, 1);
  for (const auto& [profile, d] : deltas) {
    if (d.open_follow_ups >= 0) continue;
    auto updated = tx.Query(
        "UPDATE feedback_profiles SET version = version + 1, open_follow_ups = "
        "CASE WHEN open_follow_ups + $1 < 0 THEN 0 ELSE open_follow_ups + $1 END "
        "WHERE profile = $2 RETURNING version, last_nps, last_nps_time, last_csat, "
        "last_csat_time, open_follow_ups",
        {d.open_follow_ups, profile});
    if (!updated.ok()) return updated.status();
    if (!updated->empty()) out[profile] = SummaryOf((*updated)[0], 0);
  }
  return out;
}

void AddOutputOnly(const std::string& name, int64_t version, v1::Survey& s) {
  s.set_name(name);
  s.set_etag(runtime::EtagOf(version));
}

// NOT_FOUND for a profile the Profiles service does not know, or that was erased.
absl::Status ProfileNotFound(const std::string& profile) {
  return runtime::Error(absl::StatusCode::kNotFound, "PROFILE_NOT_FOUND",
                        absl::StrCat(profile, " does not exist"));
}

// The erasure guard (migration 4): locks the feedback_profile_guards row of each of
// `profiles` until the transaction ends, creating it if needed, and returns those
// already erased. An erasure (ApplyEvent) sets `erased` on the same row first, so a write
// about a profile either commits before the erasure's scrub reads, or sees the mark and
// must not write: the profile lookup before the transaction was stale. Rows are locked
// in sorted order, so two writers never wait on each other in a cycle.
absl::StatusOr<std::set<std::string>> GuardProfiles(store::Tx& tx,
                                                    const std::set<std::string>& profiles) {
  std::vector<store::Params> rows;
  for (const std::string& profile : profiles) rows.push_back({profile, int64_t{0}});
  auto guards = store::InsertMany(
      tx, "INSERT INTO feedback_profile_guards (profile, erased) VALUES", rows,
      "ON CONFLICT (profile) DO UPDATE SET erased = feedback_profile_guards.erased "
      "RETURNING profile, erased");
  if (!guards.ok()) return guards.status();
  std::set<std::string> erased;
  for (const store::Row& row : *guards) {
    if (row.GetInt(1) != 0) erased.insert(row.GetString(0));
  }
  return erased;
}

}  // namespace

// ---- Schema -------------------------------------------------------------------------

std::vector<store::Migration> FeedbackMigrations() {
  return {
      store::DefinitionMigration(1, kService),
      events::OutboxMigration(2, kService),
      {3, "responses, follow-ups, feature request links, profile figures", R"sql(
CREATE TABLE feedback_responses (
  id TEXT PRIMARY KEY,
  survey TEXT NOT NULL,
  profile TEXT NOT NULL,
  category BIGINT NOT NULL,
  submit_time BIGINT NOT NULL,
  data {{BLOB}} NOT NULL
);
CREATE INDEX feedback_responses_by_survey ON feedback_responses (survey, submit_time);
CREATE INDEX feedback_responses_by_time ON feedback_responses (submit_time);
CREATE INDEX feedback_responses_by_profile ON feedback_responses (profile);
CREATE TABLE feedback_response_themes (
  theme TEXT NOT NULL,
  response TEXT NOT NULL,
  PRIMARY KEY (theme, response)
);
CREATE TABLE feedback_response_requests (
  survey TEXT NOT NULL,
  request_id TEXT NOT NULL,
  response TEXT NOT NULL,
  PRIMARY KEY (survey, request_id)
);
CREATE TABLE feedback_contacts (
  profile TEXT NOT NULL,
  survey TEXT NOT NULL,
  last_submit_time BIGINT NOT NULL,
  PRIMARY KEY (profile, survey)
);
CREATE TABLE feedback_profiles (
  profile TEXT PRIMARY KEY,
  version BIGINT NOT NULL,
  last_nps BIGINT NOT NULL,
  last_nps_time BIGINT NOT NULL,
  last_csat BIGINT NOT NULL,
  last_csat_time BIGINT NOT NULL,
  open_follow_ups BIGINT NOT NULL,
  revenue DOUBLE PRECISION NOT NULL
);
CREATE TABLE feedback_follow_ups (
  id TEXT PRIMARY KEY,
  profile TEXT NOT NULL,
  owner_team TEXT NOT NULL,
  state BIGINT NOT NULL,
  breached BIGINT NOT NULL,
  contact_due BIGINT NOT NULL,
  resolution_due BIGINT NOT NULL,
  open_time BIGINT NOT NULL,
  version BIGINT NOT NULL,
  data {{BLOB}} NOT NULL
);
CREATE INDEX feedback_follow_ups_due ON feedback_follow_ups (state, contact_due);
CREATE INDEX feedback_follow_ups_team ON feedback_follow_ups (owner_team, open_time);
CREATE INDEX feedback_follow_ups_profile ON feedback_follow_ups (profile);
CREATE TABLE feedback_links (
  request TEXT NOT NULL,
  profile TEXT NOT NULL,
  link_time BIGINT NOT NULL,
  data {{BLOB}} NOT NULL,
  PRIMARY KEY (request, profile)
);
CREATE INDEX feedback_links_by_profile ON feedback_links (profile);
CREATE TABLE feedback_profile_segments (
  profile TEXT NOT NULL,
  segment TEXT NOT NULL,
  PRIMARY KEY (profile, segment)
))sql"},
      // One row per profile that answered or was erased: a submit locks its profiles'
      // rows for its whole transaction and an erasure sets `erased` on the same row, so
      // the two serialize (docs/FEEDBACK.md, "Erasure").
      {4, "erasure guard per profile", R"sql(
CREATE TABLE feedback_profile_guards (
  profile TEXT PRIMARY KEY,
  erased BIGINT NOT NULL
))sql"},
  };
}

FeedbackService::FeedbackService(Deps deps)
    : deps_(std::move(deps)), definitions_(*deps_.db, kService) {}

void FeedbackService::AfterCommit() {
  if (deps_.after_commit) deps_.after_commit();
}

events::v1::Event FeedbackService::NewEvent(const std::string& subject,
                                            const google::protobuf::Message& payload) {
  ev::Event event;
  event.set_id(deps_.ids->NewId());
  event.set_type(payload.GetDescriptor()->full_name());
  event.set_source(kService);
  event.set_subject(subject);
  *event.mutable_time() = ToTimestamp(deps_.clock->Now());
  event.mutable_payload()->PackFrom(payload);
  return event;
}

absl::StatusOr<std::vector<std::optional<pv1::Profile>>> FeedbackService::FetchProfiles(
    const std::vector<std::string>& names, absl::Time deadline) {
  if (names.empty()) return std::vector<std::optional<pv1::Profile>>{};
  return deps_.profiles->Get(names, deadline);
}

// ---- Surveys ------------------------------------------------------------------------

absl::StatusOr<v1::Survey> FeedbackService::ReadSurvey(const std::string& id) {
  auto stored = definitions_.Read(kSurveys, id);
  if (!stored.ok()) return stored.status();
  v1::Survey s;
  s.ParseFromString(stored->data);
  AddOutputOnly(absl::StrCat("surveys/", id), stored->version, s);
  return s;
}

absl::StatusOr<v1::Survey> FeedbackService::CreateSurvey(const v1::CreateSurveyRequest& request) {
  v1::Survey s = request.survey();
  std::vector<FieldViolation> v = ValidateSurvey(s);
  CheckCreateIds(v, "survey_id", request.survey_id(), request.request_id());
  if (!v.empty()) return runtime::InvalidArgument(std::move(v));
  std::string id = request.survey_id().empty() ? absl::StrCat("s", deps_.ids->NewId())
                                               : request.survey_id();
  google::protobuf::Timestamp now = ToTimestamp(deps_.clock->Now());
  s.set_name(absl::StrCat("surveys/", id));
  *s.mutable_create_time() = now;
  *s.mutable_update_time() = now;
  s.clear_etag();
  auto created = definitions_.Insert(kSurveys, id, Serialize(s), request.request_id(),
                                     deps_.clock->Now());
  if (!created.ok()) return created.status();
  return ReadSurvey(*created);
}

absl::StatusOr<v1::Survey> FeedbackService::GetSurvey(const v1::GetSurveyRequest& request) {
  auto id = IdOfName("name", request.name(), "surveys");
  if (!id.ok()) return id.status();
  return ReadSurvey(*id);
}

absl::StatusOr<v1::ListSurveysResponse> FeedbackService::ListSurveys(
    const v1::ListSurveysRequest& request) {
  v1::ListSurveysResponse response;
  auto next = definitions_.ListPage(kSurveys, request.page_size(), request.page_token(),
                                    kDefaultPageSize, kMaxPageSize,
                                    [&](const StoredDefinition& stored) {
                                      v1::Survey* s = response.add_surveys();
                                      s->ParseFromString(stored.data);
                                      AddOutputOnly(s->name(), stored.version, *s);
                                    });
  if (!next.ok()) return next.status();
  response.set_next_page_token(*next);
  return response;
}

absl::StatusOr<v1::Survey> FeedbackService::UpdateSurvey(const v1::UpdateSurveyRequest& request) {
  auto id = IdOfName("survey.name", request.survey().name(), "surveys");
  if (!id.ok()) return id.status();
  auto current = ReadSurvey(*id);
  if (!current.ok()) return current.status();
  v1::Survey next = *current;
  // kind is immutable.
  if (absl::Status s = runtime::ApplyUpdateMask(
          request.survey(), request.update_mask(),
          {"display_name", "question", "touchpoint", "journey_stage", "channel",
           "contact_policy", "start_time", "end_time", "owner_team"},
          next);
      !s.ok()) {
    return s;
  }
  std::vector<FieldViolation> v = ValidateSurvey(next);
  if (!v.empty()) return runtime::InvalidArgument(std::move(v));
  auto version = runtime::CheckEtag(request.etag(), current->etag());
  if (!version.ok()) return version.status();
  *next.mutable_update_time() = ToTimestamp(deps_.clock->Now());
  next.clear_etag();
  if (absl::Status s = definitions_.Replace(kSurveys, *id, *version, Serialize(next)); !s.ok()) {
    return s;
  }
  return ReadSurvey(*id);
}

namespace {

// Why `survey` does not accept an answer at `t`, or "".
std::string InactiveReason(const v1::Survey& survey, absl::Time t) {
  if (IsSet(survey.start_time()) && t < FromTimestamp(survey.start_time())) {
    return absl::StrCat(survey.name(), " opens at ", absl::FormatTime(FromTimestamp(survey.start_time())));
  }
  if (IsSet(survey.end_time()) && t >= FromTimestamp(survey.end_time())) {
    return absl::StrCat(survey.name(), " closed at ", absl::FormatTime(FromTimestamp(survey.end_time())));
  }
  return "";
}

// Why the survey's consent requirement excludes `profile`, or "".
std::string ConsentReason(const v1::Survey& survey, const pv1::Profile& profile) {
  pv1::ConsentPurpose purpose = survey.contact_policy().required_consent();
  if (purpose == pv1::CONSENT_PURPOSE_UNSPECIFIED) return "";
  for (const pv1::Consent& c : profile.consents()) {
    if (c.purpose() == purpose && c.status() == pv1::CONSENT_STATUS_GRANTED) return "";
  }
  return absl::StrCat(profile.name(), " has not granted consent ",
                      pv1::ConsentPurpose_Name(purpose), " that ", survey.name(), " requires");
}

// When the contact policy allows `profile`'s next answer after one at `last`.
absl::Time NextEligible(const v1::Survey& survey, absl::Time last) {
  return last + absl::Hours(24) * survey.contact_policy().min_days_between_responses();
}

std::string ContactReason(const v1::Survey& survey, absl::Time last, absl::Time t) {
  return absl::StrCat("answered ", survey.name(), " at ", absl::FormatTime(last),
                      "; its contact policy allows one response every ",
                      survey.contact_policy().min_days_between_responses(),
                      " days (next from ", absl::FormatTime(NextEligible(survey, last)), ")");
}

}  // namespace

absl::StatusOr<v1::CheckSurveyEligibilityResponse> FeedbackService::CheckSurveyEligibility(
    const v1::CheckSurveyEligibilityRequest& request, absl::Time deadline) {
  std::vector<FieldViolation> v;
  auto id = IdOfName("survey", request.survey(), "surveys");
  if (!id.ok()) v.push_back({"survey", std::string(id.status().message())});
  CheckProfileName(v, "profile", request.profile());
  if (!v.empty()) return runtime::InvalidArgument(std::move(v));
  auto survey = ReadSurvey(*id);
  if (!survey.ok()) return survey.status();
  auto profiles = FetchProfiles({request.profile()}, deadline);
  if (!profiles.ok()) return profiles.status();
  if (!(*profiles)[0].has_value()) {
    return ProfileNotFound(request.profile());
  }
  const pv1::Profile& profile = *(*profiles)[0];
  v1::CheckSurveyEligibilityResponse response;
  absl::Time now = deps_.clock->Now();
  std::string reason = InactiveReason(*survey, now);
  if (reason.empty()) reason = ConsentReason(*survey, profile);
  if (reason.empty() && survey->contact_policy().min_days_between_responses() > 0) {
    auto rows = deps_.db->Query(
        "SELECT last_submit_time FROM feedback_contacts WHERE profile = $1 AND survey = $2",
        {profile.name(), *id});
    if (!rows.ok()) return rows.status();
    if (!rows->empty()) {
      absl::Time last = FromMicros((*rows)[0].GetInt(0));
      if (now < NextEligible(*survey, last)) {
        reason = ContactReason(*survey, last, now);
        *response.mutable_next_eligible_time() = ToTimestamp(NextEligible(*survey, last));
      }
    }
  }
  response.set_eligible(reason.empty());
  response.set_reason(reason);
  return response;
}

// ---- Responses ----------------------------------------------------------------------

namespace {

// A response on its way to the store.
struct Pending {
  size_t index = 0;
  std::string survey_id;
  const v1::Survey* survey = nullptr;
  std::string request_id;
  v1::Response response;
  absl::Time submit_time;
  const pv1::Profile* profile = nullptr;
  std::optional<v1::FollowUp> follow_up;
  // Index of an earlier pending with the same (survey, request_id) in this batch.
  std::optional<size_t> duplicate_of;
  // A response stored before with the same request id.
  std::string stored_response_id;
};

v1::Response ResponseFromRow(const store::Row& row, size_t data_column, size_t profile_column) {
  v1::Response r;
  r.ParseFromString(row.GetString(data_column));
  r.set_profile(row.GetString(profile_column));
  return r;
}

// The status of requests[i] within a batch: the field violations prefixed with
// "requests[i].", other errors with "requests[i]: ".
absl::Status InBatch(size_t i, const absl::Status& status) {
  std::string prefix = absl::StrCat("requests[", i, "]");
  std::vector<FieldViolation> violations = runtime::FieldViolations(status);
  if (status.code() == absl::StatusCode::kInvalidArgument && !violations.empty()) {
    for (FieldViolation& v : violations) v.field = absl::StrCat(prefix, ".", v.field);
    return runtime::InvalidArgument(std::move(violations));
  }
  absl::Status out(status.code(), absl::StrCat(prefix, ": ", status.message()));
  if (std::string reason = runtime::Reason(status); !reason.empty()) {
    out = runtime::WithReason(out, reason);
  }
  return out;
}

}  // namespace

absl::StatusOr<std::vector<Submitted>> FeedbackService::SubmitBatch(
    const std::vector<v1::SubmitResponseRequest>& requests, absl::Time deadline) {
  return SubmitBatchImpl(requests, deadline, /*all_or_nothing=*/false);
}

absl::StatusOr<std::vector<Submitted>> FeedbackService::SubmitBatchImpl(
    const std::vector<v1::SubmitResponseRequest>& requests, absl::Time deadline,
    bool all_or_nothing) {
  if (requests.size() > static_cast<size_t>(kMaxBatch)) {
    return runtime::InvalidField("requests", absl::StrCat("must hold at most ", kMaxBatch,
                                                          " responses, got ", requests.size()));
  }
  const absl::Time now = deps_.clock->Now();
  std::vector<Submitted> out(requests.size());
  std::map<std::string, v1::Survey> surveys;
  std::vector<Pending> pending;
  pending.reserve(requests.size());

  // 1. Everything that can be checked without the store or the profile.
  for (size_t i = 0; i < requests.size(); ++i) {
    const v1::SubmitResponseRequest& req = requests[i];
    const v1::Response& r = req.response();
    std::string survey_id;
    std::vector<FieldViolation> v = CheckResponseRequest(req, now, &survey_id);
    absl::Time submit = SubmitTime(r, now);
    if (!v.empty()) {
      out[i].status = runtime::InvalidArgument(std::move(v));
      continue;
    }
    auto it = surveys.find(survey_id);
    if (it == surveys.end()) {
      auto survey = ReadSurvey(survey_id);
      if (!survey.ok()) {
        if (survey.status().code() != absl::StatusCode::kNotFound) return survey.status();
        out[i].status = survey.status();
        continue;
      }
      it = surveys.emplace(survey_id, std::move(*survey)).first;
    }
    const v1::Survey& survey = it->second;
    Scale scale = ScaleOf(survey.kind());
    v = CheckResponseScore(survey.kind(), r);
    if (!v.empty()) {
      out[i].status = runtime::InvalidArgument(std::move(v));
      continue;
    }
    if (std::string reason = InactiveReason(survey, submit); !reason.empty()) {
      out[i].status = runtime::Error(absl::StatusCode::kFailedPrecondition, "SURVEY_INACTIVE",
                                     reason);
      continue;
    }
    Pending p;
    p.index = i;
    p.survey_id = survey_id;
    p.survey = &survey;
    p.request_id = req.request_id();
    p.submit_time = submit;
    p.response = r;
    p.response.set_kind(survey.kind());
    p.response.set_category(scale.scored ? CategoryOf(survey.kind(), r.score())
                                         : v1::CATEGORY_UNSPECIFIED);
    if (p.response.channel() == pv1::CHANNEL_UNSPECIFIED) p.response.set_channel(survey.channel());
    if (p.response.touchpoint().empty()) p.response.set_touchpoint(survey.touchpoint());
    *p.response.mutable_submit_time() = ToTimestamp(submit);
    *p.response.mutable_create_time() = ToTimestamp(now);
    p.response.clear_name();
    p.response.clear_follow_up();
    p.response.clear_erased();
    p.response.clear_themes();
    if (!r.comment().empty()) {
      text::Sentiment sentiment = deps_.sentiment->Score(r.comment());
      p.response.set_sentiment_score(sentiment.score);
      p.response.set_sentiment(sentiment.label == text::Sentiment::Label::kPositive
                                   ? v1::SENTIMENT_LABEL_POSITIVE
                               : sentiment.label == text::Sentiment::Label::kNegative
                                   ? v1::SENTIMENT_LABEL_NEGATIVE
                                   : v1::SENTIMENT_LABEL_NEUTRAL);
      for (std::string& theme : deps_.themes->Match(r.comment())) {
        p.response.add_themes(std::move(theme));
      }
    } else {
      p.response.set_sentiment_score(0);
      p.response.set_sentiment(v1::SENTIMENT_LABEL_UNSPECIFIED);
    }
    pending.push_back(std::move(p));
  }

  // 2. The profiles, from the Profiles service (merged names resolve to the survivor).
  std::vector<std::string> names;
  {
    std::set<std::string> distinct;
    for (const Pending& p : pending) distinct.insert(p.response.profile());
    names.assign(distinct.begin(), distinct.end());
  }
  auto fetched = FetchProfiles(names, deadline);
  if (!fetched.ok()) return fetched.status();
  std::map<std::string, const pv1::Profile*> profiles;
  for (size_t i = 0; i < names.size(); ++i) {
    if ((*fetched)[i].has_value()) profiles[names[i]] = &*(*fetched)[i];
  }
  std::vector<Pending> ready;
  for (Pending& p : pending) {
    auto it = profiles.find(p.response.profile());
    if (it == profiles.end()) {
      out[p.index].status = ProfileNotFound(p.response.profile());
      continue;
    }
    p.profile = it->second;
    p.response.set_profile(p.profile->name());
    if (std::string reason = ConsentReason(*p.survey, *p.profile); !reason.empty()) {
      out[p.index].status = runtime::Error(absl::StatusCode::kFailedPrecondition,
                                           "CONSENT_REQUIRED", reason);
      continue;
    }
    ready.push_back(std::move(p));
  }
  auto policies = Policies();
  if (!policies.ok()) return policies.status();

  // 3. One transaction: duplicates, contact policy, rows, follow-ups, figures, events.
  std::vector<Submitted> committed;
  auto attempt = [&](store::Tx& tx) -> absl::Status {
    committed = out;
    if (absl::Status s = store::PreferCustomPlans(tx); !s.ok()) return s;
    std::vector<Pending> batch = ready;
    std::set<std::string> distinct;
    for (const Pending& p : batch) distinct.insert(p.response.profile());
    auto erased = GuardProfiles(tx, distinct);
    if (!erased.ok()) return erased.status();
    // Request ids seen before, and repeated within the batch.
    std::map<std::string, std::vector<std::string>> ids_by_survey;
    std::map<std::pair<std::string, std::string>, size_t> first_with_id;
    for (size_t i = 0; i < batch.size(); ++i) {
      Pending& p = batch[i];
      if (p.request_id.empty()) continue;
      auto [it, inserted] = first_with_id.emplace(std::make_pair(p.survey_id, p.request_id), i);
      if (!inserted) {
        p.duplicate_of = it->second;
      } else {
        ids_by_survey[p.survey_id].push_back(p.request_id);
      }
    }
    for (const auto& [survey_id, ids] : ids_by_survey) {
      auto rows = QueryIn(tx, "SELECT request_id, response FROM feedback_response_requests "
                              "WHERE survey = $1 AND request_id",
                          {survey_id}, ids);
      if (!rows.ok()) return rows.status();
      for (const store::Row& row : *rows) {
        batch[first_with_id[{survey_id, row.GetString(0)}]].stored_response_id = row.GetString(1);
      }
    }
    // Contact policy: the last answer of each profile to each survey that limits them.
    std::map<std::string, std::vector<std::string>> limited;
    for (const Pending& p : batch) {
      if (p.survey->contact_policy().min_days_between_responses() > 0) {
        limited[p.survey_id].push_back(p.response.profile());
      }
    }
    std::map<std::pair<std::string, std::string>, absl::Time> last_answer;
    for (auto& [survey_id, profile_names] : limited) {
      std::sort(profile_names.begin(), profile_names.end());
      profile_names.erase(std::unique(profile_names.begin(), profile_names.end()),
                          profile_names.end());
      auto rows = QueryIn(tx, "SELECT profile, last_submit_time FROM feedback_contacts WHERE "
                              "survey = $1 AND profile",
                          {survey_id}, profile_names);
      if (!rows.ok()) return rows.status();
      for (const store::Row& row : *rows) {
        last_answer[{survey_id, row.GetString(0)}] = FromMicros(row.GetInt(1));
      }
    }
    std::vector<store::Params> response_rows, theme_rows, request_rows, contact_rows,
        follow_up_rows;
    std::map<std::pair<std::string, std::string>, int64_t> contacts;
    std::map<std::string, ProfileDelta> deltas;
    std::vector<size_t> stored;
    for (size_t i = 0; i < batch.size(); ++i) {
      Pending& p = batch[i];
      Submitted& result = committed[p.index];
      if (p.duplicate_of.has_value() || !p.stored_response_id.empty()) continue;
      if (erased->count(p.response.profile()) > 0) {
        result.status = ProfileNotFound(p.response.profile());
        continue;
      }
      if (p.survey->contact_policy().min_days_between_responses() > 0) {
        auto key = std::make_pair(p.survey_id, p.response.profile());
        auto last = last_answer.find(key);
        if (last != last_answer.end() &&
            absl::AbsDuration(p.submit_time - last->second) <
                absl::Hours(24) * p.survey->contact_policy().min_days_between_responses()) {
          result.status = runtime::Error(absl::StatusCode::kFailedPrecondition, "CONTACT_POLICY",
                                         ContactReason(*p.survey, last->second, p.submit_time));
          continue;
        }
        last_answer[key] = p.submit_time;
      }
      std::string id = absl::StrCat("r", deps_.ids->NewId());
      p.response.set_name(absl::StrCat("surveys/", p.survey_id, "/responses/", id));
      // A follow-up is opened only while its first-contact SLA can still be met (an
      // import of last year's answers opens none).
      for (const Policy& policy : *policies) {
        if (!policy.rule->Matches(p.response, p.survey->name(), *p.profile)) continue;
        absl::Duration contact_sla = absl::Seconds(policy.proto.first_contact_sla().seconds());
        if (p.submit_time + contact_sla <= now) break;
        v1::FollowUp f;
        f.set_name(absl::StrCat("followUps/f", deps_.ids->NewId()));
        f.set_profile(p.response.profile());
        f.set_response(p.response.name());
        f.set_policy(policy.name);
        f.set_owner_team(policy.proto.owner_team());
        f.set_state(v1::FOLLOW_UP_STATE_OPEN);
        *f.mutable_open_time() = ToTimestamp(now);
        *f.mutable_first_contact_due_time() = ToTimestamp(now + contact_sla);
        absl::Duration resolution_sla = absl::Seconds(policy.proto.resolution_sla().seconds());
        if (resolution_sla > absl::ZeroDuration()) {
          *f.mutable_resolution_due_time() = ToTimestamp(now + resolution_sla);
        }
        v1::FollowUpNote* note = f.add_notes();
        note->set_actor("system");
        note->set_state(v1::FOLLOW_UP_STATE_OPEN);
        note->set_text(absl::StrCat("opened by ", policy.name, " (", policy.proto.display_name(),
                                    ") for ", p.response.name()));
        *note->mutable_time() = ToTimestamp(now);
        *f.mutable_update_time() = ToTimestamp(now);
        p.response.set_follow_up(f.name());
        p.follow_up = std::move(f);
        break;
      }
      response_rows.push_back({id, p.survey_id, p.response.profile(),
                               int64_t{p.response.category()}, Micros(p.submit_time),
                               store::Blob{Serialize(p.response)}});
      for (const std::string& theme : p.response.themes()) theme_rows.push_back({theme, id});
      if (!p.request_id.empty()) request_rows.push_back({p.survey_id, p.request_id, id});
      auto& contact = contacts[{p.response.profile(), p.survey_id}];
      contact = std::max(contact, Micros(p.submit_time));
      ProfileDelta& d = deltas[p.response.profile()];
      d.revenue = p.profile->aggregates().revenue_total();
      if (p.response.kind() == v1::SURVEY_KIND_NPS && Micros(p.submit_time) >= d.last_nps_time) {
        d.last_nps = p.response.score();
        d.last_nps_time = Micros(p.submit_time);
      }
      if (p.response.kind() == v1::SURVEY_KIND_CSAT && Micros(p.submit_time) >= d.last_csat_time) {
        d.last_csat = p.response.score();
        d.last_csat_time = Micros(p.submit_time);
      }
      if (p.follow_up.has_value()) {
        const v1::FollowUp& f = *p.follow_up;
        ++d.open_follow_ups;
        follow_up_rows.push_back(
            {f.name().substr(sizeof("followUps/") - 1), f.profile(), f.owner_team(), kOpen,
             int64_t{0}, Micros(FromTimestamp(f.first_contact_due_time())),
             IsSet(f.resolution_due_time()) ? Micros(FromTimestamp(f.resolution_due_time()))
                                            : int64_t{0},
             Micros(now), int64_t{1}, store::Blob{Serialize(f)}});
      }
      stored.push_back(i);
    }
    if (all_or_nothing) {
      for (size_t i = 0; i < committed.size(); ++i) {
        if (!committed[i].status.ok()) return InBatch(i, committed[i].status);
      }
    }
    for (const auto& [key, micros] : contacts) {
      contact_rows.push_back({key.first, key.second, micros});
    }
    struct Write {
      const char* head;
      std::vector<store::Params>* rows;
      const char* tail;
    };
    for (const Write& w : {
             Write{"INSERT INTO feedback_responses (id, survey, profile, category, submit_time, "
                   "data) VALUES",
                   &response_rows, ""},
             Write{"INSERT INTO feedback_response_themes (theme, response) VALUES", &theme_rows,
                   ""},
             Write{"INSERT INTO feedback_response_requests (survey, request_id, response) VALUES",
                   &request_rows, ""},
             Write{"INSERT INTO feedback_contacts (profile, survey, last_submit_time) VALUES",
                   &contact_rows,
                   "ON CONFLICT (profile, survey) DO UPDATE SET last_submit_time = CASE WHEN "
                   "excluded.last_submit_time > feedback_contacts.last_submit_time THEN "
                   "excluded.last_submit_time ELSE feedback_contacts.last_submit_time END"},
             Write{"INSERT INTO feedback_follow_ups (id, profile, owner_team, state, breached, "
                   "contact_due, resolution_due, open_time, version, data) VALUES",
                   &follow_up_rows, ""},
         }) {
      if (auto r = store::InsertMany(tx, w.head, *w.rows, w.tail); !r.ok()) return r.status();
    }
    auto summaries = ApplyProfileDeltas(tx, deltas);
    if (!summaries.ok()) return summaries.status();
    std::vector<ev::Event> events;
    for (size_t i : stored) {
      Pending& p = batch[i];
      const v1::Response& r = p.response;
      ev::ResponseReceived received;
      received.set_response(r.name());
      received.set_survey(p.survey->name());
      received.set_profile(r.profile());
      received.set_kind(KindName(r.kind()));
      if (r.has_score()) received.set_score(r.score());
      received.set_category(CategoryName(r.category()));
      for (const std::string& t : r.themes()) received.add_themes(t);
      received.set_sentiment_score(r.sentiment_score());
      received.set_channel(ChannelName(r.channel()));
      received.set_touchpoint(r.touchpoint());
      *received.mutable_submit_time() = r.submit_time();
      *received.mutable_profile_feedback() = (*summaries)[r.profile()];
      events.push_back(NewEvent(r.name(), received));
      if (p.follow_up.has_value()) {
        const v1::FollowUp& f = *p.follow_up;
        ev::FollowUpChanged changed;
        changed.set_follow_up(f.name());
        changed.set_profile(f.profile());
        changed.set_response(f.response());
        changed.set_owner_team(f.owner_team());
        changed.set_change("OPENED");
        changed.set_state(StateName(f.state()));
        changed.set_actor("system");
        *changed.mutable_open_time() = f.open_time();
        *changed.mutable_due_time() = f.first_contact_due_time();
        *changed.mutable_profile_feedback() = (*summaries)[r.profile()];
        events.push_back(NewEvent(f.name(), changed));
      }
      Submitted& result = committed[p.index];
      result.status = absl::OkStatus();
      result.response = r;
      result.opened_follow_up = p.follow_up.has_value();
    }
    if (absl::Status s = events::AppendAllToOutbox(tx, kService, events); !s.ok()) return s;
    // Duplicates within the batch answer with the first one's result.
    for (const Pending& p : batch) {
      if (!p.duplicate_of.has_value()) continue;
      const Pending& first = batch[*p.duplicate_of];
      committed[p.index] = committed[first.index];
      committed[p.index].duplicate = true;
      committed[p.index].opened_follow_up = false;
    }
    for (const Pending& p : batch) {
      if (p.stored_response_id.empty()) continue;
      auto rows = tx.Query("SELECT data, profile FROM feedback_responses WHERE id = $1",
                           {p.stored_response_id});
      if (!rows.ok()) return rows.status();
      Submitted& result = committed[p.index];
      if (rows->empty()) {
        result.status = runtime::Error(absl::StatusCode::kNotFound, "RESPONSE_NOT_FOUND",
                                       "the response first stored with this request_id is gone");
        continue;
      }
      result.status = absl::OkStatus();
      result.response = ResponseFromRow((*rows)[0], 0, 1);
      result.duplicate = true;
    }
    return absl::OkStatus();
  };
  absl::Status status = deps_.db->Transact(attempt, {.deadline = deadline});
  // Two writers racing with one request id: the loser's insert conflicts; the retry
  // finds the winner's response.
  if (status.code() == absl::StatusCode::kAlreadyExists) {
    status = deps_.db->Transact(attempt, {.deadline = deadline});
  }
  if (!status.ok()) return status;
  AfterCommit();
  return committed;
}

absl::StatusOr<v1::Response> FeedbackService::SubmitResponse(
    const v1::SubmitResponseRequest& request, absl::Time deadline) {
  auto results = SubmitBatchImpl({request}, deadline, /*all_or_nothing=*/false);
  if (!results.ok()) return results.status();
  Submitted& result = (*results)[0];
  if (!result.status.ok()) return result.status;
  return std::move(result.response);
}

absl::StatusOr<v1::BatchSubmitResponsesResponse> FeedbackService::BatchSubmitResponses(
    const v1::BatchSubmitResponsesRequest& request, absl::Time deadline) {
  if (request.requests().empty()) {
    return runtime::InvalidField("requests", absl::StrCat("must hold 1 to ", kMaxBatch,
                                                          " responses, got 0"));
  }
  std::vector<v1::SubmitResponseRequest> requests(request.requests().begin(),
                                                  request.requests().end());
  auto results = SubmitBatchImpl(requests, deadline, /*all_or_nothing=*/true);
  if (!results.ok()) return results.status();
  v1::BatchSubmitResponsesResponse response;
  for (size_t i = 0; i < results->size(); ++i) {
    // Statuses failing before the transaction (validation, unknown survey or profile).
    if (!(*results)[i].status.ok()) return InBatch(i, (*results)[i].status);
    *response.add_responses() = std::move((*results)[i].response);
  }
  return response;
}

absl::StatusOr<v1::Response> FeedbackService::GetResponse(const v1::GetResponseRequest& request) {
  auto ids = ResponseIds("name", request.name());
  if (!ids.ok()) return ids.status();
  auto rows = deps_.db->Query(
      "SELECT data, profile FROM feedback_responses WHERE id = $1 AND survey = $2",
      {ids->second, ids->first});
  if (!rows.ok()) return rows.status();
  if (rows->empty()) {
    return runtime::Error(absl::StatusCode::kNotFound, "RESPONSE_NOT_FOUND",
                          absl::StrCat(request.name(), " does not exist"));
  }
  return ResponseFromRow((*rows)[0], 0, 1);
}

absl::StatusOr<v1::ListResponsesResponse> FeedbackService::ListResponses(
    const v1::ListResponsesRequest& request) {
  std::vector<FieldViolation> v;
  std::string survey_id;
  if (request.parent() != "surveys/-") {
    auto id = IdOfName("parent", request.parent(), "surveys");
    if (!id.ok()) {
      v.push_back({"parent", absl::StrCat(id.status().message(), " (or \"surveys/-\" for all)")});
    } else {
      survey_id = *id;
    }
  }
  if (!request.profile().empty()) CheckProfileName(v, "profile", request.profile());
  if (!v1::Category_IsValid(request.category())) v.push_back({"category", "is not a Category"});
  auto size = runtime::PageSize(request.page_size(), kDefaultPageSize, kMaxPageSize);
  if (!size.ok()) v.push_back({"page_size", "must not be negative"});
  if (!v.empty()) return runtime::InvalidArgument(std::move(v));

  FilteredQuery query("SELECT data, profile, submit_time, id FROM feedback_responses");
  if (!survey_id.empty()) query.And("survey = ?", survey_id);
  if (request.category() != v1::CATEGORY_UNSPECIFIED) {
    query.And("category = ?", int64_t{request.category()});
  }
  if (!request.profile().empty()) query.And("profile = ?", request.profile());
  if (!request.theme().empty()) {
    query.And("id IN (SELECT response FROM feedback_response_themes WHERE theme = ?)",
              request.theme());
  }
  if (IsSet(request.start_time())) {
    query.And("submit_time >= ?", Micros(FromTimestamp(request.start_time())));
  }
  if (IsSet(request.end_time())) {
    query.And("submit_time < ?", Micros(FromTimestamp(request.end_time())));
  }
  if (absl::Status s = query.Page(request.page_token(), "responses", "submit_time",
                                  /*descending=*/true, *size + 1);
      !s.ok()) {
    return s;
  }
  auto rows = query.Run(*deps_.db);
  if (!rows.ok()) return rows.status();
  v1::ListResponsesResponse response;
  for (size_t i = 0; i < rows->size() && static_cast<int>(i) < *size; ++i) {
    *response.add_responses() = ResponseFromRow((*rows)[i], 0, 1);
  }
  if (static_cast<int>(rows->size()) > *size) {
    const store::Row& last = (*rows)[*size - 1];
    response.set_next_page_token(
        FilteredQuery::PageToken("responses", last.GetInt(2), last.GetString(3)));
  }
  return response;
}

// ---- Follow-up policies -------------------------------------------------------------

absl::StatusOr<v1::FollowUpPolicy> FeedbackService::ReadPolicy(const std::string& id) {
  auto stored = definitions_.Read(kPolicies, id);
  if (!stored.ok()) return stored.status();
  v1::FollowUpPolicy p;
  p.ParseFromString(stored->data);
  p.set_name(absl::StrCat("followUpPolicies/", id));
  p.set_etag(runtime::EtagOf(stored->version));
  return p;
}

absl::StatusOr<std::vector<FeedbackService::Policy>> FeedbackService::Policies() {
  auto all = definitions_.All(kPolicies);
  if (!all.ok()) return all.status();
  std::vector<Policy> out;
  absl::MutexLock lock(&policies_mu_);
  std::map<std::string, Policy> cache;
  for (const StoredDefinition& stored : *all) {
    std::string name = absl::StrCat("followUpPolicies/", stored.id);
    auto cached = policy_cache_.find(name);
    if (cached != policy_cache_.end() && cached->second.version == stored.version) {
      cache[name] = cached->second;
    } else {
      Policy p;
      p.name = name;
      p.version = stored.version;
      p.proto.ParseFromString(stored.data);
      auto rule = PolicyRule::Compile(p.proto.rule());
      if (!rule.ok()) {
        runtime::LogError("policy_rule_invalid", {{"policy", name}, {"error", rule.status().ToString()}});
        continue;
      }
      p.rule = *rule;
      cache[name] = std::move(p);
    }
    out.push_back(cache[name]);
  }
  policy_cache_ = std::move(cache);
  // Highest priority first; ties: the older policy.
  std::stable_sort(out.begin(), out.end(), [](const Policy& a, const Policy& b) {
    if (a.proto.priority() != b.proto.priority()) return a.proto.priority() > b.proto.priority();
    return FromTimestamp(a.proto.create_time()) < FromTimestamp(b.proto.create_time());
  });
  return out;
}

absl::StatusOr<v1::FollowUpPolicy> FeedbackService::CreateFollowUpPolicy(
    const v1::CreateFollowUpPolicyRequest& request) {
  v1::FollowUpPolicy p = request.policy();
  std::vector<FieldViolation> v = ValidatePolicy(p, nullptr);
  CheckCreateIds(v, "policy_id", request.policy_id(), request.request_id());
  if (!v.empty()) return runtime::InvalidArgument(std::move(v));
  std::string id = request.policy_id().empty() ? absl::StrCat("p", deps_.ids->NewId())
                                               : request.policy_id();
  google::protobuf::Timestamp now = ToTimestamp(deps_.clock->Now());
  p.set_name(absl::StrCat("followUpPolicies/", id));
  *p.mutable_create_time() = now;
  *p.mutable_update_time() = now;
  p.clear_etag();
  auto created = definitions_.Insert(kPolicies, id, Serialize(p), request.request_id(),
                                     deps_.clock->Now());
  if (!created.ok()) return created.status();
  return ReadPolicy(*created);
}

absl::StatusOr<v1::FollowUpPolicy> FeedbackService::GetFollowUpPolicy(
    const v1::GetFollowUpPolicyRequest& request) {
  auto id = IdOfName("name", request.name(), "followUpPolicies");
  if (!id.ok()) return id.status();
  return ReadPolicy(*id);
}

absl::StatusOr<v1::ListFollowUpPoliciesResponse> FeedbackService::ListFollowUpPolicies(
    const v1::ListFollowUpPoliciesRequest& request) {
  v1::ListFollowUpPoliciesResponse response;
  auto next = definitions_.ListPage(kPolicies, request.page_size(), request.page_token(),
                                    kDefaultPageSize, kMaxPageSize,
                                    [&](const StoredDefinition& stored) {
                                      v1::FollowUpPolicy* p = response.add_policies();
                                      p->ParseFromString(stored.data);
                                      p->set_etag(runtime::EtagOf(stored.version));
                                    });
  if (!next.ok()) return next.status();
  response.set_next_page_token(*next);
  return response;
}

absl::StatusOr<v1::FollowUpPolicy> FeedbackService::UpdateFollowUpPolicy(
    const v1::UpdateFollowUpPolicyRequest& request) {
  auto id = IdOfName("policy.name", request.policy().name(), "followUpPolicies");
  if (!id.ok()) return id.status();
  auto current = ReadPolicy(*id);
  if (!current.ok()) return current.status();
  v1::FollowUpPolicy next = *current;
  if (absl::Status s = runtime::ApplyUpdateMask(
          request.policy(), request.update_mask(),
          {"display_name", "rule", "owner_team", "first_contact_sla", "resolution_sla",
           "priority"},
          next);
      !s.ok()) {
    return s;
  }
  std::vector<FieldViolation> v = ValidatePolicy(next, nullptr);
  if (!v.empty()) return runtime::InvalidArgument(std::move(v));
  auto version = runtime::CheckEtag(request.etag(), current->etag());
  if (!version.ok()) return version.status();
  *next.mutable_update_time() = ToTimestamp(deps_.clock->Now());
  next.clear_etag();
  if (absl::Status s = definitions_.Replace(kPolicies, *id, *version, Serialize(next)); !s.ok()) {
    return s;
  }
  return ReadPolicy(*id);
}

absl::Status FeedbackService::DeleteFollowUpPolicy(const v1::DeleteFollowUpPolicyRequest& request) {
  auto id = IdOfName("name", request.name(), "followUpPolicies");
  if (!id.ok()) return id.status();
  auto current = ReadPolicy(*id);
  if (!current.ok()) return current.status();
  if (auto version = runtime::CheckEtag(request.etag(), current->etag()); !version.ok()) {
    return version.status();
  }
  return definitions_.Delete(kPolicies, *id);
}

// ---- Follow-ups ---------------------------------------------------------------------

namespace {

v1::FollowUp FollowUpFromRow(const store::Row& row, size_t data, size_t profile, size_t version) {
  v1::FollowUp f;
  f.ParseFromString(row.GetString(data));
  f.set_profile(row.GetString(profile));
  f.set_etag(runtime::EtagOf(row.GetInt(version)));
  return f;
}

bool IsOpenState(v1::FollowUpState s) {
  return s == v1::FOLLOW_UP_STATE_OPEN || s == v1::FOLLOW_UP_STATE_CONTACTED;
}

ev::FollowUpChanged ChangedEvent(const v1::FollowUp& f, const std::string& change,
                                 const std::string& actor) {
  ev::FollowUpChanged changed;
  changed.set_follow_up(f.name());
  changed.set_profile(f.profile());
  changed.set_response(f.response());
  changed.set_owner_team(f.owner_team());
  changed.set_change(change);
  changed.set_state(StateName(f.state()));
  changed.set_actor(actor);
  changed.set_closed_loop(f.closed_loop());
  *changed.mutable_open_time() = f.open_time();
  return changed;
}

}  // namespace

absl::StatusOr<v1::FollowUp> FeedbackService::ReadFollowUp(store::Tx& tx, const std::string& id,
                                                           int64_t* version) {
  auto rows = tx.Query("SELECT data, profile, version FROM feedback_follow_ups WHERE id = $1", {id});
  if (!rows.ok()) return rows.status();
  if (rows->empty()) {
    return runtime::Error(absl::StatusCode::kNotFound, "FOLLOW_UP_NOT_FOUND",
                          absl::StrCat("followUps/", id, " does not exist"));
  }
  if (version != nullptr) *version = (*rows)[0].GetInt(2);
  return FollowUpFromRow((*rows)[0], 0, 1, 2);
}

absl::StatusOr<v1::FollowUp> FeedbackService::GetFollowUp(const v1::GetFollowUpRequest& request) {
  auto id = IdOfName("name", request.name(), "followUps");
  if (!id.ok()) return id.status();
  absl::StatusOr<v1::FollowUp> result;
  absl::Status status = deps_.db->Transact(
      [&](store::Tx& tx) {
        result = ReadFollowUp(tx, *id, nullptr);
        return result.status();
      },
      {.read_only = true});
  if (!status.ok()) return status;
  return result;
}

absl::StatusOr<v1::ListFollowUpsResponse> FeedbackService::ListFollowUps(
    const v1::ListFollowUpsRequest& request) {
  std::vector<FieldViolation> v;
  if (!request.owner_team().empty() && !ValidTeam(request.owner_team())) {
    v.push_back({"owner_team", "must be 1 to 64 bytes of [a-z0-9-]"});
  }
  if (!v1::FollowUpState_IsValid(request.state())) v.push_back({"state", "is not a FollowUpState"});
  if (!v1::BreachFilter_IsValid(request.breach())) v.push_back({"breach", "is not a BreachFilter"});
  if (!request.profile().empty()) CheckProfileName(v, "profile", request.profile());
  auto size = runtime::PageSize(request.page_size(), kDefaultPageSize, kMaxPageSize);
  if (!size.ok()) v.push_back({"page_size", "must not be negative"});
  if (!v.empty()) return runtime::InvalidArgument(std::move(v));
  FilteredQuery query("SELECT data, profile, version, open_time, id FROM feedback_follow_ups");
  if (!request.owner_team().empty()) query.And("owner_team = ?", request.owner_team());
  if (request.state() != v1::FOLLOW_UP_STATE_UNSPECIFIED) {
    query.And("state = ?", int64_t{request.state()});
  }
  if (!request.profile().empty()) query.And("profile = ?", request.profile());
  if (request.breach() == v1::BREACH_FILTER_BREACHED) query.And("breached > 0");
  if (request.breach() == v1::BREACH_FILTER_WITHIN_SLA) query.And("breached = 0");
  if (absl::Status s = query.Page(request.page_token(), "followUps", "open_time",
                                  /*descending=*/false, *size + 1);
      !s.ok()) {
    return s;
  }
  auto rows = query.Run(*deps_.db);
  if (!rows.ok()) return rows.status();
  v1::ListFollowUpsResponse response;
  for (size_t i = 0; i < rows->size() && static_cast<int>(i) < *size; ++i) {
    *response.add_follow_ups() = FollowUpFromRow((*rows)[i], 0, 1, 2);
  }
  if (static_cast<int>(rows->size()) > *size) {
    const store::Row& last = (*rows)[*size - 1];
    response.set_next_page_token(
        FilteredQuery::PageToken("followUps", last.GetInt(3), last.GetString(4)));
  }
  return response;
}

absl::StatusOr<v1::FollowUp> FeedbackService::TransitionFollowUp(
    const v1::TransitionFollowUpRequest& request) {
  std::vector<FieldViolation> v;
  auto id = IdOfName("name", request.name(), "followUps");
  if (!id.ok()) v.push_back({"name", std::string(id.status().message())});
  if (request.state() == v1::FOLLOW_UP_STATE_UNSPECIFIED ||
      !v1::FollowUpState_IsValid(request.state())) {
    v.push_back({"state", "must be OPEN, CONTACTED, RESOLVED or CLOSED"});
  }
  CheckBytes(v, "actor", request.actor(), 1, kMaxActorBytes);
  CheckBytes(v, "note", request.note(), 0, kMaxTextBytes);
  CheckBytes(v, "assignee", request.assignee(), 0, kMaxActorBytes);
  if (!v.empty()) return runtime::InvalidArgument(std::move(v));
  v1::FollowUp result;
  absl::Status status = deps_.db->Transact([&](store::Tx& tx) -> absl::Status {
    int64_t version = 0;
    auto current = ReadFollowUp(tx, *id, &version);
    if (!current.ok()) return current.status();
    if (auto checked = runtime::CheckEtag(request.etag(), current->etag()); !checked.ok()) {
      return checked.status();
    }
    v1::FollowUp f = *current;
    if (request.state() < f.state()) {
      return runtime::WithViolations(
          runtime::Error(absl::StatusCode::kInvalidArgument, "BACKWARD_TRANSITION",
                         absl::StrCat(f.name(), " is ", StateName(f.state()),
                                      "; a follow-up only moves forward (OPEN, CONTACTED, "
                                      "RESOLVED, CLOSED)")),
          {{"state", absl::StrCat("must be ", StateName(f.state()), " or later")}});
    }
    const absl::Time now = deps_.clock->Now();
    const bool was_open = IsOpenState(f.state());
    std::string change = request.state() == f.state() ? "NOTE" : StateName(request.state());
    if (request.state() >= v1::FOLLOW_UP_STATE_CONTACTED && !IsSet(f.contact_time())) {
      *f.mutable_contact_time() = ToTimestamp(now);
    }
    if (request.state() >= v1::FOLLOW_UP_STATE_RESOLVED && !IsSet(f.resolve_time())) {
      *f.mutable_resolve_time() = ToTimestamp(now);
    }
    if (request.state() == v1::FOLLOW_UP_STATE_CLOSED && !IsSet(f.close_time())) {
      *f.mutable_close_time() = ToTimestamp(now);
    }
    f.set_state(request.state());
    if (request.closed_loop()) f.set_closed_loop(true);
    if (!request.assignee().empty()) f.set_assignee(request.assignee());
    v1::FollowUpNote* note = f.add_notes();
    note->set_actor(request.actor());
    note->set_state(request.state());
    note->set_text(request.note());
    *note->mutable_time() = ToTimestamp(now);
    *f.mutable_update_time() = ToTimestamp(now);
    f.clear_etag();
    auto updated = tx.Exec(
        "UPDATE feedback_follow_ups SET state = $1, version = version + 1, data = $2 "
        "WHERE id = $3 AND version = $4",
        {int64_t{f.state()}, store::Blob{Serialize(f)}, *id, version});
    if (!updated.ok()) return updated.status();
    if (*updated == 0) {
      return runtime::Error(absl::StatusCode::kAborted, "CONCURRENT_UPDATE",
                            absl::StrCat(f.name(), " changed meanwhile; read it and retry"));
    }
    ev::FollowUpChanged changed = ChangedEvent(f, change, request.actor());
    if (was_open && !IsOpenState(f.state())) {
      std::map<std::string, ProfileDelta> deltas;
      deltas[f.profile()].open_follow_ups = -1;
      auto summaries = ApplyProfileDeltas(tx, deltas);
      if (!summaries.ok()) return summaries.status();
      *changed.mutable_profile_feedback() = (*summaries)[f.profile()];
    }
    if (absl::Status s = events::AppendToOutbox(tx, kService, NewEvent(f.name(), changed));
        !s.ok()) {
      return s;
    }
    f.set_etag(runtime::EtagOf(version + 1));
    result = std::move(f);
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  AfterCommit();
  return result;
}

absl::StatusOr<int> FeedbackService::DetectBreaches(absl::Time now) {
  int breaches = 0;
  for (;;) {
    int in_batch = 0;
    bool more = false;
    absl::Status status = deps_.db->Transact([&](store::Tx& tx) -> absl::Status {
      in_batch = 0;
      auto rows = tx.Query(
          "SELECT id, data, profile, version, breached, contact_due, resolution_due, state FROM "
          "feedback_follow_ups WHERE (state = $1 AND contact_due <= $3 AND breached % 2 = 0) OR "
          "(state IN ($1, $2) AND resolution_due > 0 AND resolution_due <= $3 AND breached < 2) "
          "ORDER BY contact_due LIMIT $4",
          {kOpen, kContacted, Micros(now), int64_t{kBreachBatch}});
      if (!rows.ok()) return rows.status();
      more = rows->size() == static_cast<size_t>(kBreachBatch);
      std::vector<ev::Event> events;
      for (const store::Row& row : *rows) {
        v1::FollowUp f = FollowUpFromRow(row, 1, 2, 3);
        int64_t breached = row.GetInt(4);
        SlaClock clock;
        clock.state = static_cast<v1::FollowUpState>(row.GetInt(7));
        clock.first_contact_due = FromMicros(row.GetInt(5));
        if (row.GetInt(6) > 0) clock.resolution_due = FromMicros(row.GetInt(6));
        clock.first_contact_breached = (breached & kContactBreached) != 0;
        clock.resolution_breached = (breached & kResolutionBreached) != 0;
        std::vector<std::pair<v1::Sla, int64_t>> missed;
        for (v1::Sla sla : NewlyMissedSlas(clock, now)) {
          bool contact = sla == v1::SLA_FIRST_CONTACT;
          missed.push_back({sla, contact ? row.GetInt(5) : row.GetInt(6)});
          breached |= contact ? kContactBreached : kResolutionBreached;
        }
        for (const auto& [sla, due] : missed) {
          f.add_breached_slas(sla);
          v1::FollowUpNote* note = f.add_notes();
          note->set_actor("system");
          note->set_state(f.state());
          note->set_text(absl::StrCat(SlaName(sla), " SLA missed (due ",
                                      absl::FormatTime(FromMicros(due)), ")"));
          *note->mutable_time() = ToTimestamp(now);
        }
        *f.mutable_update_time() = ToTimestamp(now);
        f.clear_etag();
        auto updated = tx.Exec(
            "UPDATE feedback_follow_ups SET breached = $1, version = version + 1, data = $2 "
            "WHERE id = $3 AND version = $4",
            {breached, store::Blob{Serialize(f)}, row.GetString(0), row.GetInt(3)});
        if (!updated.ok()) return updated.status();
        if (*updated == 0) continue;  // changed meanwhile; the next pass looks again
        for (const auto& [sla, due] : missed) {
          ev::FollowUpChanged changed = ChangedEvent(f, "SLA_BREACHED", "system");
          changed.set_sla(SlaName(sla));
          *changed.mutable_due_time() = ToTimestamp(FromMicros(due));
          events.push_back(NewEvent(f.name(), changed));
          ++in_batch;
        }
      }
      return events::AppendAllToOutbox(tx, kService, events);
    });
    if (!status.ok()) return status;
    breaches += in_batch;
    if (in_batch > 0) AfterCommit();
    if (!more) break;
  }
  return breaches;
}

// ---- Feature requests and themes ----------------------------------------------------

namespace {

// Demand per key of the (key, profile) pairs that `pairs_sql` selects, with `params`.
absl::StatusOr<std::map<std::string, v1::Demand>> GroupDemand(store::Tx& tx,
                                                              const std::string& pairs_sql,
                                                              const store::Params& params) {
  std::map<std::string, v1::Demand> out;
  auto totals = tx.Query(
      absl::StrCat("SELECT x.k, COUNT(*), COALESCE(SUM(p.revenue), 0), COALESCE(SUM(CASE WHEN "
                   "(p.last_nps >= 0 AND p.last_nps <= 6) OR (p.last_csat >= 1 AND "
                   "p.last_csat <= 2) THEN 1 ELSE 0 END), 0) FROM (SELECT DISTINCT k, profile "
                   "FROM (",
                   pairs_sql, ") pairs WHERE profile <> '') x LEFT JOIN feedback_profiles p ON "
                   "p.profile = x.profile GROUP BY x.k"),
      params);
  if (!totals.ok()) return totals.status();
  for (const store::Row& row : *totals) {
    v1::Demand& d = out[row.GetString(0)];
    d.set_profile_count(row.GetInt(1));
    d.set_revenue_total(row.GetDouble(2));
    d.set_detractor_count(row.GetInt(3));
  }
  auto segments = tx.Query(
      absl::StrCat("SELECT x.k, s.segment, COUNT(*) FROM (SELECT DISTINCT k, profile FROM (",
                   pairs_sql, ") pairs WHERE profile <> '') x JOIN feedback_profile_segments s "
                   "ON s.profile = x.profile GROUP BY x.k, s.segment ORDER BY x.k, 3 DESC, "
                   "s.segment"),
      params);
  if (!segments.ok()) return segments.status();
  for (const store::Row& row : *segments) {
    v1::Demand& d = out[row.GetString(0)];
    if (d.segments_size() >= kMaxSegmentsInDemand) continue;
    v1::SegmentShare* share = d.add_segments();
    share->set_segment(row.GetString(1));
    share->set_profile_count(row.GetInt(2));
  }
  return out;
}

// Higher demand first: profiles then revenue ("demand"), or revenue then profiles.
bool RanksBefore(const v1::Demand& a, const v1::Demand& b, bool by_revenue) {
  if (by_revenue && a.revenue_total() != b.revenue_total()) {
    return a.revenue_total() > b.revenue_total();
  }
  if (a.profile_count() != b.profile_count()) return a.profile_count() > b.profile_count();
  return a.revenue_total() > b.revenue_total();
}

}  // namespace

absl::StatusOr<v1::FeatureRequest> FeedbackService::ReadFeatureRequest(const std::string& id) {
  auto stored = definitions_.Read(kFeatureRequests, id);
  if (!stored.ok()) return stored.status();
  v1::FeatureRequest f;
  f.ParseFromString(stored->data);
  f.set_name(absl::StrCat("featureRequests/", id));
  f.set_etag(runtime::EtagOf(stored->version));
  absl::Status status = deps_.db->Transact(
      [&](store::Tx& tx) -> absl::Status {
        auto demand = GroupDemand(tx, "SELECT request AS k, profile FROM feedback_links WHERE "
                                      "request = $1",
                                  {id});
        if (!demand.ok()) return demand.status();
        if (auto it = demand->find(id); it != demand->end()) *f.mutable_demand() = it->second;
        return absl::OkStatus();
      },
      {.read_only = true});
  if (!status.ok()) return status;
  return f;
}

absl::StatusOr<v1::FeatureRequest> FeedbackService::CreateFeatureRequest(
    const v1::CreateFeatureRequestRequest& request) {
  v1::FeatureRequest f = request.feature_request();
  if (f.state() == v1::FEATURE_REQUEST_STATE_UNSPECIFIED) f.set_state(v1::FEATURE_REQUEST_STATE_OPEN);
  std::vector<FieldViolation> v = ValidateFeatureRequest(f);
  CheckCreateIds(v, "feature_request_id", request.feature_request_id(), request.request_id());
  if (!v.empty()) return runtime::InvalidArgument(std::move(v));
  std::string id = request.feature_request_id().empty() ? absl::StrCat("f", deps_.ids->NewId())
                                                        : request.feature_request_id();
  google::protobuf::Timestamp now = ToTimestamp(deps_.clock->Now());
  f.set_name(absl::StrCat("featureRequests/", id));
  *f.mutable_create_time() = now;
  *f.mutable_update_time() = now;
  f.clear_etag();
  f.clear_demand();
  auto created = definitions_.Insert(kFeatureRequests, id, Serialize(f), request.request_id(),
                                     deps_.clock->Now());
  if (!created.ok()) return created.status();
  return ReadFeatureRequest(*created);
}

absl::StatusOr<v1::FeatureRequest> FeedbackService::GetFeatureRequest(
    const v1::GetFeatureRequestRequest& request) {
  auto id = IdOfName("name", request.name(), "featureRequests");
  if (!id.ok()) return id.status();
  return ReadFeatureRequest(*id);
}

absl::StatusOr<v1::ListFeatureRequestsResponse> FeedbackService::ListFeatureRequests(
    const v1::ListFeatureRequestsRequest& request) {
  std::vector<FieldViolation> v;
  if (!v1::FeatureRequestState_IsValid(request.state())) {
    v.push_back({"state", "is not a FeatureRequestState"});
  }
  if (!request.order_by().empty() && request.order_by() != "demand" &&
      request.order_by() != "revenue") {
    v.push_back({"order_by", absl::StrCat("must be \"demand\" or \"revenue\", got \"",
                                          request.order_by(), "\"")});
  }
  auto size = runtime::PageSize(request.page_size(), kDefaultPageSize, kMaxPageSize);
  if (!size.ok()) v.push_back({"page_size", "must not be negative"});
  int64_t offset = 0;
  if (!request.page_token().empty()) {
    auto cursor = runtime::PageCursor(request.page_token(), "featureRequests");
    if (!cursor.ok() || !absl::SimpleAtoi(*cursor, &offset) || offset < 0) {
      v.push_back({"page_token", "is not a token returned by this method"});
    }
  }
  if (!v.empty()) return runtime::InvalidArgument(std::move(v));
  auto all = definitions_.All(kFeatureRequests);
  if (!all.ok()) return all.status();
  std::map<std::string, v1::Demand> demand;
  absl::Status status = deps_.db->Transact(
      [&](store::Tx& tx) -> absl::Status {
        auto d = GroupDemand(tx, "SELECT request AS k, profile FROM feedback_links", {});
        if (!d.ok()) return d.status();
        demand = std::move(*d);
        return absl::OkStatus();
      },
      {.read_only = true});
  if (!status.ok()) return status;
  std::vector<v1::FeatureRequest> ranked;
  for (const StoredDefinition& stored : *all) {
    v1::FeatureRequest f;
    f.ParseFromString(stored.data);
    if (request.state() != v1::FEATURE_REQUEST_STATE_UNSPECIFIED && f.state() != request.state()) {
      continue;
    }
    f.set_etag(runtime::EtagOf(stored.version));
    if (auto it = demand.find(stored.id); it != demand.end()) *f.mutable_demand() = it->second;
    ranked.push_back(std::move(f));
  }
  const bool by_revenue = request.order_by() == "revenue";
  std::stable_sort(ranked.begin(), ranked.end(), [&](const auto& a, const auto& b) {
    return RanksBefore(a.demand(), b.demand(), by_revenue);
  });
  v1::ListFeatureRequestsResponse response;
  for (int64_t i = offset; i < static_cast<int64_t>(ranked.size()) && i < offset + *size; ++i) {
    *response.add_feature_requests() = std::move(ranked[i]);
  }
  if (offset + *size < static_cast<int64_t>(ranked.size())) {
    response.set_next_page_token(runtime::PageToken("featureRequests", absl::StrCat(offset + *size)));
  }
  return response;
}

absl::StatusOr<v1::FeatureRequest> FeedbackService::UpdateFeatureRequest(
    const v1::UpdateFeatureRequestRequest& request) {
  auto id = IdOfName("feature_request.name", request.feature_request().name(), "featureRequests");
  if (!id.ok()) return id.status();
  auto stored = definitions_.Read(kFeatureRequests, *id);
  if (!stored.ok()) return stored.status();
  v1::FeatureRequest next;
  next.ParseFromString(stored->data);
  if (absl::Status s = runtime::ApplyUpdateMask(
          request.feature_request(), request.update_mask(),
          {"title", "problem", "job_to_be_done", "current_workaround", "pain", "owner_team",
           "state"},
          next);
      !s.ok()) {
    return s;
  }
  std::vector<FieldViolation> v = ValidateFeatureRequest(next);
  if (next.state() == v1::FEATURE_REQUEST_STATE_UNSPECIFIED) {
    v.push_back({"feature_request.state", "must be OPEN, PLANNED, SHIPPED or DECLINED"});
  }
  if (!v.empty()) return runtime::InvalidArgument(std::move(v));
  auto version = runtime::CheckEtag(request.etag(), runtime::EtagOf(stored->version));
  if (!version.ok()) return version.status();
  *next.mutable_update_time() = ToTimestamp(deps_.clock->Now());
  next.clear_etag();
  if (absl::Status s = definitions_.Replace(kFeatureRequests, *id, *version, Serialize(next));
      !s.ok()) {
    return s;
  }
  return ReadFeatureRequest(*id);
}

absl::StatusOr<v1::FeatureRequestLink> FeedbackService::LinkFeatureRequest(
    const v1::LinkFeatureRequestRequest& request, absl::Time deadline) {
  const v1::FeatureRequestLink& link = request.link();
  std::vector<FieldViolation> v;
  auto id = IdOfName("link.feature_request", link.feature_request(), "featureRequests");
  if (!id.ok()) v.push_back({"link.feature_request", std::string(id.status().message())});
  CheckProfileName(v, "link.profile", link.profile());
  CheckBytes(v, "link.verbatim", link.verbatim(), 1, kMaxTextBytes);
  if (!link.response().empty()) {
    if (auto r = ResponseIds("link.response", link.response()); !r.ok()) {
      v.push_back({"link.response", std::string(r.status().message())});
    }
  }
  if (!v.empty()) return runtime::InvalidArgument(std::move(v));
  if (auto f = definitions_.Read(kFeatureRequests, *id); !f.ok()) return f.status();
  if (!link.response().empty()) {
    v1::GetResponseRequest get;
    get.set_name(link.response());
    if (auto r = GetResponse(get); !r.ok()) return r.status();
  }
  auto profiles = FetchProfiles({link.profile()}, deadline);
  if (!profiles.ok()) return profiles.status();
  if (!(*profiles)[0].has_value()) {
    return ProfileNotFound(link.profile());
  }
  const pv1::Profile& profile = *(*profiles)[0];
  v1::FeatureRequestLink stored = link;
  stored.set_profile(profile.name());
  *stored.mutable_link_time() = ToTimestamp(deps_.clock->Now());
  absl::Status status = deps_.db->Transact([&](store::Tx& tx) -> absl::Status {
    auto erased = GuardProfiles(tx, {profile.name()});
    if (!erased.ok()) return erased.status();
    if (!erased->empty()) {
      return ProfileNotFound(link.profile());
    }
    auto upserted = tx.Exec(
        "INSERT INTO feedback_links (request, profile, link_time, data) VALUES ($1, $2, $3, $4) "
        "ON CONFLICT (request, profile) DO UPDATE SET link_time = excluded.link_time, "
        "data = excluded.data",
        {*id, profile.name(), Micros(deps_.clock->Now()), store::Blob{Serialize(stored)}});
    if (!upserted.ok()) return upserted.status();
    auto revenue = tx.Exec(
        "INSERT INTO feedback_profiles (profile, version, last_nps, last_nps_time, last_csat, "
        "last_csat_time, open_follow_ups, revenue) VALUES ($1, 1, -1, 0, -1, 0, 0, $2) "
        "ON CONFLICT (profile) DO UPDATE SET revenue = excluded.revenue",
        {profile.name(), profile.aggregates().revenue_total()});
    if (!revenue.ok()) return revenue.status();
    auto count = tx.Query("SELECT COUNT(*) FROM feedback_links WHERE request = $1", {*id});
    if (!count.ok()) return count.status();
    ev::FeatureRequestLinked linked;
    linked.set_feature_request(link.feature_request());
    linked.set_profile(profile.name());
    linked.set_response(link.response());
    linked.set_profile_count((*count)[0].GetInt(0));
    return events::AppendToOutbox(tx, kService, NewEvent(link.feature_request(), linked));
  });
  if (!status.ok()) return status;
  AfterCommit();
  return stored;
}

absl::StatusOr<v1::ListFeatureRequestLinksResponse> FeedbackService::ListFeatureRequestLinks(
    const v1::ListFeatureRequestLinksRequest& request) {
  auto id = IdOfName("feature_request", request.feature_request(), "featureRequests");
  if (!id.ok()) return id.status();
  auto size = runtime::PageSize(request.page_size(), kDefaultPageSize, kMaxPageSize);
  if (!size.ok()) return size.status();
  std::string after;
  if (!request.page_token().empty()) {
    auto cursor = runtime::PageCursor(request.page_token(), "links");
    if (!cursor.ok()) return cursor.status();
    after = *cursor;
  }
  auto rows = deps_.db->Query(
      "SELECT data, profile FROM feedback_links WHERE request = $1 AND profile > $2 "
      "ORDER BY profile LIMIT $3",
      {*id, after, int64_t{*size + 1}});
  if (!rows.ok()) return rows.status();
  v1::ListFeatureRequestLinksResponse response;
  for (size_t i = 0; i < rows->size() && static_cast<int>(i) < *size; ++i) {
    v1::FeatureRequestLink* link = response.add_links();
    link->ParseFromString((*rows)[i].GetString(0));
    link->set_profile((*rows)[i].GetString(1));
  }
  if (static_cast<int>(rows->size()) > *size) {
    response.set_next_page_token(runtime::PageToken("links", (*rows)[*size - 1].GetString(1)));
  }
  return response;
}

absl::StatusOr<v1::ListThemeDemandResponse> FeedbackService::ListThemeDemand(
    const v1::ListThemeDemandRequest& request) {
  std::vector<FieldViolation> v;
  std::string survey_id;
  if (!request.parent().empty() && request.parent() != "surveys/-") {
    auto id = IdOfName("parent", request.parent(), "surveys");
    if (!id.ok()) {
      v.push_back({"parent", std::string(id.status().message())});
    } else {
      survey_id = *id;
    }
  }
  std::vector<int64_t> categories;
  for (int c : request.categories()) {
    if (c == v1::CATEGORY_UNSPECIFIED || !v1::Category_IsValid(c)) {
      v.push_back({"categories", absl::StrCat(c, " is not a Category")});
    }
    categories.push_back(c);
  }
  if (!v.empty()) return runtime::InvalidArgument(std::move(v));
  if (categories.empty()) categories = {v1::CATEGORY_DETRACTOR, v1::CATEGORY_DISSATISFIED};
  std::string where = "r.category IN (";
  store::Params params;
  for (size_t i = 0; i < categories.size(); ++i) {
    params.push_back(categories[i]);
    absl::StrAppend(&where, i == 0 ? "$" : ", $", params.size());
  }
  absl::StrAppend(&where, ")");
  if (!survey_id.empty()) {
    params.push_back(survey_id);
    absl::StrAppend(&where, " AND r.survey = $", params.size());
  }
  if (IsSet(request.start_time())) {
    params.push_back(Micros(FromTimestamp(request.start_time())));
    absl::StrAppend(&where, " AND r.submit_time >= $", params.size());
  }
  if (IsSet(request.end_time())) {
    params.push_back(Micros(FromTimestamp(request.end_time())));
    absl::StrAppend(&where, " AND r.submit_time < $", params.size());
  }
  std::string from = absl::StrCat(
      "FROM feedback_response_themes t JOIN feedback_responses r ON r.id = t.response WHERE ",
      where);
  std::map<std::string, int64_t> counts;
  std::map<std::string, v1::Demand> demand;
  absl::Status status = deps_.db->Transact(
      [&](store::Tx& tx) -> absl::Status {
        auto rows = tx.Query(absl::StrCat("SELECT t.theme, COUNT(*) ", from, " GROUP BY t.theme"),
                             params);
        if (!rows.ok()) return rows.status();
        for (const store::Row& row : *rows) counts[row.GetString(0)] = row.GetInt(1);
        auto d = GroupDemand(tx, absl::StrCat("SELECT t.theme AS k, r.profile AS profile ", from),
                             params);
        if (!d.ok()) return d.status();
        demand = std::move(*d);
        return absl::OkStatus();
      },
      {.read_only = true});
  if (!status.ok()) return status;
  v1::ListThemeDemandResponse response;
  std::vector<v1::ThemeDemand> themes;
  for (const auto& [theme, count] : counts) {
    v1::ThemeDemand t;
    t.set_theme(theme);
    t.set_display_name(theme);
    for (const text::Theme& known : deps_.themes->themes()) {
      if (known.id == theme) t.set_display_name(known.display_name);
    }
    t.set_response_count(count);
    if (auto it = demand.find(theme); it != demand.end()) *t.mutable_demand() = it->second;
    themes.push_back(std::move(t));
  }
  std::stable_sort(themes.begin(), themes.end(), [](const auto& a, const auto& b) {
    if (a.demand().profile_count() != b.demand().profile_count() ||
        a.demand().revenue_total() != b.demand().revenue_total()) {
      return RanksBefore(a.demand(), b.demand(), false);
    }
    return a.response_count() > b.response_count();
  });
  for (auto& t : themes) *response.add_themes() = std::move(t);
  return response;
}

// ---- Export -------------------------------------------------------------------------

namespace {

// Orders rows gathered over several chunks of QueryIn by an integer time column, then a
// text tie-breaker.
void SortRows(store::Rows& rows, size_t time_column, size_t tie_column, bool descending) {
  std::stable_sort(rows.begin(), rows.end(), [&](const store::Row& a, const store::Row& b) {
    auto key_a = std::make_pair(a.GetInt(time_column), a.GetString(tie_column));
    auto key_b = std::make_pair(b.GetInt(time_column), b.GetString(tie_column));
    return descending ? key_b < key_a : key_a < key_b;
  });
}

}  // namespace

absl::StatusOr<v1::ExportProfileDataResponse> FeedbackService::ExportProfileData(
    const v1::ExportProfileDataRequest& request, absl::Time deadline) {
  auto names = runtime::ExportProfileNames(request.profile(), request.merged_profiles());
  if (!names.ok()) return names.status();
  v1::ExportProfileDataResponse response;
  absl::Status status = deps_.db->Transact(
      [&](store::Tx& tx) -> absl::Status {
        response.Clear();
        auto responses = QueryIn(
            tx, "SELECT data, profile, submit_time, id FROM feedback_responses WHERE profile", {},
            *names);
        if (!responses.ok()) return responses.status();
        SortRows(*responses, 2, 3, /*descending=*/true);
        for (const store::Row& row : *responses) {
          *response.add_responses() = ResponseFromRow(row, 0, 1);
        }
        auto follow_ups = QueryIn(
            tx,
            "SELECT data, profile, version, open_time, id FROM feedback_follow_ups WHERE profile",
            {}, *names);
        if (!follow_ups.ok()) return follow_ups.status();
        SortRows(*follow_ups, 3, 4, /*descending=*/false);
        for (const store::Row& row : *follow_ups) {
          *response.add_follow_ups() = FollowUpFromRow(row, 0, 1, 2);
        }
        auto links = QueryIn(
            tx, "SELECT data, profile, link_time, request FROM feedback_links WHERE profile", {},
            *names);
        if (!links.ok()) return links.status();
        SortRows(*links, 2, 3, /*descending=*/true);
        for (const store::Row& row : *links) {
          v1::FeatureRequestLink* link = response.add_feature_request_links();
          link->ParseFromString(row.GetString(0));
          link->set_profile(row.GetString(1));
        }
        auto contacts = QueryIn(
            tx, "SELECT profile, survey, last_submit_time FROM feedback_contacts WHERE profile",
            {}, *names);
        if (!contacts.ok()) return contacts.status();
        SortRows(*contacts, 2, 1, /*descending=*/true);
        for (const store::Row& row : *contacts) {
          v1::SurveyContact* contact = response.add_contacts();
          contact->set_profile(row.GetString(0));
          contact->set_survey(absl::StrCat("surveys/", row.GetString(1)));
          *contact->mutable_last_response_time() = ToTimestamp(FromMicros(row.GetInt(2)));
        }
        auto figures = QueryIn(
            tx,
            "SELECT profile, version, last_nps, last_nps_time, last_csat, last_csat_time, "
            "open_follow_ups, revenue FROM feedback_profiles WHERE profile",
            {}, *names);
        if (!figures.ok()) return figures.status();
        auto segments = QueryIn(
            tx, "SELECT profile, segment FROM feedback_profile_segments WHERE profile", {},
            *names, " ORDER BY segment");
        if (!segments.ok()) return segments.status();
        std::map<std::string, v1::ProfileFigures> by_profile;
        for (const store::Row& row : *figures) {
          const ev::FeedbackSummary summary = SummaryOf(row, 1);
          v1::ProfileFigures& f = by_profile[row.GetString(0)];
          if (summary.has_last_nps_score()) {
            f.set_last_nps_score(summary.last_nps_score());
            *f.mutable_last_nps_time() = summary.last_nps_time();
          }
          if (summary.has_last_csat_score()) {
            f.set_last_csat_score(summary.last_csat_score());
            *f.mutable_last_csat_time() = summary.last_csat_time();
          }
          f.set_open_follow_ups(summary.open_follow_ups());
          f.set_revenue_total(row.GetDouble(7));
        }
        for (const store::Row& row : *segments) {
          by_profile[row.GetString(0)].add_segments(row.GetString(1));
        }
        for (auto& [profile, f] : by_profile) {
          f.set_profile(profile);
          *response.add_figures() = std::move(f);
        }
        return absl::OkStatus();
      },
      {.deadline = deadline, .read_only = true});
  if (!status.ok()) return status;
  return response;
}

// ---- Other services' events ---------------------------------------------------------

absl::Status FeedbackService::ApplyEvent(store::Tx& tx, const ev::Event& event) {
  if (event.payload().Is<ev::ProfileErased>()) {
    ev::ProfileErased erased;
    event.payload().UnpackTo(&erased);
    const std::string& profile = erased.profile();
    // First, so a submit in flight for this profile finishes before the scrub below
    // reads (or sees the mark and refuses): see the guard in SubmitBatchImpl.
    if (auto r = tx.Exec("INSERT INTO feedback_profile_guards (profile, erased) VALUES ($1, 1) "
                         "ON CONFLICT (profile) DO UPDATE SET erased = 1",
                         {profile});
        !r.ok()) {
      return r.status();
    }
    // Responses stay as anonymous figures: no profile, no comment.
    auto responses = tx.Query("SELECT id, data FROM feedback_responses WHERE profile = $1", {profile});
    if (!responses.ok()) return responses.status();
    for (const store::Row& row : *responses) {
      v1::Response r;
      r.ParseFromString(row.GetString(1));
      r.clear_profile();
      r.clear_comment();
      r.set_erased(true);
      auto updated = tx.Exec("UPDATE feedback_responses SET profile = '', data = $1 WHERE id = $2",
                             {store::Blob{Serialize(r)}, row.GetString(0)});
      if (!updated.ok()) return updated.status();
    }
    // Follow-ups keep their states and times; notes may quote the customer.
    auto follow_ups = tx.Query("SELECT id, data FROM feedback_follow_ups WHERE profile = $1", {profile});
    if (!follow_ups.ok()) return follow_ups.status();
    for (const store::Row& row : *follow_ups) {
      v1::FollowUp f;
      f.ParseFromString(row.GetString(1));
      f.clear_profile();
      for (v1::FollowUpNote& note : *f.mutable_notes()) note.clear_text();
      auto updated = tx.Exec(
          "UPDATE feedback_follow_ups SET profile = '', version = version + 1, data = $1 "
          "WHERE id = $2",
          {store::Blob{Serialize(f)}, row.GetString(0)});
      if (!updated.ok()) return updated.status();
    }
    for (const char* sql : {"DELETE FROM feedback_links WHERE profile = $1",
                            "DELETE FROM feedback_contacts WHERE profile = $1",
                            "DELETE FROM feedback_profiles WHERE profile = $1",
                            "DELETE FROM feedback_profile_segments WHERE profile = $1"}) {
      if (auto r = tx.Exec(sql, {profile}); !r.ok()) return r.status();
    }
    runtime::LogInfo("feedback_profile_erased", {{"profile", profile},
                                                 {"responses", absl::StrCat(responses->size())}});
    return absl::OkStatus();
  }
  if (event.payload().Is<ev::ProfilesMerged>()) {
    ev::ProfilesMerged merged;
    event.payload().UnpackTo(&merged);
    for (const std::string& from : merged.merged()) {
      store::Params p = {merged.survivor(), from};
      for (const char* sql :
           {"UPDATE feedback_responses SET profile = $1 WHERE profile = $2",
            "UPDATE feedback_follow_ups SET profile = $1 WHERE profile = $2",
            "INSERT INTO feedback_links (request, profile, link_time, data) SELECT request, $1, "
            "link_time, data FROM feedback_links WHERE profile = $2 ON CONFLICT (request, profile) "
            "DO NOTHING",
            "DELETE FROM feedback_links WHERE profile = $2 AND $1 <> $2",
            "INSERT INTO feedback_contacts (profile, survey, last_submit_time) SELECT $1, survey, "
            "last_submit_time FROM feedback_contacts WHERE profile = $2 ON CONFLICT (profile, "
            "survey) DO UPDATE SET last_submit_time = CASE WHEN excluded.last_submit_time > "
            "feedback_contacts.last_submit_time THEN excluded.last_submit_time ELSE "
            "feedback_contacts.last_submit_time END",
            "DELETE FROM feedback_contacts WHERE profile = $2 AND $1 <> $2",
            "DELETE FROM feedback_profile_segments WHERE profile = $2 AND $1 <> $2"}) {
        if (auto r = tx.Exec(sql, p); !r.ok()) return r.status();
      }
    }
    return absl::OkStatus();
  }
  if (event.payload().Is<ev::MembershipChanged>()) {
    ev::MembershipChanged changed;
    event.payload().UnpackTo(&changed);
    if (changed.entered()) {
      return tx
          .Exec("INSERT INTO feedback_profile_segments (profile, segment) VALUES ($1, $2) "
                "ON CONFLICT (profile, segment) DO NOTHING",
                {changed.profile(), changed.segment()})
          .status();
    }
    return tx
        .Exec("DELETE FROM feedback_profile_segments WHERE profile = $1 AND segment = $2",
              {changed.profile(), changed.segment()})
        .status();
  }
  return absl::OkStatus();
}

}  // namespace centric::feedback
