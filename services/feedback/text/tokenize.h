// Word tokens of feedback text: the unit the sentiment scorer and the theme matcher work on.
//
// A token is a maximal run of word characters, lower-cased:
//   - ASCII letters and digits;
//   - Latin-1 and Latin Extended-A letters (U+00C0..U+017F without × and ÷), lower-cased
//     ("Ä" -> "ä", "É" -> "é"; "ß" stays);
//   - every other code point from U+0100 up (Greek, Cyrillic, CJK, combining marks, ...),
//     kept unchanged, except the blocks of punctuation, symbols, emoji and private use
//     listed in tokenize.cc;
//   - an apostrophe (' or U+2019) between two word characters, kept as ': "Don’t" ->
//     "don't".
// Everything else separates tokens: spaces, control characters, punctuation, symbols,
// emoji, and every byte that is not part of well-formed UTF-8 (the scan never reads past
// the text and never fails). A token is marked as starting a clause when one of
// . , ; : ! ? ( ) [ ] { } ¡ ¿ – — … 、 。 or a newline stands between it and the token before.
#ifndef CENTRIC_SERVICES_FEEDBACK_TEXT_TOKENIZE_H_
#define CENTRIC_SERVICES_FEEDBACK_TEXT_TOKENIZE_H_

#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/strings/string_view.h"

namespace centric::feedback::text {

struct Token {
  // Lower-cased UTF-8; valid only during the callback of ForEachToken.
  absl::string_view text;
  // Clause punctuation stands between this token and the previous one.
  bool starts_clause = false;
};

// Calls `fn` for every token of `text`, in order. Allocates only for a token that has to
// be rewritten (upper case, U+2019) and is longer than the small-string buffer.
void ForEachToken(absl::string_view text, absl::FunctionRef<void(const Token&)> fn);

// The tokens of `text`, for callers that need them all at once.
std::vector<std::string> Tokenize(absl::string_view text);

}  // namespace centric::feedback::text

#endif  // CENTRIC_SERVICES_FEEDBACK_TEXT_TOKENIZE_H_
