#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "services/feedback/text/embedded_data.h"
#include "services/feedback/text/sentiment.h"
#include "services/feedback/text/themes.h"
#include "services/feedback/text/tokenize.h"

namespace centric::feedback::text {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using Label = Sentiment::Label;

// --- Tokenizer ---

TEST(TokenizeTest, LowerCasesWordsAndKeepsInnerApostrophes) {
  EXPECT_THAT(Tokenize("Hello, World! Don't STOP... error 500"),
              ElementsAre("hello", "world", "don't", "stop", "error", "500"));
  // U+2019 becomes ', quotes around a word are not part of it.
  EXPECT_THAT(Tokenize("Don\u2019t 'quoted' rock\u2019n\u2019roll '"),
              ElementsAre("don't", "quoted", "rock'n'roll"));
}

TEST(TokenizeTest, LowerCasesLatinLettersAndKeepsOtherScripts) {
  EXPECT_THAT(Tokenize("ÄÖÜ Éclair ŁÓDŹ Straße ÇA İSTANBUL"),
              ElementsAre("äöü", "éclair", "łódź", "straße", "ça", "istanbul"));
  EXPECT_THAT(Tokenize("Привет, мир! 日本語"), ElementsAre("Привет", "мир", "日本語"));
  // Symbols, emoji and the multiplication sign separate words.
  EXPECT_THAT(Tokenize("good👍great 2×3 50€ «oui»"),
              ElementsAre("good", "great", "2", "3", "50", "oui"));
}

TEST(TokenizeTest, InvalidUtf8SeparatesWords) {
  // A stray continuation byte, an overlong '/', a surrogate, a truncated sequence at the end.
  EXPECT_THAT(Tokenize("ab\x80"
                       "cd \xC0\xAF"
                       "ef\xED\xA0\x80gh \xC3"),
              ElementsAre("ab", "cd", "ef", "gh"));
  EXPECT_THAT(Tokenize("\xFF\xFE\xF0\x9F\x98"), IsEmpty());
}

TEST(TokenizeTest, MarksTokensAfterClausePunctuation) {
  std::vector<std::string> starts;
  ForEachToken("one two, three. four – five", [&](const Token& token) {
    if (token.starts_clause) starts.emplace_back(token.text);
  });
  EXPECT_THAT(starts, ElementsAre("three", "four", "five"));
}

// --- Sentiment ---

Label LabelOf(absl::string_view text) { return SentimentScorer::Default().Score(text).label; }
double ScoreOf(absl::string_view text) { return SentimentScorer::Default().Score(text).score; }

TEST(SentimentTest, EmbeddedLexiconParses) {
  EXPECT_TRUE(SentimentScorer::Parse(DefaultSentimentLexicon()).ok());
}

TEST(SentimentTest, SentimentWordsDecideTheLabel) {
  EXPECT_EQ(LabelOf("The product is good"), Label::kPositive);
  EXPECT_EQ(LabelOf("The product is bad"), Label::kNegative);
  EXPECT_EQ(LabelOf("I ordered the blue one"), Label::kNeutral);
  Sentiment sentiment = SentimentScorer::Default().Score("Great app, terrible support");
  EXPECT_EQ(sentiment.matched_words, 2);
}

TEST(SentimentTest, NegationFlipsPolarity) {
  EXPECT_EQ(LabelOf("not good"), Label::kNegative);
  EXPECT_EQ(LabelOf("Not happy at all with the update"), Label::kNegative);
  EXPECT_EQ(LabelOf("I don't love it"), Label::kNegative);
  EXPECT_NE(LabelOf("not bad"), Label::kNegative);
  EXPECT_GT(ScoreOf("not bad"), 0);
  EXPECT_EQ(LabelOf("No problems so far"), Label::kPositive);
  // Negation is weaker than the opposite word.
  EXPECT_GT(ScoreOf("not good"), ScoreOf("bad"));
}

TEST(SentimentTest, NegationReachesThreeTokensWithinTheClause) {
  EXPECT_EQ(LabelOf("not at all good"), Label::kNegative);
  EXPECT_EQ(LabelOf("I did not expect it to be this good"), Label::kPositive);
  EXPECT_EQ(LabelOf("No. Good support"), Label::kPositive);
}

TEST(SentimentTest, NegationWorksInOtherLanguages) {
  EXPECT_EQ(LabelOf("pas mal"), Label::kPositive);
  EXPECT_EQ(LabelOf("nicht gut"), Label::kNegative);
  EXPECT_EQ(LabelOf("no es bueno"), Label::kNegative);
  EXPECT_EQ(LabelOf("Sehr schlecht"), Label::kNegative);
  EXPECT_EQ(LabelOf("Excelente"), Label::kPositive);
}

TEST(SentimentTest, IntensifiersRaiseAndDiminishersLowerTheMagnitude) {
  EXPECT_LT(ScoreOf("extremely slow"), ScoreOf("slow"));
  EXPECT_LT(ScoreOf("slow"), ScoreOf("slightly slow"));
  EXPECT_LT(ScoreOf("slightly slow"), 0);
  EXPECT_GT(ScoreOf("very good"), ScoreOf("good"));
  // The intensifier reaches the next sentiment word of its clause only.
  EXPECT_DOUBLE_EQ(ScoreOf("very. good"), ScoreOf("good"));
}

TEST(SentimentTest, ModifierWithOwnWeightCountsOnlyWhenItModifiesNothing) {
  EXPECT_EQ(LabelOf("Alles super!"), Label::kPositive);
  EXPECT_EQ(LabelOf("super annoying"), Label::kNegative);
  EXPECT_LT(ScoreOf("super annoying"), ScoreOf("annoying"));
}

TEST(SentimentTest, ClauseAfterButDecides) {
  EXPECT_EQ(LabelOf("Great product but support was terrible"), Label::kNegative);
  EXPECT_EQ(LabelOf("Support was terrible, but the product is great"), Label::kPositive);
  EXPECT_EQ(LabelOf("Gutes Produkt, aber der Support ist schlecht"), Label::kNegative);
}

TEST(SentimentTest, TextWithoutWordsIsNeutral) {
  for (absl::string_view text :
       {absl::string_view(""), absl::string_view("  \n\t "), absl::string_view("?!... --- :-) 👍"),
        absl::string_view("\xFF\xFE\xC3\x28\xED\xA0\x80\xF4\x90")}) {
    Sentiment sentiment = SentimentScorer::Default().Score(text);
    EXPECT_EQ(sentiment.label, Label::kNeutral) << text;
    EXPECT_EQ(sentiment.score, 0) << text;
    EXPECT_EQ(sentiment.matched_words, 0) << text;
  }
  // A NUL byte separates words like any other control character.
  EXPECT_EQ(LabelOf(absl::string_view("\0good\0", 6)), Label::kPositive);
}

TEST(SentimentTest, ScoreStaysWithinMinusOneToOne) {
  std::string praise;
  std::string complaints;
  for (int i = 0; i < 1000; ++i) {
    absl::StrAppend(&praise, "excellent ");
    absl::StrAppend(&complaints, "terrible ");
  }
  double high = ScoreOf(praise);
  double low = ScoreOf(complaints);
  EXPECT_GT(high, 0.99);
  EXPECT_LE(high, 1);
  EXPECT_LT(low, -0.99);
  EXPECT_GE(low, -1);
}

TEST(SentimentTest, ParsesACustomLexicon) {
  absl::StatusOr<SentimentScorer> scorer = SentimentScorer::Parse(
      "# comment\r\n"
      "Wunderbar\t3\r\n"
      "meh -1.5\n"
      "\n"
      "#negator\tnot\n"
      "#intensifier\tvery\t2\n"
      "#diminisher\tbit\t0.5\n"
      "#contrast\tbut\n");
  ASSERT_TRUE(scorer.ok()) << scorer.status();
  EXPECT_EQ(scorer->Score("WUNDERBAR").label, Label::kPositive);
  EXPECT_EQ(scorer->Score("not wunderbar").label, Label::kNegative);
  EXPECT_EQ(scorer->Score("wunderbar but very meh").label, Label::kNegative);
  EXPECT_EQ(scorer->Score("good").label, Label::kNeutral);
}

TEST(SentimentTest, LexiconErrorsNameTheLine) {
  struct Case {
    const char* lexicon;
    const char* error;
  };
  for (const Case& c : std::vector<Case>{
           {"good\t2\nbad\tawful\n", "line 2: weight \"awful\""},
           {"good\t5\n", "line 1: weight \"5\""},
           {"good\t0\n", "line 1: weight \"0\""},
           {"good\n", "line 1: expected word<TAB>weight"},
           {"good\t2\t3\n", "line 1: expected word<TAB>weight"},
           {"good\t2\n# c\nGood\t1\n", "line 3: \"good\" already has a weight"},
           {"good\t2\nrip-off\t-3\n", "line 2: \"rip-off\" is not a single word"},
           {"good\t2\n#negator\n", "line 2: expected #negator<TAB>word"},
           {"good\t2\n#intensifier\tvery\n", "line 2: expected #intensifier<TAB>word<TAB>factor"},
           {"good\t2\n#intensifier\tvery\t0.5\n", "line 2: factor \"0.5\" of #intensifier"},
           {"good\t2\n#diminisher\tbit\t1.5\n", "line 2: factor \"1.5\" of #diminisher"},
           {"good\t2\n#negator\tnot\n#contrast\tnot\n", "line 3: \"not\" already is"},
           {"good\t2\n#negator\tnot\nnot\t-1\n", "line 3: \"not\" is a negator or contrast"},
           {"good\t2\n#contrast\tgood\n", "line 2: \"good\" has a weight"},
       }) {
    absl::StatusOr<SentimentScorer> scorer = SentimentScorer::Parse(c.lexicon);
    ASSERT_FALSE(scorer.ok()) << c.lexicon;
    EXPECT_EQ(scorer.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(scorer.status().message(), HasSubstr(c.error)) << c.lexicon;
  }
  absl::StatusOr<SentimentScorer> empty = SentimentScorer::Parse("# nothing\n#negator\tnot\n");
  EXPECT_EQ(empty.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(empty.status().message(), HasSubstr("no sentiment words"));
}

TEST(SampleTest, CountsCorrectLabelsAndConfusion) {
  absl::StatusOr<SampleAccuracy> result = EvaluateSample(
      SentimentScorer::Default(),
      "# header\npositive\tGood.\nnegative\tBad!\n\nneutral\tGood price\nneutral\t\n");
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->total, 4);
  EXPECT_EQ(result->correct, 3);
  EXPECT_DOUBLE_EQ(result->accuracy, 0.75);
  auto confusion = [&](Label expected, Label predicted) {
    return result->confusion[static_cast<int>(expected)][static_cast<int>(predicted)];
  };
  EXPECT_EQ(confusion(Label::kNeutral, Label::kPositive), 1);
  EXPECT_EQ(confusion(Label::kNegative, Label::kNegative), 1);
  EXPECT_EQ(confusion(Label::kPositive, Label::kNegative), 0);
}

TEST(SampleTest, ErrorsNameTheLine) {
  absl::StatusOr<SampleAccuracy> no_tab =
      EvaluateSample(SentimentScorer::Default(), "positive\tgood\npositive good\n");
  EXPECT_EQ(no_tab.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(no_tab.status().message(), HasSubstr("line 2: expected label<TAB>text"));
  absl::StatusOr<SampleAccuracy> bad_label =
      EvaluateSample(SentimentScorer::Default(), "happy\tgood\n");
  EXPECT_THAT(bad_label.status().message(), HasSubstr("line 1: unknown label \"happy\""));
  EXPECT_FALSE(EvaluateSample(SentimentScorer::Default(), "# only a comment\n").ok());
}

TEST(SampleTest, EmbeddedSampleReachesSeventyPercent) {
  absl::StatusOr<SampleAccuracy> result =
      EvaluateSample(SentimentScorer::Default(), SentimentSample());
  ASSERT_TRUE(result.ok()) << result.status();
  std::printf("Embedded sentiment sample: %s", DescribeAccuracy(*result).c_str());
  EXPECT_EQ(result->total, 300);
  EXPECT_GE(result->accuracy, 0.70);
}

// --- Themes ---

std::vector<std::string> ThemesOf(absl::string_view text) {
  return ThemeTaxonomy::Default().Match(text);
}

TEST(ThemesTest, EmbeddedTaxonomyParsesWithTheDefaultThemes) {
  ASSERT_TRUE(ThemeTaxonomy::Parse(DefaultThemeTaxonomy()).ok());
  std::vector<std::string> ids;
  for (const Theme& theme : ThemeTaxonomy::Default().themes()) ids.push_back(theme.id);
  EXPECT_THAT(ids, ElementsAre("pricing", "usability", "support", "performance", "reliability",
                               "onboarding", "missing_feature", "billing", "delivery", "quality",
                               "security_privacy"));
}

TEST(ThemesTest, MatchesKeywordsPhrasesAndPrefixes) {
  EXPECT_THAT(ThemesOf("Honestly it's TOO EXPENSIVE."), ElementsAre("pricing"));
  EXPECT_THAT(ThemesOf("Way too expensively priced"), ElementsAre("pricing"));  // expens*
  EXPECT_THAT(ThemesOf("The new editor is hard-to-use"), ElementsAre("usability"));
  EXPECT_THAT(ThemesOf("Customer service never called back"), ElementsAre("support"));
  EXPECT_THAT(ThemesOf("The app keeps crashing"), ElementsAre("reliability"));  // crash*
}

TEST(ThemesTest, MatchesGermanFrenchAndSpanishKeywords) {
  EXPECT_THAT(ThemesOf("Die Lieferzeit war viel zu lang"), ElementsAre("delivery"));
  EXPECT_THAT(ThemesOf("Der Kundenservice antwortet nicht"), ElementsAre("support"));
  EXPECT_THAT(ThemesOf("Die RECHNUNG ist falsch"), ElementsAre("billing"));
  EXPECT_THAT(ThemesOf("Wo ist die Datenschutzerklärung? Datenschutz ist wichtig"),
              ElementsAre("security_privacy"));
  EXPECT_THAT(ThemesOf("Trop cher pour ce que c'est"), ElementsAre("pricing"));
  EXPECT_THAT(ThemesOf("La calidad es mala"), ElementsAre("quality"));
}

TEST(ThemesTest, ReportsEachThemeOnceInTaxonomyOrder) {
  EXPECT_THAT(ThemesOf("My invoice is wrong and support never answered. Support, please!"),
              ElementsAre("support", "billing"));
  EXPECT_THAT(ThemesOf("slow, slow, so slow"), ElementsAre("performance"));
}

TEST(ThemesTest, UnrelatedTextMatchesNothing) {
  EXPECT_THAT(ThemesOf("I walked my dog in the park yesterday."), IsEmpty());
  EXPECT_THAT(ThemesOf(""), IsEmpty());
  EXPECT_THAT(ThemesOf("\xFF\xFE ?!"), IsEmpty());
  // Prefixes match at the start of a token only, phrases as a consecutive run.
  EXPECT_THAT(ThemesOf("inexpensive"), IsEmpty());
}

TEST(ThemesTest, ParsesACustomTaxonomy) {
  absl::StatusOr<ThemeTaxonomy> taxonomy = ThemeTaxonomy::Parse(
      "# comment\n"
      "ease\tEase of use\tHard  To Use, EXPENS*\n"
      "\tsimple, hard to use,\n"
      "\n"
      "speed\tSpeed\r\n"
      "\t  # an indented comment\n"
      "\tslow\n");
  ASSERT_TRUE(taxonomy.ok()) << taxonomy.status();
  ASSERT_EQ(taxonomy->themes().size(), 2u);
  const Theme& ease = taxonomy->themes()[0];
  EXPECT_EQ(ease.display_name, "Ease of use");
  EXPECT_THAT(ease.phrases, ElementsAre("hard to use", "expens*", "simple"));
  EXPECT_THAT(taxonomy->themes()[1].phrases, ElementsAre("slow"));
  EXPECT_THAT(taxonomy->Match("It is hard to use and slow"), ElementsAre("ease", "speed"));
  EXPECT_THAT(taxonomy->Match("hard to really use"), IsEmpty());
  EXPECT_THAT(taxonomy->Match("use to hard"), IsEmpty());
  EXPECT_THAT(taxonomy->Match("Expens"), ElementsAre("ease"));
}

TEST(ThemesTest, PrefixOnTheLastWordOfAPhrase) {
  absl::StatusOr<ThemeTaxonomy> taxonomy = ThemeTaxonomy::Parse("pricing\tPricing\tprice hike*\n");
  ASSERT_TRUE(taxonomy.ok()) << taxonomy.status();
  EXPECT_THAT(taxonomy->Match("Another price hikes!"), ElementsAre("pricing"));
  EXPECT_THAT(taxonomy->Match("price"), IsEmpty());
  EXPECT_THAT(taxonomy->Match("hike price"), IsEmpty());
}

TEST(ThemesTest, TaxonomyErrorsNameTheLine) {
  std::string too_many_themes;
  for (int i = 0; i <= kMaxThemes; ++i) absl::StrAppend(&too_many_themes, "t", i, "\tT\tx\n");
  std::string too_many_phrases = "t\tT\n\t";
  for (int i = 0; i <= kMaxPhrasesPerTheme; ++i) absl::StrAppend(&too_many_phrases, "p", i, ", ");
  std::string long_id(kMaxThemeIdBytes + 1, 'a');
  struct Case {
    std::string taxonomy;
    std::string error;
  };
  for (const Case& c : std::vector<Case>{
           {"Pricing\tPricing\tprice\n", "line 1: theme id \"Pricing\""},
           {"a\tA\tx\n" + long_id + "\tLong\tx\n", "line 2: theme id"},
           {"pricing Pricing\n\tprice\n", "line 1: theme id \"pricing Pricing\""},
           {"a\tA\tx\n# c\na\tAgain\ty\n", "line 3: duplicate theme id \"a\""},
           {"a\tA\nb\tB\tx\n", "line 1: theme \"a\" has no phrases"},
           {"a\tA\tx\n\nb\tB\n", "line 3: theme \"b\" has no phrases"},
           {"a\tA\t ,  , \n", "line 1: theme \"a\" has no phrases"},
           {"a\n\tx\n", "line 1: theme \"a\" needs a display name"},
           {"a\t \tx\n", "line 1: theme \"a\" needs a display name"},
           {"\tprice\na\tA\tx\n", "line 1: phrases before the first theme"},
           {"a\tA\tex*pensive\n", "line 1: phrase \"ex*pensive\" has a '*'"},
           {"a\tA\n\tok, ex*\n", "line 2: prefix \"ex*\" is shorter than 3 bytes"},
           {"a\tA\n\tok, ?!\n", "line 2: phrase \"?!\" has no words"},
           {"a\tA\tone two three four five six seven eight nine\n", "more than 8 words"},
           {too_many_themes, "line 101: more than 100 themes"},
           {too_many_phrases, "line 2: theme \"t\" has more than 500 phrases"},
       }) {
    absl::StatusOr<ThemeTaxonomy> taxonomy = ThemeTaxonomy::Parse(c.taxonomy);
    ASSERT_FALSE(taxonomy.ok()) << c.taxonomy;
    EXPECT_EQ(taxonomy.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(taxonomy.status().message(), HasSubstr(c.error)) << c.taxonomy;
  }
  EXPECT_THAT(ThemeTaxonomy::Parse("# nothing\n").status().message(), HasSubstr("no themes"));
}

}  // namespace
}  // namespace centric::feedback::text
