#include "services/profiles/list_filter.h"

#include <cmath>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "libs/runtime/errors.h"
#include "services/profiles/limits.h"
#include "services/profiles/profile_rules.h"

namespace centric::profiles {
namespace {

class Parser {
 public:
  explicit Parser(absl::string_view text) : text_(text) {}

  absl::StatusOr<ListFilter> Parse() {
    ListFilter filter;
    SkipSpace();
    if (AtEnd()) return filter;
    size_t terms = 0;
    while (true) {
      if (++terms > kMaxFilterTerms) {
        return Fail(absl::StrCat("has more than ", kMaxFilterTerms, " terms"));
      }
      if (absl::Status s = Term(filter); !s.ok()) return s;
      SkipSpace();
      if (AtEnd()) return filter;
      size_t word_pos = pos_;
      std::string word = Word();
      if (absl::AsciiStrToUpper(word) != "AND") {
        pos_ = word_pos;
        return Expected("AND or the end of the filter");
      }
    }
  }

 private:
  absl::Status Term(ListFilter& filter) {
    SkipSpace();
    size_t field_pos = pos_;
    std::string field = Word();
    SkipSpace();
    if (!Consume('=')) return Expected("\"=\" after the field name");
    SkipSpace();
    if (field == "kind") {
      std::string value = Word();
      if (value == "PERSON" || value == "PROFILE_KIND_PERSON") {
        filter.kind = v1::PROFILE_KIND_PERSON;
      } else if (value == "ACCOUNT" || value == "PROFILE_KIND_ACCOUNT") {
        filter.kind = v1::PROFILE_KIND_ACCOUNT;
      } else {
        return Expected("PERSON or ACCOUNT after \"kind =\"");
      }
      return absl::OkStatus();
    }
    if (field.rfind("traits.", 0) == 0 && field.size() > 7) {
      google::protobuf::Value value;
      if (absl::Status s = Literal(value); !s.ok()) return s;
      filter.traits.emplace_back(field.substr(7), TraitJson(value));
      return absl::OkStatus();
    }
    pos_ = field_pos;
    return Expected("a field: kind or traits.<key>");
  }

  absl::Status Literal(google::protobuf::Value& value) {
    if (Consume('"')) {
      std::string s;
      while (!AtEnd() && text_[pos_] != '"') {
        if (text_[pos_] == '\\' && pos_ + 1 < text_.size()) ++pos_;
        s += text_[pos_++];
      }
      if (!Consume('"')) return Expected("a closing \"");
      value.set_string_value(s);
      return absl::OkStatus();
    }
    std::string word = Word();
    double number;
    if (word == "true" || word == "false") {
      value.set_bool_value(word == "true");
    } else if (!word.empty() && absl::SimpleAtod(word, &number) && std::isfinite(number)) {
      value.set_number_value(number);
    } else {
      return Expected("a value: \"string\", number, true or false");
    }
    return absl::OkStatus();
  }

  std::string Word() {
    size_t start = pos_;
    while (!AtEnd() && (absl::ascii_isalnum(text_[pos_]) || text_[pos_] == '_' ||
                        text_[pos_] == '.' || text_[pos_] == '-' || text_[pos_] == '+')) {
      ++pos_;
    }
    return std::string(text_.substr(start, pos_ - start));
  }
  void SkipSpace() {
    while (!AtEnd() && absl::ascii_isspace(text_[pos_])) ++pos_;
  }
  bool Consume(char c) {
    if (AtEnd() || text_[pos_] != c) return false;
    ++pos_;
    return true;
  }
  bool AtEnd() const { return pos_ >= text_.size(); }
  absl::Status Expected(absl::string_view what) {
    return Fail(absl::StrCat("expected ", what, " at column ", pos_ + 1));
  }
  absl::Status Fail(absl::string_view what) {
    return runtime::InvalidField("filter", what);
  }

  absl::string_view text_;
  size_t pos_ = 0;
};

}  // namespace

absl::StatusOr<ListFilter> ParseListFilter(absl::string_view filter) {
  if (filter.size() > kMaxFilterBytes) {
    return runtime::InvalidField(
        "filter", absl::StrCat("must be at most ", kMaxFilterBytes, " bytes, got ", filter.size()));
  }
  return Parser(filter).Parse();
}

}  // namespace centric::profiles
