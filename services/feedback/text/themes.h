// The theme taxonomy: what a feedback comment is about (pricing, usability, support, ...),
// found by keywords and phrases. data/themes.tsv holds the default taxonomy and describes
// the format; an operator can supply another in the same format.
#ifndef CENTRIC_SERVICES_FEEDBACK_TEXT_THEMES_H_
#define CENTRIC_SERVICES_FEEDBACK_TEXT_THEMES_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace centric::feedback::text {

inline constexpr int kMaxThemes = 100;
inline constexpr int kMaxPhrasesPerTheme = 500;
inline constexpr size_t kMaxThemeIdBytes = 64;
inline constexpr size_t kMaxDisplayNameBytes = 200;
inline constexpr int kMaxPhraseWords = 8;
// Shortest prefix of a keyword ending in '*', so that "ex*" cannot match half the text.
inline constexpr size_t kMinPrefixBytes = 3;

struct Theme {
  std::string id;  // 1-64 bytes of [a-z0-9_], unique in the taxonomy
  std::string display_name;
  // Normalised: tokens joined by one space, '*' kept at the end of a prefix ("expens*",
  // "hard to use"); each phrase once, in the order of the file.
  std::vector<std::string> phrases;
};

class ThemeTaxonomy {
 public:
  // Parses a taxonomy in the format of data/themes.tsv. Errors: INVALID_ARGUMENT "line N:
  // ..." for a bad id (1-64 bytes of [a-z0-9_]), a duplicate id, a missing display name,
  // a theme without phrases, more than kMaxThemes themes, more than kMaxPhrasesPerTheme
  // phrases in a theme, phrases before the first theme, a phrase without words or with
  // more than kMaxPhraseWords, a '*' anywhere but at the end, a prefix shorter than
  // kMinPrefixBytes; INVALID_ARGUMENT when there is no theme.
  static absl::StatusOr<ThemeTaxonomy> Parse(absl::string_view text);

  // The embedded default taxonomy, parsed on first use. Aborts if it does not parse,
  // which text_test rules out.
  static const ThemeTaxonomy& Default();

  const std::vector<Theme>& themes() const { return themes_; }

  // Ids of the themes with a keyword or phrase in `text`, in taxonomy order, each once.
  // Matching is on whole tokens (tokenize.h), so case-insensitive: a phrase matches a run
  // of consecutive tokens, a keyword ending in '*' any token it is a prefix of. Safe to
  // call from several threads at once.
  std::vector<std::string> Match(absl::string_view text) const;

 private:
  struct Phrase {
    int theme;  // index into themes_
    std::vector<std::string> words;
    bool last_word_is_prefix;
  };

  std::vector<Theme> themes_;
  std::vector<Phrase> phrases_;
  // Indices into phrases_ by the first word, for phrases whose first word is whole.
  absl::flat_hash_map<std::string, std::vector<int>> by_first_word_;
  // Indices into phrases_ by the prefix, for one-word prefix phrases ("expens*").
  absl::flat_hash_map<std::string, std::vector<int>> by_prefix_;
  size_t longest_prefix_ = 0;
};

}  // namespace centric::feedback::text

#endif  // CENTRIC_SERVICES_FEEDBACK_TEXT_THEMES_H_
