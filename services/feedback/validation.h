// Validation of the Feedback service's input that needs neither the store nor the Profiles
// service: definitions (surveys, follow-up policies, feature requests) and the parts of a
// response that can be checked before its survey is read. Pure functions; each returns
// every violation it finds, with the field path as the caller wrote it ("survey.kind",
// "response.touchpoint") so the caller can wrap them in one INVALID_ARGUMENT.
#ifndef CENTRIC_SERVICES_FEEDBACK_VALIDATION_H_
#define CENTRIC_SERVICES_FEEDBACK_VALIDATION_H_

#include <memory>
#include <string>
#include <vector>

#include <google/protobuf/timestamp.pb.h>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "centric/feedback/v1/feedback_service.pb.h"
#include "libs/runtime/errors.h"
#include "services/feedback/policy.h"

namespace centric::feedback {

using runtime::FieldViolation;

// Service levels a follow-up policy may set: first contact 1m to 90 days, resolution 0
// (none) or 1m to 365 days.
inline constexpr absl::Duration kMinSla = absl::Minutes(1);
inline constexpr absl::Duration kMaxContactSla = absl::Hours(24 * 90);
inline constexpr absl::Duration kMaxResolutionSla = absl::Hours(24 * 365);

// Whether a timestamp field holds a time (the zero timestamp means "not given").
bool IsSet(const google::protobuf::Timestamp& ts);

// A touchpoint: at most kMaxTouchpointBytes of [a-z0-9_] (empty allowed).
bool ValidTouchpoint(absl::string_view touchpoint);

// "profiles/{profile}" by form only (1 to 128 bytes of [A-Za-z0-9._-]); the Profiles
// service says whether it exists. CheckProfileName adds a violation for `field` otherwise.
bool ValidProfileName(absl::string_view name);
void CheckProfileName(std::vector<FieldViolation>& v, const std::string& field,
                      const std::string& name);

// The writable fields of a survey, policy or feature request (paths "survey.*",
// "policy.*", "feature_request.*"); a survey's start and end times must be valid
// timestamps (0001-01-01 to 9999-12-31). ValidatePolicy also compiles the rule into `rule`
// when it is not null and the rule is valid.
std::vector<FieldViolation> ValidateSurvey(const v1::Survey& s);
std::vector<FieldViolation> ValidatePolicy(const v1::FollowUpPolicy& p,
                                           std::shared_ptr<const PolicyRule>* rule);
std::vector<FieldViolation> ValidateFeatureRequest(const v1::FeatureRequest& f);

// The caller-chosen id of a Create call (`id_field`, optional) and its request_id.
void CheckCreateIds(std::vector<FieldViolation>& v, const char* id_field, const std::string& id,
                    const std::string& request_id);

// When the response was given: its submit_time, or `now` when unset.
absl::Time SubmitTime(const v1::Response& response, absl::Time now);

// What SubmitResponse checks before reading the survey: parent ("surveys/{survey}", its
// id stored in `survey_id` when valid), response.profile, the comment's size, touchpoint,
// channel, request_id, and a submit_time that is a valid timestamp at most
// kMaxFutureSkew after `now`.
std::vector<FieldViolation> CheckResponseRequest(const v1::SubmitResponseRequest& request,
                                                 absl::Time now, std::string* survey_id);

// What the survey's kind asks of a response: a score on its scale (ScaleOf), or for
// OPEN_TEXT no score and a comment.
std::vector<FieldViolation> CheckResponseScore(v1::SurveyKind kind, const v1::Response& response);

}  // namespace centric::feedback

#endif  // CENTRIC_SERVICES_FEEDBACK_VALIDATION_H_
