#include "services/segmentation/rule.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "libs/profile_cel/profile_cel.h"

namespace centric::segmentation {
namespace {

using cel::Expr;
using cel::Op;
using cel::Type;
using TK = cel::Type::Kind;

constexpr absl::string_view kTraitsPrefix = "profile.traits.";

// ---- Declarations -------------------------------------------------------------------

cel::ObjectType::Field Plain(cel::TypePtr type) { return {std::move(type), false, std::nullopt}; }

struct Schema {
  cel::ObjectType rfm{"rfm", {}};
  cel::Declarations segment;
  cel::Declarations persona;

  Schema() {
    rfm.fields = {{"r", Plain(Type::Of(TK::kInt))},
                  {"f", Plain(Type::Of(TK::kInt))},
                  {"m", Plain(Type::Of(TK::kInt))}};
    for (cel::Declarations* d : {&segment, &persona}) {
      d->AddVariable("rfm", Type::Object(&rfm));
      d->AddVariable("now", Type::Of(TK::kTimestamp));
      profile_cel::AddProfileConstants(*d);
    }
    segment.AddVariable("profile", Type::Object(&profile_cel::ProfileType(true)));
    persona.AddVariable("profile", Type::Object(&profile_cel::ProfileType(false)));
  }
};

const Schema& TheSchema() {
  static const Schema* schema = new Schema();
  return *schema;
}

// ---- Column paths in expressions ----------------------------------------------------

bool IsRoot(const Expr& e) {
  return e.kind == Expr::Kind::kIdent && (e.name == "profile" || e.name == "rfm");
}

// The dotted path an expression denotes when it is a selection from profile or rfm
// ("profile.aggregates", "profile.traits.country").
std::optional<std::string> PathOf(const Expr& e) {
  if (IsRoot(e)) return e.name;
  if (e.kind == Expr::Kind::kSelect && !e.test_only) {
    std::optional<std::string> base = PathOf(*e.args[0]);
    if (!base.has_value()) return std::nullopt;
    // Below a trait the value is data, not a column.
    if (absl::StartsWith(*base, kTraitsPrefix)) return std::nullopt;
    return absl::StrCat(*base, ".", e.name);
  }
  if (e.kind == Expr::Kind::kCall && e.op == Op::kIndex &&
      e.args[1]->kind == Expr::Kind::kLiteral &&
      e.args[1]->literal.kind() == cel::Value::Kind::kString) {
    std::optional<std::string> base = PathOf(*e.args[0]);
    if (base == "profile.traits") {
      return absl::StrCat(*base, ".", e.args[1]->literal.string_value());
    }
  }
  return std::nullopt;
}

bool IsColumnPath(absl::string_view path) {
  if (absl::StartsWith(path, kTraitsPrefix)) return path.size() > kTraitsPrefix.size();
  return FieldByPath(path).has_value();
}

// Collects the columns `e` reads. False when it reads profile or rfm other than through
// whole columns (a whole object, a trait map iterated, ...).
bool CollectColumns(const Expr& e, std::set<std::string>& out) {
  if (e.kind == Expr::Kind::kSelect && e.test_only) {
    std::optional<std::string> base = PathOf(*e.args[0]);
    if (base.has_value()) {
      std::string path = absl::StrCat(*base, ".", e.name);
      if (!IsColumnPath(path)) return false;
      out.insert(path);
      return true;
    }
  }
  if (std::optional<std::string> path = PathOf(e)) {
    if (!IsColumnPath(*path)) return false;
    out.insert(*path);
    return true;
  }
  if (IsRoot(e)) return false;
  if (e.kind == Expr::Kind::kComprehension &&
      (e.iter_var == "profile" || e.iter_var == "rfm" || e.iter_var == "now")) {
    return false;
  }
  if (e.target != nullptr && !CollectColumns(*e.target, out)) return false;
  for (const auto& arg : e.args) {
    if (!CollectColumns(*arg, out)) return false;
  }
  return true;
}

// ---- Three-valued bitsets -----------------------------------------------------------

using Words = std::vector<uint64_t>;

// Per row: true, false, or neither (an error, or not evaluated).
struct Tri {
  Words t;
  Words f;
  explicit Tri(size_t words) : t(words, 0), f(words, 0) {}
};

enum TriValue : int8_t { kFalse = 0, kTrue = 1, kError = 2 };

inline void SetTri(Tri& out, Row row, TriValue v) {
  uint64_t bit = uint64_t{1} << (row & 63);
  if (v == kTrue) out.t[row >> 6] |= bit;
  if (v == kFalse) out.f[row >> 6] |= bit;
}

inline bool Has(const Words& w, Row row) { return (w[row >> 6] >> (row & 63)) & 1; }

template <typename F>
void ForEachRow(const Words& need, F f) {
  for (size_t w = 0; w < need.size(); ++w) {
    for (uint64_t bits = need[w]; bits != 0; bits &= bits - 1) {
      f(static_cast<Row>(w * 64 + std::countr_zero(bits)));
    }
  }
}

// Evaluates `f(row)` for every row of the words that have a needed row, 64 rows at a
// time into two words, so a column scan is a tight loop without per-row bit juggling.
template <typename F>
void FillWords(Tri& out, const Words& need, Row rows, F f) {
  for (size_t w = 0; w < need.size(); ++w) {
    if (need[w] == 0) continue;
    Row base = static_cast<Row>(w * 64);
    Row end = std::min<Row>(rows, base + 64);
    uint64_t t = 0;
    uint64_t fl = 0;
    for (Row row = base; row < end; ++row) {
      int8_t v = f(row);
      uint64_t bit = uint64_t{1} << (row - base);
      t |= v == 1 ? bit : 0;
      fl |= v == 0 ? bit : 0;
    }
    out.t[w] = t & need[w];
    out.f[w] = fl & need[w];
  }
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

Op Mirror(Op op) {
  switch (op) {
    case Op::kLess: return Op::kGreater;
    case Op::kLessEqual: return Op::kGreaterEqual;
    case Op::kGreater: return Op::kLess;
    case Op::kGreaterEqual: return Op::kLessEqual;
    default: return op;
  }
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

// Numbers: doubles compare as doubles; ints as ints when both are ints.
bool IsNumber(const cel::Value& v) {
  return v.kind() == cel::Value::Kind::kInt || v.kind() == cel::Value::Kind::kDouble ||
         v.kind() == cel::Value::Kind::kUint;
}
double AsDouble(const cel::Value& v) {
  switch (v.kind()) {
    case cel::Value::Kind::kInt: return static_cast<double>(v.int_value());
    case cel::Value::Kind::kUint: return static_cast<double>(v.uint_value());
    default: return v.double_value();
  }
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

}  // namespace

// ---- Program nodes ------------------------------------------------------------------

struct Rule::Node {
  enum class Kind { kAnd, kOr, kNot, kCompare, kColumn, kFallback };
  Kind kind = Kind::kFallback;
  std::vector<std::shared_ptr<const Node>> children;
  // kCompare: `column op constant` (mirrored when written the other way round).
  // kColumn: an expression reading one column, run once per distinct value.
  std::string column;
  Op op = Op::kEqual;
  const Expr* constant = nullptr;
  const Expr* expr = nullptr;
  int cost_class = 2;
  // A constant built when compiling (see TimeDifference), owned here.
  std::unique_ptr<Expr> owned_constant;
};

namespace {

struct EvalContext {
  const Table& table;
  absl::Time now;
  cel::Activation invariant;  // now and constants
  const std::set<std::string>& fields;
  size_t words;
};

using Node = Rule::Node;

std::shared_ptr<const Node> Build(const Expr& e);

void Flatten(const Expr& e, Op op, std::vector<const Expr*>& out) {
  if (e.kind == Expr::Kind::kCall && e.op == op) {
    for (const auto& arg : e.args) Flatten(*arg, op, out);
  } else {
    out.push_back(&e);
  }
}

bool IsComparison(Op op) {
  return op == Op::kEqual || op == Op::kNotEqual || op == Op::kLess || op == Op::kLessEqual ||
         op == Op::kGreater || op == Op::kGreaterEqual;
}

std::unique_ptr<Expr> Binary(Op op, const char* name, std::unique_ptr<Expr> a,
                             std::unique_ptr<Expr> b) {
  auto e = std::make_unique<Expr>();
  e->kind = Expr::Kind::kCall;
  e->op = op;
  e->name = name;
  e->line = a->line;
  e->column = a->column;
  e->args.push_back(std::move(a));
  e->args.push_back(std::move(b));
  return e;
}

std::unique_ptr<Expr> CopyExpr(const Expr& e) {
  auto c = std::make_unique<Expr>();
  c->kind = e.kind;
  c->line = e.line;
  c->column = e.column;
  c->literal = e.literal;
  c->name = e.name;
  c->op = e.op;
  c->test_only = e.test_only;
  if (e.target != nullptr) c->target = CopyExpr(*e.target);
  for (const auto& arg : e.args) c->args.push_back(CopyExpr(*arg));
  c->macro = e.macro;
  c->iter_var = e.iter_var;
  return c;
}

// `X - column op D` over a time column, with X and D row-invariant (the usual "within
// the last 30 days": now - last_purchase_time < duration("720h")), compiles as
// `column op' X - D`, a column scan. Equivalent for every time a profile can hold (the
// difference of two timestamps between years 1678 and 2262 is a valid duration).
bool TimeDifference(const Expr& e, Node& node) {
  const Expr& left = *e.args[0];
  if (left.kind != Expr::Kind::kCall || left.op != Op::kSubtract) return false;
  if (PathOf(*left.args[1]) != node.column) return false;
  std::optional<Field> field = FieldByPath(node.column);
  if (!field.has_value() || InfoOf(*field).storage != Storage::kTime) return false;
  std::set<std::string> none;
  if (!CollectColumns(*left.args[0], none) || !none.empty()) return false;
  if (!CollectColumns(*e.args[1], none) || !none.empty()) return false;
  // X - c op D  <=>  c op' X - D, with op' the mirrored operator.
  node.owned_constant = Binary(Op::kSubtract, "_-_", CopyExpr(*left.args[0]), CopyExpr(*e.args[1]));
  node.kind = Node::Kind::kCompare;
  node.op = Mirror(e.op);
  node.constant = node.owned_constant.get();
  node.cost_class = 0;
  return true;
}

std::shared_ptr<const Node> Build(const Expr& e) {
  auto node = std::make_shared<Node>();
  node->expr = &e;
  if (e.kind == Expr::Kind::kCall && (e.op == Op::kAnd || e.op == Op::kOr)) {
    node->kind = e.op == Op::kAnd ? Node::Kind::kAnd : Node::Kind::kOr;
    std::vector<const Expr*> parts;
    Flatten(e, e.op, parts);
    std::vector<std::shared_ptr<const Node>> children;
    for (const Expr* part : parts) children.push_back(Build(*part));
    std::stable_sort(children.begin(), children.end(),
                     [](const auto& a, const auto& b) { return a->cost_class < b->cost_class; });
    node->children = std::move(children);
    node->cost_class = 0;
    for (const auto& c : node->children) node->cost_class = std::max(node->cost_class, c->cost_class);
    return node;
  }
  if (e.kind == Expr::Kind::kCall && e.op == Op::kNot) {
    node->kind = Node::Kind::kNot;
    node->children.push_back(Build(*e.args[0]));
    node->cost_class = node->children[0]->cost_class;
    return node;
  }
  std::set<std::string> columns;
  if (!CollectColumns(e, columns) || columns.size() != 1) {
    node->kind = Node::Kind::kFallback;
    node->cost_class = 2;
    return node;
  }
  node->column = *columns.begin();
  if (e.kind == Expr::Kind::kCall && IsComparison(e.op)) {
    std::optional<std::string> left = PathOf(*e.args[0]);
    std::optional<std::string> right = PathOf(*e.args[1]);
    std::set<std::string> none;
    if (left == node->column && CollectColumns(*e.args[1], none) && none.empty()) {
      node->kind = Node::Kind::kCompare;
      node->op = e.op;
      node->constant = e.args[1].get();
      node->cost_class = 0;
      return node;
    }
    none.clear();
    if (right == node->column && CollectColumns(*e.args[0], none) && none.empty()) {
      node->kind = Node::Kind::kCompare;
      node->op = Mirror(e.op);
      node->constant = e.args[0].get();
      node->cost_class = 0;
      return node;
    }
    if (TimeDifference(e, *node)) return node;
  }
  node->kind = Node::Kind::kColumn;
  node->cost_class = 1;
  return node;
}

// A column resolved once per evaluation: a trait's column (null when no profile has the
// trait) or a fixed field.
struct ColumnRef {
  bool is_trait = false;
  const TraitColumn* trait = nullptr;
  Field field = Field::kKind;
};

ColumnRef Resolve(const Table& table, absl::string_view column) {
  ColumnRef ref;
  if (absl::StartsWith(column, kTraitsPrefix)) {
    ref.is_trait = true;
    ref.trait = table.Trait(column.substr(kTraitsPrefix.size()));
  } else {
    ref.field = *FieldByPath(column);
  }
  return ref;
}

// The value of a column at `row`; nullopt for an absent trait.
std::optional<cel::Value> Cell(const Table& table, const ColumnRef& ref, Row row) {
  if (ref.is_trait) {
    if (ref.trait == nullptr) return std::nullopt;
    return table.TraitValue(*ref.trait, row);
  }
  return table.CellValue(ref.field, row);
}

// Memo key of a cell: values that are equal share a key, so an expression over one
// column runs once per distinct value.
struct CellKey {
  uint8_t tag;
  uint64_t bits;
  bool operator==(const CellKey&) const = default;
  template <typename H>
  friend H AbslHashValue(H h, const CellKey& k) {
    return H::combine(std::move(h), k.tag, k.bits);
  }
};

CellKey KeyOfCell(const Table& table, const ColumnRef& ref, Row row) {
  if (ref.is_trait) {
    const TraitColumn* trait = ref.trait;
    uint8_t tag = trait == nullptr || row >= trait->tags.size() ? 0 : trait->tags[row];
    uint64_t bits = 0;
    if (tag == TraitColumn::kNumber) std::memcpy(&bits, &trait->numbers[row], sizeof bits);
    if (tag == TraitColumn::kCoded) bits = trait->codes[row];
    return {tag, bits};
  }
  Field f = ref.field;
  switch (InfoOf(f).storage) {
    case Storage::kEnum:
    case Storage::kScore: return {1, table.EnumAt(f, row)};
    case Storage::kInt:
    case Storage::kTime: return {1, static_cast<uint64_t>(table.IntAt(f, row))};
    case Storage::kDouble: {
      double d = table.DoubleAt(f, row);
      uint64_t bits;
      std::memcpy(&bits, &d, sizeof bits);
      return {1, bits};
    }
    case Storage::kCode: return {1, table.CodeAt(f, row)};
  }
  return {0, 0};
}

Tri Eval(const Node& node, const EvalContext& ctx, const Words& need);

Tri EvalLogical(const Node& node, const EvalContext& ctx, const Words& need) {
  bool is_and = node.kind == Node::Kind::kAnd;
  Tri out(ctx.words);
  // && starts all-true and turns false; || starts all-false and turns true.
  Words decided(ctx.words, 0);  // rows whose result is already final (a false or a true)
  Words all_true = need;        // && only: rows true in every child so far
  Words any_false(ctx.words, 0);
  for (size_t i = 0; i < node.children.size(); ++i) {
    Words sub(ctx.words);
    for (size_t w = 0; w < ctx.words; ++w) sub[w] = need[w] & ~decided[w];
    Tri r = Eval(*node.children[i], ctx, sub);
    for (size_t w = 0; w < ctx.words; ++w) {
      const Words& absorbing = is_and ? r.f : r.t;
      const Words& neutral = is_and ? r.t : r.f;
      decided[w] |= absorbing[w];
      all_true[w] &= neutral[w] | decided[w];
      any_false[w] |= absorbing[w];
    }
  }
  for (size_t w = 0; w < ctx.words; ++w) {
    Words& absorbing = is_and ? out.f : out.t;
    Words& neutral = is_and ? out.t : out.f;
    absorbing[w] = any_false[w] & need[w];
    neutral[w] = all_true[w] & ~any_false[w] & need[w];
  }
  return out;
}

// `column op k` over a numeric column (missing cells read as 0), one loop per operator
// so the comparison inlines.
template <typename T>
void CompareColumn(Tri& out, const Words& need, Row rows, const std::vector<T>& col, Op op, T k) {
  Row n = static_cast<Row>(col.size());
  auto run = [&](auto holds) {
    FillWords(out, need, rows, [&](Row row) -> int8_t {
      return holds(row < n ? col[row] : T{}) ? kTrue : kFalse;
    });
  };
  switch (op) {
    case Op::kEqual: return run([k](T v) { return v == k; });
    case Op::kNotEqual: return run([k](T v) { return v != k; });
    case Op::kLess: return run([k](T v) { return v < k; });
    case Op::kLessEqual: return run([k](T v) { return v <= k; });
    case Op::kGreater: return run([k](T v) { return v > k; });
    default: return run([k](T v) { return v >= k; });
  }
}

Tri EvalCompare(const Node& node, const EvalContext& ctx, const Words& need) {
  Tri out(ctx.words);
  cel::Value k = cel::Evaluate(*node.constant, ctx.invariant);
  const Table& table = ctx.table;
  Op op = node.op;
  ColumnRef ref = Resolve(table, node.column);
  auto generic = [&](Row row) {
    std::optional<cel::Value> cell = Cell(table, ref, row);
    SetTri(out, row, cell.has_value() ? CompareValues(*cell, op, k) : kError);
  };
  if (k.is_error()) return out;  // every row an error
  if (absl::StartsWith(node.column, kTraitsPrefix)) {
    const TraitColumn* trait = table.Trait(node.column.substr(kTraitsPrefix.size()));
    if (trait == nullptr) return out;  // absent everywhere: errors
    // Decided once per distinct string or list (dictionary code).
    std::vector<int8_t> by_code(table.dictionary().size(), -1);
    bool numeric = IsNumber(k) && k.kind() != cel::Value::Kind::kUint;
    double kd = numeric ? AsDouble(k) : 0;
    const std::vector<uint8_t>& tags = trait->tags;
    Row rows = static_cast<Row>(tags.size());
    // Rows past the tags have no value: errors, which FillWords leaves unset.
    FillWords(out, need, rows, [&](Row row) -> int8_t {
      uint8_t tag = tags[row];
      if (tag == TraitColumn::kNumber && numeric) return Holds(op, trait->numbers[row], kd) ? kTrue : kFalse;
      if (tag == TraitColumn::kCoded) {
        uint32_t code = trait->codes[row];
        int8_t& v = by_code[code];
        if (v < 0) v = CompareValues(table.dictionary().Get(code), op, k);
        return v;
      }
      if (tag == TraitColumn::kAbsent) return kError;
      std::optional<cel::Value> cell = table.TraitValue(*trait, row);
      return CompareValues(*cell, op, k);
    });
    return out;
  }
  Field f = *FieldByPath(node.column);
  Storage storage = InfoOf(f).storage;
  bool byte_cells = storage == Storage::kEnum || storage == Storage::kScore;
  bool int_fast = k.kind() == cel::Value::Kind::kInt && (byte_cells || storage == Storage::kInt);
  bool double_fast =
      k.kind() == cel::Value::Kind::kDouble && (storage == Storage::kDouble || byte_cells);
  bool time_fast = k.kind() == cel::Value::Kind::kTimestamp && storage == Storage::kTime;
  if (byte_cells && (int_fast || double_fast)) {
    const std::vector<uint8_t>& col = table.EnumColumn(f);
    // Decide each of the 256 possible cells once.
    TriValue by_value[256];
    for (int v = 0; v < 256; ++v) {
      int64_t value = storage == Storage::kScore ? ScoreOfCell(static_cast<uint8_t>(v)) : v;
      by_value[v] = CompareValues(cel::Value::Int(value), op, k);
    }
    Row rows = static_cast<Row>(col.size());
    FillWords(out, need, ctx.table.row_count(), [&](Row row) -> int8_t {
      return by_value[row < rows ? col[row] : 0];
    });
  } else if (int_fast || time_fast) {
    const std::vector<int64_t>& col = table.IntColumn(f);
    // Times: compare microseconds with the constant rounded so the answer is exact.
    int64_t kv = 0;
    Op effective = op;
    bool exact = true;
    if (time_fast) {
      absl::Duration since = k.timestamp_value() - absl::UnixEpoch();
      kv = absl::ToInt64Microseconds(since);  // truncates towards zero
      exact = absl::Microseconds(kv) == since;
      if (!exact && since < absl::ZeroDuration()) --kv;  // floor
    } else {
      kv = k.int_value();
    }
    if (!exact) {
      // t (whole microseconds) vs k with kv < k < kv+1: no t equals k.
      switch (op) {
        case Op::kEqual: effective = Op::kEqual; kv = INT64_MIN; break;  // never true
        case Op::kNotEqual: effective = Op::kNotEqual; kv = INT64_MIN; break;
        case Op::kLess: effective = Op::kLessEqual; break;
        case Op::kLessEqual: effective = Op::kLessEqual; break;
        case Op::kGreater: effective = Op::kGreater; break;
        default: effective = Op::kGreater; break;
      }
    }
    CompareColumn(out, need, table.row_count(), col, effective, kv);
  } else if (storage == Storage::kDouble && IsNumber(k) && k.kind() != cel::Value::Kind::kUint) {
    CompareColumn(out, need, table.row_count(), table.DoubleColumn(f), op, AsDouble(k));
  } else {
    ForEachRow(need, generic);
  }
  return out;
}

Tri EvalColumn(const Node& node, const EvalContext& ctx, const Words& need) {
  Tri out(ctx.words);
  ColumnRef ref = Resolve(ctx.table, node.column);
  absl::flat_hash_map<CellKey, TriValue> memo;
  ForEachRow(need, [&](Row row) {
    CellKey key = KeyOfCell(ctx.table, ref, row);
    auto [it, inserted] = memo.try_emplace(key, kError);
    if (inserted) {
      cel::Activation activation = ctx.invariant;
      BindPath(activation, node.column, Cell(ctx.table, ref, row));
      it->second = ToTri(cel::Evaluate(*node.expr, activation));
    }
    SetTri(out, row, it->second);
  });
  return out;
}

Tri EvalFallback(const Node& node, const EvalContext& ctx, const Words& need) {
  Tri out(ctx.words);
  ForEachRow(need, [&](Row row) {
    cel::Activation activation = RowActivation(ctx.table, row, ctx.now, ctx.fields);
    SetTri(out, row, ToTri(cel::Evaluate(*node.expr, activation)));
  });
  return out;
}

Tri Eval(const Node& node, const EvalContext& ctx, const Words& need) {
  switch (node.kind) {
    case Node::Kind::kAnd:
    case Node::Kind::kOr:
      return EvalLogical(node, ctx, need);
    case Node::Kind::kNot: {
      Tri r = Eval(*node.children[0], ctx, need);
      std::swap(r.t, r.f);
      return r;
    }
    case Node::Kind::kCompare:
      return EvalCompare(node, ctx, need);
    case Node::Kind::kColumn:
      return EvalColumn(node, ctx, need);
    case Node::Kind::kFallback:
      return EvalFallback(node, ctx, need);
  }
  return Tri(ctx.words);
}

}  // namespace

const cel::Declarations& RuleDeclarations(RuleKind kind) {
  return kind == RuleKind::kSegment ? TheSchema().segment : TheSchema().persona;
}

absl::StatusOr<std::shared_ptr<const Rule>> Rule::Compile(absl::string_view source,
                                                          RuleKind kind) {
  if (source.empty()) return absl::InvalidArgumentError("the rule is empty");
  if (source.size() > kMaxRuleBytes) {
    return absl::InvalidArgumentError(absl::StrCat("the rule is ", source.size(),
                                                   " bytes; at most ", kMaxRuleBytes));
  }
  auto ast = cel::Parse(source);
  if (!ast.ok()) return ast.status();
  cel::CheckOptions options;
  options.max_estimated_cost = kMaxRuleCost;
  // A 4 KiB trait value holds at most about 2,000 list elements.
  options.assumed_dyn_size = 2048;
  auto checked = cel::Check(**ast, RuleDeclarations(kind), options);
  if (!checked.ok()) return checked.status();
  if (checked->type->kind != TK::kBool && checked->type->kind != TK::kDyn) {
    return absl::InvalidArgumentError(absl::StrCat(
        "1:1: a rule must be a condition (bool), this one is ", checked->type->Name()));
  }
  std::shared_ptr<Rule> rule(new Rule());
  rule->source_ = std::string(source);
  rule->ast_ = std::move(*ast);
  rule->fields_ = std::move(checked->fields);
  rule->reads_now_ = checked->variables.contains("now");
  rule->program_ = Build(*rule->ast_);
  return std::shared_ptr<const Rule>(std::move(rule));
}

bool Rule::reads_rfm() const {
  for (const std::string& f : fields_) {
    if (f == "rfm" || absl::StartsWith(f, "rfm.")) return true;
  }
  return false;
}

bool Rule::Reads(absl::string_view path) const {
  for (absl::string_view p = path;;) {
    if (fields_.contains(std::string(p))) return true;
    size_t dot = p.rfind('.');
    if (dot == absl::string_view::npos) break;
    p = p.substr(0, dot);
  }
  // A rule reading a whole object (e.g. "profile.aggregates") reads every field below.
  std::string prefix = absl::StrCat(path, ".");
  for (const std::string& f : fields_) {
    if (absl::StartsWith(f, prefix)) return true;
  }
  return false;
}

cel::Activation RowActivation(const Table& table, Row row, absl::Time now,
                              const std::set<std::string>& fields) {
  cel::Activation activation;
  RuleDeclarations(RuleKind::kSegment).BindConstants(activation);
  activation.Bind("now", cel::Value::Timestamp(now));
  activation.Bind("profile", table.ProfileValue(row, fields));
  activation.Bind("rfm", table.RfmValue(row));
  return activation;
}

Roaring Rule::EvalAll(const Table& table, absl::Time now) const {
  size_t words = (static_cast<size_t>(table.row_count()) + 63) / 64;
  Words need = table.live_words();
  need.resize(words, 0);
  cel::Activation invariant;
  RuleDeclarations(RuleKind::kSegment).BindConstants(invariant);
  invariant.Bind("now", cel::Value::Timestamp(now));
  EvalContext ctx{table, now, std::move(invariant), fields_, words};
  Tri result = Eval(*program_, ctx, need);
  std::vector<uint32_t> rows;
  for (size_t w = 0; w < words; ++w) {
    for (uint64_t bits = result.t[w] & need[w]; bits != 0; bits &= bits - 1) {
      rows.push_back(static_cast<uint32_t>(w * 64 + std::countr_zero(bits)));
    }
  }
  Roaring out;
  out.addMany(rows.size(), rows.data());
  out.runOptimize();
  return out;
}

bool Rule::EvalRow(const Table& table, Row row, absl::Time now) const {
  if (!table.live(row)) return false;
  cel::Value v = cel::Evaluate(*ast_, RowActivation(table, row, now, fields_));
  return v.kind() == cel::Value::Kind::kBool && v.bool_value();
}

}  // namespace centric::segmentation
