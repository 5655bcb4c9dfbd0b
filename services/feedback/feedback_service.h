// The Feedback domain service: every RPC of centric.feedback.v1 as a plain method (no
// gRPC here). Surveys, policies and feature requests are definitions in the store;
// responses, follow-ups and links have their own tables. Every write that other services
// care about appends its event (ResponseReceived, FollowUpChanged, FeatureRequestLinked)
// to the outbox in the same transaction.
#ifndef CENTRIC_SERVICES_FEEDBACK_FEEDBACK_SERVICE_H_
#define CENTRIC_SERVICES_FEEDBACK_FEEDBACK_SERVICE_H_

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "centric/events/v1/events.pb.h"
#include "centric/feedback/v1/feedback_service.pb.h"
#include "centric/profiles/v1/profiles.pb.h"
#include "libs/runtime/clock.h"
#include "libs/store/definition_store.h"
#include "libs/store/store.h"
#include "services/feedback/derive.h"
#include "services/feedback/policy.h"
#include "services/feedback/text/sentiment.h"
#include "services/feedback/text/themes.h"

namespace centric::feedback {

// Documented limits (also in the proto comments and docs/FEEDBACK.md).
inline constexpr int kMaxSurveys = 10000;
inline constexpr int kMaxPolicies = 100;
inline constexpr int kMaxFeatureRequests = 10000;
inline constexpr size_t kMaxDisplayNameBytes = 256;
inline constexpr size_t kMaxQuestionBytes = 1024;
inline constexpr size_t kMaxTextBytes = 4096;
inline constexpr size_t kMaxCommentBytes = 8192;
inline constexpr size_t kMaxTouchpointBytes = 64;
inline constexpr size_t kMaxActorBytes = 256;
inline constexpr size_t kMaxRequestIdBytes = 128;
inline constexpr int kMaxContactDays = 3650;
inline constexpr int kMaxPriority = 1000;
inline constexpr int kMaxBatch = 500;
inline constexpr int kDefaultPageSize = 100;
inline constexpr int kMaxPageSize = 1000;
inline constexpr int kMaxSegmentsInDemand = 10;
inline constexpr absl::Duration kMaxFutureSkew = absl::Minutes(5);

std::vector<store::Migration> FeedbackMigrations();

// Reads profiles (the Profiles service's BatchGetProfiles in production).
class ProfileSource {
 public:
  virtual ~ProfileSource() = default;
  // The profiles named, in order; nullopt for one that does not exist or was erased. A
  // merged profile's name gives the survivor. Errors: the Profiles service's (e.g.
  // UNAVAILABLE), not NOT_FOUND.
  virtual absl::StatusOr<std::vector<std::optional<profiles::v1::Profile>>> Get(
      const std::vector<std::string>& names, absl::Time deadline) = 0;
};

// The outcome of one response of a batch.
struct Submitted {
  absl::Status status;
  v1::Response response;
  // A repeated request_id: `response` is the one stored first.
  bool duplicate = false;
  bool opened_follow_up = false;
};

class FeedbackService {
 public:
  struct Deps {
    store::Database* db = nullptr;
    runtime::Clock* clock = nullptr;
    runtime::IdGenerator* ids = nullptr;
    ProfileSource* profiles = nullptr;
    // Called after a commit that wrote outbox events (wakes the relay).
    std::function<void()> after_commit;
    const text::SentimentScorer* sentiment = &text::SentimentScorer::Default();
    const text::ThemeTaxonomy* themes = &text::ThemeTaxonomy::Default();
  };
  explicit FeedbackService(Deps deps);

  absl::StatusOr<v1::Survey> CreateSurvey(const v1::CreateSurveyRequest& request);
  absl::StatusOr<v1::Survey> GetSurvey(const v1::GetSurveyRequest& request);
  absl::StatusOr<v1::ListSurveysResponse> ListSurveys(const v1::ListSurveysRequest& request);
  absl::StatusOr<v1::Survey> UpdateSurvey(const v1::UpdateSurveyRequest& request);
  absl::StatusOr<v1::CheckSurveyEligibilityResponse> CheckSurveyEligibility(
      const v1::CheckSurveyEligibilityRequest& request, absl::Time deadline);

  absl::StatusOr<v1::Response> SubmitResponse(const v1::SubmitResponseRequest& request,
                                              absl::Time deadline);
  absl::StatusOr<v1::BatchSubmitResponsesResponse> BatchSubmitResponses(
      const v1::BatchSubmitResponsesRequest& request, absl::Time deadline);
  // Stores the valid responses of `requests` (at most kMaxBatch) in one transaction and
  // reports each one's outcome. Errors (for the whole batch): store or Profiles errors.
  absl::StatusOr<std::vector<Submitted>> SubmitBatch(
      const std::vector<v1::SubmitResponseRequest>& requests, absl::Time deadline);
  absl::StatusOr<v1::Response> GetResponse(const v1::GetResponseRequest& request);
  absl::StatusOr<v1::ListResponsesResponse> ListResponses(const v1::ListResponsesRequest& request);

  absl::StatusOr<v1::FollowUpPolicy> CreateFollowUpPolicy(
      const v1::CreateFollowUpPolicyRequest& request);
  absl::StatusOr<v1::FollowUpPolicy> GetFollowUpPolicy(const v1::GetFollowUpPolicyRequest& request);
  absl::StatusOr<v1::ListFollowUpPoliciesResponse> ListFollowUpPolicies(
      const v1::ListFollowUpPoliciesRequest& request);
  absl::StatusOr<v1::FollowUpPolicy> UpdateFollowUpPolicy(
      const v1::UpdateFollowUpPolicyRequest& request);
  absl::Status DeleteFollowUpPolicy(const v1::DeleteFollowUpPolicyRequest& request);

  absl::StatusOr<v1::FollowUp> GetFollowUp(const v1::GetFollowUpRequest& request);
  absl::StatusOr<v1::ListFollowUpsResponse> ListFollowUps(const v1::ListFollowUpsRequest& request);
  absl::StatusOr<v1::FollowUp> TransitionFollowUp(const v1::TransitionFollowUpRequest& request);
  // Marks the follow-ups whose SLA deadlines have passed at `now` and publishes
  // FollowUpChanged(SLA_BREACHED) once per follow-up and SLA. Returns how many breaches
  // were recorded.
  absl::StatusOr<int> DetectBreaches(absl::Time now);

  absl::StatusOr<v1::FeatureRequest> CreateFeatureRequest(
      const v1::CreateFeatureRequestRequest& request);
  absl::StatusOr<v1::FeatureRequest> GetFeatureRequest(const v1::GetFeatureRequestRequest& request);
  absl::StatusOr<v1::ListFeatureRequestsResponse> ListFeatureRequests(
      const v1::ListFeatureRequestsRequest& request);
  absl::StatusOr<v1::FeatureRequest> UpdateFeatureRequest(
      const v1::UpdateFeatureRequestRequest& request);
  absl::StatusOr<v1::FeatureRequestLink> LinkFeatureRequest(
      const v1::LinkFeatureRequestRequest& request, absl::Time deadline);
  absl::StatusOr<v1::ListFeatureRequestLinksResponse> ListFeatureRequestLinks(
      const v1::ListFeatureRequestLinksRequest& request);
  absl::StatusOr<v1::ListThemeDemandResponse> ListThemeDemand(
      const v1::ListThemeDemandRequest& request);
  // Everything held under the named profiles, in one read-only transaction bounded by
  // `deadline`. Errors: INVALID_ARGUMENT, store errors.
  absl::StatusOr<v1::ExportProfileDataResponse> ExportProfileData(
      const v1::ExportProfileDataRequest& request, absl::Time deadline);

  // Effects of other services' events inside the consumer's dedupe transaction:
  // ProfileErased purges personal content, ProfilesMerged moves feedback to the survivor,
  // MembershipChanged keeps the segments of profiles for demand figures.
  absl::Status ApplyEvent(store::Tx& tx, const events::v1::Event& event);

 private:
  struct Policy {
    std::string name;
    int64_t version = 0;
    v1::FollowUpPolicy proto;
    std::shared_ptr<const PolicyRule> rule;
  };
  absl::StatusOr<std::vector<Submitted>> SubmitBatchImpl(
      const std::vector<v1::SubmitResponseRequest>& requests, absl::Time deadline,
      bool all_or_nothing);
  absl::StatusOr<v1::Survey> ReadSurvey(const std::string& id);
  absl::StatusOr<v1::FollowUpPolicy> ReadPolicy(const std::string& id);
  absl::StatusOr<v1::FeatureRequest> ReadFeatureRequest(const std::string& id);
  // Every policy, highest priority first, compiled (cached by version).
  absl::StatusOr<std::vector<Policy>> Policies();
  absl::StatusOr<std::vector<std::optional<profiles::v1::Profile>>> FetchProfiles(
      const std::vector<std::string>& names, absl::Time deadline);
  // Demand of the profiles selected by `profiles_sql` (a SELECT of one column "profile"
  // using `params`).
  absl::StatusOr<v1::Demand> DemandOf(store::Tx& tx, const std::string& profiles_sql,
                                      const store::Params& params);
  absl::StatusOr<v1::FollowUp> ReadFollowUp(store::Tx& tx, const std::string& id,
                                            int64_t* version);
  events::v1::Event NewEvent(const std::string& subject, const google::protobuf::Message& payload);
  void AfterCommit();

  Deps deps_;
  store::DefinitionStore definitions_;
  absl::Mutex policies_mu_;
  std::map<std::string, Policy> policy_cache_ ABSL_GUARDED_BY(policies_mu_);
};

}  // namespace centric::feedback

#endif  // CENTRIC_SERVICES_FEEDBACK_FEEDBACK_SERVICE_H_
