// Segment and persona rules: CEL (docs/CEL.md) over `profile`, `rfm` and `now`, checked
// against the profile schema when saved and compiled into a program over the table's
// columns.
//
//   profile.traits.country == "DE" && profile.aggregates.revenue_total > 500.0
//     && profile.consents.marketing_email == GRANTED && rfm.r >= 4
//
// Evaluation over the whole population (EvalAll, rule_eval.cc) runs block by block
// (65,536 rows, the rows of one Roaring container) on bitsets: a clause over an enum,
// a consent, a string or list trait, the persona or the preferred channels is decided
// once per distinct value and answered from the column's inverted index; numbers and
// times are compared by tight loops over their arrays; comparisons of expressions over
// several numeric columns run as column kernels 64 rows at a time; && || ! ?: combine
// bitsets with CEL's error-absorbing logic, the operands that rule out the most rows
// first; only what none of these covers goes to the interpreter, for the rows still
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

  // Live rows for which the rule is true at `now`. Uses a second thread for large
  // tables when the rule needs more than its indexes.
  Roaring EvalAll(const Table& table, absl::Time now) const;

  // One evaluation at `now`, prepared once and run block by block, so that a sweep can
  // let go of the engine between blocks. Sync(table) must be called after the table
  // changed and before the next EvalBlock (it decides values that appeared since); the
  // table must not change during EvalBlock, which may run on several threads at once.
  class Evaluation {
   public:
    virtual ~Evaluation() = default;
    virtual void Sync(const Table& table) = 0;
    // Sets out[0 .. kBlockWords) to the live rows of block `block` (rows
    // block * kBlockRows ...) for which the rule is true.
    virtual void EvalBlock(const Table& table, uint32_t block, uint64_t* out) const = 0;
    // Whether the plan needs more than indexes (a second thread pays for itself).
    virtual bool scans() const = 0;
  };
  std::unique_ptr<Evaluation> Prepare(const Table& table, absl::Time now) const;
  // Whether the rule is true for `row` at `now` (errors count as false).
  bool EvalRow(const Table& table, Row row, absl::Time now) const;
  // The same with the row's activation built by the caller (RowActivation with fields
  // {"profile"}), so that several rules share one.
  bool EvalRow(const Table& table, Row row, const cel::Activation& activation) const;

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
