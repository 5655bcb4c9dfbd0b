#include "libs/cel/parser.h"

#include <charconv>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "libs/cel/utf8.h"

namespace centric::cel {
namespace {

enum class Tok {
  kEof,
  kIdent,
  kQuotedIdent,  // `foo.txt`, valid only after '.'
  kInt,          // magnitude in `uint`; the sign is applied by the parser
  kUint,
  kDouble,
  kString,
  kBytes,
  kPunct,
};

struct Token {
  Tok kind = Tok::kEof;
  std::string text;  // identifier or punctuation; the source spelling otherwise
  int line = 1;
  int column = 1;
  uint64_t uint = 0;
  bool int_too_big = false;  // magnitude exceeded uint64
  double dbl = 0;
  std::string str;  // decoded string or bytes literal
};

absl::Status ErrorAt(int line, int column, absl::string_view message) {
  return absl::InvalidArgumentError(absl::StrCat(line, ":", column, ": ", message));
}

std::string Describe(const Token& t) {
  if (t.kind == Tok::kEof) return "end of input";
  return absl::StrCat("'", t.text, "'");
}

bool IsIdentStart(char c) { return absl::ascii_isalpha(c) || c == '_'; }
bool IsIdentChar(char c) { return absl::ascii_isalnum(c) || c == '_'; }

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

class Lexer {
 public:
  explicit Lexer(absl::string_view src) : src_(src) {}

  absl::Status Tokenize(std::vector<Token>* out) {
    while (true) {
      SkipSpaceAndComments();
      Token t;
      t.line = line_;
      t.column = column_;
      if (pos_ >= src_.size()) {
        out->push_back(std::move(t));
        return absl::OkStatus();
      }
      absl::Status s = Next(&t);
      if (!s.ok()) return s;
      out->push_back(std::move(t));
    }
  }

 private:
  char Peek(size_t ahead = 0) const {
    return pos_ + ahead < src_.size() ? src_[pos_ + ahead] : '\0';
  }

  void Advance(size_t n = 1) {
    for (size_t i = 0; i < n && pos_ < src_.size(); ++i) {
      char c = src_[pos_++];
      if (c == '\n') {
        ++line_;
        column_ = 1;
      } else if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) {
        ++column_;
      }
    }
  }

  void SkipSpaceAndComments() {
    while (pos_ < src_.size()) {
      char c = Peek();
      if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f') {
        Advance();
      } else if (c == '/' && Peek(1) == '/') {
        while (pos_ < src_.size() && Peek() != '\n') Advance();
      } else {
        return;
      }
    }
  }

  absl::Status Next(Token* t) {
    char c = Peek();
    if (absl::ascii_isdigit(c) || (c == '.' && absl::ascii_isdigit(Peek(1)))) {
      return Number(t);
    }
    if (c == '"' || c == '\'') return String(t, /*raw=*/false, /*bytes=*/false);
    if (IsIdentStart(c)) {
      // String prefixes: r, b, br, rb in either case, directly followed by a
      // quote.
      size_t n = 0;
      bool raw = false, bytes = false;
      while (n < 2) {
        char p = absl::ascii_tolower(Peek(n));
        if (p == 'r' && !raw) {
          raw = true;
        } else if (p == 'b' && !bytes) {
          bytes = true;
        } else {
          break;
        }
        ++n;
      }
      if (n > 0 && (Peek(n) == '"' || Peek(n) == '\'')) {
        Advance(n);
        return String(t, raw, bytes);
      }
      size_t start = pos_;
      while (IsIdentChar(Peek())) Advance();
      t->kind = Tok::kIdent;
      t->text = std::string(src_.substr(start, pos_ - start));
      return absl::OkStatus();
    }
    if (c == '`') {
      Advance();
      size_t start = pos_;
      while (pos_ < src_.size() && (IsIdentChar(Peek()) || Peek() == '.' || Peek() == '-' ||
                                    Peek() == '/' || Peek() == ' ')) {
        Advance();
      }
      if (Peek() != '`' || pos_ == start) {
        return ErrorAt(line_, column_, "expected '`' closing a quoted identifier");
      }
      t->kind = Tok::kQuotedIdent;
      t->text = std::string(src_.substr(start, pos_ - start));
      Advance();
      return absl::OkStatus();
    }
    static constexpr absl::string_view kTwoChar[] = {"==", "!=", "<=", ">=", "&&", "||"};
    for (absl::string_view op : kTwoChar) {
      if (src_.substr(pos_, 2) == op) {
        t->kind = Tok::kPunct;
        t->text = std::string(op);
        Advance(2);
        return absl::OkStatus();
      }
    }
    static constexpr absl::string_view kOneChar = "<>!?:.,[](){}+-*/%";
    if (kOneChar.find(c) != absl::string_view::npos) {
      t->kind = Tok::kPunct;
      t->text = std::string(1, c);
      Advance();
      return absl::OkStatus();
    }
    if (c == '=' || c == '&' || c == '|') {
      return ErrorAt(line_, column_,
                     absl::StrCat("unexpected '", std::string(1, c), "'; did you mean '",
                                  std::string(2, c), "'?"));
    }
    return ErrorAt(line_, column_, "unexpected character");
  }

  absl::Status Number(Token* t) {
    size_t start = pos_;
    if (Peek() == '0' && (Peek(1) == 'x' || Peek(1) == 'X')) {
      Advance(2);
      size_t digits = pos_;
      uint64_t v = 0;
      while (HexDigit(Peek()) >= 0) {
        if (v > (UINT64_MAX >> 4)) t->int_too_big = true;
        v = (v << 4) | static_cast<uint64_t>(HexDigit(Peek()));
        Advance();
      }
      if (pos_ == digits) return ErrorAt(t->line, t->column, "expected hex digits after '0x'");
      t->uint = v;
      t->kind = Tok::kInt;
    } else {
      bool is_double = false;
      while (absl::ascii_isdigit(Peek())) Advance();
      if (Peek() == '.' && absl::ascii_isdigit(Peek(1))) {
        is_double = true;
        Advance();
        while (absl::ascii_isdigit(Peek())) Advance();
      }
      if (Peek() == 'e' || Peek() == 'E') {
        size_t sign = (Peek(1) == '+' || Peek(1) == '-') ? 1 : 0;
        if (!absl::ascii_isdigit(Peek(1 + sign))) {
          return ErrorAt(line_, column_, "expected digits in the exponent");
        }
        is_double = true;
        Advance(1 + sign);
        while (absl::ascii_isdigit(Peek())) Advance();
      }
      absl::string_view text = src_.substr(start, pos_ - start);
      if (is_double) {
        t->kind = Tok::kDouble;
        // from_chars rejects a leading '.'; the value is the same with a 0 in
        // front.
        std::string s = text.front() == '.' ? absl::StrCat("0", text) : std::string(text);
        // Past the double range the literal is 0 or infinity, as in IEEE
        // arithmetic.
        t->dbl = std::strtod(s.c_str(), nullptr);
      } else {
        t->kind = Tok::kInt;
        auto res = std::from_chars(text.data(), text.data() + text.size(), t->uint);
        if (res.ec != std::errc()) t->int_too_big = true;
      }
    }
    if (t->kind == Tok::kInt && (Peek() == 'u' || Peek() == 'U')) {
      Advance();
      t->kind = Tok::kUint;
    }
    if (IsIdentChar(Peek())) return ErrorAt(line_, column_, "unexpected character in number");
    t->text = std::string(src_.substr(start, pos_ - start));
    return absl::OkStatus();
  }

  // Reads `digits` hex digits as one code unit; -1 when they are not hex
  // digits.
  int64_t Hex(int digits) {
    int64_t v = 0;
    for (int i = 0; i < digits; ++i) {
      int d = HexDigit(Peek());
      if (d < 0) return -1;
      v = v * 16 + d;
      Advance();
    }
    return v;
  }

  absl::Status String(Token* t, bool raw, bool bytes) {
    size_t start = pos_;
    char quote = Peek();
    bool triple = Peek(1) == quote && Peek(2) == quote;
    Advance(triple ? 3 : 1);
    std::string out;
    while (true) {
      if (pos_ >= src_.size()) {
        return ErrorAt(t->line, t->column, "expected the closing quote of a string literal");
      }
      char c = Peek();
      if (c == quote && (!triple || (Peek(1) == quote && Peek(2) == quote))) {
        Advance(triple ? 3 : 1);
        break;
      }
      if (!triple && (c == '\n' || c == '\r')) {
        return ErrorAt(line_, column_, "expected the closing quote before the end of the line");
      }
      if (c != '\\' || raw) {
        out.push_back(c);
        Advance();
        continue;
      }
      int esc_line = line_, esc_column = column_;
      Advance();
      char e = Peek();
      Advance();
      int64_t cp = -1;
      bool byte_value = false;  // \x and octal escapes are bytes in bytes literals
      switch (e) {
        case 'a':
          cp = 7;
          break;
        case 'b':
          cp = 8;
          break;
        case 'f':
          cp = 12;
          break;
        case 'n':
          cp = 10;
          break;
        case 'r':
          cp = 13;
          break;
        case 't':
          cp = 9;
          break;
        case 'v':
          cp = 11;
          break;
        case '\\':
        case '\'':
        case '"':
        case '`':
        case '?':
          cp = e;
          break;
        case 'x':
        case 'X':
          cp = Hex(2);
          byte_value = true;
          break;
        case 'u':
          cp = bytes ? -1 : Hex(4);
          break;
        case 'U':
          cp = bytes ? -1 : Hex(8);
          break;
        default:
          if (e >= '0' && e <= '3' && Peek() >= '0' && Peek() <= '7' && Peek(1) >= '0' &&
              Peek(1) <= '7') {
            cp = (e - '0') * 64 + (Peek() - '0') * 8 + (Peek(1) - '0');
            Advance(2);
            byte_value = true;
          }
      }
      if (cp < 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
        return ErrorAt(esc_line, esc_column, "invalid escape sequence in a string literal");
      }
      if (bytes && byte_value) {
        out.push_back(static_cast<char>(cp));
      } else {
        AppendUtf8(&out, static_cast<uint32_t>(cp));
      }
    }
    t->kind = bytes ? Tok::kBytes : Tok::kString;
    t->text = std::string(src_.substr(start, pos_ - start));
    t->str = std::move(out);
    return absl::OkStatus();
  }

  absl::string_view src_;
  size_t pos_ = 0;
  int line_ = 1;
  int column_ = 1;
};

bool IsReserved(absl::string_view name) {
  static const auto* kReserved = new absl::flat_hash_set<std::string>{
      "as",        "break", "const",  "continue", "else", "false", "for",
      "function",  "if",    "import", "in",       "let",  "loop",  "package",
      "namespace", "null",  "return", "true",     "var",  "void",  "while"};
  return kReserved->contains(name);
}

class Parser {
 public:
  explicit Parser(std::vector<Token> tokens) : tokens_(std::move(tokens)) {}

  absl::StatusOr<std::unique_ptr<Expr>> ParseAll() {
    auto e = ParseExpr();
    if (!e.ok()) return e.status();
    if (Cur().kind != Tok::kEof) return Expected("an operator or the end of the expression");
    return e;
  }

 private:
  using ExprPtr = std::unique_ptr<Expr>;
  using Result = absl::StatusOr<ExprPtr>;

  // Keeps recursion bounded; see kMaxNesting.
  class DepthGuard {
   public:
    explicit DepthGuard(int* depth) : depth_(depth) { ++*depth_; }
    ~DepthGuard() { --*depth_; }
    DepthGuard(const DepthGuard&) = delete;
    DepthGuard& operator=(const DepthGuard&) = delete;

   private:
    int* depth_;
  };

  const Token& Cur() const { return tokens_[pos_]; }
  const Token& Ahead(size_t n) const { return tokens_[std::min(pos_ + n, tokens_.size() - 1)]; }
  bool IsPunct(absl::string_view p) const { return Cur().kind == Tok::kPunct && Cur().text == p; }
  bool Accept(absl::string_view p) {
    if (!IsPunct(p)) return false;
    ++pos_;
    return true;
  }
  absl::Status Expected(absl::string_view what) const {
    return ErrorAt(Cur().line, Cur().column,
                   absl::StrCat("expected ", what, " but found ", Describe(Cur())));
  }
  absl::Status Expect(absl::string_view p) {
    if (Accept(p)) return absl::OkStatus();
    return Expected(absl::StrCat("'", p, "'"));
  }
  absl::Status CheckDepth(int extra = 0) const {
    if (depth_ + extra > kMaxNesting) {
      return ErrorAt(Cur().line, Cur().column,
                     absl::StrCat("expression nests deeper than ", kMaxNesting, " levels"));
    }
    return absl::OkStatus();
  }

  static ExprPtr Node(Expr::Kind kind, const Token& at) {
    auto e = std::make_unique<Expr>();
    e->kind = kind;
    e->line = at.line;
    e->column = at.column;
    return e;
  }
  static ExprPtr Call(Op op, const Token& at, ExprPtr a, ExprPtr b = nullptr, ExprPtr c = nullptr) {
    ExprPtr e = Node(Expr::Kind::kCall, at);
    e->op = op;
    e->args.push_back(std::move(a));
    if (b) e->args.push_back(std::move(b));
    if (c) e->args.push_back(std::move(c));
    return e;
  }

  Result ParseExpr() {
    DepthGuard guard(&depth_);
    if (absl::Status s = CheckDepth(); !s.ok()) return s;
    auto cond = ParseOr();
    if (!cond.ok()) return cond;
    if (!IsPunct("?")) return cond;
    Token at = Cur();
    ++pos_;
    auto then = ParseOr();
    if (!then.ok()) return then;
    if (absl::Status s = Expect(":"); !s.ok()) return s;
    auto otherwise = ParseExpr();
    if (!otherwise.ok()) return otherwise;
    return Call(Op::kConditional, at, *std::move(cond), *std::move(then), *std::move(otherwise));
  }

  // One left-associative level: operand {op operand}.
  template <typename Next>
  Result ParseChain(Next next, std::initializer_list<std::pair<absl::string_view, Op>> ops) {
    auto left = (this->*next)();
    if (!left.ok()) return left;
    int chain = 0;
    while (true) {
      Op op = Op::kNone;
      for (const auto& [text, candidate] : ops) {
        if (Cur().kind == Tok::kPunct && Cur().text == text) op = candidate;
        if (text == "in" && Cur().kind == Tok::kIdent && Cur().text == "in") op = candidate;
      }
      if (op == Op::kNone) return left;
      if (absl::Status s = CheckDepth(++chain); !s.ok()) return s;
      Token at = Cur();
      ++pos_;
      auto right = (this->*next)();
      if (!right.ok()) return right;
      left = Call(op, at, *std::move(left), *std::move(right));
    }
  }

  Result ParseOr() { return ParseChain(&Parser::ParseAnd, {{"||", Op::kOr}}); }
  Result ParseAnd() { return ParseChain(&Parser::ParseRelation, {{"&&", Op::kAnd}}); }
  Result ParseRelation() {
    return ParseChain(&Parser::ParseAddition, {{"==", Op::kEqual},
                                               {"!=", Op::kNotEqual},
                                               {"<", Op::kLess},
                                               {"<=", Op::kLessEqual},
                                               {">", Op::kGreater},
                                               {">=", Op::kGreaterEqual},
                                               {"in", Op::kIn}});
  }
  Result ParseAddition() {
    return ParseChain(&Parser::ParseMultiplication, {{"+", Op::kAdd}, {"-", Op::kSubtract}});
  }
  Result ParseMultiplication() {
    return ParseChain(&Parser::ParseUnary,
                      {{"*", Op::kMultiply}, {"/", Op::kDivide}, {"%", Op::kModulo}});
  }

  Result ParseUnary() {
    DepthGuard guard(&depth_);
    if (absl::Status s = CheckDepth(); !s.ok()) return s;
    if (IsPunct("!") || IsPunct("-")) {
      Token at = Cur();
      ++pos_;
      // A minus directly before a number literal is part of the literal, which
      // is how -9223372036854775808 fits an int64.
      if (at.text == "-" && (Cur().kind == Tok::kInt || Cur().kind == Tok::kDouble)) {
        auto lit = ParseLiteral(/*negate=*/true);
        if (!lit.ok()) return lit;
        return ParseMemberSuffix(*std::move(lit));
      }
      auto operand = ParseUnary();
      if (!operand.ok()) return operand;
      return Call(at.text == "!" ? Op::kNot : Op::kNegate, at, *std::move(operand));
    }
    auto primary = ParsePrimary();
    if (!primary.ok()) return primary;
    return ParseMemberSuffix(*std::move(primary));
  }

  Result ParseLiteral(bool negate) {
    const Token& t = Cur();
    ExprPtr e = Node(Expr::Kind::kLiteral, t);
    switch (t.kind) {
      case Tok::kInt: {
        uint64_t limit = negate ? (uint64_t{1} << 63) : static_cast<uint64_t>(INT64_MAX);
        if (t.int_too_big || t.uint > limit) {
          return ErrorAt(t.line, t.column, "integer literal out of range");
        }
        e->literal =
            Value::Int(negate ? static_cast<int64_t>(0 - t.uint) : static_cast<int64_t>(t.uint));
        break;
      }
      case Tok::kUint:
        if (t.int_too_big) {
          return ErrorAt(t.line, t.column, "unsigned integer literal out of range");
        }
        e->literal = Value::Uint(t.uint);
        break;
      case Tok::kDouble:
        e->literal = Value::Double(negate ? -t.dbl : t.dbl);
        break;
      case Tok::kString:
        e->literal = Value::String(t.str);
        break;
      case Tok::kBytes:
        e->literal = Value::BytesOf(t.str);
        break;
      default:
        return Expected("a literal");
    }
    ++pos_;
    return e;
  }

  absl::StatusOr<std::vector<ExprPtr>> ParseList(absl::string_view close, bool trailing_comma) {
    std::vector<ExprPtr> items;
    if (Accept(close)) return items;
    while (true) {
      auto item = ParseExpr();
      if (!item.ok()) return item.status();
      items.push_back(*std::move(item));
      if (Accept(close)) return items;
      if (absl::Status s = Expect(","); !s.ok()) {
        return Expected(absl::StrCat("',' or '", close, "'"));
      }
      if (trailing_comma && Accept(close)) return items;
    }
  }

  Result ParsePrimary() {
    const Token& t = Cur();
    switch (t.kind) {
      case Tok::kInt:
      case Tok::kUint:
      case Tok::kDouble:
      case Tok::kString:
      case Tok::kBytes:
        return ParseLiteral(/*negate=*/false);
      case Tok::kIdent:
        return ParseIdentOrCall();
      case Tok::kPunct:
        break;
      default:
        return Expected("an expression");
    }
    Token at = t;
    if (t.text == ".") {
      ++pos_;
      if (Cur().kind != Tok::kIdent) return Expected("an identifier after '.'");
      return ParseIdentOrCall();
    }
    if (Accept("(")) {
      auto e = ParseExpr();
      if (!e.ok()) return e;
      if (absl::Status s = Expect(")"); !s.ok()) return s;
      return e;
    }
    if (Accept("[")) {
      auto items = ParseList("]", /*trailing_comma=*/true);
      if (!items.ok()) return items.status();
      ExprPtr e = Node(Expr::Kind::kList, at);
      e->args = *std::move(items);
      return e;
    }
    if (Accept("{")) {
      ExprPtr e = Node(Expr::Kind::kMap, at);
      while (!Accept("}")) {
        auto key = ParseExpr();
        if (!key.ok()) return key;
        if (absl::Status s = Expect(":"); !s.ok()) return s;
        auto value = ParseExpr();
        if (!value.ok()) return value;
        e->args.push_back(*std::move(key));
        e->args.push_back(*std::move(value));
        if (Accept("}")) break;
        if (!Accept(",")) return Expected("',' or '}'");
      }
      return e;
    }
    return Expected("an expression");
  }

  Result ParseIdentOrCall() {
    Token at = Cur();
    const std::string& name = at.text;
    if (name == "true" || name == "false" || name == "null") {
      ++pos_;
      ExprPtr e = Node(Expr::Kind::kLiteral, at);
      e->literal = name == "null" ? Value::Null() : Value::Bool(name == "true");
      return e;
    }
    if (IsReserved(name)) {
      return ErrorAt(at.line, at.column,
                     absl::StrCat("expected an identifier but found reserved word '", name, "'"));
    }
    ++pos_;
    if (!Accept("(")) {
      ExprPtr e = Node(Expr::Kind::kIdent, at);
      e->name = name;
      return e;
    }
    auto args = ParseList(")", /*trailing_comma=*/false);
    if (!args.ok()) return args.status();
    if (name == "has") {
      if (args->size() != 1 || (*args)[0]->kind != Expr::Kind::kSelect) {
        return ErrorAt(at.line, at.column,
                       "expected a field selection such as has(a.b) as the "
                       "argument of has()");
      }
      ExprPtr e = std::move((*args)[0]);
      e->test_only = true;
      return e;
    }
    ExprPtr e = Node(Expr::Kind::kCall, at);
    e->name = name;
    e->args = *std::move(args);
    return e;
  }

  Result ParseMemberSuffix(ExprPtr operand) {
    int chain = 0;
    while (true) {
      Token at = Cur();
      if (Accept(".")) {
        if (IsPunct("?")) {
          return ErrorAt(Cur().line, Cur().column,
                         "optional field selection '.?' is not supported");
        }
        if (Cur().kind != Tok::kIdent && Cur().kind != Tok::kQuotedIdent) {
          return Expected("a field name after '.'");
        }
        Token field = Cur();
        ++pos_;
        if (absl::Status s = CheckDepth(++chain); !s.ok()) return s;
        if (field.kind == Tok::kIdent && Accept("(")) {
          auto args = ParseList(")", /*trailing_comma=*/false);
          if (!args.ok()) return args.status();
          auto macro = MakeMacro(field, operand, *args);
          if (!macro.ok()) return macro.status();
          if (*macro != nullptr) {
            operand = *std::move(macro);
            continue;
          }
          ExprPtr e = Node(Expr::Kind::kCall, field);
          e->name = field.text;
          e->target = std::move(operand);
          e->args = *std::move(args);
          operand = std::move(e);
          continue;
        }
        ExprPtr e = Node(Expr::Kind::kSelect, field);
        e->name = field.text;
        e->args.push_back(std::move(operand));
        operand = std::move(e);
      } else if (Accept("[")) {
        if (IsPunct("?")) {
          return ErrorAt(Cur().line, Cur().column, "optional index '[?' is not supported");
        }
        if (absl::Status s = CheckDepth(++chain); !s.ok()) return s;
        auto index = ParseExpr();
        if (!index.ok()) return index;
        if (absl::Status s = Expect("]"); !s.ok()) return s;
        operand = Call(Op::kIndex, at, std::move(operand), *std::move(index));
      } else if (IsPunct("{") &&
                 (operand->kind == Expr::Kind::kIdent || operand->kind == Expr::Kind::kSelect)) {
        return ErrorAt(at.line, at.column,
                       "message construction (Type{field: value}) is not supported");
      } else {
        return operand;
      }
    }
  }

  // Expands a receiver-style macro, or returns null when `name(args)` is not
  // one.
  Result MakeMacro(const Token& name, ExprPtr& target, std::vector<ExprPtr>& args) {
    Macro macro;
    size_t arity = 2;
    if (name.text == "all") {
      macro = Macro::kAll;
    } else if (name.text == "exists") {
      macro = Macro::kExists;
    } else if (name.text == "exists_one") {
      macro = Macro::kExistsOne;
    } else if (name.text == "filter") {
      macro = Macro::kFilter;
    } else if (name.text == "map") {
      macro = Macro::kMap;
      if (args.size() == 3) arity = 3;
    } else {
      return nullptr;
    }
    if (args.size() != arity) return nullptr;
    if (args[0]->kind != Expr::Kind::kIdent) {
      return ErrorAt(
          args[0]->line, args[0]->column,
          absl::StrCat("expected a variable name as the first argument of ", name.text, "()"));
    }
    ExprPtr e = Node(Expr::Kind::kComprehension, name);
    e->macro = macro;
    e->iter_var = args[0]->name;
    e->target = std::move(target);
    for (size_t i = 1; i < args.size(); ++i) e->args.push_back(std::move(args[i]));
    return e;
  }

  std::vector<Token> tokens_;
  size_t pos_ = 0;
  int depth_ = 0;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Expr>> Parse(absl::string_view source) {
  if (source.size() > kMaxSourceBytes) {
    return absl::InvalidArgumentError(absl::StrCat("1:1: expression is ", source.size(),
                                                   " bytes long; the limit is ", kMaxSourceBytes));
  }
  if (!IsValidUtf8(source)) {
    return absl::InvalidArgumentError("1:1: expression is not valid UTF-8");
  }
  std::vector<Token> tokens;
  Lexer lexer(source);
  if (absl::Status s = lexer.Tokenize(&tokens); !s.ok()) return s;
  Parser parser(std::move(tokens));
  return parser.ParseAll();
}

}  // namespace centric::cel
