#include "services/feedback/text/themes.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "services/feedback/text/embedded_data.h"
#include "services/feedback/text/lines.h"
#include "services/feedback/text/tokenize.h"

namespace centric::feedback::text {
namespace {

bool IsValidId(absl::string_view id) {
  if (id.empty() || id.size() > kMaxThemeIdBytes) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

}  // namespace

absl::StatusOr<ThemeTaxonomy> ThemeTaxonomy::Parse(absl::string_view text) {
  ThemeTaxonomy taxonomy;
  std::vector<Theme>& themes = taxonomy.themes_;
  absl::flat_hash_set<std::string> ids;
  int theme_line = 0;                              // where the last theme starts
  absl::flat_hash_set<std::string> theme_phrases;  // of the last theme

  auto end_theme = [&]() -> absl::Status {
    if (!themes.empty() && themes.back().phrases.empty()) {
      return LineError(theme_line, absl::StrCat("theme \"", themes.back().id, "\" has no phrases"));
    }
    return absl::OkStatus();
  };
  auto add_phrases = [&](int line, absl::string_view list) -> absl::Status {
    Theme& theme = themes.back();
    for (absl::string_view phrase : absl::StrSplit(list, ',')) {
      phrase = absl::StripAsciiWhitespace(phrase);
      if (phrase.empty()) continue;
      absl::string_view words_part = phrase;
      const bool prefix = absl::ConsumeSuffix(&words_part, "*");
      if (absl::StrContains(words_part, '*')) {
        return LineError(line,
                         absl::StrCat("phrase \"", phrase, "\" has a '*' that is not at its end"));
      }
      std::vector<std::string> words = Tokenize(words_part);
      if (words.empty()) {
        return LineError(line, absl::StrCat("phrase \"", phrase, "\" has no words"));
      }
      if (words.size() > static_cast<size_t>(kMaxPhraseWords)) {
        return LineError(line, absl::StrCat("phrase \"", phrase, "\" has more than ",
                                            kMaxPhraseWords, " words"));
      }
      if (prefix && words.back().size() < kMinPrefixBytes) {
        return LineError(line, absl::StrCat("prefix \"", phrase, "\" is shorter than ",
                                            kMinPrefixBytes, " bytes"));
      }
      std::string normalized = absl::StrCat(absl::StrJoin(words, " "), prefix ? "*" : "");
      if (!theme_phrases.insert(normalized).second) continue;
      if (theme.phrases.size() == static_cast<size_t>(kMaxPhrasesPerTheme)) {
        return LineError(line, absl::StrCat("theme \"", theme.id, "\" has more than ",
                                            kMaxPhrasesPerTheme, " phrases"));
      }
      theme.phrases.push_back(std::move(normalized));
      taxonomy.phrases_.push_back(
          Phrase{static_cast<int>(themes.size()) - 1, std::move(words), prefix});
    }
    return absl::OkStatus();
  };

  absl::Status status = ForEachLine(text, [&](int line, absl::string_view raw) {
    absl::string_view content = absl::StripAsciiWhitespace(raw);
    if (content.empty() || content[0] == '#') return absl::OkStatus();
    if (raw[0] == ' ' || raw[0] == '\t') {
      if (themes.empty()) return LineError(line, "phrases before the first theme");
      return add_phrases(line, content);
    }
    if (absl::Status ended = end_theme(); !ended.ok()) return ended;
    std::vector<absl::string_view> fields = absl::StrSplit(raw, absl::MaxSplits('\t', 2));
    absl::string_view id = fields[0];
    if (!IsValidId(id)) {
      return LineError(line, absl::StrCat("theme id \"", id, "\" is not 1-", kMaxThemeIdBytes,
                                          " characters of a-z, 0-9 and _ followed by a tab"));
    }
    if (!ids.insert(std::string(id)).second) {
      return LineError(line, absl::StrCat("duplicate theme id \"", id, "\""));
    }
    if (themes.size() == static_cast<size_t>(kMaxThemes)) {
      return LineError(line, absl::StrCat("more than ", kMaxThemes, " themes"));
    }
    absl::string_view display_name =
        fields.size() > 1 ? absl::StripAsciiWhitespace(fields[1]) : absl::string_view();
    if (display_name.empty() || display_name.size() > kMaxDisplayNameBytes) {
      return LineError(line, absl::StrCat("theme \"", id, "\" needs a display name of 1-",
                                          kMaxDisplayNameBytes, " bytes after a tab"));
    }
    themes.push_back(Theme{std::string(id), std::string(display_name), {}});
    theme_line = line;
    theme_phrases.clear();
    return fields.size() > 2 ? add_phrases(line, fields[2]) : absl::OkStatus();
  });
  if (!status.ok()) return status;
  if (absl::Status ended = end_theme(); !ended.ok()) return ended;
  if (themes.empty()) return absl::InvalidArgumentError("the taxonomy has no themes");

  for (size_t i = 0; i < taxonomy.phrases_.size(); ++i) {
    const Phrase& phrase = taxonomy.phrases_[i];
    const std::string& first = phrase.words.front();
    if (phrase.words.size() == 1 && phrase.last_word_is_prefix) {
      taxonomy.by_prefix_[first].push_back(static_cast<int>(i));
      taxonomy.longest_prefix_ = std::max(taxonomy.longest_prefix_, first.size());
    } else {
      taxonomy.by_first_word_[first].push_back(static_cast<int>(i));
    }
  }
  return taxonomy;
}

const ThemeTaxonomy& ThemeTaxonomy::Default() {
  static const ThemeTaxonomy* const taxonomy = [] {
    absl::StatusOr<ThemeTaxonomy> parsed = Parse(DefaultThemeTaxonomy());
    if (!parsed.ok()) {
      std::fprintf(stderr, "embedded theme taxonomy: %s\n", parsed.status().ToString().c_str());
      std::abort();
    }
    return new ThemeTaxonomy(*std::move(parsed));
  }();
  return *taxonomy;
}

std::vector<std::string> ThemeTaxonomy::Match(absl::string_view text) const {
  const std::vector<std::string> tokens = Tokenize(text);
  std::vector<bool> matched(themes_.size(), false);
  // Whether `phrase`, whose first word matched tokens[start], goes on matching.
  auto rest_matches = [&](const Phrase& phrase, size_t start) {
    if (tokens.size() - start < phrase.words.size()) return false;
    for (size_t k = 1; k < phrase.words.size(); ++k) {
      const std::string& token = tokens[start + k];
      const bool prefix = phrase.last_word_is_prefix && k + 1 == phrase.words.size();
      if (prefix ? !absl::StartsWith(token, phrase.words[k]) : token != phrase.words[k]) {
        return false;
      }
    }
    return true;
  };
  auto mark = [&](const std::vector<int>& candidates, size_t start) {
    for (int index : candidates) {
      const Phrase& phrase = phrases_[index];
      if (!matched[phrase.theme] && rest_matches(phrase, start)) matched[phrase.theme] = true;
    }
  };
  for (size_t i = 0; i < tokens.size(); ++i) {
    absl::string_view token = tokens[i];
    if (auto it = by_first_word_.find(token); it != by_first_word_.end()) mark(it->second, i);
    const size_t longest = std::min(token.size(), longest_prefix_);
    for (size_t length = kMinPrefixBytes; length <= longest; ++length) {
      if (auto it = by_prefix_.find(token.substr(0, length)); it != by_prefix_.end()) {
        mark(it->second, i);
      }
    }
  }
  std::vector<std::string> ids;
  for (size_t t = 0; t < themes_.size(); ++t) {
    if (matched[t]) ids.push_back(themes_[t].id);
  }
  return ids;
}

}  // namespace centric::feedback::text
