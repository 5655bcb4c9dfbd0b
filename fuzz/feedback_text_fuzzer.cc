// libFuzzer target for the Feedback service's text analysis (services/feedback/text): the
// tokenizer, sentiment scoring and theme matching every response comment goes through,
// and the parsers of the theme taxonomy and sentiment lexicon files an operator supplies.
//
// The first byte picks what the rest is:
//   0-5 a comment (most inputs)   6 a theme taxonomy   7 a sentiment lexicon
// Invariants, beyond not crashing:
//   - tokens are non-empty UTF-8, and tokenizing them joined by spaces gives them back;
//   - the sentiment score is a number in [-1, 1] whose label agrees with kNeutralBand;
//   - matched themes are taxonomy ids, each once, in taxonomy order;
//   - a file that does not parse is INVALID_ARGUMENT; one that does gives a taxonomy
//     (scorer) that handles its own text as a comment.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_join.h"
#include "fuzz/fuzz_support.h"
#include "services/feedback/text/sentiment.h"
#include "services/feedback/text/themes.h"
#include "services/feedback/text/tokenize.h"

namespace {

namespace text = ::centric::feedback::text;

void CheckTokens(absl::string_view comment) {
  std::vector<std::string> tokens = text::Tokenize(comment);
  for (const std::string& token : tokens) {
    CENTRIC_FUZZ_CHECK(!token.empty(), "empty token");
    CENTRIC_FUZZ_CHECK(centric::fuzz::IsValidUtf8(token), "token is not UTF-8: ", token);
  }
  std::string joined = absl::StrJoin(tokens, " ");
  std::vector<std::string> again = text::Tokenize(joined);
  CENTRIC_FUZZ_CHECK(again == tokens, "tokens \"", joined, "\" tokenize to \"",
                     absl::StrJoin(again, " "), "\"");
}

void CheckSentiment(const text::SentimentScorer& scorer, absl::string_view comment) {
  text::Sentiment s = scorer.Score(comment);
  CENTRIC_FUZZ_CHECK(std::isfinite(s.score) && s.score >= -1 && s.score <= 1, "score ", s.score);
  CENTRIC_FUZZ_CHECK(s.matched_words >= 0, "matched_words ", s.matched_words);
  text::Sentiment::Label expected = s.score <= -text::kNeutralBand  ? text::Sentiment::Label::kNegative
                                    : s.score >= text::kNeutralBand ? text::Sentiment::Label::kPositive
                                                                    : text::Sentiment::Label::kNeutral;
  // The band's edges may go either way; inside and outside it the label is fixed.
  if (std::abs(std::abs(s.score) - text::kNeutralBand) > 1e-12) {
    CENTRIC_FUZZ_CHECK(s.label == expected, "score ", s.score, " labelled ",
                       text::LabelName(s.label));
  }
}

void CheckThemes(const text::ThemeTaxonomy& taxonomy, absl::string_view comment) {
  absl::flat_hash_map<std::string, int> order;
  for (size_t i = 0; i < taxonomy.themes().size(); ++i) {
    order[taxonomy.themes()[i].id] = static_cast<int>(i);
  }
  int last = -1;
  for (const std::string& id : taxonomy.Match(comment)) {
    auto it = order.find(id);
    CENTRIC_FUZZ_CHECK(it != order.end(), "matched unknown theme ", id);
    CENTRIC_FUZZ_CHECK(it->second > last, "theme ", id, " out of order or repeated");
    last = it->second;
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  text::SentimentScorer::Default();
  text::ThemeTaxonomy::Default();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0 || size > 64 * 1024) return -1;
  absl::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
  switch (data[0] % 8) {
    case 6: {
      auto taxonomy = text::ThemeTaxonomy::Parse(input);
      if (!taxonomy.ok()) {
        CENTRIC_FUZZ_CHECK(taxonomy.status().code() == absl::StatusCode::kInvalidArgument,
                           taxonomy.status().ToString());
        return 0;
      }
      CENTRIC_FUZZ_CHECK(!taxonomy->themes().empty() &&
                             taxonomy->themes().size() <= static_cast<size_t>(text::kMaxThemes),
                         taxonomy->themes().size(), " themes");
      CheckThemes(*taxonomy, input);
      return 0;
    }
    case 7: {
      auto scorer = text::SentimentScorer::Parse(input);
      if (!scorer.ok()) {
        CENTRIC_FUZZ_CHECK(scorer.status().code() == absl::StatusCode::kInvalidArgument,
                           scorer.status().ToString());
        return 0;
      }
      CheckSentiment(*scorer, input);
      return 0;
    }
    default:
      CheckTokens(input);
      CheckSentiment(text::SentimentScorer::Default(), input);
      CheckThemes(text::ThemeTaxonomy::Default(), input);
      return 0;
  }
}
