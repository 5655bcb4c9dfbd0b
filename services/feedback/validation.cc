#include "services/feedback/validation.h"

#include <algorithm>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "libs/runtime/resource.h"
#include "services/feedback/derive.h"
#include "services/feedback/feedback_service.h"

namespace centric::feedback {

namespace pv1 = ::centric::profiles::v1;
using runtime::CheckBytes;
using runtime::FromTimestamp;
using runtime::IdOfName;
using runtime::ValidId;
using runtime::ValidTeam;

bool IsSet(const google::protobuf::Timestamp& ts) { return ts.seconds() != 0 || ts.nanos() != 0; }

namespace {

void CheckTimestamp(std::vector<FieldViolation>& v, const std::string& field,
                    const google::protobuf::Timestamp& t) {
  if (!runtime::ValidTimestamp(t)) v.push_back({field, runtime::kInvalidTimestamp});
}

}  // namespace

bool ValidTouchpoint(absl::string_view t) {
  return t.size() <= kMaxTouchpointBytes && std::all_of(t.begin(), t.end(), [](char c) {
           return absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '_';
         });
}

bool ValidProfileName(absl::string_view name) {
  absl::string_view id = name;
  return absl::ConsumePrefix(&id, "profiles/") && !id.empty() && id.size() <= 128 &&
         std::all_of(id.begin(), id.end(), [](char c) {
           return absl::ascii_isalnum(c) || c == '-' || c == '_' || c == '.';
         });
}

void CheckProfileName(std::vector<FieldViolation>& v, const std::string& field,
                      const std::string& name) {
  if (!ValidProfileName(name)) {
    v.push_back({field, absl::StrCat("must be \"profiles/{profile}\", got \"", name, "\"")});
  }
}

std::vector<FieldViolation> ValidateSurvey(const v1::Survey& s) {
  std::vector<FieldViolation> v;
  CheckBytes(v, "survey.display_name", s.display_name(), 1, kMaxDisplayNameBytes);
  CheckBytes(v, "survey.question", s.question(), 1, kMaxQuestionBytes);
  if (s.kind() == v1::SURVEY_KIND_UNSPECIFIED || !v1::SurveyKind_IsValid(s.kind())) {
    v.push_back({"survey.kind", "must be NPS, CSAT, CES or OPEN_TEXT"});
  }
  if (!ValidTouchpoint(s.touchpoint())) {
    v.push_back({"survey.touchpoint", absl::StrCat("must be at most ", kMaxTouchpointBytes,
                                                   " bytes of [a-z0-9_], got \"", s.touchpoint(),
                                                   "\"")});
  }
  if (!v1::JourneyStage_IsValid(s.journey_stage())) {
    v.push_back({"survey.journey_stage", "is not a JourneyStage"});
  }
  if (!pv1::Channel_IsValid(s.channel())) v.push_back({"survey.channel", "is not a Channel"});
  int days = s.contact_policy().min_days_between_responses();
  if (days < 0 || days > kMaxContactDays) {
    v.push_back({"survey.contact_policy.min_days_between_responses",
                 absl::StrCat("must be 0 to ", kMaxContactDays, ", got ", days)});
  }
  if (!pv1::ConsentPurpose_IsValid(s.contact_policy().required_consent())) {
    v.push_back({"survey.contact_policy.required_consent", "is not a ConsentPurpose"});
  }
  size_t before = v.size();
  CheckTimestamp(v, "survey.start_time", s.start_time());
  CheckTimestamp(v, "survey.end_time", s.end_time());
  if (v.size() == before && IsSet(s.start_time()) && IsSet(s.end_time()) &&
      FromTimestamp(s.end_time()) <= FromTimestamp(s.start_time())) {
    v.push_back({"survey.end_time", "must be after start_time"});
  }
  if (!ValidTeam(s.owner_team())) {
    v.push_back({"survey.owner_team", absl::StrCat("must be 1 to ", runtime::kMaxOwnerTeamBytes,
                                                   " bytes of [a-z0-9-], got \"", s.owner_team(),
                                                   "\"")});
  }
  return v;
}

std::vector<FieldViolation> ValidatePolicy(const v1::FollowUpPolicy& p,
                                           std::shared_ptr<const PolicyRule>* rule) {
  std::vector<FieldViolation> v;
  CheckBytes(v, "policy.display_name", p.display_name(), 1, kMaxDisplayNameBytes);
  if (!ValidTeam(p.owner_team())) {
    v.push_back({"policy.owner_team", absl::StrCat("must be 1 to ", runtime::kMaxOwnerTeamBytes,
                                                   " bytes of [a-z0-9-], got \"", p.owner_team(),
                                                   "\"")});
  }
  absl::Duration contact = absl::Seconds(p.first_contact_sla().seconds()) +
                           absl::Nanoseconds(p.first_contact_sla().nanos());
  if (contact < kMinSla || contact > kMaxContactSla) {
    v.push_back({"policy.first_contact_sla",
                 absl::StrCat("must be 1m to 2160h (90 days), got ", absl::FormatDuration(contact))});
  }
  absl::Duration resolution = absl::Seconds(p.resolution_sla().seconds()) +
                              absl::Nanoseconds(p.resolution_sla().nanos());
  if (resolution != absl::ZeroDuration() && (resolution < kMinSla || resolution > kMaxResolutionSla)) {
    v.push_back({"policy.resolution_sla",
                 absl::StrCat("must be 0 (none) or 1m to 8760h (365 days), got ",
                              absl::FormatDuration(resolution))});
  }
  if (p.priority() < 0 || p.priority() > kMaxPriority) {
    v.push_back({"policy.priority",
                 absl::StrCat("must be 0 to ", kMaxPriority, ", got ", p.priority())});
  }
  auto compiled = PolicyRule::Compile(p.rule());
  if (!compiled.ok()) {
    v.push_back({"policy.rule", std::string(compiled.status().message())});
  } else if (rule != nullptr) {
    *rule = *compiled;
  }
  return v;
}

std::vector<FieldViolation> ValidateFeatureRequest(const v1::FeatureRequest& f) {
  std::vector<FieldViolation> v;
  CheckBytes(v, "feature_request.title", f.title(), 1, kMaxDisplayNameBytes);
  CheckBytes(v, "feature_request.problem", f.problem(), 1, kMaxTextBytes);
  CheckBytes(v, "feature_request.job_to_be_done", f.job_to_be_done(), 0, kMaxTextBytes);
  CheckBytes(v, "feature_request.current_workaround", f.current_workaround(), 0, kMaxTextBytes);
  if (f.pain() < 0 || f.pain() > 5) {
    v.push_back({"feature_request.pain", absl::StrCat("must be 0 (unknown) or 1 to 5, got ", f.pain())});
  }
  if (!f.owner_team().empty() && !ValidTeam(f.owner_team())) {
    v.push_back({"feature_request.owner_team",
                 absl::StrCat("must be empty or 1 to 64 bytes of [a-z0-9-], got \"", f.owner_team(),
                              "\"")});
  }
  if (!v1::FeatureRequestState_IsValid(f.state())) {
    v.push_back({"feature_request.state", "is not a FeatureRequestState"});
  }
  return v;
}

void CheckCreateIds(std::vector<FieldViolation>& v, const char* id_field, const std::string& id,
                    const std::string& request_id) {
  if (!id.empty() && !ValidId(id)) {
    v.push_back({id_field, "must be 1 to 63 bytes of [a-z0-9-] starting with a letter"});
  }
  if (request_id.size() > kMaxRequestIdBytes) {
    v.push_back({"request_id", absl::StrCat("must be at most ", kMaxRequestIdBytes, " bytes")});
  }
}

absl::Time SubmitTime(const v1::Response& response, absl::Time now) {
  return IsSet(response.submit_time()) ? FromTimestamp(response.submit_time()) : now;
}

std::vector<FieldViolation> CheckResponseRequest(const v1::SubmitResponseRequest& request,
                                                 absl::Time now, std::string* survey_id) {
  const v1::Response& r = request.response();
  std::vector<FieldViolation> v;
  auto id = IdOfName("parent", request.parent(), "surveys");
  if (!id.ok()) {
    v.push_back({"parent", std::string(id.status().message())});
  } else {
    *survey_id = *id;
  }
  CheckProfileName(v, "response.profile", r.profile());
  if (r.comment().size() > kMaxCommentBytes) {
    v.push_back({"response.comment", absl::StrCat("must be at most ", kMaxCommentBytes,
                                                  " bytes, got ", r.comment().size())});
  }
  if (!ValidTouchpoint(r.touchpoint())) {
    v.push_back({"response.touchpoint", absl::StrCat("must be at most ", kMaxTouchpointBytes,
                                                     " bytes of [a-z0-9_]")});
  }
  if (!pv1::Channel_IsValid(r.channel())) v.push_back({"response.channel", "is not a Channel"});
  if (request.request_id().size() > kMaxRequestIdBytes) {
    v.push_back({"request_id", absl::StrCat("must be at most ", kMaxRequestIdBytes,
                                            " bytes, got ", request.request_id().size())});
  }
  size_t before = v.size();
  CheckTimestamp(v, "response.submit_time", r.submit_time());
  if (v.size() == before && SubmitTime(r, now) > now + kMaxFutureSkew) {
    v.push_back({"response.submit_time", "must not be more than 5 minutes in the future"});
  }
  return v;
}

std::vector<FieldViolation> CheckResponseScore(v1::SurveyKind kind, const v1::Response& r) {
  std::vector<FieldViolation> v;
  Scale scale = ScaleOf(kind);
  std::string name = KindName(kind);
  if (scale.scored && !r.has_score()) {
    v.push_back({"response.score", absl::StrCat("is required for a ", name, " survey (", scale.min,
                                                " to ", scale.max, ")")});
  } else if (scale.scored && (r.score() < scale.min || r.score() > scale.max)) {
    v.push_back({"response.score", absl::StrCat("must be ", scale.min, " to ", scale.max,
                                                " for a ", name, " survey, got ", r.score())});
  } else if (!scale.scored && r.has_score()) {
    v.push_back({"response.score", "must be absent for an OPEN_TEXT survey"});
  }
  if (!scale.scored && r.comment().empty()) {
    v.push_back({"response.comment", "is required for an OPEN_TEXT survey"});
  }
  return v;
}

}  // namespace centric::feedback
