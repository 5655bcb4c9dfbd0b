#include "libs/runtime/resource.h"

#include <algorithm>

#include <google/protobuf/util/field_mask_util.h>
#include <google/protobuf/util/time_util.h>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_join.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "libs/runtime/errors.h"

namespace centric::runtime {

std::string EtagOf(int64_t version) { return absl::StrCat("\"v", version, "\""); }

int64_t VersionOfEtag(absl::string_view etag) {
  int64_t version = 0;
  if (!absl::ConsumePrefix(&etag, "\"v") || !absl::ConsumeSuffix(&etag, "\"") ||
      !absl::SimpleAtoi(etag, &version) || version < 1) {
    return -1;
  }
  return version;
}

absl::StatusOr<int64_t> CheckEtag(const std::string& etag, const std::string& current_etag) {
  if (!etag.empty() && VersionOfEtag(etag) < 0) {
    return InvalidField("etag", "is not an etag returned by this service");
  }
  if (!etag.empty() && etag != current_etag) {
    return Error(absl::StatusCode::kAborted, "ETAG_MISMATCH",
                 absl::StrCat("etag ", etag, " is stale; the resource is at ", current_etag,
                              "; read it and retry"));
  }
  return VersionOfEtag(current_etag);
}

absl::StatusOr<int> PageSize(int32_t requested, int default_size, int max_size) {
  if (requested < 0) return InvalidField("page_size", "must not be negative");
  if (requested == 0) return default_size;
  return std::min<int>(requested, max_size);
}

bool ValidId(absl::string_view id) {
  if (id.empty() || id.size() > kMaxIdBytes || !absl::ascii_islower(id[0])) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '-';
  });
}

absl::StatusOr<std::string> IdOfName(absl::string_view field, absl::string_view name,
                                     absl::string_view collection) {
  absl::string_view id = name;
  if (!absl::ConsumePrefix(&id, absl::StrCat(collection, "/")) || !ValidId(id)) {
    return InvalidField(
        field, absl::StrCat("must be \"", collection, "/{id}\" with an id of 1 to 63 bytes of "
                            "[a-z0-9-] starting with a letter, got \"", name, "\""));
  }
  return std::string(id);
}

std::string PageToken(absl::string_view kind, absl::string_view last) {
  return absl::WebSafeBase64Escape(absl::StrCat(kind, "|", last));
}

absl::StatusOr<std::string> PageCursor(absl::string_view token, absl::string_view kind) {
  std::string raw;
  absl::string_view rest;
  if (absl::WebSafeBase64Unescape(token, &raw)) {
    rest = raw;
    if (absl::ConsumePrefix(&rest, absl::StrCat(kind, "|"))) return std::string(rest);
  }
  return InvalidField("page_token", "is not a token returned by this method");
}

void CheckBytes(std::vector<FieldViolation>& out, const std::string& field,
                const std::string& value, size_t min, size_t max) {
  if (value.size() < min || value.size() > max) {
    out.push_back({field, min > 0 ? absl::StrCat("must be ", min, " to ", max, " bytes, got ",
                                                 value.size())
                                  : absl::StrCat("must be at most ", max, " bytes, got ",
                                                 value.size())});
  }
}

bool ValidTeam(absl::string_view team) {
  return !team.empty() && team.size() <= kMaxOwnerTeamBytes &&
         std::all_of(team.begin(), team.end(), [](char c) {
           return absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '-';
         });
}

absl::Status ApplyUpdateMask(const google::protobuf::Message& from,
                             const google::protobuf::FieldMask& mask,
                             const std::vector<std::string>& updatable,
                             google::protobuf::Message& to) {
  if (mask.paths().empty()) return InvalidField("update_mask", "must name at least one field");
  for (const std::string& path : mask.paths()) {
    if (std::find(updatable.begin(), updatable.end(), path) == updatable.end()) {
      return InvalidField("update_mask",
                          absl::StrCat("\"", path, "\" is not updatable; use ",
                                       absl::StrJoin(updatable, ", ")));
    }
  }
  google::protobuf::util::FieldMaskUtil::MergeOptions options;
  options.set_replace_message_fields(true);
  options.set_replace_repeated_fields(true);
  google::protobuf::util::FieldMaskUtil::MergeMessageTo(from, mask, options, &to);
  return absl::OkStatus();
}

bool ValidTimestamp(const google::protobuf::Timestamp& t) {
  using google::protobuf::util::TimeUtil;
  return t.seconds() >= TimeUtil::kTimestampMinSeconds &&
         t.seconds() <= TimeUtil::kTimestampMaxSeconds && t.nanos() >= 0 &&
         t.nanos() <= 999999999;
}

namespace {

constexpr int64_t kMinMicros =
    google::protobuf::util::TimeUtil::kTimestampMinSeconds * int64_t{1000000};
constexpr int64_t kMaxMicros =
    google::protobuf::util::TimeUtil::kTimestampMaxSeconds * int64_t{1000000} + 999999;

}  // namespace

google::protobuf::Timestamp ToTimestamp(absl::Time t) {
  // absl::ToUnixMicros saturates at the int64 limits for infinite times.
  const int64_t micros = std::clamp(absl::ToUnixMicros(t), kMinMicros, kMaxMicros);
  google::protobuf::Timestamp ts;
  ts.set_seconds(micros >= 0 ? micros / 1000000 : -((-micros + 999999) / 1000000));
  ts.set_nanos(static_cast<int32_t>((micros - ts.seconds() * 1000000) * 1000));
  return ts;
}

absl::Time FromTimestamp(const google::protobuf::Timestamp& ts) {
  using google::protobuf::util::TimeUtil;
  const int64_t seconds =
      std::clamp<int64_t>(ts.seconds(), TimeUtil::kTimestampMinSeconds, TimeUtil::kTimestampMaxSeconds);
  const int32_t nanos = std::clamp<int32_t>(ts.nanos(), 0, 999999999);
  return absl::FromUnixMicros(seconds * 1000000 + nanos / 1000);
}

absl::StatusOr<std::vector<std::string>> ExportProfileNames(
    const std::string& profile,
    const google::protobuf::RepeatedPtrField<std::string>& merged_profiles) {
  if (merged_profiles.size() > kMaxMergedProfiles) {
    return InvalidField("merged_profiles", absl::StrCat("must name at most ", kMaxMergedProfiles,
                                                        " profiles, got ", merged_profiles.size()));
  }
  std::vector<std::string> names;
  if (auto id = IdOfName("profile", profile, "profiles"); !id.ok()) return id.status();
  names.push_back(profile);
  for (int i = 0; i < merged_profiles.size(); ++i) {
    const std::string& name = merged_profiles[i];
    if (auto id = IdOfName(absl::StrCat("merged_profiles[", i, "]"), name, "profiles"); !id.ok()) {
      return id.status();
    }
    if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
  }
  return names;
}

}  // namespace centric::runtime
