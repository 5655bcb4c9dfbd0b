// The data files of services/feedback/text/data, compiled into the library (CMakeLists.txt
// generates their definitions from the files when configuring).
#ifndef CENTRIC_SERVICES_FEEDBACK_TEXT_EMBEDDED_DATA_H_
#define CENTRIC_SERVICES_FEEDBACK_TEXT_EMBEDDED_DATA_H_

#include "absl/strings/string_view.h"

namespace centric::feedback::text {

// data/sentiment_lexicon.tsv: the lexicon behind SentimentScorer::Default().
absl::string_view DefaultSentimentLexicon();

// data/themes.tsv: the taxonomy behind ThemeTaxonomy::Default().
absl::string_view DefaultThemeTaxonomy();

// data/sentiment_sample.tsv: 300 labelled comments for EvaluateSample (tests, benches).
absl::string_view SentimentSample();

}  // namespace centric::feedback::text

#endif  // CENTRIC_SERVICES_FEEDBACK_TEXT_EMBEDDED_DATA_H_
