#include "services/feedback/text/tokenize.h"

#include <array>
#include <cstdint>

namespace centric::feedback::text {
namespace {

// Stands for a byte that does not start a well-formed UTF-8 sequence.
constexpr uint32_t kInvalid = 0xFFFFFFFF;

struct CodePoint {
  uint32_t value;
  size_t length;  // bytes; 1 for an invalid byte
};

// The code point starting at text[i]; precondition: i < text.size(). Rejects overlong
// forms, surrogates, values past U+10FFFF and truncated sequences.
CodePoint DecodeAt(absl::string_view text, size_t i) {
  auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char lead = byte(i);
  if (lead < 0x80) return {lead, 1};
  size_t extra;
  uint32_t value;
  uint32_t min;
  if ((lead & 0xE0) == 0xC0) {
    extra = 1, value = lead & 0x1F, min = 0x80;
  } else if ((lead & 0xF0) == 0xE0) {
    extra = 2, value = lead & 0x0F, min = 0x800;
  } else if ((lead & 0xF8) == 0xF0) {
    extra = 3, value = lead & 0x07, min = 0x10000;
  } else {
    return {kInvalid, 1};
  }
  if (text.size() - i <= extra) return {kInvalid, 1};
  for (size_t k = 1; k <= extra; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return {kInvalid, 1};
    value = (value << 6) | (byte(i + k) & 0x3F);
  }
  if (value < min || value > 0x10FFFF || (value >= 0xD800 && value <= 0xDFFF)) {
    return {kInvalid, 1};
  }
  return {value, extra + 1};
}

enum class CharClass : uint8_t { kSeparator, kWord, kApostrophe, kClauseBreak };

constexpr absl::string_view kAsciiClausePunctuation = ".,;:!?()[]{}\n";

constexpr std::array<CharClass, 128> kAsciiClasses = [] {
  std::array<CharClass, 128> classes{};
  for (int c = 'a'; c <= 'z'; ++c) classes[c] = CharClass::kWord;
  for (int c = 'A'; c <= 'Z'; ++c) classes[c] = CharClass::kWord;
  for (int c = '0'; c <= '9'; ++c) classes[c] = CharClass::kWord;
  classes['\''] = CharClass::kApostrophe;
  for (char c : kAsciiClausePunctuation) {
    classes[static_cast<unsigned char>(c)] = CharClass::kClauseBreak;
  }
  return classes;
}();

// ¡ ¿ – — … 、 。 and the fullwidth ! , . : ; ?
constexpr uint32_t kOtherClausePunctuation[] = {0x00A1, 0x00BF, 0x2013, 0x2014, 0x2026,
                                                0x3001, 0x3002, 0xFF01, 0xFF0C, 0xFF0E,
                                                0xFF1A, 0xFF1B, 0xFF1F};

// Blocks of punctuation, symbols, emoji and private-use code points from U+0100 up:
// general punctuation to miscellaneous symbols and arrows, supplemental punctuation, CJK
// symbols and punctuation, private use, variation selectors, CJK compatibility and small
// forms, fullwidth punctuation, specials (U+FFFD), emoji and pictographs, tags.
constexpr bool IsNonWordBlock(uint32_t c) {
  return (c >= 0x2000 && c <= 0x2BFF) || (c >= 0x2E00 && c <= 0x2E7F) ||
         (c >= 0x3000 && c <= 0x303F) || (c >= 0xE000 && c <= 0xF8FF) ||
         (c >= 0xFE00 && c <= 0xFE0F) || (c >= 0xFE30 && c <= 0xFE6F) ||
         (c >= 0xFF01 && c <= 0xFF0F) || (c >= 0xFF1A && c <= 0xFF20) ||
         (c >= 0xFF3B && c <= 0xFF40) || (c >= 0xFF5B && c <= 0xFF65) ||
         (c >= 0xFFF0 && c <= 0xFFFF) || (c >= 0x1F000 && c <= 0x1FAFF) ||
         (c >= 0xE0000 && c <= 0xE007F);
}

CharClass Classify(uint32_t c) {
  if (c < 0x80) return kAsciiClasses[c];
  for (uint32_t p : kOtherClausePunctuation) {
    if (c == p) return CharClass::kClauseBreak;
  }
  if (c < 0xC0) return CharClass::kSeparator;  // C1 controls, no-break space, « ° » ...
  if (c < 0x100) return c == 0xD7 || c == 0xF7 ? CharClass::kSeparator : CharClass::kWord;
  if (c == 0x2019) return CharClass::kApostrophe;
  if (c == kInvalid || IsNonWordBlock(c)) return CharClass::kSeparator;
  return CharClass::kWord;
}

// Lower case for ASCII, Latin-1 and Latin Extended-A; other code points unchanged.
constexpr uint32_t ToLower(uint32_t c) {
  if (c >= 'A' && c <= 'Z') return c + 32;
  if (c < 0xC0) return c;
  if (c <= 0xDE) return c == 0xD7 ? c : c + 0x20;
  if (c == 0x130) return 'i';   // İ
  if (c == 0x178) return 0xFF;  // Ÿ
  // Latin Extended-A pairs an upper-case letter with the lower-case one after it; the
  // upper-case one is even in two runs and odd in the other two.
  if ((c >= 0x100 && c <= 0x137) || (c >= 0x14A && c <= 0x177)) return c | 1;
  if ((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E)) return c + (c & 1);
  return c;
}

// Appends a code point below U+0800 (all that ToLower produces from a rewrite).
void AppendSmallCodePoint(std::string& out, uint32_t c) {
  if (c < 0x80) {
    out.push_back(static_cast<char>(c));
  } else {
    out.push_back(static_cast<char>(0xC0 | (c >> 6)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  }
}

}  // namespace

void ForEachToken(absl::string_view text, absl::FunctionRef<void(const Token&)> fn) {
  std::string rewritten;
  bool clause_break = false;
  size_t i = 0;
  while (i < text.size()) {
    CodePoint first = DecodeAt(text, i);
    CharClass first_class = Classify(first.value);
    if (first_class != CharClass::kWord) {
      clause_break = clause_break || first_class == CharClass::kClauseBreak;
      i += first.length;
      continue;
    }
    // The token is a view of `text` until a code point needs rewriting; from then on it is
    // built in `rewritten`.
    const size_t start = i;
    bool copying = false;
    while (i < text.size()) {
      CodePoint c = DecodeAt(text, i);
      uint32_t out;
      switch (Classify(c.value)) {
        case CharClass::kWord:
          out = ToLower(c.value);
          break;
        case CharClass::kApostrophe: {
          size_t next = i + c.length;
          if (next >= text.size() || Classify(DecodeAt(text, next).value) != CharClass::kWord) {
            out = kInvalid;
          } else {
            out = '\'';
          }
          break;
        }
        default:
          out = kInvalid;
      }
      if (out == kInvalid) break;
      if (!copying && out != c.value) {
        rewritten.assign(text.data() + start, i - start);
        copying = true;
      }
      if (copying) {
        if (out == c.value) {
          rewritten.append(text.data() + i, c.length);
        } else {
          AppendSmallCodePoint(rewritten, out);
        }
      }
      i += c.length;
    }
    fn(Token{copying ? absl::string_view(rewritten) : text.substr(start, i - start), clause_break});
    clause_break = false;
  }
}

std::vector<std::string> Tokenize(absl::string_view text) {
  std::vector<std::string> tokens;
  ForEachToken(text, [&](const Token& token) { tokens.emplace_back(token.text); });
  return tokens;
}

}  // namespace centric::feedback::text
