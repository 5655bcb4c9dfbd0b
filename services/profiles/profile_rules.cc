#include "services/profiles/profile_rules.h"

#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "libs/runtime/resource.h"
#include "services/profiles/limits.h"

namespace centric::profiles {
namespace {


std::string Path(absl::string_view prefix, absl::string_view name) {
  return prefix.empty() ? std::string(name) : absl::StrCat(prefix, ".", name);
}

std::string Index(absl::string_view path, size_t i) { return absl::StrCat(path, "[", i, "]"); }

void Add(std::vector<FieldViolation>& v, std::string field, std::string description) {
  v.push_back({std::move(field), std::move(description)});
}

bool AllOf(absl::string_view s, bool (*ok)(char)) {
  for (char c : s) {
    if (!ok(c)) return false;
  }
  return true;
}

bool IsLowerIdChar(char c) { return absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '-'; }
bool IsSourceChar(char c) {
  return absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '_' || c == '.' || c == '-';
}
bool IsTraitKeyChar(char c) {
  return absl::ascii_isalnum(c) || c == '_' || c == '.' || c == '-';
}
bool IsEventIdChar(char c) {
  return absl::ascii_isalnum(c) || c == '_' || c == '.' || c == ':' || c == '-';
}
bool IsTypeChar(char c) { return absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '_'; }
bool IsPrintable(char c) { return c >= 0x20 && c < 0x7f; }

void CheckLength(absl::string_view value, size_t max, const std::string& field,
                 std::vector<FieldViolation>& v) {
  if (value.size() > max) {
    Add(v, field, absl::StrCat("must be at most ", max, " bytes, got ", value.size()));
  }
}

void CheckTimestamp(const google::protobuf::Timestamp& t, const std::string& field,
                    std::vector<FieldViolation>& v) {
  if (!runtime::ValidTimestamp(t)) Add(v, field, runtime::kInvalidTimestamp);
}

// JSON has no NaN or infinities: protobuf prints them as the strings "NaN" and
// "Infinity", so such a number would come back from any JSON client as a string.
bool AllNumbersFinite(const google::protobuf::Value& value) {
  switch (value.kind_case()) {
    case google::protobuf::Value::kNumberValue:
      return std::isfinite(value.number_value());
    case google::protobuf::Value::kListValue:
      for (const auto& v : value.list_value().values()) {
        if (!AllNumbersFinite(v)) return false;
      }
      return true;
    case google::protobuf::Value::kStructValue:
      for (const auto& [key, v] : value.struct_value().fields()) {
        if (!AllNumbersFinite(v)) return false;
      }
      return true;
    default:
      return true;
  }
}

}  // namespace

absl::string_view Excerpt(absl::string_view text, size_t max_bytes) {
  if (text.size() <= max_bytes) return text;
  size_t end = max_bytes;
  // Back up over continuation bytes (10xxxxxx) to the start of the sequence being cut.
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  return text.substr(0, end);
}

absl::StatusOr<std::string> ParseProfileName(absl::string_view name, absl::string_view field) {
  absl::string_view id = name;
  if (!absl::ConsumePrefix(&id, "profiles/") || id.empty() ||
      id.size() > kMaxProfileIdBytes || !AllOf(id, IsLowerIdChar)) {
    return runtime::InvalidField(
        field, absl::StrCat("must be \"profiles/{id}\" with an id of 1 to ", kMaxProfileIdBytes,
                            " bytes of [a-z0-9-], got \"", Excerpt(name, 80), "\""));
  }
  return std::string(id);
}

std::string ProfileName(absl::string_view id) { return absl::StrCat("profiles/", id); }

void CheckProfileId(absl::string_view id, absl::string_view field,
                    std::vector<FieldViolation>& violations) {
  if (id.empty() || id.size() > kMaxProfileIdBytes || !AllOf(id, IsLowerIdChar) ||
      !absl::ascii_islower(id[0])) {
    Add(violations, std::string(field),
        absl::StrCat("must be 1 to ", kMaxProfileIdBytes,
                     " bytes of [a-z0-9-] starting with a letter"));
  }
}

void NormalizeIdentity(v1::Identity& identity, absl::string_view field,
                       std::vector<FieldViolation>& violations) {
  const std::string value_field = Path(field, "value");
  std::string value(absl::StripAsciiWhitespace(identity.value()));
  switch (identity.type()) {
    case v1::IDENTITY_TYPE_EMAIL: {
      absl::AsciiStrToLower(&value);
      size_t at = value.find('@');
      if (at == std::string::npos || at == 0 || value.find('@', at + 1) != std::string::npos ||
          value.find('.', at) == std::string::npos || value.back() == '.' ||
          absl::StrContains(value, " ")) {
        Add(violations, value_field,
            "must be an e-mail address like name@example.com (one \"@\", a domain with a \".\")");
      } else {
        CheckLength(value, kMaxEmailBytes, value_field, violations);
      }
      break;
    }
    case v1::IDENTITY_TYPE_PHONE: {
      std::string digits;
      bool ok = true;
      for (size_t i = 0; i < value.size(); ++i) {
        char c = value[i];
        if (absl::ascii_isdigit(c)) {
          digits += c;
        } else if (c == '+' && i == 0) {
        } else if (c == ' ' || c == '-' || c == '.' || c == '(' || c == ')') {
        } else {
          ok = false;
        }
      }
      if (!ok || value.empty() || value[0] != '+' || digits.size() < 8 || digits.size() > 15) {
        Add(violations, value_field,
            "must be an E.164 phone number: \"+\" then 8 to 15 digits, e.g. +4930123456");
      } else {
        value = "+" + digits;
      }
      break;
    }
    case v1::IDENTITY_TYPE_EXTERNAL_ID:
    case v1::IDENTITY_TYPE_DEVICE_ID:
      if (value.empty()) Add(violations, value_field, "must not be empty");
      CheckLength(value, kMaxIdentityValueBytes, value_field, violations);
      break;
    default:
      Add(violations, Path(field, "type"), "must be EMAIL, PHONE, EXTERNAL_ID or DEVICE_ID");
      return;
  }
  identity.set_value(value);
  const std::string source_field = Path(field, "source");
  std::string source = absl::AsciiStrToLower(absl::StripAsciiWhitespace(identity.source()));
  if (identity.type() == v1::IDENTITY_TYPE_EXTERNAL_ID && source.empty()) {
    Add(violations, source_field, "is required for EXTERNAL_ID (the system the id comes from)");
  } else if (!source.empty() && (source.size() > kMaxSourceBytes || !AllOf(source, IsSourceChar))) {
    Add(violations, source_field,
        absl::StrCat("must be 1 to ", kMaxSourceBytes, " bytes of [a-z0-9_.-]"));
  }
  identity.set_source(source);
}

std::string IdentityKey(const v1::Identity& identity) {
  std::string type = absl::AsciiStrToLower(v1::IdentityType_Name(identity.type()));
  absl::string_view short_type = type;
  absl::ConsumePrefix(&short_type, "identity_type_");
  // Only external ids are scoped by their source: an e-mail is the same customer
  // whichever system reported it.
  absl::string_view source = identity.type() == v1::IDENTITY_TYPE_EXTERNAL_ID
                                 ? absl::string_view(identity.source())
                                 : absl::string_view();
  return absl::StrCat(short_type, ":", source, ":", identity.value());
}

std::string TraitJson(const google::protobuf::Value& value) {
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  (void)google::protobuf::util::MessageToJsonString(value, &json, options);
  return json;
}

void CheckTraits(const v1::Profile& profile, absl::string_view field,
                 std::vector<FieldViolation>& violations) {
  const std::string traits_field = Path(field, "traits");
  if (static_cast<size_t>(profile.traits_size()) > kMaxTraits) {
    Add(violations, traits_field,
        absl::StrCat("must have at most ", kMaxTraits, " keys, got ", profile.traits_size()));
    return;
  }
  size_t total = 0;
  for (const auto& [key, value] : profile.traits()) {
    const std::string key_field = absl::StrCat(traits_field, "[\"", Excerpt(key, 64), "\"]");
    if (key.empty() || key.size() > kMaxTraitKeyBytes || !AllOf(key, IsTraitKeyChar)) {
      Add(violations, key_field,
          absl::StrCat("key must be 1 to ", kMaxTraitKeyBytes, " bytes of [A-Za-z0-9_.-]"));
      continue;
    }
    if (value.kind_case() == google::protobuf::Value::KIND_NOT_SET) {
      Add(violations, key_field, "value must be set (null, number, string, bool, list or struct)");
      continue;
    }
    if (!AllNumbersFinite(value)) {
      Add(violations, key_field, "value must hold only finite numbers (JSON has no NaN or Infinity)");
      continue;
    }
    size_t bytes = TraitJson(value).size();
    total += bytes;
    if (bytes > kMaxTraitValueJsonBytes) {
      Add(violations, key_field,
          absl::StrCat("value must be at most ", kMaxTraitValueJsonBytes,
                       " bytes as JSON, got ", bytes));
    }
  }
  if (total > kMaxTraitsJsonBytes) {
    Add(violations, traits_field,
        absl::StrCat("must be at most ", kMaxTraitsJsonBytes, " bytes as JSON, got ", total));
  }
}

void NormalizeMutableFields(v1::Profile& profile, absl::string_view field, absl::Time now,
                            std::vector<FieldViolation>& violations) {
  CheckLength(profile.display_name(), kMaxDisplayNameBytes, Path(field, "display_name"),
              violations);

  const std::string identities_field = Path(field, "identities");
  if (static_cast<size_t>(profile.identities_size()) > kMaxIdentities) {
    Add(violations, identities_field,
        absl::StrCat("must have at most ", kMaxIdentities, " entries, got ",
                     profile.identities_size()));
  } else {
    std::set<std::string> seen;
    for (int i = 0; i < profile.identities_size(); ++i) {
      const std::string item = Index(identities_field, i);
      size_t before = violations.size();
      NormalizeIdentity(*profile.mutable_identities(i), item, violations);
      if (violations.size() == before && !seen.insert(IdentityKey(profile.identities(i))).second) {
        Add(violations, item, "repeats an identity listed earlier in this profile");
      }
    }
  }

  CheckTraits(profile, field, violations);

  const std::string consents_field = Path(field, "consents");
  std::set<int> purposes;
  for (int i = 0; i < profile.consents_size(); ++i) {
    v1::Consent& consent = *profile.mutable_consents(i);
    const std::string item = Index(consents_field, i);
    if (consent.purpose() == v1::CONSENT_PURPOSE_UNSPECIFIED ||
        !v1::ConsentPurpose_IsValid(consent.purpose())) {
      Add(violations, Path(item, "purpose"), "must be a known purpose, e.g. MARKETING_EMAIL");
    } else if (!purposes.insert(consent.purpose()).second) {
      Add(violations, Path(item, "purpose"), "appears twice; give one consent per purpose");
    }
    if (consent.status() == v1::CONSENT_STATUS_UNSPECIFIED ||
        !v1::ConsentStatus_IsValid(consent.status())) {
      Add(violations, Path(item, "status"), "must be GRANTED, DENIED or REVOKED");
    }
    CheckLength(consent.source(), kMaxConsentSourceBytes, Path(item, "source"), violations);
    if (!consent.has_update_time()) {
      *consent.mutable_update_time() = runtime::ToTimestamp(now);
    } else {
      CheckTimestamp(consent.update_time(), Path(item, "update_time"), violations);
    }
  }

  const std::string channels_field = Path(field, "preferred_channels");
  std::set<int> channels;
  for (int i = 0; i < profile.preferred_channels_size(); ++i) {
    int channel = profile.preferred_channels(i);
    if (channel == v1::CHANNEL_UNSPECIFIED || !v1::Channel_IsValid(channel)) {
      Add(violations, Index(channels_field, i), "must be a known channel, e.g. EMAIL");
    } else if (!channels.insert(channel).second) {
      Add(violations, Index(channels_field, i), "repeats a channel listed earlier");
    }
  }

  if (!profile.persona().empty() &&
      (!absl::StartsWith(profile.persona(), "personas/") ||
       profile.persona().size() > kMaxPersonaBytes)) {
    Add(violations, Path(field, "persona"),
        absl::StrCat("must be \"personas/{persona}\", at most ", kMaxPersonaBytes, " bytes"));
  }

  const std::string memberships_field = Path(field, "account_memberships");
  if (static_cast<size_t>(profile.account_memberships_size()) > kMaxAccountMemberships) {
    Add(violations, memberships_field,
        absl::StrCat("must have at most ", kMaxAccountMemberships, " entries"));
  } else {
    std::set<std::string> accounts;
    for (int i = 0; i < profile.account_memberships_size(); ++i) {
      const auto& membership = profile.account_memberships(i);
      const std::string item = Index(memberships_field, i);
      auto id = ParseProfileName(membership.account(), Path(item, "account"));
      if (!id.ok()) {
        for (auto& v : runtime::FieldViolations(id.status())) violations.push_back(v);
      } else if (!accounts.insert(*id).second) {
        Add(violations, Path(item, "account"), "names an account listed earlier");
      }
      std::set<int> roles;
      for (int r = 0; r < membership.roles_size(); ++r) {
        int role = membership.roles(r);
        if (role == v1::BUYING_ROLE_UNSPECIFIED || !v1::BuyingRole_IsValid(role)) {
          Add(violations, Index(Path(item, "roles"), r),
              "must be DECISION_MAKER, BUYER, USER, INFLUENCER or GATEKEEPER");
        } else if (!roles.insert(role).second) {
          Add(violations, Index(Path(item, "roles"), r), "repeats a role");
        }
      }
    }
    if (profile.kind() == v1::PROFILE_KIND_ACCOUNT && profile.account_memberships_size() > 0) {
      Add(violations, memberships_field,
          "only PERSON profiles can be members of accounts; this profile is an ACCOUNT");
    }
  }
}

void NormalizeInteraction(v1::Interaction& interaction, absl::string_view field, absl::Time now,
                          std::vector<FieldViolation>& violations) {
  const std::string& event_id = interaction.event_id();
  if (event_id.empty() || event_id.size() > kMaxEventIdBytes || !AllOf(event_id, IsEventIdChar)) {
    Add(violations, Path(field, "event_id"),
        absl::StrCat("must be 1 to ", kMaxEventIdBytes, " bytes of [A-Za-z0-9_.:-]"));
  }
  if (interaction.channel() == v1::CHANNEL_UNSPECIFIED ||
      !v1::Channel_IsValid(interaction.channel())) {
    Add(violations, Path(field, "channel"), "must be a known channel, e.g. WEB");
  }
  const std::string& type = interaction.type();
  if (type.empty() || type.size() > kMaxInteractionTypeBytes || !AllOf(type, IsTypeChar)) {
    Add(violations, Path(field, "type"),
        absl::StrCat("must be 1 to ", kMaxInteractionTypeBytes,
                     " bytes of [a-z0-9_], e.g. purchase or page_view"));
  }
  if (!interaction.has_occur_time()) {
    Add(violations, Path(field, "occur_time"), "is required");
  } else if (!runtime::ValidTimestamp(interaction.occur_time())) {
    Add(violations, Path(field, "occur_time"), runtime::kInvalidTimestamp);
  } else if (runtime::FromTimestamp(interaction.occur_time()) > now + absl::Minutes(5)) {
    Add(violations, Path(field, "occur_time"), "must not be more than 5 minutes in the future");
  }
  if (static_cast<size_t>(interaction.properties().fields_size()) > kMaxPropertyKeys) {
    Add(violations, Path(field, "properties"),
        absl::StrCat("must have at most ", kMaxPropertyKeys, " keys"));
  } else if (!std::all_of(interaction.properties().fields().begin(),
                          interaction.properties().fields().end(),
                          [](const auto& field) { return AllNumbersFinite(field.second); })) {
    Add(violations, Path(field, "properties"),
        "must hold only finite numbers (JSON has no NaN or Infinity)");
  } else if (interaction.properties().fields_size() > 0) {
    std::string json;
    (void)google::protobuf::util::MessageToJsonString(interaction.properties(), &json);
    if (json.size() > kMaxPropertiesJsonBytes) {
      Add(violations, Path(field, "properties"),
          absl::StrCat("must be at most ", kMaxPropertiesJsonBytes, " bytes as JSON, got ",
                       json.size()));
    }
  }
  double value = interaction.monetary_value();
  if (!(value >= 0) || value > 1e15) {
    Add(violations, Path(field, "monetary_value"), "must be a number from 0 to 1e15");
  }
  const std::string& currency = interaction.currency_code();
  if (!currency.empty() &&
      (currency.size() != 3 || !AllOf(currency, [](char c) { return absl::ascii_isupper(c); }))) {
    Add(violations, Path(field, "currency_code"),
        "must be an ISO 4217 code of 3 upper-case letters, e.g. EUR");
  }
  interaction.clear_profile();
}

void CheckRequestId(absl::string_view request_id, absl::string_view field,
                    std::vector<FieldViolation>& violations) {
  if (request_id.size() > kMaxRequestIdBytes || !AllOf(request_id, IsPrintable)) {
    Add(violations, std::string(field),
        absl::StrCat("must be at most ", kMaxRequestIdBytes, " bytes of printable ASCII"));
  }
}

void CheckFeedbackSummary(const centric::events::v1::FeedbackSummary& summary,
                          absl::string_view field, std::vector<FieldViolation>& violations) {
  if (summary.version() < 1) {
    Add(violations, Path(field, "version"),
        absl::StrCat("must be at least 1, got ", summary.version()));
  }
  if (summary.has_last_nps_score() &&
      (summary.last_nps_score() < 0 || summary.last_nps_score() > 10)) {
    Add(violations, Path(field, "last_nps_score"),
        absl::StrCat("must be 0 to 10, got ", summary.last_nps_score()));
  }
  if (summary.has_last_csat_score() &&
      (summary.last_csat_score() < 1 || summary.last_csat_score() > 5)) {
    Add(violations, Path(field, "last_csat_score"),
        absl::StrCat("must be 1 to 5, got ", summary.last_csat_score()));
  }
  CheckTimestamp(summary.last_nps_time(), Path(field, "last_nps_time"), violations);
  CheckTimestamp(summary.last_csat_time(), Path(field, "last_csat_time"), violations);
  if (summary.open_follow_ups() < 0) {
    Add(violations, Path(field, "open_follow_ups"),
        absl::StrCat("must not be negative, got ", summary.open_follow_ups()));
  }
}

absl::Status ToStatus(std::vector<FieldViolation> violations) {
  if (violations.empty()) return absl::OkStatus();
  return runtime::InvalidArgument(std::move(violations));
}

}  // namespace centric::profiles
