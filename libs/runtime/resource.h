// API conventions every service shares for its resources: ids and names, etags, page
// sizes and tokens, byte limits, owner teams and timestamps.
#ifndef CENTRIC_LIBS_RUNTIME_RESOURCE_H_
#define CENTRIC_LIBS_RUNTIME_RESOURCE_H_

#include <cstdint>
#include <string>
#include <vector>

#include <google/protobuf/field_mask.pb.h>
#include <google/protobuf/message.h>
#include <google/protobuf/timestamp.pb.h>

#include "absl/status/statusor.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "libs/runtime/errors.h"

namespace centric::runtime {

// The etag of a resource at `version`: "\"v<version>\"".
std::string EtagOf(int64_t version);
// The version an etag names, or -1 when it is not an etag of ours.
int64_t VersionOfEtag(absl::string_view etag);

// The version of `current_etag` when `etag` is empty or equal to it. Errors:
// INVALID_ARGUMENT on etag (not an etag of ours), ABORTED with reason ETAG_MISMATCH
// (stale: read again and retry).
absl::StatusOr<int64_t> CheckEtag(const std::string& etag, const std::string& current_etag);

// A request's page_size: 0 means `default_size`, larger than `max_size` is capped.
// Errors: INVALID_ARGUMENT on page_size when negative.
absl::StatusOr<int> PageSize(int32_t requested, int default_size, int max_size);

// A resource id: 1 to 63 bytes of [a-z0-9-] starting with a letter.
inline constexpr size_t kMaxIdBytes = 63;
bool ValidId(absl::string_view id);

// "{collection}/{id}" -> id. Errors: INVALID_ARGUMENT naming `field` and the expected form.
absl::StatusOr<std::string> IdOfName(absl::string_view field, absl::string_view name,
                                     absl::string_view collection);

// An opaque page token resuming after `last` in a listing of `kind`, and its inverse.
// Errors: INVALID_ARGUMENT on page_token when the token is not one of `kind`.
std::string PageToken(absl::string_view kind, absl::string_view last);
absl::StatusOr<std::string> PageCursor(absl::string_view token, absl::string_view kind);

// Adds a violation for `field` when `value` is not min..max bytes long.
void CheckBytes(std::vector<FieldViolation>& out, const std::string& field,
                const std::string& value, size_t min, size_t max);

// An owning team: 1 to 64 bytes of [a-z0-9-].
inline constexpr size_t kMaxOwnerTeamBytes = 64;
bool ValidTeam(absl::string_view team);

// Copies the fields `mask` names from `from` into `to` (a named message field is
// replaced as a whole, an unset one clears it). Errors: INVALID_ARGUMENT on update_mask
// when it is empty or names a path outside `updatable` (listed in the message).
absl::Status ApplyUpdateMask(const google::protobuf::Message& from,
                             const google::protobuf::FieldMask& mask,
                             const std::vector<std::string>& updatable,
                             google::protobuf::Message& to);

// Whether `t` is in the range google.protobuf.Timestamp allows: 0001-01-01T00:00:00Z to
// 9999-12-31T23:59:59.999999999Z, nanos in [0, 999999999]. Every request timestamp is
// checked with it before use; kInvalidTimestamp is the violation's description.
bool ValidTimestamp(const google::protobuf::Timestamp& t);
inline constexpr char kInvalidTimestamp[] =
    "must be a valid timestamp between 0001-01-01 and 9999-12-31";

// `t` at microsecond precision, clamped to the range above (an infinite or out-of-range
// time becomes the first or last representable instant instead of an invalid message).
google::protobuf::Timestamp ToTimestamp(absl::Time t);
// `ts` at microsecond precision; a timestamp outside the range above is clamped to it.
absl::Time FromTimestamp(const google::protobuf::Timestamp& ts);

// The names an ExportProfileData request asks about (each service's part of the Profiles
// service's ExportProfile): `profile`, then each of `merged_profiles`, repeats dropped.
// Errors: INVALID_ARGUMENT on profile or merged_profiles[i] (not "profiles/{id}"), or on
// merged_profiles (more than kMaxMergedProfiles).
inline constexpr int kMaxMergedProfiles = 1000;
absl::StatusOr<std::vector<std::string>> ExportProfileNames(
    const std::string& profile,
    const google::protobuf::RepeatedPtrField<std::string>& merged_profiles);

}  // namespace centric::runtime

#endif  // CENTRIC_LIBS_RUNTIME_RESOURCE_H_
