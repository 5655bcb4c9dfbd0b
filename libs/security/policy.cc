#include "libs/security/policy.h"

#include <fnmatch.h>

#include <set>

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/json_util.h"

namespace centric::security {
namespace {

absl::Status CheckRateLimit(const v1::RateLimit& limit, const std::string& field) {
  if (!(limit.requests_per_second() >= 0) || limit.requests_per_second() > 1e9) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ".requestsPerSecond: must be from 0 to 1e9"));
  }
  if (!(limit.burst() >= 0) || limit.burst() > 1e9) {
    return absl::InvalidArgumentError(absl::StrCat(field, ".burst: must be from 0 to 1e9"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Policy> Policy::Parse(absl::string_view json) {
  Policy policy;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  auto parsed = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(json.data(), json.size()), &policy.policy_, options);
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("not a centric.security.v1.Policy in JSON: ", parsed.message().as_string()));
  }
  const std::set<absl::string_view> known(std::begin(kScopes), std::end(kScopes));
  std::set<std::string> callers;
  for (int i = 0; i < policy.policy_.callers_size(); ++i) {
    const v1::CallerPolicy& entry = policy.policy_.callers(i);
    const std::string field = absl::StrCat("callers[", i, "]");
    if (entry.caller().empty() || entry.caller().size() > 256) {
      return absl::InvalidArgumentError(absl::StrCat(field, ".caller: required, at most 256 characters"));
    }
    if (!callers.insert(entry.caller()).second) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ".caller: \"", entry.caller(), "\" appears twice"));
    }
    for (int m = 0; m < entry.methods_size(); ++m) {
      const std::string& pattern = entry.methods(m);
      if (pattern.find('/') == std::string::npos) {
        return absl::InvalidArgumentError(absl::StrCat(
            field, ".methods[", m, "]: \"", pattern,
            "\" must be package.Service/Method, e.g. centric.profiles.v1.Profiles/Get*"));
      }
    }
    for (int s = 0; s < entry.scopes_size(); ++s) {
      if (!known.contains(entry.scopes(s))) {
        return absl::InvalidArgumentError(absl::StrCat(
            field, ".scopes[", s, "]: \"", entry.scopes(s),
            "\" is not one of pii:read, pii:write, erase, audit:read"));
      }
    }
    if (auto s = CheckRateLimit(entry.rate_limit(), field + ".rateLimit"); !s.ok()) return s;
  }
  if (auto s = CheckRateLimit(policy.policy_.default_rate_limit(), "defaultRateLimit"); !s.ok()) {
    return s;
  }
  return policy;
}

const v1::CallerPolicy* Policy::Find(absl::string_view caller) const {
  for (const v1::CallerPolicy& entry : policy_.callers()) {
    if (entry.caller() == caller) return &entry;
  }
  return nullptr;
}

bool Policy::Allows(const v1::CallerPolicy& entry, absl::string_view method) {
  std::string name(method);
  for (const std::string& pattern : entry.methods()) {
    if (fnmatch(pattern.c_str(), name.c_str(), 0) == 0) return true;
  }
  return false;
}

v1::RateLimit Policy::RateLimitOf(const v1::CallerPolicy& entry) const {
  return entry.has_rate_limit() ? entry.rate_limit() : policy_.default_rate_limit();
}

}  // namespace centric::security
