// The authorization policy (--policy-file, centric.security.v1.Policy as JSON): which
// methods each caller may call and which scopes it holds.
#ifndef CENTRIC_LIBS_SECURITY_POLICY_H_
#define CENTRIC_LIBS_SECURITY_POLICY_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "centric/security/v1/policy.pb.h"

namespace centric::security {

// The scopes a policy may grant.
inline constexpr absl::string_view kScopePiiRead = "pii:read";
inline constexpr absl::string_view kScopePiiWrite = "pii:write";
inline constexpr absl::string_view kScopeErase = "erase";
inline constexpr absl::string_view kScopeAuditRead = "audit:read";
// Every scope, in the order above.
inline constexpr absl::string_view kScopes[] = {kScopePiiRead, kScopePiiWrite, kScopeErase,
                                                kScopeAuditRead};

class Policy {
 public:
  // Errors: INVALID_ARGUMENT naming the field ("callers[2].scopes[0]") and the rule.
  static absl::StatusOr<Policy> Parse(absl::string_view json);

  // The caller's entry, or null when the policy does not know it.
  const v1::CallerPolicy* Find(absl::string_view caller) const;

  // Whether `method` ("package.Service/Method") matches one of the entry's patterns.
  static bool Allows(const v1::CallerPolicy& entry, absl::string_view method);

  // The caller's rate limit (its own, else the default); zero rate means none.
  v1::RateLimit RateLimitOf(const v1::CallerPolicy& entry) const;

 private:
  v1::Policy policy_;
};

}  // namespace centric::security

#endif  // CENTRIC_LIBS_SECURITY_POLICY_H_
