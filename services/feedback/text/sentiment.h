// Lexicon-based sentiment of a feedback comment: negative, neutral or positive, with a
// score from -1 to +1.
//
// The comment is split into tokens (tokenize.h) and every token is looked up in the
// lexicon (data/sentiment_lexicon.tsv describes its format):
//   - A sentiment word adds its weight (-4..+4) to the comment's sum.
//   - A negator ("not", "never", "nicht", "pas", ...) up to kNegationWindow tokens before a
//     sentiment word in the same clause multiplies its weight by kNegationFactor: negation
//     flips polarity but weakens it, because "not good" is milder than "bad" and "not bad"
//     is faint praise rather than "good".
//   - Intensifiers ("very", "extremely") and diminishers ("slightly") multiply the weight
//     of the next sentiment word in the same clause by their factor. One that also has a
//     weight of its own ("super") adds that weight instead when it modifies nothing.
//   - A contrast word ("but", "aber", "mais", "pero") multiplies the sum so far by
//     kContrastBefore and every later weight by kContrastAfter: in "great product but
//     support was terrible" the customer's point is the second clause.
// The sum s becomes the score s / sqrt(s^2 + kNormalizationAlpha), so one strong word
// (weight 4) scores 0.71 and further words approach ±1. Scores within kNeutralBand of 0
// are neutral; the band keeps words of weight below about 0.8 ("work") from deciding a
// comment alone.
//
// Known limits: no stemming (each inflected form is a lexicon entry), no phrases ("rip
// off"), no sarcasm, emoji or capitals as emphasis, and words whose sentiment depends on
// their sense ("like") are left out of the default lexicon.
#ifndef CENTRIC_SERVICES_FEEDBACK_TEXT_SENTIMENT_H_
#define CENTRIC_SERVICES_FEEDBACK_TEXT_SENTIMENT_H_

#include <array>
#include <cstdint>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace centric::feedback::text {

inline constexpr int kNegationWindow = 3;  // tokens
inline constexpr double kNegationFactor = -0.75;
inline constexpr double kContrastBefore = 0.5;
inline constexpr double kContrastAfter = 1.5;
inline constexpr double kNormalizationAlpha = 16;
inline constexpr double kNeutralBand = 0.2;

struct Sentiment {
  enum class Label { kNegative, kNeutral, kPositive };

  double score = 0;  // -1 (most negative) .. +1 (most positive); 0 without sentiment words
  Label label = Label::kNeutral;
  int matched_words = 0;  // sentiment words that counted
};

// "negative", "neutral" or "positive".
absl::string_view LabelName(Sentiment::Label label);

class SentimentScorer {
 public:
  // Parses a lexicon in the format of data/sentiment_lexicon.tsv. Errors: INVALID_ARGUMENT
  // "line N: ..." for a malformed line, a word that is not one token, a weight outside
  // -4..4 or 0, a factor outside its range, a word given two weights or two roles, a
  // negator or contrast word with a weight; INVALID_ARGUMENT when there is no sentiment
  // word at all.
  static absl::StatusOr<SentimentScorer> Parse(absl::string_view lexicon);

  // The scorer of the embedded default lexicon, parsed on first use. Aborts if that
  // lexicon does not parse, which text_test rules out.
  static const SentimentScorer& Default();

  // Safe to call from several threads at once. Allocates only for long tokens that need
  // lower-casing.
  Sentiment Score(absl::string_view text) const;

 private:
  enum class Role : uint8_t { kNone, kNegator, kModifier, kContrast };
  struct Entry {
    double weight = 0;  // 0: not a sentiment word
    double factor = 1;  // of a kModifier
    Role role = Role::kNone;
  };

  absl::flat_hash_map<std::string, Entry> entries_;
};

struct SampleAccuracy {
  int total = 0;  // labelled comments
  int correct = 0;
  double accuracy = 0;  // correct / total
  // confusion[expected][predicted], both indexed by static_cast<int>(Sentiment::Label).
  std::array<std::array<int, 3>, 3> confusion{};
};

// Scores every comment of a labelled sample in the format of data/sentiment_sample.tsv
// ("label<TAB>text" lines). Errors: INVALID_ARGUMENT "line N: ..." for a line without a
// tab or with an unknown label; INVALID_ARGUMENT when the sample has no comments.
absl::StatusOr<SampleAccuracy> EvaluateSample(const SentimentScorer& scorer,
                                              absl::string_view sample);

// Multi-line summary: totals, accuracy and the confusion matrix with label names.
std::string DescribeAccuracy(const SampleAccuracy& accuracy);

}  // namespace centric::feedback::text

#endif  // CENTRIC_SERVICES_FEEDBACK_TEXT_SENTIMENT_H_
