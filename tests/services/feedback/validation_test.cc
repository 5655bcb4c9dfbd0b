// The checks of services/feedback/validation.h that need neither store nor profiles.
#include "services/feedback/validation.h"

#include <gtest/gtest.h>

#include "absl/time/time.h"

namespace centric::feedback {
namespace {

const absl::Time kNow = absl::FromUnixSeconds(1767225600);

std::vector<std::string> Fields(const std::vector<FieldViolation>& violations) {
  std::vector<std::string> fields;
  for (const FieldViolation& v : violations) fields.push_back(v.field);
  return fields;
}

v1::SubmitResponseRequest GoodRequest() {
  v1::SubmitResponseRequest request;
  request.set_parent("surveys/nps");
  request.mutable_response()->set_profile("profiles/ada");
  request.mutable_response()->set_score(9);
  return request;
}

TEST(CheckResponseRequestTest, AcceptsAGoodResponseAndNamesItsSurvey) {
  std::string survey_id;
  EXPECT_TRUE(CheckResponseRequest(GoodRequest(), kNow, &survey_id).empty());
  EXPECT_EQ(survey_id, "nps");
}

// A submit_time before 0001-01-01 passed the "not in the future" check and then aborted
// the process in runtime::ToTimestamp when stored (found by
// fuzz/feedback_validation_fuzzer).
TEST(CheckResponseRequestTest, RefusesSubmitTimesATimestampCannotHold) {
  v1::SubmitResponseRequest request = GoodRequest();
  request.mutable_response()->mutable_submit_time()->set_seconds(-62135596801);
  std::string survey_id;
  EXPECT_EQ(Fields(CheckResponseRequest(request, kNow, &survey_id)),
            std::vector<std::string>{"response.submit_time"});
  request.mutable_response()->mutable_submit_time()->set_seconds(1767225600 + 3600);
  EXPECT_EQ(Fields(CheckResponseRequest(request, kNow, &survey_id)),
            std::vector<std::string>{"response.submit_time"});
}

TEST(ValidateSurveyTest, RefusesTimesATimestampCannotHold) {
  v1::Survey survey;
  survey.set_display_name("NPS");
  survey.set_question("How likely?");
  survey.set_kind(v1::SURVEY_KIND_NPS);
  survey.set_owner_team("cx");
  EXPECT_TRUE(ValidateSurvey(survey).empty());
  survey.mutable_end_time()->set_seconds(int64_t{1} << 62);
  EXPECT_EQ(Fields(ValidateSurvey(survey)), std::vector<std::string>{"survey.end_time"});
}

TEST(CheckResponseScoreTest, ScoreOnTheKindsScale) {
  v1::Response response;
  response.set_score(11);
  EXPECT_EQ(Fields(CheckResponseScore(v1::SURVEY_KIND_NPS, response)),
            std::vector<std::string>{"response.score"});
  response.set_score(10);
  EXPECT_TRUE(CheckResponseScore(v1::SURVEY_KIND_NPS, response).empty());
  EXPECT_EQ(Fields(CheckResponseScore(v1::SURVEY_KIND_OPEN_TEXT, response)),
            (std::vector<std::string>{"response.score", "response.comment"}));
}

}  // namespace
}  // namespace centric::feedback
