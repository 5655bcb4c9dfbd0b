// Segment and persona rules: CEL (docs/CEL.md) over `profile`, `rfm` and `now`, checked
// against the profile schema when saved and compiled into a program over the table's
// columns.
//
//   profile.traits.country == "DE" && profile.aggregates.revenue_total > 500.0
//     && profile.consents.marketing_email == GRANTED && rfm.r >= 4
//
// Evaluation over the whole population (EvalAll) works column by column: comparisons of
// a column with a value that does not depend on the row scan one array, predicates on
// strings and lists run once per distinct value, && || ! combine bitsets with CEL's
// error-absorbing logic; anything else falls back to the interpreter for the rows still
// undecided. EvalRow (one profile after a change) runs the interpreter. Both give the
// same answer (tests/services/segmentation/rule_test.cc checks this on random rules).
#ifndef CENTRIC_SERVICES_SEGMENTATION_RULE_H_
#define CENTRIC_SERVICES_SEGMENTATION_RULE_H_

#include <memory>
#include <set>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "libs/cel/cel.h"
#include "libs/cel/checker.h"
#include "roaring/roaring.hh"
#include "services/segmentation/table.h"

namespace centric::segmentation {

// Longest rule, bytes; highest static cost estimate (cel::CheckResult) accepted.
inline constexpr size_t kMaxRuleBytes = 4096;
inline constexpr int64_t kMaxRuleCost = 100000;

enum class RuleKind {
  kSegment,
  // Persona rules cannot read profile.persona (the field they set).
  kPersona,
};

// The declarations rules are checked against (variables profile, rfm, now; constants
// GRANTED, DENIED, REVOKED, UNSPECIFIED, PERSON, ACCOUNT).
const cel::Declarations& RuleDeclarations(RuleKind kind);

class Rule {
 public:
  // Parses, checks (type bool, known fields, bounded cost) and compiles `source`.
  // Errors: INVALID_ARGUMENT "<line>:<column>: ..." or naming the limit.
  static absl::StatusOr<std::shared_ptr<const Rule>> Compile(absl::string_view source,
                                                              RuleKind kind);

  const std::string& source() const { return source_; }
  // Dotted paths the rule reads ("profile.traits.country", "rfm.r", ...).
  const std::set<std::string>& fields() const { return fields_; }
  bool reads_now() const { return reads_now_; }
  bool reads_rfm() const;
  // Whether a change of the field at `path` can change the rule's result.
  bool Reads(absl::string_view path) const;

  // Live rows for which the rule is true at `now`.
  Roaring EvalAll(const Table& table, absl::Time now) const;
  // Whether the rule is true for `row` at `now` (errors count as false).
  bool EvalRow(const Table& table, Row row, absl::Time now) const;

  struct Node;

 private:
  Rule() = default;
  std::string source_;
  std::unique_ptr<cel::Expr> ast_;
  std::set<std::string> fields_;
  bool reads_now_ = false;
  std::shared_ptr<const Node> program_;
};

// The activation a rule sees for one row (profile and rfm maps, now, constants).
cel::Activation RowActivation(const Table& table, Row row, absl::Time now,
                              const std::set<std::string>& fields);

}  // namespace centric::segmentation

#endif  // CENTRIC_SERVICES_SEGMENTATION_RULE_H_
