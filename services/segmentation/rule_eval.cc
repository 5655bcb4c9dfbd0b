// The column evaluator of rules (Rule::EvalAll, Rule::Prepare): a plan made from the
// compiled nodes for one evaluation, run block by block over three-valued bitsets.
#include <algorithm>
#include <atomic>
#include <bit>
#include <chrono>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <thread>
#include <utility>
#include <vector>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "services/segmentation/bitmap_index.h"
#include "services/segmentation/rule.h"
#include "services/segmentation/rule_program.h"

namespace centric::segmentation {
namespace {

using cel::Expr;
using cel::Op;
using Node = Rule::Node;

constexpr absl::string_view kTraitsPrefix = "profile.traits.";

std::atomic<bool> kernels_broken{false};

// ---- Three-valued bitsets over one block --------------------------------------------

using Words = std::vector<uint64_t>;

// Per row: true, false, or neither (an error, or not evaluated).
struct Tri {
  Words t;
  Words f;
  explicit Tri(size_t words) : t(words, 0), f(words, 0) {}
};

enum TriValue : int8_t { kFalse = 0, kTrue = 1, kError = 2 };

// The rows of one block: rows [base, base + rows) of the table, `words` words.
struct Block {
  const Table& table;
  uint32_t index;
  Row base;
  Row rows;
  size_t words;
};

bool Any(const Words& w) {
  for (uint64_t x : w) {
    if (x != 0) return true;
  }
  return false;
}

// f(row) for every row of `need` (absolute row numbers).
template <typename F>
void ForEachRow(const Block& block, const Words& need, F f) {
  for (size_t w = 0; w < need.size(); ++w) {
    for (uint64_t bits = need[w]; bits != 0; bits &= bits - 1) {
      f(static_cast<Row>(block.base + w * 64 + std::countr_zero(bits)));
    }
  }
}

inline void SetTri(Tri& out, const Block& block, Row row, TriValue v) {
  Row local = row - block.base;
  uint64_t bit = uint64_t{1} << (local & 63);
  if (v == kTrue) out.t[local >> 6] |= bit;
  if (v == kFalse) out.f[local >> 6] |= bit;
}

TriValue ToTri(const cel::Value& v) {
  if (v.kind() != cel::Value::Kind::kBool) return kError;
  return v.bool_value() ? kTrue : kFalse;
}

bool OrderHolds(Op op, int c) {
  switch (op) {
    case Op::kLess: return c < 0;
    case Op::kLessEqual: return c <= 0;
    case Op::kGreater: return c > 0;
    default: return c >= 0;
  }
}

// a op b with the interpreter's semantics.
TriValue CompareValues(const cel::Value& a, Op op, const cel::Value& b) {
  if (a.is_error() || b.is_error()) return kError;
  if (op == Op::kEqual || op == Op::kNotEqual) {
    cel::Value eq = cel::Equal(a, b);
    if (eq.is_error()) return kError;
    return eq.bool_value() == (op == Op::kEqual) ? kTrue : kFalse;
  }
  std::optional<int> c;
  if (!cel::Compare(a, b, &c).ok()) return kError;
  if (!c.has_value()) return kFalse;
  return OrderHolds(op, *c) ? kTrue : kFalse;
}

template <typename T>
bool Holds(Op op, T a, T b) {
  switch (op) {
    case Op::kEqual: return a == b;
    case Op::kNotEqual: return a != b;
    case Op::kLess: return a < b;
    case Op::kLessEqual: return a <= b;
    case Op::kGreater: return a > b;
    default: return a >= b;
  }
}

bool IsNumber(const cel::Value& v) {
  return v.kind() == cel::Value::Kind::kInt || v.kind() == cel::Value::Kind::kDouble;
}
double AsDouble(const cel::Value& v) {
  return v.kind() == cel::Value::Kind::kInt ? static_cast<double>(v.int_value())
                                            : v.double_value();
}

// Builds {a: {b: value}} for path "root.a.b" and binds it as `root`.
void BindPath(cel::Activation& activation, absl::string_view path,
              const std::optional<cel::Value>& value) {
  std::vector<std::string> parts;
  std::string root(path.substr(0, path.find('.')));
  absl::string_view rest = path.substr(root.size() + 1);
  if (absl::StartsWith(path, kTraitsPrefix)) {
    parts = {"traits", std::string(path.substr(kTraitsPrefix.size()))};
  } else {
    for (size_t dot; (dot = rest.find('.')) != absl::string_view::npos; rest.remove_prefix(dot + 1)) {
      parts.emplace_back(rest.substr(0, dot));
    }
    parts.emplace_back(rest);
  }
  std::optional<cel::Value> v = value;
  for (auto it = parts.rbegin(); it != parts.rend(); ++it) {
    cel::ValueMap map;
    if (v.has_value()) map.emplace_back(cel::Value::String(*it), std::move(*v));
    v = cel::Value::Map(std::move(map));
  }
  activation.Bind(root, std::move(*v));
}

// The CEL value of a fixed column's cell content (enum value, score cell, dictionary
// code); 0 is the column's default.
cel::Value ValueOfCell(const ValueDictionary& dictionary, Field f, uint32_t cell) {
  switch (InfoOf(f).storage) {
    case Storage::kScore:
      return cel::Value::Int(ScoreOfCell(static_cast<uint8_t>(cell)));
    case Storage::kCode:
      if (cell != 0) return dictionary.Get(cell);
      if (f == Field::kPreferredChannels) return cel::Value::List({});
      return cel::Value::String("");
    default:
      return cel::Value::Int(cell);
  }
}

// -1 / 0 / 1, or 2 when unordered (NaN): an int64 against a double, exactly.
int CompareIntDouble(int64_t a, double b) {
  if (std::isnan(b)) return 2;
  if (b >= 9223372036854775808.0) return -1;
  if (b < -9223372036854775808.0) return 1;
  double t = std::trunc(b);
  auto bi = static_cast<int64_t>(t);
  if (a != bi) return a < bi ? -1 : 1;
  if (b == t) return 0;
  return b > t ? -1 : 1;
}

// ---- The plan -----------------------------------------------------------------------

// What a node of the plan does with a block.
enum class Step {
  kAnd,
  kOr,
  kNot,
  kTernary,
  kConstant,  // the same answer for every row
  kClasses,   // one enum, score or coded fixed column, from its index
  kTrait,     // one trait column, from its tag and code indexes (numbers scanned)
  kScan,      // `column op constant` over an int, time or double column
  kMemo,      // one expression of an int, time or double column, per distinct value
  kKernel,    // column kernel
  kFallback,  // the interpreter
};

// How expensive a step is per row it looks at; operands of && and || run cheapest first.
int CostRank(Step step) {
  switch (step) {
    case Step::kConstant: return 0;
    case Step::kClasses:
    case Step::kTrait: return 1;
    case Step::kScan: return 2;
    case Step::kKernel: return 3;
    case Step::kMemo: return 4;
    default: return 5;
  }
}

// A bitmap that is either an index's own (borrowed until the table changes) or made
// for one evaluation.
struct BitmapRef {
  const Roaring* ref = nullptr;
  std::optional<Roaring> own;
  const Roaring& get() const { return own.has_value() ? *own : *ref; }
};

// A decision cached per dictionary code, valid while the code's generation is the same.
struct CodeDecision {
  uint32_t generation;
  int8_t value;
};

struct PlanNode {
  const Node* node = nullptr;
  Step step = Step::kFallback;
  std::vector<std::unique_ptr<PlanNode>> children;
  int rank = 5;
  double estimate = 0.5;  // fraction of live rows for which it is true
  // Only the rows for which the node is true matter to the rule's result (the root, and
  // operands of && || and branches of ?: below such a node): a row that is false and a
  // row that is an error may be treated alike.
  bool true_only = false;
  // true_only nodes, refreshed by Sync: the node's true rows straight from the indexes
  // (every part of it is indexed), or for && and || the combination of the operands that
  // are (`indexed_part`), the others being evaluated block by block.
  std::optional<BitmapRef> indexed;
  std::vector<BitmapRef> indexed_part;  // combined block by block, never as a whole
  std::vector<const PlanNode*> scanned;  // operands not in indexed_part

  // kConstant
  TriValue constant = kError;
  // kCompare-shaped leaves: the constant, evaluated once.
  cel::Value k;
  // kClasses / kTrait / kScan / kMemo: the column.
  Field field = Field::kKind;
  std::string trait_key;
  const TraitColumn* trait = nullptr;  // refreshed by Sync
  // kClasses: the default cell's decision and, per value, its decision;
  // kTrait: the decision of each tag (absent, null, false, true; numbers and coded
  // values are decided per value).
  int8_t default_decision = kError;
  int8_t tag_decision[6] = {kError, kError, kError, kError, kError, kError};
  absl::flat_hash_map<uint32_t, int8_t> by_value;     // enum values
  absl::flat_hash_map<uint32_t, CodeDecision> by_code;  // dictionary codes
  // Refreshed by Sync: the index's value bitmaps with their decisions.
  std::vector<std::pair<const Roaring*, int8_t>> classes;
  // kTrait numbers compared with a number constant: a scan; else decided per number.
  bool number_scan = false;
  double number_k = 0;
  // kScan
  enum class ScanKind { kInt, kDouble, kIntDouble, kGeneric } scan = ScanKind::kGeneric;
  Op op = Op::kEqual;
  int64_t int_k = 0;
  double double_k = 0;
};

class Evaluator : public Rule::Evaluation {
 public:
  Evaluator(const Rule& rule, const Node& program, const Table& table, absl::Time now)
      : fields_(rule.fields()), now_(now) {
    RuleDeclarations(RuleKind::kSegment).BindConstants(invariant_);
    invariant_.Bind("now", cel::Value::Timestamp(now));
    root_ = Plan(program, table.dictionary());
    MarkTrueOnly(*root_, true);
  }

  void Sync(const Table& table) override {
    live_ = std::max<int64_t>(table.live_count(), 1);
    SyncNode(*root_, table);
  }

  void EvalBlock(const Table& table, uint32_t block_index, uint64_t* out) const override {
    Row base = block_index * kBlockRows;
    Row rows = table.row_count() > base ? std::min<Row>(kBlockRows, table.row_count() - base) : 0;
    size_t words = (rows + 63) / 64;
    std::fill(out, out + kBlockWords, uint64_t{0});
    if (words == 0) return;
    Block block{table, block_index, base, rows, words};
    const std::vector<uint64_t>& live = table.live_words();
    Words need(words, 0);
    size_t first = block_index * kBlockWords;
    for (size_t w = 0; w < words && first + w < live.size(); ++w) need[w] = live[first + w];
    if (!Any(need)) return;
    Tri result = Eval(*root_, block, need);
    for (size_t w = 0; w < words; ++w) out[w] = result.t[w] & need[w];
  }

  bool scans() const override { return HasScan(*root_); }

  // The rule's rows straight from the indexes, when every part of it is a test of
  // indexed values combined with && and || and nothing but the tested values can be
  // true: bitmap algebra over whole bitmaps, no block visited.
  std::optional<Roaring> IndexOnly() const {
    if (!root_->indexed.has_value()) return std::nullopt;
    return root_->indexed->get();
  }

 private:
  // ---- Planning (once per evaluation) ----

  std::unique_ptr<PlanNode> Plan(const Node& node, const ValueDictionary& dictionary) {
    auto p = std::make_unique<PlanNode>();
    p->node = &node;
    switch (node.kind) {
      case Node::Kind::kAnd:
      case Node::Kind::kOr:
      case Node::Kind::kNot:
      case Node::Kind::kTernary:
        p->step = node.kind == Node::Kind::kAnd   ? Step::kAnd
                  : node.kind == Node::Kind::kOr  ? Step::kOr
                  : node.kind == Node::Kind::kNot ? Step::kNot
                                                  : Step::kTernary;
        for (const auto& child : node.children) p->children.push_back(Plan(*child, dictionary));
        break;
      case Node::Kind::kInvariant:
        p->step = Step::kConstant;
        p->constant = ToTri(cel::Evaluate(*node.expr, invariant_));
        break;
      case Node::Kind::kKernel:
        p->step = Step::kKernel;
        break;
      case Node::Kind::kFallback:
        p->step = Step::kFallback;
        break;
      case Node::Kind::kCompare:
      case Node::Kind::kColumn:
        PlanColumn(node, dictionary, *p);
        break;
    }
    p->rank = CostRank(p->step);
    for (const auto& child : p->children) p->rank = std::max(p->rank, child->rank);
    return p;
  }

  static void MarkTrueOnly(PlanNode& p, bool true_only) {
    p.true_only = true_only;
    for (size_t i = 0; i < p.children.size(); ++i) {
      bool inherit = p.step == Step::kAnd || p.step == Step::kOr ||
                     (p.step == Step::kTernary && i > 0);
      MarkTrueOnly(*p.children[i], true_only && inherit);
    }
  }

  // The decision of a one-column node for one cell value (nullopt: an absent trait).
  int8_t Decide(const PlanNode& p, const std::optional<cel::Value>& v) const {
    if (p.node->kind == Node::Kind::kCompare) {
      return v.has_value() ? CompareValues(*v, p.node->op, p.k) : kError;
    }
    cel::Activation activation = invariant_;
    BindPath(activation, p.node->column, v);
    return ToTri(cel::Evaluate(*p.node->expr, activation));
  }

  void PlanColumn(const Node& node, const ValueDictionary& dictionary, PlanNode& p) {
    if (node.kind == Node::Kind::kCompare) {
      p.k = cel::Evaluate(*node.constant, invariant_);
      if (p.k.is_error()) {  // every row an error
        p.step = Step::kConstant;
        p.constant = kError;
        return;
      }
    }
    if (absl::StartsWith(node.column, kTraitsPrefix)) {
      p.step = Step::kTrait;
      p.trait_key = node.column.substr(kTraitsPrefix.size());
      p.tag_decision[TraitColumn::kAbsent] = Decide(p, std::nullopt);
      p.tag_decision[TraitColumn::kNull] = Decide(p, cel::Value::Null());
      p.tag_decision[TraitColumn::kFalse] = Decide(p, cel::Value::Bool(false));
      p.tag_decision[TraitColumn::kTrue] = Decide(p, cel::Value::Bool(true));
      p.number_scan = node.kind == Node::Kind::kCompare && IsNumber(p.k);
      if (p.number_scan) p.number_k = AsDouble(p.k);
      return;
    }
    p.field = *FieldByPath(node.column);
    Storage storage = InfoOf(p.field).storage;
    if (storage == Storage::kEnum || storage == Storage::kScore || storage == Storage::kCode) {
      p.step = Step::kClasses;
      p.default_decision = Decide(p, ValueOfCell(dictionary, p.field, 0));
      return;
    }
    if (node.kind == Node::Kind::kColumn) {
      p.step = Step::kMemo;
      return;
    }
    p.step = Step::kScan;
    p.op = node.op;
    const cel::Value& k = p.k;
    if (k.kind() == cel::Value::Kind::kInt && storage == Storage::kInt) {
      p.scan = PlanNode::ScanKind::kInt;
      p.int_k = k.int_value();
    } else if (k.kind() == cel::Value::Kind::kTimestamp && storage == Storage::kTime) {
      // Times: microseconds against the constant rounded so that the answer is exact.
      p.scan = PlanNode::ScanKind::kInt;
      absl::Duration since = k.timestamp_value() - absl::UnixEpoch();
      int64_t kv = absl::ToInt64Microseconds(since);  // truncates towards zero
      bool exact = absl::Microseconds(kv) == since;
      if (!exact && since < absl::ZeroDuration()) --kv;  // floor
      if (!exact) {
        // t (whole microseconds) vs k with kv < k < kv+1: no t equals k.
        switch (p.op) {
          case Op::kEqual:
          case Op::kNotEqual: kv = std::numeric_limits<int64_t>::min(); break;
          case Op::kLess: p.op = Op::kLessEqual; break;
          case Op::kGreaterEqual: p.op = Op::kGreater; break;
          default: break;
        }
      }
      p.int_k = kv;
    } else if (storage == Storage::kDouble && IsNumber(k)) {
      p.scan = PlanNode::ScanKind::kDouble;
      p.double_k = AsDouble(k);
    } else if (storage == Storage::kInt && k.kind() == cel::Value::Kind::kDouble) {
      p.scan = PlanNode::ScanKind::kIntDouble;
      p.double_k = k.double_value();
    } else {
      p.scan = PlanNode::ScanKind::kGeneric;
    }
  }

  // ---- Sync (each time the table may have changed) ----

  int8_t DecideCode(PlanNode& p, const Table& table, uint32_t code) {
    const ValueDictionary& dict = table.dictionary();
    auto [it, inserted] = p.by_code.try_emplace(code, CodeDecision{0, kError});
    if (inserted || it->second.generation != dict.generation(code)) {
      it->second = {dict.generation(code), Decide(p, dict.Get(code))};
    }
    return it->second.value;
  }

  void SyncNode(PlanNode& p, const Table& table) {
    for (auto& child : p.children) SyncNode(*child, table);
    SyncDecisions(p, table);
    p.indexed.reset();
    p.indexed_part.clear();
    p.scanned.clear();
    if (!p.true_only) return;
    if (p.step == Step::kAnd || p.step == Step::kOr) {
      bool is_and = p.step == Step::kAnd;
      for (const auto& child : p.children) {
        // An operand in indexed_part is never evaluated on its own: its bitmap moves here.
        std::optional<BitmapRef> r = child->indexed.has_value() ? std::move(child->indexed)
                                                                : IndexOnly(*child);
        child->indexed.reset();
        if (!r.has_value()) {
          p.scanned.push_back(child.get());
        } else {
          p.indexed_part.push_back(std::move(*r));
        }
      }
      if (p.scanned.empty()) {
        std::optional<BitmapRef> all;
        for (BitmapRef& part : p.indexed_part) all = Combine(std::move(all), std::move(part), is_and);
        p.indexed = std::move(all);
        p.indexed_part.clear();
      }
      return;
    }
    if (p.step == Step::kClasses || p.step == Step::kTrait) p.indexed = IndexOnly(p);
  }

  void SyncDecisions(PlanNode& p, const Table& table) {
    switch (p.step) {
      case Step::kAnd:
      case Step::kOr: {
        bool is_and = p.step == Step::kAnd;
        std::stable_sort(p.children.begin(), p.children.end(), [&](const auto& a, const auto& b) {
          if (a->rank != b->rank) return a->rank < b->rank;
          return is_and ? a->estimate < b->estimate : a->estimate > b->estimate;
        });
        double e = is_and ? 1 : 0;
        for (const auto& c : p.children) e = is_and ? e * c->estimate : 1 - (1 - e) * (1 - c->estimate);
        p.estimate = e;
        break;
      }
      case Step::kNot:
        p.estimate = 1 - p.children[0]->estimate;
        break;
      case Step::kConstant:
        p.estimate = p.constant == kTrue ? 1 : 0;
        break;
      case Step::kClasses: {
        const ValueIndex* index = table.IndexOf(p.field);
        Storage storage = InfoOf(p.field).storage;
        p.classes.clear();
        double in_classes = 0;
        double true_rows = 0;
        for (const auto& [value, rows] : index->values()) {
          int8_t d;
          if (storage == Storage::kCode) {
            d = DecideCode(p, table, value);
          } else {
            auto [it, inserted] = p.by_value.try_emplace(value, kError);
            if (inserted) it->second = Decide(p, ValueOfCell(table.dictionary(), p.field, value));
            d = it->second;
          }
          p.classes.emplace_back(&rows, d);
          double n = static_cast<double>(rows.cardinality());
          in_classes += n;
          if (d == kTrue) true_rows += n;
        }
        if (p.default_decision == kTrue) true_rows += std::max(0.0, live_ - in_classes);
        p.estimate = true_rows / live_;
        break;
      }
      case Step::kTrait: {
        p.trait = table.Trait(p.trait_key);
        p.classes.clear();
        if (p.trait == nullptr) {
          p.estimate = p.tag_decision[TraitColumn::kAbsent] == kTrue ? 1 : 0;
          break;
        }
        double true_rows = 0;
        double present = 0;
        for (const auto& [tag, rows] : p.trait->tag_rows.values()) {
          double n = static_cast<double>(rows.cardinality());
          present += n;
          if (tag <= TraitColumn::kTrue && p.tag_decision[tag] == kTrue) true_rows += n;
          if (tag == TraitColumn::kNumber) true_rows += n / 2;
        }
        for (const auto& [code, rows] : p.trait->code_rows.values()) {
          int8_t d = DecideCode(p, table, code);
          p.classes.emplace_back(&rows, d);
          if (d == kTrue) true_rows += static_cast<double>(rows.cardinality());
        }
        if (p.tag_decision[TraitColumn::kAbsent] == kTrue) true_rows += std::max(0.0, live_ - present);
        p.estimate = true_rows / live_;
        break;
      }
      default:
        break;
    }
  }

  static BitmapRef Union(std::vector<const Roaring*>& sets) {
    BitmapRef out;
    if (sets.size() == 1) {
      out.ref = sets[0];
    } else if (sets.empty()) {
      out.own.emplace();
    } else {
      out.own = Roaring::fastunion(sets.size(), sets.data());
    }
    return out;
  }

  static std::optional<BitmapRef> IndexOnly(const PlanNode& p) {
    switch (p.step) {
      case Step::kConstant: {
        if (p.constant == kTrue) return std::nullopt;
        BitmapRef none;
        none.own.emplace();
        return none;
      }
      case Step::kClasses: {
        if (p.default_decision == kTrue) return std::nullopt;
        std::vector<const Roaring*> sets;
        for (const auto& [rows, d] : p.classes) {
          if (d == kTrue) sets.push_back(rows);
        }
        return Union(sets);
      }
      case Step::kTrait: {
        if (p.tag_decision[TraitColumn::kAbsent] == kTrue) return std::nullopt;
        std::vector<const Roaring*> sets;
        if (p.trait != nullptr) {
          if (p.trait->tag_rows.Rows(TraitColumn::kNumber) != nullptr) return std::nullopt;
          for (uint8_t t = TraitColumn::kNull; t <= TraitColumn::kTrue; ++t) {
            const Roaring* rows = p.trait->tag_rows.Rows(t);
            if (rows != nullptr && p.tag_decision[t] == kTrue) sets.push_back(rows);
          }
          for (const auto& [rows, d] : p.classes) {
            if (d == kTrue) sets.push_back(rows);
          }
        }
        return Union(sets);
      }
      case Step::kAnd:
      case Step::kOr: {
        std::optional<BitmapRef> out;
        for (const auto& child : p.children) {
          std::optional<BitmapRef> r = IndexOnly(*child);
          if (!r.has_value()) return std::nullopt;
          out = Combine(std::move(out), std::move(*r), p.step == Step::kAnd);
        }
        return out;
      }
      default:
        return std::nullopt;
    }
  }

  // a && b (or a || b) of true sets; `a` may be nothing yet.
  static BitmapRef Combine(std::optional<BitmapRef> a, BitmapRef b, bool is_and) {
    if (!a.has_value()) return b;
    BitmapRef out;
    if (a->own.has_value()) {
      out.own = std::move(a->own);
      if (is_and) {
        *out.own &= b.get();
      } else {
        *out.own |= b.get();
      }
    } else {
      out.own = is_and ? a->get() & b.get() : a->get() | b.get();
    }
    return out;
  }

  static bool HasScan(const PlanNode& p) {
    switch (p.step) {
      case Step::kTrait:
      case Step::kScan:
      case Step::kMemo:
      case Step::kKernel:
      case Step::kFallback:
        return true;
      default:
        break;
    }
    for (const auto& c : p.children) {
      if (HasScan(*c)) return true;
    }
    return false;
  }

  // ---- Evaluation of one block ----

  Tri Eval(const PlanNode& p, const Block& block, const Words& need) const {
    if (p.indexed.has_value()) {
      // Only its true rows matter: the rest read as false.
      Tri out(block.words);
      OrBlock(p.indexed->get(), block.index, out.t.data(), block.words);
      for (size_t w = 0; w < block.words; ++w) {
        out.t[w] &= need[w];
        out.f[w] = need[w] & ~out.t[w];
      }
      return out;
    }
    switch (p.step) {
      case Step::kAnd:
      case Step::kOr:
        return EvalLogical(p, block, need);
      case Step::kNot: {
        Tri r = Eval(*p.children[0], block, need);
        std::swap(r.t, r.f);
        return r;
      }
      case Step::kTernary:
        return EvalTernary(p, block, need);
      case Step::kConstant: {
        Tri out(block.words);
        if (p.constant == kTrue) out.t = need;
        if (p.constant == kFalse) out.f = need;
        return out;
      }
      case Step::kClasses:
        return EvalClasses(p, block, need);
      case Step::kTrait:
        return EvalTrait(p, block, need);
      case Step::kScan:
        return EvalScan(p, block, need);
      case Step::kMemo:
        return EvalMemo(p, block, need);
      case Step::kKernel:
        return EvalKernel(p, block, need);
      case Step::kFallback:
        return EvalFallback(p, block, need);
    }
    return Tri(block.words);
  }

  Tri EvalLogical(const PlanNode& p, const Block& block, const Words& need) const {
    bool is_and = p.step == Step::kAnd;
    size_t words = block.words;
    Tri out(words);
    // && turns rows false, || turns them true; such a row is decided for good.
    Words decided(words, 0);
    Words all_neutral = need;  // rows neutral (true for &&) in every operand so far
    Words sub(words);
    std::vector<const PlanNode*> operands;
    if (!p.indexed_part.empty()) {
      // The indexed operands as one: for && the rows outside it are false (true_only),
      // for || the rows in it are true.
      Words part(words, 0);
      OrBlock(p.indexed_part[0].get(), block.index, part.data(), words);
      Words other(words);
      for (size_t i = 1; i < p.indexed_part.size(); ++i) {
        if (!is_and) {
          OrBlock(p.indexed_part[i].get(), block.index, part.data(), words);
          continue;
        }
        std::fill(other.begin(), other.end(), 0);
        OrBlock(p.indexed_part[i].get(), block.index, other.data(), words);
        for (size_t w = 0; w < words; ++w) part[w] &= other[w];
      }
      for (size_t w = 0; w < words; ++w) {
        decided[w] = need[w] & (is_and ? ~part[w] : part[w]);
        if (!is_and) all_neutral[w] &= ~part[w];
      }
      operands = p.scanned;
    } else {
      for (const auto& child : p.children) operands.push_back(child.get());
    }
    for (const PlanNode* child : operands) {
      bool any = false;
      for (size_t w = 0; w < words; ++w) {
        sub[w] = need[w] & ~decided[w];
        any = any || sub[w] != 0;
      }
      if (!any) break;
      Tri r = Eval(*child, block, sub);
      const Words& absorbing = is_and ? r.f : r.t;
      const Words& neutral = is_and ? r.t : r.f;
      for (size_t w = 0; w < words; ++w) {
        decided[w] |= absorbing[w] & sub[w];
        all_neutral[w] &= neutral[w] | decided[w];
      }
    }
    Words& absorbing = is_and ? out.f : out.t;
    Words& neutral = is_and ? out.t : out.f;
    for (size_t w = 0; w < words; ++w) {
      absorbing[w] = decided[w] & need[w];
      neutral[w] = all_neutral[w] & ~decided[w] & need[w];
    }
    return out;
  }

  Tri EvalTernary(const PlanNode& p, const Block& block, const Words& need) const {
    size_t words = block.words;
    Tri cond = Eval(*p.children[0], block, need);
    Words then_need(words), else_need(words);
    for (size_t w = 0; w < words; ++w) {
      then_need[w] = cond.t[w] & need[w];
      else_need[w] = cond.f[w] & need[w];
    }
    Tri out(words);
    if (Any(then_need)) {
      Tri a = Eval(*p.children[1], block, then_need);
      for (size_t w = 0; w < words; ++w) {
        out.t[w] |= a.t[w] & then_need[w];
        out.f[w] |= a.f[w] & then_need[w];
      }
    }
    if (Any(else_need)) {
      Tri b = Eval(*p.children[2], block, else_need);
      for (size_t w = 0; w < words; ++w) {
        out.t[w] |= b.t[w] & else_need[w];
        out.f[w] |= b.f[w] & else_need[w];
      }
    }
    return out;
  }

  // Rows of `scope` split by value classes (disjoint bitmaps, each decided), the rows of
  // `scope` in no class being decided `rest` (kError when there are none). The group of
  // classes holding the most rows is not read: it is what `scope` has left.
  void ClassesInto(const std::vector<std::pair<const Roaring*, int8_t>>& classes, int8_t rest,
                   bool has_rest, const Block& block, const Words& scope, Words acc[3]) const {
    uint64_t per_decision[3] = {0, 0, 0};
    for (const auto& [rows, d] : classes) per_decision[d] += BlockCardinality(*rows, block.index);
    int big = static_cast<int>(std::max_element(per_decision, per_decision + 3) - per_decision);
    if (has_rest && rest != big) big = -1;
    Words got[3] = {Words(block.words, 0), Words(block.words, 0), Words(block.words, 0)};
    for (const auto& [rows, d] : classes) {
      if (d != big) OrBlock(*rows, block.index, got[d].data(), block.words);
    }
    for (size_t w = 0; w < block.words; ++w) {
      uint64_t seen = got[0][w] | got[1][w] | got[2][w];
      int remainder = big >= 0 ? big : rest;
      if (big >= 0 || has_rest) got[remainder][w] |= scope[w] & ~seen;
      for (int d = 0; d < 3; ++d) acc[d][w] |= got[d][w] & scope[w];
    }
  }

  Tri EvalClasses(const PlanNode& p, const Block& block, const Words& need) const {
    Words acc[3] = {Words(block.words, 0), Words(block.words, 0), Words(block.words, 0)};
    ClassesInto(p.classes, p.default_decision, true, block, need, acc);
    Tri out(block.words);
    out.t = std::move(acc[kTrue]);
    out.f = std::move(acc[kFalse]);
    return out;
  }

  Tri EvalTrait(const PlanNode& p, const Block& block, const Words& need) const {
    size_t words = block.words;
    Words acc[3] = {Words(words, 0), Words(words, 0), Words(words, 0)};
    Tri out(words);
    if (p.trait == nullptr) {
      int8_t d = p.tag_decision[TraitColumn::kAbsent];
      if (d == kTrue) out.t = need;
      if (d == kFalse) out.f = need;
      return out;
    }
    Words present(words, 0);
    Words tag(words);
    for (uint8_t t = TraitColumn::kNull; t <= TraitColumn::kCoded; ++t) {
      const Roaring* rows = p.trait->tag_rows.Rows(t);
      if (rows == nullptr || BlockCardinality(*rows, block.index) == 0) continue;
      std::fill(tag.begin(), tag.end(), 0);
      OrBlock(*rows, block.index, tag.data(), words);
      for (size_t w = 0; w < words; ++w) {
        tag[w] &= need[w];
        present[w] |= tag[w];
      }
      if (t <= TraitColumn::kTrue) {
        int8_t d = p.tag_decision[t];
        for (size_t w = 0; w < words; ++w) acc[d][w] |= tag[w];
      } else if (t == TraitColumn::kCoded) {
        ClassesInto(p.classes, kError, false, block, tag, acc);
      } else {
        EvalNumbers(p, block, tag, acc);
      }
    }
    int8_t absent = p.tag_decision[TraitColumn::kAbsent];
    for (size_t w = 0; w < words; ++w) acc[absent][w] |= need[w] & ~present[w];
    out.t = std::move(acc[kTrue]);
    out.f = std::move(acc[kFalse]);
    return out;
  }

  // The trait's numbers on the rows of `rows`.
  void EvalNumbers(const PlanNode& p, const Block& block, const Words& rows, Words acc[3]) const {
    const std::vector<double>& numbers = p.trait->numbers;
    if (p.number_scan) {
      double k = p.number_k;
      Op op = p.node->op;
      for (size_t w = 0; w < block.words; ++w) {
        if (rows[w] == 0) continue;
        uint64_t t = 0;
        for (uint64_t bits = rows[w]; bits != 0; bits &= bits - 1) {
          int i = std::countr_zero(bits);
          t |= static_cast<uint64_t>(Holds(op, numbers[block.base + w * 64 + i], k)) << i;
        }
        acc[kTrue][w] |= t;
        acc[kFalse][w] |= rows[w] & ~t;
      }
      return;
    }
    absl::flat_hash_map<uint64_t, int8_t> memo;
    Tri out(block.words);
    ForEachRow(block, rows, [&](Row row) {
      double x = numbers[row];
      uint64_t key;
      std::memcpy(&key, &x, sizeof key);
      auto [it, inserted] = memo.try_emplace(key, kError);
      if (inserted) it->second = Decide(p, cel::Value::Double(x));
      SetTri(out, block, row, static_cast<TriValue>(it->second));
    });
    for (size_t w = 0; w < block.words; ++w) {
      acc[kTrue][w] |= out.t[w];
      acc[kFalse][w] |= out.f[w];
      acc[kError][w] |= rows[w] & ~(out.t[w] | out.f[w]);
    }
  }

  // `column op k` over a numeric column (missing cells read as 0), one loop per
  // operator so the comparison inlines and vectorises.
  template <typename T, typename H>
  static void ScanWords(const Block& block, const Words& need, const std::vector<T>& col, H holds,
                        Tri& out) {
    size_t n = col.size();
    for (size_t w = 0; w < block.words; ++w) {
      if (need[w] == 0) continue;
      size_t first = block.base + w * 64;
      uint64_t t = 0;
      if (first + 64 <= n) {
        const T* v = col.data() + first;
        for (int i = 0; i < 64; ++i) t |= static_cast<uint64_t>(holds(v[i])) << i;
      } else {
        for (int i = 0; i < 64; ++i) {
          size_t row = first + i;
          t |= static_cast<uint64_t>(holds(row < n ? col[row] : T{})) << i;
        }
      }
      out.t[w] = t & need[w];
      out.f[w] = ~t & need[w];
    }
  }

  template <typename T>
  static void ScanCompare(const Block& block, const Words& need, const std::vector<T>& col, Op op,
                          T k, Tri& out) {
    switch (op) {
      case Op::kEqual: return ScanWords(block, need, col, [k](T v) { return v == k; }, out);
      case Op::kNotEqual: return ScanWords(block, need, col, [k](T v) { return v != k; }, out);
      case Op::kLess: return ScanWords(block, need, col, [k](T v) { return v < k; }, out);
      case Op::kLessEqual: return ScanWords(block, need, col, [k](T v) { return v <= k; }, out);
      case Op::kGreater: return ScanWords(block, need, col, [k](T v) { return v > k; }, out);
      default: return ScanWords(block, need, col, [k](T v) { return v >= k; }, out);
    }
  }

  // Bits of f[0..64) > k and f[0..64) < k.
  static void FloatMasks(const float* f, float k, uint64_t* gt, uint64_t* lt) {
#if defined(__SSE2__)
    const __m128 kk = _mm_set1_ps(k);
    uint64_t g = 0, l = 0;
    for (int i = 0; i < 64; i += 4) {
      __m128 v = _mm_loadu_ps(f + i);
      g |= static_cast<uint64_t>(_mm_movemask_ps(_mm_cmpgt_ps(v, kk))) << i;
      l |= static_cast<uint64_t>(_mm_movemask_ps(_mm_cmplt_ps(v, kk))) << i;
    }
    *gt = g;
    *lt = l;
#else
    uint64_t g = 0, l = 0;
    for (int i = 0; i < 64; ++i) {
      g |= static_cast<uint64_t>(f[i] > k) << i;
      l |= static_cast<uint64_t>(f[i] < k) << i;
    }
    *gt = g;
    *lt = l;
#endif
  }

  // `column op k` over a double column through its float copy: float(v) > float(k)
  // implies v > k and float(v) < float(k) implies v < k (rounding keeps order); only rows
  // with float(v) == float(k) (or NaN) read the double.
  static void ScanDouble(const Block& block, const Words& need, const std::vector<double>& col,
                         const std::vector<float>& hints, Op op, double k, Tri& out) {
    const float fk = static_cast<float>(k);
    const size_t n = col.size();
    for (size_t w = 0; w < block.words; ++w) {
      if (need[w] == 0) continue;
      size_t first = block.base + w * 64;
      uint64_t gt = 0, lt = 0;
      if (first + 64 <= n) {
        FloatMasks(hints.data() + first, fk, &gt, &lt);
      } else {
        for (int i = 0; i < 64; ++i) {
          float f = first + i < n ? hints[first + i] : 0.0f;
          gt |= static_cast<uint64_t>(f > fk) << i;
          lt |= static_cast<uint64_t>(f < fk) << i;
        }
      }
      uint64_t t = 0;
      switch (op) {
        case Op::kGreater:
        case Op::kGreaterEqual: t = gt; break;
        case Op::kLess:
        case Op::kLessEqual: t = lt; break;
        case Op::kNotEqual: t = gt | lt; break;
        default: break;
      }
      for (uint64_t bits = ~(gt | lt) & need[w]; bits != 0; bits &= bits - 1) {
        int i = std::countr_zero(bits);
        size_t row = first + i;
        t |= static_cast<uint64_t>(Holds(op, row < n ? col[row] : 0.0, k)) << i;
      }
      out.t[w] = t & need[w];
      out.f[w] = ~t & need[w];
    }
  }

  Tri EvalScan(const PlanNode& p, const Block& block, const Words& need) const {
    Tri out(block.words);
    const Table& table = block.table;
    switch (p.scan) {
      case PlanNode::ScanKind::kInt:
        ScanCompare<int64_t>(block, need, table.IntColumn(p.field), p.op, p.int_k, out);
        break;
      case PlanNode::ScanKind::kDouble:
        ScanDouble(block, need, table.DoubleColumn(p.field), table.FloatColumn(p.field), p.op,
                   p.double_k, out);
        break;
      case PlanNode::ScanKind::kIntDouble: {
        // An int column against a double, exactly (NaN: equal to nothing).
        double k = p.double_k;
        Op op = p.op;
        ScanWords(block, need, table.IntColumn(p.field), [k, op](int64_t v) {
          int c = CompareIntDouble(v, k);
          if (c == 2) return op == Op::kNotEqual;
          return op == Op::kEqual ? c == 0 : op == Op::kNotEqual ? c != 0 : OrderHolds(op, c);
        }, out);
        break;
      }
      case PlanNode::ScanKind::kGeneric:
        ForEachRow(block, need, [&](Row row) {
          SetTri(out, block, row, CompareValues(*table.CellValue(p.field, row), p.op, p.k));
        });
        break;
    }
    return out;
  }

  Tri EvalMemo(const PlanNode& p, const Block& block, const Words& need) const {
    Tri out(block.words);
    const Table& table = block.table;
    absl::flat_hash_map<uint64_t, int8_t> memo;
    Storage storage = InfoOf(p.field).storage;
    ForEachRow(block, need, [&](Row row) {
      uint64_t key;
      if (storage == Storage::kDouble) {
        double d = table.DoubleAt(p.field, row);
        std::memcpy(&key, &d, sizeof key);
      } else {
        key = static_cast<uint64_t>(table.IntAt(p.field, row));
      }
      auto [it, inserted] = memo.try_emplace(key, kError);
      if (inserted) it->second = Decide(p, table.CellValue(p.field, row));
      SetTri(out, block, row, static_cast<TriValue>(it->second));
    });
    return out;
  }

  Tri EvalFallback(const PlanNode& p, const Block& block, const Words& need) const {
    Tri out(block.words);
    ForEachRow(block, need, [&](Row row) {
      cel::Activation activation = RowActivation(block.table, row, now_, fields_);
      SetTri(out, block, row, ToTri(cel::Evaluate(*p.node->expr, activation)));
    });
    return out;
  }

  // ---- Column kernels: 64 rows at a time ----

  struct Lane {
    bool is_double = false;
    uint64_t error = 0;  // rows whose value is an error
    int64_t i[64];
    double d[64];
  };

  template <typename T>
  static void LoadColumn(const std::vector<T>& col, size_t first, T* out) {
    size_t n = col.size();
    if (first + 64 <= n) {
      std::memcpy(out, col.data() + first, 64 * sizeof(T));
      return;
    }
    for (int r = 0; r < 64; ++r) out[r] = first + r < n ? col[first + r] : T{};
  }

  static void EvalLane(const KernelExpr& e, const Table& table, size_t first, Lane& out) {
    out.is_double = e.is_double;
    out.error = 0;
    switch (e.kind) {
      case KernelExpr::Kind::kInt:
        std::fill(out.i, out.i + 64, e.int_value);
        return;
      case KernelExpr::Kind::kDouble:
        std::fill(out.d, out.d + 64, e.double_value);
        return;
      case KernelExpr::Kind::kColumn:
        switch (InfoOf(e.field).storage) {
          case Storage::kDouble:
            LoadColumn(table.DoubleColumn(e.field), first, out.d);
            return;
          case Storage::kInt:
            LoadColumn(table.IntColumn(e.field), first, out.i);
            return;
          default: {
            uint8_t cells[64];
            LoadColumn(table.EnumColumn(e.field), first, cells);
            bool score = InfoOf(e.field).storage == Storage::kScore;
            for (int r = 0; r < 64; ++r) out.i[r] = score ? ScoreOfCell(cells[r]) : cells[r];
            return;
          }
        }
      case KernelExpr::Kind::kToDouble: {
        Lane a;
        EvalLane(e.args[0], table, first, a);
        for (int r = 0; r < 64; ++r) out.d[r] = static_cast<double>(a.i[r]);
        out.error = a.error;
        return;
      }
      case KernelExpr::Kind::kNegate: {
        Lane a;
        EvalLane(e.args[0], table, first, a);
        out.error = a.error;
        if (e.is_double) {
          for (int r = 0; r < 64; ++r) out.d[r] = -a.d[r];
        } else {
          for (int r = 0; r < 64; ++r) {
            out.error |= static_cast<uint64_t>(a.i[r] == std::numeric_limits<int64_t>::min()) << r;
            out.i[r] = a.i[r] == std::numeric_limits<int64_t>::min() ? 0 : -a.i[r];
          }
        }
        return;
      }
      case KernelExpr::Kind::kArithmetic: {
        Lane a, b;
        EvalLane(e.args[0], table, first, a);
        EvalLane(e.args[1], table, first, b);
        out.error = a.error | b.error;
        if (e.is_double) {
          switch (e.op) {
            case Op::kAdd: for (int r = 0; r < 64; ++r) out.d[r] = a.d[r] + b.d[r]; break;
            case Op::kSubtract: for (int r = 0; r < 64; ++r) out.d[r] = a.d[r] - b.d[r]; break;
            case Op::kMultiply: for (int r = 0; r < 64; ++r) out.d[r] = a.d[r] * b.d[r]; break;
            default: for (int r = 0; r < 64; ++r) out.d[r] = a.d[r] / b.d[r]; break;
          }
          return;
        }
        for (int r = 0; r < 64; ++r) {
          int64_t x = a.i[r], y = b.i[r], v = 0;
          bool bad = false;
          switch (e.op) {
            case Op::kAdd: bad = __builtin_add_overflow(x, y, &v); break;
            case Op::kSubtract: bad = __builtin_sub_overflow(x, y, &v); break;
            case Op::kMultiply: bad = __builtin_mul_overflow(x, y, &v); break;
            default:
              bad = y == 0 || (x == std::numeric_limits<int64_t>::min() && y == -1);
              if (!bad) v = e.op == Op::kDivide ? x / y : x % y;
              break;
          }
          out.i[r] = v;
          out.error |= static_cast<uint64_t>(bad) << r;
        }
        return;
      }
    }
  }

  Tri EvalKernel(const PlanNode& p, const Block& block, const Words& need) const {
    Tri out(block.words);
    Op op = p.node->op;
    if (kernels_broken.load(std::memory_order_relaxed) && op == Op::kLessEqual) op = Op::kLess;
    const KernelExpr& left = p.node->kernel[0];
    const KernelExpr& right = p.node->kernel[1];
    Lane a, b;
    for (size_t w = 0; w < block.words; ++w) {
      if (need[w] == 0) continue;
      size_t first = block.base + w * 64;
      EvalLane(left, block.table, first, a);
      EvalLane(right, block.table, first, b);
      uint64_t t = 0;
      uint64_t unordered = 0;
      if (a.is_double && b.is_double) {
        for (int r = 0; r < 64; ++r) t |= static_cast<uint64_t>(Holds(op, a.d[r], b.d[r])) << r;
      } else if (!a.is_double && !b.is_double) {
        for (int r = 0; r < 64; ++r) t |= static_cast<uint64_t>(Holds(op, a.i[r], b.i[r])) << r;
      } else {
        for (int r = 0; r < 64; ++r) {
          int c = a.is_double ? -CompareIntDouble(b.i[r], a.d[r]) : CompareIntDouble(a.i[r], b.d[r]);
          if (c == 2 || c == -2) {
            unordered |= uint64_t{1} << r;
            continue;
          }
          bool holds = op == Op::kEqual      ? c == 0
                       : op == Op::kNotEqual ? c != 0
                                             : OrderHolds(op, c);
          t |= static_cast<uint64_t>(holds) << r;
        }
        // NaN: equal to nothing, ordered with nothing.
        if (op == Op::kNotEqual) t |= unordered;
      }
      uint64_t ok = need[w] & ~(a.error | b.error);
      out.t[w] = t & ok;
      out.f[w] = ~t & ok;
    }
    return out;
  }

  const std::set<std::string>& fields_;
  absl::Time now_;
  cel::Activation invariant_;
  double live_ = 1;
  std::unique_ptr<PlanNode> root_;
};

// One helper thread shared by every evaluation: a caller and the helper take blocks
// from the same counter. A caller finding the helper busy runs every block itself.
class BlockRunner {
 public:
  static BlockRunner& Get() {
    static BlockRunner* runner = new BlockRunner();
    return *runner;
  }

  // Tells the helper that a job is coming (while the caller prepares it).
  void Wake() {
    absl::MutexLock lock(&mu_);
    if (!taken_) woken_ = true;
  }

  void Run(uint32_t blocks, const std::function<void(uint32_t)>& fn) {
    Job job{&fn, blocks};
    bool handed = false;
    {
      absl::MutexLock lock(&mu_);
      if (job_ == nullptr && !taken_) {
        job_ = &job;
        posted_ = true;
        taken_ = true;
        helper_done_ = false;
        handed = true;
      }
    }
    Drain(job);
    if (!handed) return;
    absl::MutexLock lock(&mu_);
    if (job_ == &job && !helper_started_) {
      // The helper never got the core (it may be busy elsewhere): do not wait for it.
      job_ = nullptr;
      posted_ = false;
      taken_ = false;
      return;
    }
    mu_.Await(absl::Condition(&helper_done_));
    taken_ = false;
  }

 private:
  struct Job {
    const std::function<void(uint32_t)>* fn;
    uint32_t blocks;
    std::atomic<uint32_t> next{0};
  };

  BlockRunner() {
    std::thread([this] { Loop(); }).detach();
  }

  static void Drain(Job& job) {
    for (uint32_t b; (b = job.next.fetch_add(1)) < job.blocks;) (*job.fn)(b);
  }

  void Loop() {
    while (true) {
      mu_.LockWhen(absl::Condition(this, &BlockRunner::Called));
      if (job_ == nullptr) {
        // Woken ahead of a job: stay awake a little so that the job finds the helper
        // running instead of paying for a wake-up.
        woken_ = false;
        mu_.Unlock();
        auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(500);
        for (int spin = 0; !posted_.load(std::memory_order_acquire); ++spin) {
          if (spin % 256 == 0 && std::chrono::steady_clock::now() > until) break;
#if defined(__SSE2__)
          _mm_pause();
#endif
        }
        mu_.Lock();
        if (job_ == nullptr) {
          mu_.Unlock();
          continue;
        }
      }
      Job* job = job_;
      helper_started_ = true;
      mu_.Unlock();
      Drain(*job);
      absl::MutexLock lock(&mu_);
      job_ = nullptr;
      posted_ = false;
      helper_started_ = false;
      helper_done_ = true;
    }
  }

  bool Called() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return job_ != nullptr || woken_; }

  absl::Mutex mu_;
  Job* job_ ABSL_GUARDED_BY(mu_) = nullptr;
  bool taken_ ABSL_GUARDED_BY(mu_) = false;
  bool helper_done_ ABSL_GUARDED_BY(mu_) = true;
  bool helper_started_ ABSL_GUARDED_BY(mu_) = false;
  bool woken_ ABSL_GUARDED_BY(mu_) = false;
  std::atomic<bool> posted_{false};  // job_ != nullptr, for the helper's spin
};

}  // namespace

void rule_internal::BreakKernelsForTesting(bool broken) { kernels_broken = broken; }

std::unique_ptr<Rule::Evaluation> Rule::Prepare(const Table& table, absl::Time now) const {
  return std::make_unique<Evaluator>(*this, *program_, table, now);
}

Roaring Rule::EvalAll(const Table& table, absl::Time now) const {
  uint32_t blocks = (table.row_count() + kBlockRows - 1) / kBlockRows;
  if (blocks >= 2) BlockRunner::Get().Wake();
  auto evaluation = std::make_unique<Evaluator>(*this, *program_, table, now);
  evaluation->Sync(table);
  if (std::optional<Roaring> indexed = evaluation->IndexOnly()) return std::move(*indexed);
  std::vector<uint64_t> words(static_cast<size_t>(blocks) * kBlockWords);
  auto run = [&](uint32_t b) { evaluation->EvalBlock(table, b, words.data() + b * kBlockWords); };
  if (blocks >= 2 && evaluation->scans()) {
    BlockRunner::Get().Run(blocks, run);
  } else {
    for (uint32_t b = 0; b < blocks; ++b) run(b);
  }
  Roaring out;
  for (uint32_t b = 0; b < blocks; ++b) {
    AppendBlock(out, b, words.data() + b * kBlockWords, kBlockWords);
  }
  return out;
}

}  // namespace centric::segmentation
