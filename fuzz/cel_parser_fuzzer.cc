// libFuzzer target for the CEL parser and evaluator (libs/cel). Built only with
// -DCENTRIC_FUZZ=ON and Clang; docs/CEL.md ("Fuzzing") has the build and run lines.
//
// Every input is parsed; an input that parses is also evaluated against a small
// activation and its result rendered. The target must never crash, hang or leak.
//
// Bounds: the evaluator has no step or memory budget, and nested comprehensions
// multiply (`l.map(a, l.map(b, l.map(c, ...)))` over an n-element list costs n^depth),
// so a rule of a few hundred bytes can take minutes or exhaust memory (input size alone
// does not bound it). To keep every run fast the target
//   - ignores inputs longer than kMaxInput (4 KiB, the segment rule limit; pass
//     -max_len=4096 too), and
//   - evaluates only when the expression's comprehension count fits the input size
//     (see EvaluationIsBounded), which keeps the worst case around 10^7 steps.
// Parsing itself is always exercised on the whole input.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "libs/cel/cel.h"

namespace {

using ::centric::cel::Activation;
using ::centric::cel::Expr;
using ::centric::cel::Value;

constexpr size_t kMaxInput = 4096;

const Activation& FuzzActivation() {
  static const Activation* activation = [] {
    auto* a = new Activation();
    a->Bind("x", Value::Int(42));
    a->Bind("y", Value::Int(-7));
    a->Bind("u", Value::Uint(7));
    a->Bind("f", Value::Double(2.5));
    a->Bind("s", Value::String("hello"));
    a->Bind("name", Value::String("Zoë Müller"));
    a->Bind("b", Value::BytesOf(std::string("\x00\xff", 2)));
    a->Bind("l", Value::List({Value::Int(1), Value::Int(2), Value::Int(3), Value::String("x")}));
    Value m;
    (void)centric::cel::BuildMap({{Value::String("a"), Value::Int(1)},
                                  {Value::String("b"), Value::String("two")},
                                  {Value::Int(3), Value::Bool(true)},
                                  {Value::String("l"), Value::List({Value::Double(0.5)})}},
                                 &m);
    a->Bind("m", m);
    a->Bind("profile.traits.country", Value::String("DE"));
    a->Bind("profile.aggregates.revenue_total", Value::Double(612.5));
    a->Bind("rfm.r", Value::Int(4));
    a->Bind("now", Value::Timestamp(absl::FromUnixSeconds(1700000000)));
    a->Bind("last_purchase_at", Value::Timestamp(absl::FromUnixSeconds(1700000000 - 86400 * 3)));
    a->Bind("d", Value::Duration(absl::Hours(720)));
    return a;
  }();
  return *activation;
}

int CountComprehensions(const Expr& e) {
  int n = e.kind == Expr::Kind::kComprehension ? 1 : 0;
  if (e.target) n += CountComprehensions(*e.target);
  for (const auto& arg : e.args) n += CountComprehensions(*arg);
  return n;
}

// Comprehension cost is roughly (range size)^nesting * body size, and ranges and
// bodies share the input's bytes, so: any input with at most one comprehension,
// up to two in 1 KiB, up to three in 256 bytes.
bool EvaluationIsBounded(const Expr& expr, size_t size) {
  int n = CountComprehensions(expr);
  return n <= 1 || (n <= 2 && size <= 1024) || (n <= 3 && size <= 256);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > kMaxInput) return -1;  // -1: not added to the corpus
  absl::string_view source(reinterpret_cast<const char*>(data), size);
  auto ast = centric::cel::Parse(source);
  if (!ast.ok()) {
    (void)ast.status().message();
    return 0;
  }
  if (!EvaluationIsBounded(**ast, size)) return 0;
  Value result = centric::cel::Evaluate(**ast, FuzzActivation());
  std::string rendered = result.DebugString();
  std::string type = result.TypeNameOf();
  (void)rendered;
  (void)type;
  return 0;
}
