// libFuzzer target for the Profiles service's request validation
// (services/profiles/profile_rules.h, list_filter.h): what CreateProfile, UpdateProfile,
// RecordInteractions, BatchGetProfiles, ListProfiles and the feedback-summary consumer
// check before touching the store.
//
// The first byte picks the request; the rest is its wire format (a gRPC server parses the
// same bytes), except for ListProfiles, whose filter is the raw text:
//   0 CreateProfileRequest        3 centric.events.v1.FeedbackSummary
//   1 RecordInteractionsRequest   4 ListProfilesRequest.filter (text)
//   2 BatchGetProfilesRequest
// Invariants, beyond not crashing:
//   - every violation names a field of the request, is valid UTF-8 and survives the trip
//     through the INVALID_ARGUMENT status (fuzz_support.h);
//   - normalising an accepted profile or interaction again changes nothing and finds
//     nothing (the stored value is a fixed point), and it still serializes;
//   - an accepted profile's account memberships name profiles; its identities are unique;
//   - a profile name parses exactly when it is "profiles/" + a valid id;
//   - a filter that parses prints back to text that parses to the same filter.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/message_differencer.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "centric/profiles/v1/profiles_service.pb.h"
#include "fuzz/fuzz_support.h"
#include "services/profiles/limits.h"
#include "services/profiles/list_filter.h"
#include "services/profiles/profile_rules.h"

namespace {

namespace v1 = ::centric::profiles::v1;
using ::centric::fuzz::CheckInvalidArgument;
using ::centric::fuzz::CheckViolations;
using ::centric::fuzz::ParseWire;
using ::centric::runtime::FieldViolation;
using ::google::protobuf::util::MessageDifferencer;
namespace profiles = ::centric::profiles;

const absl::Time kNow = absl::FromUnixSeconds(1767225600);

void CheckAcceptedProfile(const v1::Profile& profile) {
  v1::Profile again = profile;
  std::vector<FieldViolation> violations;
  profiles::NormalizeMutableFields(again, "profile", kNow, violations);
  CENTRIC_FUZZ_CHECK(violations.empty(), "an accepted profile fails the second time: ",
                     violations[0].field, ": ", violations[0].description);
  CENTRIC_FUZZ_CHECK(MessageDifferencer::Equals(again, profile),
                     "normalising an accepted profile again changed it:\n", profile.DebugString(),
                     "->\n", again.DebugString());
  std::set<std::string> keys;
  for (const v1::Identity& identity : profile.identities()) {
    CENTRIC_FUZZ_CHECK(keys.insert(profiles::IdentityKey(identity)).second,
                       "accepted duplicate identity ", profiles::IdentityKey(identity));
  }
  for (const auto& membership : profile.account_memberships()) {
    CENTRIC_FUZZ_CHECK(profiles::ParseProfileName(membership.account(), "account").ok(),
                       "accepted account membership \"", membership.account(), "\"");
  }
  std::string wire;
  CENTRIC_FUZZ_CHECK(profile.SerializeToString(&wire), "accepted profile does not serialize");
  v1::Profile parsed;
  CENTRIC_FUZZ_CHECK(parsed.ParseFromString(wire),
                     "accepted profile does not parse back (invalid UTF-8?)");
}

void CreateProfile(const uint8_t* data, size_t size) {
  v1::CreateProfileRequest request;
  if (!ParseWire(data, size, request)) return;
  std::vector<FieldViolation> violations;
  if (!request.profile_id().empty()) {
    profiles::CheckProfileId(request.profile_id(), "profile_id", violations);
  }
  profiles::CheckRequestId(request.request_id(), "request_id", violations);
  v1::Profile profile = request.profile();
  profiles::NormalizeMutableFields(profile, "profile", kNow, violations);
  CheckViolations(violations, {"profile_id", "request_id", "profile."});
  if (violations.empty()) CheckAcceptedProfile(profile);
}

void RecordInteractions(const uint8_t* data, size_t size) {
  v1::RecordInteractionsRequest request;
  if (!ParseWire(data, size, request)) return;
  if (static_cast<size_t>(request.interactions_size()) > profiles::kMaxInteractionsPerCall) return;
  auto id = profiles::ParseProfileName(request.profile(), "profile");
  if (!id.ok()) CheckInvalidArgument(id.status(), {"profile"});
  for (int i = 0; i < request.interactions_size(); ++i) {
    v1::Interaction interaction = request.interactions(i);
    std::string field = absl::StrCat("interactions[", i, "]");
    std::vector<FieldViolation> violations;
    profiles::NormalizeInteraction(interaction, field, kNow, violations);
    CheckViolations(violations, {field});
    if (!violations.empty()) continue;
    CENTRIC_FUZZ_CHECK(interaction.monetary_value() >= 0 && interaction.monetary_value() <= 1e15,
                       "accepted monetary_value ", interaction.monetary_value());
    v1::Interaction again = interaction;
    profiles::NormalizeInteraction(again, field, kNow, violations);
    CENTRIC_FUZZ_CHECK(violations.empty() && MessageDifferencer::Equals(again, interaction),
                       "normalising an accepted interaction again changed it");
  }
}

void BatchGetProfiles(const uint8_t* data, size_t size) {
  v1::BatchGetProfilesRequest request;
  if (!ParseWire(data, size, request)) return;
  for (int i = 0; i < request.names_size(); ++i) {
    std::string field = absl::StrCat("names[", i, "]");
    auto id = profiles::ParseProfileName(request.names(i), field);
    if (!id.ok()) {
      CheckInvalidArgument(id.status(), {field});
      continue;
    }
    CENTRIC_FUZZ_CHECK(profiles::ProfileName(*id) == request.names(i), "\"", request.names(i),
                       "\" parsed to id \"", *id, "\"");
  }
}

void FeedbackSummary(const uint8_t* data, size_t size) {
  centric::events::v1::FeedbackSummary summary;
  if (!ParseWire(data, size, summary)) return;
  std::vector<FieldViolation> violations;
  profiles::CheckFeedbackSummary(summary, "profile_feedback", violations);
  CheckViolations(violations, {"profile_feedback."});
  if (violations.empty() && summary.has_last_nps_score()) {
    CENTRIC_FUZZ_CHECK(summary.last_nps_score() >= 0 && summary.last_nps_score() <= 10,
                       "accepted NPS score ", summary.last_nps_score());
  }
}

// The filter as text again: kind first, then the trait terms in order.
std::string PrintFilter(const profiles::ListFilter& filter) {
  std::vector<std::string> terms;
  if (filter.kind.has_value()) {
    terms.push_back(absl::StrCat("kind = ", v1::ProfileKind_Name(*filter.kind)));
  }
  for (const auto& [key, json] : filter.traits) {
    google::protobuf::Value value;
    CENTRIC_FUZZ_CHECK(google::protobuf::util::JsonStringToMessage(json, &value).ok(),
                       "trait value of ", key, " is not JSON: ", json);
    std::string literal;
    switch (value.kind_case()) {
      case google::protobuf::Value::kStringValue:
        literal = "\"";
        for (char c : value.string_value()) {
          if (c == '"' || c == '\\') literal += '\\';
          literal += c;
        }
        literal += "\"";
        break;
      case google::protobuf::Value::kBoolValue:
        literal = value.bool_value() ? "true" : "false";
        break;
      case google::protobuf::Value::kNumberValue:
        literal = absl::StrFormat("%.17g", value.number_value());
        break;
      default:
        CENTRIC_FUZZ_CHECK(false, "trait value of ", key, " is neither string, number nor bool: ",
                           json);
    }
    terms.push_back(absl::StrCat("traits.", key, " = ", literal));
  }
  return absl::StrJoin(terms, " AND ");
}

void ListFilter(const uint8_t* data, size_t size) {
  absl::string_view text(reinterpret_cast<const char*>(data), size);
  // The filter is a proto3 string: always UTF-8 on the wire.
  if (!centric::fuzz::IsValidUtf8(text)) return;
  auto filter = profiles::ParseListFilter(text);
  if (!filter.ok()) {
    CENTRIC_FUZZ_CHECK(filter.status().code() == absl::StatusCode::kInvalidArgument,
                       filter.status().ToString());
    CheckInvalidArgument(filter.status(), {"filter"});
    return;
  }
  CENTRIC_FUZZ_CHECK(filter->traits.size() <= profiles::kMaxFilterTerms, "too many terms");
  for (const auto& [key, json] : filter->traits) {
    CENTRIC_FUZZ_CHECK(!key.empty(), "empty trait key");
  }
  std::string printed = PrintFilter(*filter);
  // Printing can lengthen (escapes, number formats) past the byte limit; that is no
  // round-trip failure.
  if (printed.size() > profiles::kMaxFilterBytes) return;
  auto again = profiles::ParseListFilter(printed);
  CENTRIC_FUZZ_CHECK(again.ok(), "printed filter does not parse: ", printed, " -> ",
                     again.status().ToString());
  CENTRIC_FUZZ_CHECK(again->kind == filter->kind && again->traits == filter->traits,
                     "printed filter parses differently: ", printed);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  centric::fuzz::SilenceProtobufLogs();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0 || size > 64 * 1024) return -1;
  const uint8_t* rest = data + 1;
  size_t rest_size = size - 1;
  switch (data[0] % 5) {
    case 0: CreateProfile(rest, rest_size); break;
    case 1: RecordInteractions(rest, rest_size); break;
    case 2: BatchGetProfiles(rest, rest_size); break;
    case 3: FeedbackSummary(rest, rest_size); break;
    case 4: ListFilter(rest, rest_size); break;
  }
  return 0;
}
