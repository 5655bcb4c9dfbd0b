#include "services/segmentation/rule.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "libs/profile_cel/profile_cel.h"
#include "services/segmentation/rule_program.h"

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

Op Mirror(Op op) {
  switch (op) {
    case Op::kLess: return Op::kGreater;
    case Op::kLessEqual: return Op::kGreaterEqual;
    case Op::kGreater: return Op::kLess;
    case Op::kGreaterEqual: return Op::kLessEqual;
    default: return op;
  }
}

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
  return true;
}

// The numeric type of a fixed column as a kernel reads it; nullopt for other columns.
std::optional<bool> KernelColumnIsDouble(absl::string_view path) {
  std::optional<Field> field = FieldByPath(path);
  if (!field.has_value()) return std::nullopt;
  switch (InfoOf(*field).storage) {
    case Storage::kDouble: return true;
    case Storage::kInt:
    case Storage::kEnum:
    case Storage::kScore: return false;
    default: return std::nullopt;
  }
}

std::optional<KernelExpr> CompileValue(const Expr& e) {
  KernelExpr k;
  if (e.kind == Expr::Kind::kLiteral) {
    if (e.literal.kind() == cel::Value::Kind::kInt) {
      k.kind = KernelExpr::Kind::kInt;
      k.int_value = e.literal.int_value();
      return k;
    }
    if (e.literal.kind() == cel::Value::Kind::kDouble) {
      k.kind = KernelExpr::Kind::kDouble;
      k.is_double = true;
      k.double_value = e.literal.double_value();
      return k;
    }
    return std::nullopt;
  }
  if (std::optional<std::string> path = PathOf(e)) {
    std::optional<bool> is_double = KernelColumnIsDouble(*path);
    if (!is_double.has_value()) return std::nullopt;
    k.kind = KernelExpr::Kind::kColumn;
    k.field = *FieldByPath(*path);
    k.is_double = *is_double;
    return k;
  }
  if (e.kind != Expr::Kind::kCall) return std::nullopt;
  if (e.op == Op::kNone && e.target == nullptr && e.name == "double" && e.args.size() == 1) {
    std::optional<KernelExpr> arg = CompileValue(*e.args[0]);
    if (!arg.has_value()) return std::nullopt;
    if (arg->is_double) return arg;
    k.kind = KernelExpr::Kind::kToDouble;
    k.is_double = true;
    k.args.push_back(std::move(*arg));
    return k;
  }
  if (e.op == Op::kNegate && e.args.size() == 1) {
    std::optional<KernelExpr> arg = CompileValue(*e.args[0]);
    if (!arg.has_value()) return std::nullopt;
    k.kind = KernelExpr::Kind::kNegate;
    k.is_double = arg->is_double;
    k.args.push_back(std::move(*arg));
    return k;
  }
  if ((e.op == Op::kAdd || e.op == Op::kSubtract || e.op == Op::kMultiply ||
       e.op == Op::kDivide || e.op == Op::kModulo) &&
      e.args.size() == 2) {
    std::optional<KernelExpr> a = CompileValue(*e.args[0]);
    std::optional<KernelExpr> b = CompileValue(*e.args[1]);
    // CEL has no mixed int/double arithmetic, and % is for integers only.
    if (!a.has_value() || !b.has_value() || a->is_double != b->is_double) return std::nullopt;
    if (e.op == Op::kModulo && a->is_double) return std::nullopt;
    k.kind = KernelExpr::Kind::kArithmetic;
    k.op = e.op;
    k.is_double = a->is_double;
    k.args.push_back(std::move(*a));
    k.args.push_back(std::move(*b));
    return k;
  }
  return std::nullopt;
}

// `a op b` as a column kernel, when both sides are numeric expressions of fixed columns.
bool Kernel(const Expr& e, Node& node) {
  if (e.kind != Expr::Kind::kCall || !IsComparison(e.op)) return false;
  std::optional<KernelExpr> a = CompileValue(*e.args[0]);
  std::optional<KernelExpr> b = CompileValue(*e.args[1]);
  if (!a.has_value() || !b.has_value()) return false;
  node.kind = Node::Kind::kKernel;
  node.op = e.op;
  node.kernel.push_back(std::move(*a));
  node.kernel.push_back(std::move(*b));
  return true;
}

std::shared_ptr<const Node> Build(const Expr& e) {
  auto node = std::make_shared<Node>();
  node->expr = &e;
  if (e.kind == Expr::Kind::kCall && (e.op == Op::kAnd || e.op == Op::kOr)) {
    node->kind = e.op == Op::kAnd ? Node::Kind::kAnd : Node::Kind::kOr;
    std::vector<const Expr*> parts;
    Flatten(e, e.op, parts);
    for (const Expr* part : parts) node->children.push_back(Build(*part));
    return node;
  }
  if (e.kind == Expr::Kind::kCall && e.op == Op::kNot) {
    node->kind = Node::Kind::kNot;
    node->children.push_back(Build(*e.args[0]));
    return node;
  }
  std::set<std::string> columns;
  bool by_columns = CollectColumns(e, columns);
  if (by_columns && columns.size() == 1) {
    node->column = *columns.begin();
    if (e.kind == Expr::Kind::kCall && IsComparison(e.op)) {
      std::optional<std::string> left = PathOf(*e.args[0]);
      std::optional<std::string> right = PathOf(*e.args[1]);
      std::set<std::string> none;
      if (left == node->column && CollectColumns(*e.args[1], none) && none.empty()) {
        node->kind = Node::Kind::kCompare;
        node->op = e.op;
        node->constant = e.args[1].get();
        return node;
      }
      none.clear();
      if (right == node->column && CollectColumns(*e.args[0], none) && none.empty()) {
        node->kind = Node::Kind::kCompare;
        node->op = Mirror(e.op);
        node->constant = e.args[0].get();
        return node;
      }
      if (TimeDifference(e, *node)) return node;
    }
    // Arithmetic on a number column has as many distinct results as rows: a kernel
    // beats deciding once per distinct value.
    if (KernelColumnIsDouble(node->column).has_value() && Kernel(e, *node)) return node;
    node->kind = Node::Kind::kColumn;
    return node;
  }
  if (by_columns && columns.empty()) {
    node->kind = Node::Kind::kInvariant;
    return node;
  }
  if (e.kind == Expr::Kind::kCall && e.op == Op::kConditional) {
    node->kind = Node::Kind::kTernary;
    for (const auto& arg : e.args) node->children.push_back(Build(*arg));
    return node;
  }
  if (by_columns && Kernel(e, *node)) return node;
  node->kind = Node::Kind::kFallback;
  return node;
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

bool Rule::EvalRow(const Table& table, Row row, absl::Time now) const {
  if (!table.live(row)) return false;
  return EvalRow(table, row, RowActivation(table, row, now, fields_));
}

bool Rule::EvalRow(const Table& table, Row row, const cel::Activation& activation) const {
  if (!table.live(row)) return false;
  cel::Value v = cel::Evaluate(*ast_, activation);
  return v.kind() == cel::Value::Kind::kBool && v.bool_value();
}

}  // namespace centric::segmentation