// Resources several end-to-end tests set up the same way.
#ifndef CENTRIC_TESTS_E2E_FIXTURES_H_
#define CENTRIC_TESTS_E2E_FIXTURES_H_

#include <grpcpp/grpcpp.h>

#include <string>

#include "centric/feedback/v1/feedback_service.grpc.pb.h"
#include "gtest/gtest.h"

namespace centric::e2e {

// An NPS survey "surveys/<survey_id>" owned by team cx, and the policy "detractors" that
// opens a follow-up for team support with a 48-hour first-contact SLA for every detractor.
inline void CreateNpsSurveyWithDetractorFollowUps(feedback::v1::Feedback::Stub& feedback,
                                                  const std::string& survey_id) {
  namespace fv1 = ::centric::feedback::v1;
  {
    grpc::ClientContext context;
    fv1::CreateSurveyRequest request;
    request.set_survey_id(survey_id);
    request.mutable_survey()->set_display_name("NPS after purchase");
    request.mutable_survey()->set_kind(fv1::SURVEY_KIND_NPS);
    request.mutable_survey()->set_question("How likely are you to recommend us?");
    request.mutable_survey()->set_owner_team("cx");
    fv1::Survey out;
    grpc::Status status = feedback.CreateSurvey(&context, request, &out);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }
  grpc::ClientContext context;
  fv1::CreateFollowUpPolicyRequest request;
  request.set_policy_id("detractors");
  request.mutable_policy()->set_display_name("Call back detractors");
  request.mutable_policy()->set_rule("response.category == DETRACTOR");
  request.mutable_policy()->set_owner_team("support");
  request.mutable_policy()->mutable_first_contact_sla()->set_seconds(48 * 3600);
  fv1::FollowUpPolicy out;
  grpc::Status status = feedback.CreateFollowUpPolicy(&context, request, &out);
  ASSERT_TRUE(status.ok()) << status.error_message();
}

}  // namespace centric::e2e

#endif  // CENTRIC_TESTS_E2E_FIXTURES_H_
