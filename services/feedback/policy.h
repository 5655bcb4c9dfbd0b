// Follow-up policy rules: CEL (docs/CEL.md) over `response` and `profile`, checked when
// a policy is saved and evaluated for every stored response.
//
//   response.category == DETRACTOR || (response.kind == CSAT && response.score <= 2)
//   response.kind == NPS && response.score <= 4 && profile.aggregates.revenue_total > 1000.0
//   "reliability" in response.themes && response.sentiment_score < -0.5
//
// `response`: kind (int; constants NPS, CSAT, CES, OPEN_TEXT), score (int; -1 without a
// score), category (int; constants PROMOTER, PASSIVE, DETRACTOR, SATISFIED, NEUTRAL,
// DISSATISFIED, EASY, MODERATE, DIFFICULT; UNSPECIFIED for open text), survey (name),
// touchpoint, channel ("web", "email", ...), comment, sentiment_score (double -1..1),
// themes (list of theme ids). `profile`: as segment rules see it
// (libs/profile_cel/profile_cel.h).
#ifndef CENTRIC_SERVICES_FEEDBACK_POLICY_H_
#define CENTRIC_SERVICES_FEEDBACK_POLICY_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "centric/feedback/v1/feedback.pb.h"
#include "centric/profiles/v1/profiles.pb.h"
#include "libs/cel/cel.h"

namespace centric::feedback {

// Longest rule, bytes; highest static cost estimate accepted.
inline constexpr size_t kMaxPolicyRuleBytes = 4096;
inline constexpr int64_t kMaxPolicyRuleCost = 10000;

class PolicyRule {
 public:
  // Parses and checks `source` (type bool, known fields, bounded cost).
  // Errors: INVALID_ARGUMENT "<line>:<column>: ..." or naming the limit.
  static absl::StatusOr<std::shared_ptr<const PolicyRule>> Compile(absl::string_view source);

  // Whether the rule holds for `response` (derived fields set) of `profile`; an
  // evaluation error counts as false.
  bool Matches(const v1::Response& response, const std::string& survey,
               const profiles::v1::Profile& profile) const;
  const std::string& source() const { return source_; }

 private:
  PolicyRule() = default;
  std::string source_;
  std::unique_ptr<cel::Expr> ast_;
  bool reads_profile_ = false;
};

}  // namespace centric::feedback

#endif  // CENTRIC_SERVICES_FEEDBACK_POLICY_H_
