// Validation and normalisation of profile input. Pure functions: no I/O.
#ifndef CENTRIC_SERVICES_PROFILES_PROFILE_RULES_H_
#define CENTRIC_SERVICES_PROFILES_PROFILE_RULES_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "centric/events/v1/events.pb.h"
#include "centric/profiles/v1/profiles.pb.h"
#include "libs/runtime/errors.h"
#include "libs/runtime/resource.h"

namespace centric::profiles {

using runtime::FieldViolation;

// The first `max_bytes` of `text` or fewer, never ending inside a UTF-8 sequence: for
// quoting input in a violation, whose strings must stay valid UTF-8 (a client cannot
// parse a google.rpc.BadRequest otherwise, nor can runtime::FieldViolations).
absl::string_view Excerpt(absl::string_view text, size_t max_bytes);

// "profiles/{id}" → id. Errors: INVALID_ARGUMENT naming `field`.
absl::StatusOr<std::string> ParseProfileName(absl::string_view name, absl::string_view field);
std::string ProfileName(absl::string_view id);

// Checks a caller-chosen profile id: 1 to 63 bytes of [a-z0-9-], starting with a letter.
void CheckProfileId(absl::string_view id, absl::string_view field,
                    std::vector<FieldViolation>& violations);

// Normalises one identity in place (see IdentityType in the proto) and reports problems.
void NormalizeIdentity(v1::Identity& identity, absl::string_view field,
                       std::vector<FieldViolation>& violations);

// The uniqueness key of a normalised identity, e.g. "email::ada@example.com",
// "external_id:shopify:123".
std::string IdentityKey(const v1::Identity& identity);

// Normalises and checks the caller-settable fields of a profile (everything but output
// only fields). `field` is the path prefix, e.g. "profile". `now` fills missing consent
// times. Does not check `kind` (create-only) or cross-profile rules.
void NormalizeMutableFields(v1::Profile& profile, absl::string_view field, absl::Time now,
                            std::vector<FieldViolation>& violations);

// Checks the traits map (keys, per-value and total JSON size).
void CheckTraits(const v1::Profile& profile, absl::string_view field,
                 std::vector<FieldViolation>& violations);

// Canonical JSON of a trait value, used for size limits and the equality index.
std::string TraitJson(const google::protobuf::Value& value);

// Normalises and checks one interaction. `now` bounds occur_time (at most 5 minutes
// ahead).
void NormalizeInteraction(v1::Interaction& interaction, absl::string_view field, absl::Time now,
                          std::vector<FieldViolation>& violations);

// Checks the FeedbackSummary of a Feedback service event before it is applied: version
// >= 1, last_nps_score 0-10 and last_csat_score 1-5 when present, valid times,
// open_follow_ups >= 0. `field` is the path prefix, e.g. "profile_feedback".
void CheckFeedbackSummary(const centric::events::v1::FeedbackSummary& summary,
                          absl::string_view field, std::vector<FieldViolation>& violations);

// Checks a request_id (optional; at most 128 bytes of printable ASCII).
void CheckRequestId(absl::string_view request_id, absl::string_view field,
                    std::vector<FieldViolation>& violations);

// OK if `violations` is empty, otherwise INVALID_ARGUMENT with all of them.
absl::Status ToStatus(std::vector<FieldViolation> violations);

// The etag of a version, and the reverse (-1 for a malformed etag).
using runtime::EtagOf;
using runtime::VersionOfEtag;

}  // namespace centric::profiles

#endif  // CENTRIC_SERVICES_PROFILES_PROFILE_RULES_H_
