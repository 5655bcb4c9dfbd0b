#include "services/feedback/text/sentiment.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "services/feedback/text/embedded_data.h"
#include "services/feedback/text/lines.h"
#include "services/feedback/text/tokenize.h"

namespace centric::feedback::text {
namespace {

constexpr double kMaxWeight = 4;
constexpr double kMaxFactor = 4;

// The single token `word` stands for, lower-cased.
absl::StatusOr<std::string> LexiconWord(int line, absl::string_view word) {
  std::vector<std::string> tokens = Tokenize(word);
  if (tokens.size() != 1) {
    return LineError(line, absl::StrCat("\"", word, "\" is not a single word"));
  }
  return std::move(tokens[0]);
}

}  // namespace

absl::string_view LabelName(Sentiment::Label label) {
  switch (label) {
    case Sentiment::Label::kNegative:
      return "negative";
    case Sentiment::Label::kNeutral:
      return "neutral";
    case Sentiment::Label::kPositive:
      return "positive";
  }
  return "neutral";
}

absl::StatusOr<SentimentScorer> SentimentScorer::Parse(absl::string_view lexicon) {
  SentimentScorer scorer;
  int sentiment_words = 0;
  absl::Status status = ForEachLine(lexicon, [&](int line, absl::string_view text) {
    std::vector<absl::string_view> fields =
        absl::StrSplit(text, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    if (fields.empty()) return absl::OkStatus();
    absl::string_view kind = fields[0];
    const bool intensifier = kind == "#intensifier";
    const bool diminisher = kind == "#diminisher";
    Role role = Role::kNone;
    if (kind == "#negator") {
      role = Role::kNegator;
    } else if (kind == "#contrast") {
      role = Role::kContrast;
    } else if (intensifier || diminisher) {
      role = Role::kModifier;
    } else if (absl::StartsWith(kind, "#")) {
      return absl::OkStatus();  // a comment
    }

    if (role == Role::kNone) {
      if (fields.size() != 2) return LineError(line, "expected word<TAB>weight");
      absl::StatusOr<std::string> word = LexiconWord(line, fields[0]);
      if (!word.ok()) return word.status();
      double weight;
      if (!absl::SimpleAtod(fields[1], &weight) ||
          !(weight >= -kMaxWeight && weight <= kMaxWeight) || weight == 0) {
        return LineError(line, absl::StrCat("weight \"", fields[1],
                                            "\" is not a number from -4 to 4 other than 0"));
      }
      Entry& entry = scorer.entries_[*word];
      if (entry.weight != 0) {
        return LineError(line, absl::StrCat("\"", *word, "\" already has a weight"));
      }
      if (entry.role == Role::kNegator || entry.role == Role::kContrast) {
        return LineError(
            line,
            absl::StrCat("\"", *word, "\" is a negator or contrast word and cannot have a weight"));
      }
      entry.weight = weight;
      ++sentiment_words;
      return absl::OkStatus();
    }

    const size_t arity = role == Role::kModifier ? 3 : 2;
    if (fields.size() != arity) {
      return LineError(
          line, absl::StrCat("expected ", kind, "<TAB>word", arity == 3 ? "<TAB>factor" : ""));
    }
    absl::StatusOr<std::string> word = LexiconWord(line, fields[1]);
    if (!word.ok()) return word.status();
    double factor = 1;
    if (role == Role::kModifier) {
      bool in_range = absl::SimpleAtod(fields[2], &factor) &&
                      (intensifier ? factor > 1 && factor <= kMaxFactor : factor > 0 && factor < 1);
      if (!in_range) {
        return LineError(
            line, absl::StrCat("factor \"", fields[2], "\" of ", kind, " must be ",
                               intensifier ? "above 1 and at most 4" : "above 0 and below 1"));
      }
    }
    Entry& entry = scorer.entries_[*word];
    if (entry.role != Role::kNone) {
      return LineError(
          line, absl::StrCat("\"", *word, "\" already is a negator, modifier or contrast word"));
    }
    if (entry.weight != 0 && role != Role::kModifier) {
      return LineError(
          line, absl::StrCat("\"", *word, "\" has a weight and cannot be a ", kind.substr(1)));
    }
    entry.role = role;
    entry.factor = factor;
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  if (sentiment_words == 0) {
    return absl::InvalidArgumentError("the lexicon has no sentiment words");
  }
  return scorer;
}

const SentimentScorer& SentimentScorer::Default() {
  static const SentimentScorer* const scorer = [] {
    absl::StatusOr<SentimentScorer> parsed = Parse(DefaultSentimentLexicon());
    if (!parsed.ok()) {
      std::fprintf(stderr, "embedded sentiment lexicon: %s\n", parsed.status().ToString().c_str());
      std::abort();
    }
    return new SentimentScorer(*std::move(parsed));
  }();
  return *scorer;
}

Sentiment SentimentScorer::Score(absl::string_view text) const {
  double sum = 0;
  int matched = 0;
  double clause_weight = 1;  // kContrastAfter once a contrast word was seen
  int position = 0;
  int negator_position = -kNegationWindow - 1;
  // Modifiers seen since the last sentiment word of the clause: their product, and the
  // weights of those that have one.
  double modifier_factor = 1;
  double modifier_weight = 0;
  int weighted_modifiers = 0;
  auto end_modifiers = [&] {
    sum += modifier_weight;
    matched += weighted_modifiers;
    modifier_factor = 1;
    modifier_weight = 0;
    weighted_modifiers = 0;
  };
  ForEachToken(text, [&](const Token& token) {
    ++position;
    if (token.starts_clause) {
      end_modifiers();
      negator_position = -kNegationWindow - 1;
    }
    auto it = entries_.find(token.text);
    if (it == entries_.end()) return;
    const Entry& entry = it->second;
    switch (entry.role) {
      case Role::kNegator:
        negator_position = position;
        return;
      case Role::kContrast:
        end_modifiers();
        sum *= kContrastBefore;
        clause_weight = kContrastAfter;
        negator_position = -kNegationWindow - 1;
        return;
      case Role::kModifier:
        modifier_factor *= entry.factor;
        if (entry.weight != 0) {
          modifier_weight += entry.weight * clause_weight;
          ++weighted_modifiers;
        }
        return;
      case Role::kNone:
        break;
    }
    double weight = entry.weight * modifier_factor * clause_weight;
    if (position - negator_position <= kNegationWindow) weight *= kNegationFactor;
    sum += weight;
    ++matched;
    modifier_factor = 1;
    modifier_weight = 0;
    weighted_modifiers = 0;
  });
  end_modifiers();

  Sentiment sentiment;
  sentiment.matched_words = matched;
  sentiment.score = sum / std::sqrt(sum * sum + kNormalizationAlpha);
  if (sentiment.score <= -kNeutralBand) {
    sentiment.label = Sentiment::Label::kNegative;
  } else if (sentiment.score >= kNeutralBand) {
    sentiment.label = Sentiment::Label::kPositive;
  }
  return sentiment;
}

absl::StatusOr<SampleAccuracy> EvaluateSample(const SentimentScorer& scorer,
                                              absl::string_view sample) {
  SampleAccuracy result;
  absl::Status status = ForEachLine(sample, [&](int line, absl::string_view text) {
    if (absl::StripAsciiWhitespace(text).empty() || absl::StartsWith(text, "#")) {
      return absl::OkStatus();
    }
    std::pair<absl::string_view, absl::string_view> fields =
        absl::StrSplit(text, absl::MaxSplits('\t', 1));
    if (fields.first.size() == text.size()) return LineError(line, "expected label<TAB>text");
    Sentiment::Label expected;
    if (fields.first == "negative") {
      expected = Sentiment::Label::kNegative;
    } else if (fields.first == "neutral") {
      expected = Sentiment::Label::kNeutral;
    } else if (fields.first == "positive") {
      expected = Sentiment::Label::kPositive;
    } else {
      return LineError(line, absl::StrCat("unknown label \"", fields.first,
                                          "\" (expected positive, negative or neutral)"));
    }
    Sentiment::Label predicted = scorer.Score(fields.second).label;
    ++result.total;
    if (predicted == expected) ++result.correct;
    ++result.confusion[static_cast<int>(expected)][static_cast<int>(predicted)];
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  if (result.total == 0) return absl::InvalidArgumentError("the sample has no labelled lines");
  result.accuracy = static_cast<double>(result.correct) / result.total;
  return result;
}

std::string DescribeAccuracy(const SampleAccuracy& accuracy) {
  std::string out = absl::StrFormat("%d of %d correct, accuracy %.3f\n", accuracy.correct,
                                    accuracy.total, accuracy.accuracy);
  absl::StrAppendFormat(&out, "%-18s %9s %9s %9s\n", "expected\\predicted", "negative", "neutral",
                        "positive");
  for (int expected = 0; expected < 3; ++expected) {
    absl::StrAppendFormat(&out, "%-18s %9d %9d %9d\n",
                          LabelName(static_cast<Sentiment::Label>(expected)),
                          accuracy.confusion[expected][0], accuracy.confusion[expected][1],
                          accuracy.confusion[expected][2]);
  }
  return out;
}

}  // namespace centric::feedback::text
