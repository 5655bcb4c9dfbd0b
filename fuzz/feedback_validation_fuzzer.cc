// libFuzzer target for the Feedback service's request validation
// (services/feedback/validation.h): surveys, follow-up policies (with their CEL rule),
// feature requests, and the checks of a submitted response that come before the store.
//
// The first byte picks the request; the rest is its wire format:
//   0 CreateSurveyRequest            2 CreateFeatureRequestRequest
//   1 CreateFollowUpPolicyRequest    3 SubmitResponseRequest (byte 1: the survey's kind)
// Invariants, beyond not crashing:
//   - every violation names a field of the request, is valid UTF-8 and survives the trip
//     through the INVALID_ARGUMENT status (fuzz_support.h);
//   - a policy is accepted exactly when its rule compiled, and an accepted rule evaluates
//     (to a match or not) against responses of every kind;
//   - an accepted survey's kind has a scale or is OPEN_TEXT;
//   - an accepted response names a survey id the parent spells, falls in a category of
//     its survey's kind when scored, and was given at a time a Timestamp can hold, not
//     more than 5 minutes from now.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "centric/feedback/v1/feedback_service.pb.h"
#include "fuzz/fuzz_support.h"
#include "libs/runtime/resource.h"
#include "services/feedback/derive.h"
#include "services/feedback/feedback_service.h"
#include "services/feedback/validation.h"

namespace {

namespace v1 = ::centric::feedback::v1;
namespace pv1 = ::centric::profiles::v1;
namespace feedback = ::centric::feedback;
using ::centric::fuzz::CheckViolations;
using ::centric::fuzz::ParseWire;
using ::centric::runtime::FieldViolation;

const absl::Time kNow = absl::FromUnixSeconds(1767225600);

void CreateSurvey(const uint8_t* data, size_t size) {
  v1::CreateSurveyRequest request;
  if (!ParseWire(data, size, request)) return;
  std::vector<FieldViolation> v = feedback::ValidateSurvey(request.survey());
  feedback::CheckCreateIds(v, "survey_id", request.survey_id(), request.request_id());
  CheckViolations(v, {"survey.", "survey_id", "request_id"});
  if (!v.empty()) return;
  v1::SurveyKind kind = request.survey().kind();
  CENTRIC_FUZZ_CHECK(feedback::ScaleOf(kind).scored || kind == v1::SURVEY_KIND_OPEN_TEXT,
                     "accepted survey kind without a scale: ", kind);
}

// Responses of every kind a policy rule may meet, with the derived fields set.
const std::vector<v1::Response>& SampleResponses() {
  static const auto* responses = [] {
    auto* out = new std::vector<v1::Response>();
    for (v1::SurveyKind kind : {v1::SURVEY_KIND_NPS, v1::SURVEY_KIND_CSAT, v1::SURVEY_KIND_CES,
                                v1::SURVEY_KIND_OPEN_TEXT}) {
      feedback::Scale scale = feedback::ScaleOf(kind);
      v1::Response r;
      r.set_name("surveys/s1/responses/r1");
      r.set_profile("profiles/p1");
      r.set_kind(kind);
      if (scale.scored) {
        r.set_score(scale.min);
        r.set_category(feedback::CategoryOf(kind, scale.min));
      }
      r.set_comment("Support never called back, too expensive");
      r.set_channel(pv1::CHANNEL_EMAIL);
      r.set_touchpoint("checkout");
      r.set_sentiment_score(-0.7);
      r.set_sentiment(v1::SENTIMENT_LABEL_NEGATIVE);
      r.add_themes("support");
      r.add_themes("pricing");
      out->push_back(r);
    }
    return out;
  }();
  return *responses;
}

const pv1::Profile& SampleProfile() {
  static const auto* profile = [] {
    auto* p = new pv1::Profile();
    p->set_name("profiles/p1");
    p->set_kind(pv1::PROFILE_KIND_PERSON);
    (*p->mutable_traits())["country"].set_string_value("DE");
    p->mutable_aggregates()->set_revenue_total(1234.5);
    p->mutable_aggregates()->set_last_nps_score(3);
    return p;
  }();
  return *profile;
}

void CreatePolicy(const uint8_t* data, size_t size) {
  v1::CreateFollowUpPolicyRequest request;
  if (!ParseWire(data, size, request)) return;
  std::shared_ptr<const feedback::PolicyRule> rule;
  std::vector<FieldViolation> v = feedback::ValidatePolicy(request.policy(), &rule);
  feedback::CheckCreateIds(v, "policy_id", request.policy_id(), request.request_id());
  CheckViolations(v, {"policy.", "policy_id", "request_id"});
  bool rule_refused = false;
  for (const FieldViolation& violation : v) rule_refused |= violation.field == "policy.rule";
  CENTRIC_FUZZ_CHECK((rule != nullptr) != rule_refused,
                     "rule compiled: ", rule != nullptr, ", refused: ", rule_refused);
  if (rule == nullptr) return;
  for (const v1::Response& response : SampleResponses()) {
    (void)rule->Matches(response, "surveys/s1", SampleProfile());
  }
}

void CreateFeatureRequest(const uint8_t* data, size_t size) {
  v1::CreateFeatureRequestRequest request;
  if (!ParseWire(data, size, request)) return;
  std::vector<FieldViolation> v = feedback::ValidateFeatureRequest(request.feature_request());
  feedback::CheckCreateIds(v, "feature_request_id", request.feature_request_id(),
                           request.request_id());
  CheckViolations(v, {"feature_request.", "feature_request_id", "request_id"});
}

void SubmitResponse(const uint8_t* data, size_t size) {
  if (size == 0) return;
  auto kind = static_cast<v1::SurveyKind>(1 + data[0] % 4);
  v1::SubmitResponseRequest request;
  if (!ParseWire(data + 1, size - 1, request)) return;
  std::string survey_id;
  std::vector<FieldViolation> v = feedback::CheckResponseRequest(request, kNow, &survey_id);
  CheckViolations(v, {"parent", "response.", "request_id"});
  if (!v.empty()) return;
  CENTRIC_FUZZ_CHECK(request.parent() == absl::StrCat("surveys/", survey_id),
                     "parent ", request.parent(), " gave survey id ", survey_id);
  CENTRIC_FUZZ_CHECK(feedback::SubmitTime(request.response(), kNow) <=
                         kNow + feedback::kMaxFutureSkew,
                     "accepted a submit_time in the future");
  // SubmitBatch stores it as a Timestamp; one out of range aborts there.
  (void)centric::runtime::ToTimestamp(feedback::SubmitTime(request.response(), kNow));
  v = feedback::CheckResponseScore(kind, request.response());
  CheckViolations(v, {"response.score", "response.comment"});
  if (!v.empty()) return;
  if (feedback::ScaleOf(kind).scored) {
    v1::Category category = feedback::CategoryOf(kind, request.response().score());
    CENTRIC_FUZZ_CHECK(category != v1::CATEGORY_UNSPECIFIED, "accepted score ",
                       request.response().score(), " has no category for kind ", kind);
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  centric::fuzz::SilenceProtobufLogs();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0 || size > 64 * 1024) return -1;
  const uint8_t* rest = data + 1;
  size_t rest_size = size - 1;
  switch (data[0] % 4) {
    case 0: CreateSurvey(rest, rest_size); break;
    case 1: CreatePolicy(rest, rest_size); break;
    case 2: CreateFeatureRequest(rest, rest_size); break;
    case 3: SubmitResponse(rest, rest_size); break;
  }
  return 0;
}
