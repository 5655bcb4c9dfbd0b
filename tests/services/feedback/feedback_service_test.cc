// The Feedback service as centricd hosts it: Profiles, Segmentation and Feedback modules
// in one server over a real socket, on SQLite with the in-process bus and on PostgreSQL
// with Redis Streams, driven only through their gRPC APIs; time is a FakeClock.
#include <grpcpp/grpcpp.h>

#include <functional>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "centric/feedback/v1/feedback_service.grpc.pb.h"
#include "centric/profiles/v1/profiles_service.grpc.pb.h"
#include "centric/segmentation/v1/segmentation_service.grpc.pb.h"
#include "google/rpc/error_details.pb.h"
#include "gtest/gtest.h"
#include "libs/events/in_process_bus.h"
#include "libs/events/redis_streams_bus.h"
#include "libs/runtime/errors.h"
#include "libs/runtime/grpc_status.h"
#include "libs/runtime/resource.h"
#include "libs/testing/servers.h"
#include "libs/testing/shared_servers.h"
#include "services/feedback/module.h"
#include "services/profiles/module.h"
#include "services/segmentation/module.h"

namespace centric::feedback {
namespace {

namespace pv1 = profiles::v1;
namespace sv1 = segmentation::v1;
namespace ev = events::v1;

struct Backend {
  std::string name;
  bool postgres;
};

using testing::SharedPostgres;
using testing::SharedRedis;

const absl::Time kStart = absl::FromUnixSeconds(1790000000);

// One centricd-like process plus a consumer of the feedback topic.
class Suite {
 public:
  Suite(const Backend& backend, const std::string& database_url, int* counter) {
    // The module checks SLAs every second at the fake clock's time.
    infra_.config.refresh_interval = absl::Seconds(1);
    auto db = store::Open(database_url);
    EXPECT_TRUE(db.ok()) << db.status();
    infra_.db = std::move(*db);
    infra_.cache = std::make_unique<cache::NullCache>();
    if (backend.postgres) {
      events::RedisStreamsOptions options;
      options.host = "127.0.0.1";
      options.port = SharedRedis()->port();
      options.key_prefix = absl::StrCat("fb", ++*counter, ":");
      infra_.bus = events::NewRedisStreamsBus(options);
    } else {
      infra_.bus = events::NewInProcessBus();
    }
    auto clock = std::make_unique<runtime::FakeClock>(kStart);
    clock_ = clock.get();
    infra_.clock = std::move(clock);
    infra_.ids = std::make_unique<runtime::UlidGenerator>(*infra_.clock);
    infra_.pool = std::make_unique<runtime::WorkerPool>(8);
    server_ = std::make_unique<runtime::Server>(
        runtime::ServerOptions{.listen = "127.0.0.1:0", .drain_timeout = absl::Seconds(2)});
    modules_.push_back(profiles::NewProfilesModule(infra_));
    modules_.push_back(segmentation::NewSegmentationModule(infra_));
    auto feedback = std::make_unique<FeedbackModule>(infra_, false);
    modules_.push_back(std::move(feedback));
    for (auto& m : modules_) EXPECT_TRUE(m->Start(*server_).ok());
    EXPECT_TRUE(server_->Start().ok());
    server_->SetServing(true);
    for (auto& m : modules_) m->Serving(*server_);
    events_ = infra_.bus->Subscribe(
        {.topic = "feedback", .group = "test", .consumer = "test"}, [this](const ev::Event& e) {
          absl::MutexLock lock(&mu_);
          seen_.push_back(e);
          return absl::OkStatus();
        });
    auto channel = grpc::CreateChannel(server_->address(), grpc::InsecureChannelCredentials());
    profiles = pv1::Profiles::NewStub(channel);
    segments = sv1::Segmentation::NewStub(channel);
    feedback_stub = v1::Feedback::NewStub(channel);
  }
  ~Suite() {
    events_.reset();
    server_->Shutdown();
    for (auto it = modules_.rbegin(); it != modules_.rend(); ++it) (*it)->Stop();
  }
  runtime::FakeClock& clock() { return *clock_; }
  store::Database& db() { return *infra_.db; }
  std::vector<ev::Event> Seen() {
    absl::MutexLock lock(&mu_);
    return seen_;
  }

  std::unique_ptr<pv1::Profiles::Stub> profiles;
  std::unique_ptr<sv1::Segmentation::Stub> segments;
  std::unique_ptr<v1::Feedback::Stub> feedback_stub;

 private:
  app::Infrastructure infra_;
  runtime::FakeClock* clock_ = nullptr;
  std::unique_ptr<runtime::Server> server_;
  std::vector<std::unique_ptr<app::Module>> modules_;
  std::unique_ptr<events::Subscription> events_;
  absl::Mutex mu_;
  std::vector<ev::Event> seen_ ABSL_GUARDED_BY(mu_);
};

bool WaitFor(const std::function<bool()>& condition, absl::Duration timeout = absl::Seconds(10)) {
  absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    if (condition()) return true;
    absl::SleepFor(absl::Milliseconds(20));
  }
  return condition();
}

std::string FirstViolation(const grpc::Status& status) {
  auto s = runtime::FromGrpcStatus(status);
  auto v = runtime::FieldViolations(s);
  return v.empty() ? "" : v[0].field;
}

class FeedbackServiceTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    if (GetParam().postgres) {
      ASSERT_NE(SharedPostgres(), nullptr);
      ASSERT_NE(SharedRedis(), nullptr);
      auto url = SharedPostgres()->CreateDatabase(absl::StrCat("fb", ++counter_));
      ASSERT_TRUE(url.ok()) << url.status();
      url_ = *url;
    } else {
      url_ = absl::StrCat("sqlite://", dir_.path(), "/centric", ++counter_, ".db");
    }
    suite_ = std::make_unique<Suite>(GetParam(), url_, &counter_);
  }

  v1::Feedback::Stub& fb() { return *suite_->feedback_stub; }

  void CreateProfile(const std::string& id, double revenue = 0,
                     pv1::ConsentStatus email = pv1::CONSENT_STATUS_GRANTED) {
    grpc::ClientContext context;
    pv1::CreateProfileRequest request;
    request.set_profile_id(id);
    request.mutable_profile()->set_kind(pv1::PROFILE_KIND_PERSON);
    auto* consent = request.mutable_profile()->add_consents();
    consent->set_purpose(pv1::CONSENT_PURPOSE_MARKETING_EMAIL);
    consent->set_status(email);
    auto* identity = request.mutable_profile()->add_identities();
    identity->set_type(pv1::IDENTITY_TYPE_EMAIL);
    identity->set_value(absl::StrCat(id, "@example.com"));
    pv1::Profile created;
    grpc::Status status = suite_->profiles->CreateProfile(&context, request, &created);
    ASSERT_TRUE(status.ok()) << status.error_message();
    if (revenue > 0) {
      grpc::ClientContext record_context;
      pv1::RecordInteractionsRequest record;
      record.set_profile(created.name());
      auto* i = record.add_interactions();
      i->set_event_id(absl::StrCat(id, "-order"));
      i->set_channel(pv1::CHANNEL_WEB);
      i->set_type("purchase");
      i->set_monetary_value(revenue);
      i->mutable_occur_time()->set_seconds(absl::ToUnixSeconds(kStart) - 86400);
      pv1::RecordInteractionsResponse recorded;
      status = suite_->profiles->RecordInteractions(&record_context, record, &recorded);
      ASSERT_TRUE(status.ok()) << status.error_message();
    }
  }

  v1::Survey CreateSurvey(const std::string& id, v1::SurveyKind kind, int min_days = 0,
                          pv1::ConsentPurpose consent = pv1::CONSENT_PURPOSE_UNSPECIFIED) {
    grpc::ClientContext context;
    v1::CreateSurveyRequest request;
    request.set_survey_id(id);
    v1::Survey* s = request.mutable_survey();
    s->set_display_name(id);
    s->set_kind(kind);
    s->set_question("How likely are you to recommend us to a friend?");
    s->set_touchpoint("after_purchase");
    s->set_journey_stage(v1::JOURNEY_STAGE_PURCHASE);
    s->set_channel(pv1::CHANNEL_EMAIL);
    s->set_owner_team("cx");
    s->mutable_contact_policy()->set_min_days_between_responses(min_days);
    s->mutable_contact_policy()->set_required_consent(consent);
    v1::Survey created;
    grpc::Status status = fb().CreateSurvey(&context, request, &created);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return created;
  }

  grpc::Status Submit(const std::string& survey, const std::string& profile, int score,
                      const std::string& comment, v1::Response* out,
                      const std::string& request_id = "") {
    grpc::ClientContext context;
    v1::SubmitResponseRequest request;
    request.set_parent(absl::StrCat("surveys/", survey));
    request.set_request_id(request_id);
    request.mutable_response()->set_profile(absl::StrCat("profiles/", profile));
    if (score >= 0) request.mutable_response()->set_score(score);
    request.mutable_response()->set_comment(comment);
    return fb().SubmitResponse(&context, request, out);
  }

  v1::FollowUpPolicy CreateDetractorPolicy(const std::string& rule =
                                               "response.category == DETRACTOR || "
                                               "(response.kind == CSAT && response.score <= 2)") {
    grpc::ClientContext context;
    v1::CreateFollowUpPolicyRequest request;
    request.set_policy_id("detractors");
    request.mutable_policy()->set_display_name("Call back every detractor");
    request.mutable_policy()->set_rule(rule);
    request.mutable_policy()->set_owner_team("support");
    request.mutable_policy()->mutable_first_contact_sla()->set_seconds(48 * 3600);
    request.mutable_policy()->mutable_resolution_sla()->set_seconds(7 * 24 * 3600);
    v1::FollowUpPolicy created;
    grpc::Status status = fb().CreateFollowUpPolicy(&context, request, &created);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return created;
  }

  v1::FollowUp GetFollowUp(const std::string& name) {
    grpc::ClientContext context;
    v1::GetFollowUpRequest request;
    request.set_name(name);
    v1::FollowUp f;
    grpc::Status status = fb().GetFollowUp(&context, request, &f);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return f;
  }

  pv1::Profile GetProfile(const std::string& id) {
    grpc::ClientContext context;
    pv1::GetProfileRequest request;
    request.set_name(absl::StrCat("profiles/", id));
    pv1::Profile p;
    grpc::Status status = suite_->profiles->GetProfile(&context, request, &p);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return p;
  }

  // Runs a breach check at the fake clock's time now, through a second service over the
  // same store (the module's relay publishes what it writes), besides the module's own
  // checker.
  int DetectBreaches() {
    runtime::UlidGenerator ids(suite_->clock());
    FeedbackService::Deps deps;
    deps.db = &suite_->db();
    deps.clock = &suite_->clock();
    deps.ids = &ids;
    FeedbackService direct(std::move(deps));
    auto breaches = direct.DetectBreaches(suite_->clock().Now());
    EXPECT_TRUE(breaches.ok()) << breaches.status();
    return breaches.ok() ? *breaches : -1;
  }

  // FollowUpChanged events seen on the bus with this change.
  std::vector<ev::FollowUpChanged> FollowUpEvents(const std::string& change) {
    std::vector<ev::FollowUpChanged> out;
    for (const ev::Event& e : suite_->Seen()) {
      ev::FollowUpChanged c;
      if (e.payload().UnpackTo(&c) && e.payload().Is<ev::FollowUpChanged>() && c.change() == change) {
        out.push_back(c);
      }
    }
    return out;
  }

  static int counter_;
  testing::TempDir dir_;
  std::string url_;
  std::unique_ptr<Suite> suite_;
};

int FeedbackServiceTest::counter_ = 0;

TEST_P(FeedbackServiceTest, ResponseGetsCategorySentimentAndThemes) {
  CreateProfile("ada");
  CreateSurvey("nps", v1::SURVEY_KIND_NPS);
  v1::Response r;
  grpc::Status status =
      Submit("nps", "ada", 3, "The app is far too expensive and support never answered.", &r);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(r.category(), v1::CATEGORY_DETRACTOR);
  EXPECT_EQ(r.kind(), v1::SURVEY_KIND_NPS);
  EXPECT_EQ(r.sentiment(), v1::SENTIMENT_LABEL_NEGATIVE);
  EXPECT_LT(r.sentiment_score(), 0);
  std::set<std::string> themes(r.themes().begin(), r.themes().end());
  EXPECT_TRUE(themes.contains("pricing")) << r.ShortDebugString();
  EXPECT_TRUE(themes.contains("support")) << r.ShortDebugString();
  EXPECT_EQ(r.channel(), pv1::CHANNEL_EMAIL);  // the survey's
  EXPECT_EQ(r.touchpoint(), "after_purchase");

  v1::Response promoter;
  ASSERT_TRUE(Submit("nps", "ada", 10, "Love it, works great", &promoter).ok());
  EXPECT_EQ(promoter.category(), v1::CATEGORY_PROMOTER);
  EXPECT_EQ(promoter.sentiment(), v1::SENTIMENT_LABEL_POSITIVE);

  grpc::ClientContext context;
  v1::GetResponseRequest get;
  get.set_name(r.name());
  v1::Response read;
  ASSERT_TRUE(fb().GetResponse(&context, get, &read).ok());
  EXPECT_EQ(read.ShortDebugString(), r.ShortDebugString());

  // Filters: category and theme.
  grpc::ClientContext list_context;
  v1::ListResponsesRequest list;
  list.set_parent("surveys/-");
  list.set_theme("pricing");
  v1::ListResponsesResponse listed;
  ASSERT_TRUE(fb().ListResponses(&list_context, list, &listed).ok());
  ASSERT_EQ(listed.responses_size(), 1);
  EXPECT_EQ(listed.responses(0).name(), r.name());
  grpc::ClientContext category_context;
  list.clear_theme();
  list.set_category(v1::CATEGORY_PROMOTER);
  ASSERT_TRUE(fb().ListResponses(&category_context, list, &listed).ok());
  ASSERT_EQ(listed.responses_size(), 1);
  EXPECT_EQ(listed.responses(0).name(), promoter.name());
}

TEST_P(FeedbackServiceTest, BadResponsesAreRefusedWithTheFieldAndTheLimit) {
  CreateProfile("ada");
  CreateSurvey("nps", v1::SURVEY_KIND_NPS);
  CreateSurvey("csat", v1::SURVEY_KIND_CSAT);
  CreateSurvey("ideas", v1::SURVEY_KIND_OPEN_TEXT);
  v1::Response r;
  grpc::Status status = Submit("nps", "ada", 11, "", &r);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(FirstViolation(status), "response.score");
  EXPECT_NE(status.error_message().find("0 to 10"), std::string::npos) << status.error_message();
  status = Submit("csat", "ada", 0, "", &r);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("1 to 5"), std::string::npos) << status.error_message();
  status = Submit("ideas", "ada", 4, "more colours", &r);
  EXPECT_EQ(FirstViolation(status), "response.score");
  status = Submit("nps", "ada", 5, std::string(8193, 'x'), &r);
  EXPECT_EQ(FirstViolation(status), "response.comment");
  EXPECT_NE(status.error_message().find("8192"), std::string::npos);
  status = Submit("unknown", "ada", 5, "", &r);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  status = Submit("nps", "nobody", 5, "", &r);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_NE(status.error_message().find("profiles/nobody"), std::string::npos);

  // An ended survey accepts nothing.
  grpc::ClientContext context;
  v1::UpdateSurveyRequest update;
  update.mutable_survey()->set_name("surveys/nps");
  *update.mutable_survey()->mutable_end_time() = runtime::ToTimestamp(kStart - absl::Hours(1));
  update.mutable_update_mask()->add_paths("end_time");
  v1::Survey ended;
  ASSERT_TRUE(fb().UpdateSurvey(&context, update, &ended).ok());
  status = Submit("nps", "ada", 9, "", &r);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(status.error_message().find("closed"), std::string::npos) << status.error_message();

  // Nothing was stored by the refusals.
  grpc::ClientContext list_context;
  v1::ListResponsesRequest list;
  list.set_parent("surveys/-");
  v1::ListResponsesResponse listed;
  ASSERT_TRUE(fb().ListResponses(&list_context, list, &listed).ok());
  EXPECT_EQ(listed.responses_size(), 0);
}

TEST_P(FeedbackServiceTest, RepeatedRequestIdReturnsTheFirstResponse) {
  CreateProfile("ada");
  CreateSurvey("nps", v1::SURVEY_KIND_NPS);
  v1::Response first, second;
  ASSERT_TRUE(Submit("nps", "ada", 8, "fine", &first, "import-1").ok());
  ASSERT_TRUE(Submit("nps", "ada", 2, "changed my mind", &second, "import-1").ok());
  EXPECT_EQ(second.name(), first.name());
  EXPECT_EQ(second.score(), 8);
}

TEST_P(FeedbackServiceTest, ContactPolicyAndConsentDecideWhoMayBeAsked) {
  CreateProfile("ada");
  CreateProfile("bob", 0, pv1::CONSENT_STATUS_REVOKED);
  CreateSurvey("nps", v1::SURVEY_KIND_NPS, /*min_days=*/30, pv1::CONSENT_PURPOSE_MARKETING_EMAIL);
  v1::Response r;
  ASSERT_TRUE(Submit("nps", "ada", 9, "", &r).ok());
  suite_->clock().Advance(absl::Hours(24 * 3));
  grpc::Status status = Submit("nps", "ada", 7, "", &r);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(status.error_message().find("30 days"), std::string::npos) << status.error_message();

  grpc::ClientContext context;
  v1::CheckSurveyEligibilityRequest check;
  check.set_survey("surveys/nps");
  check.set_profile("profiles/ada");
  v1::CheckSurveyEligibilityResponse eligibility;
  ASSERT_TRUE(fb().CheckSurveyEligibility(&context, check, &eligibility).ok());
  EXPECT_FALSE(eligibility.eligible());
  EXPECT_EQ(runtime::FromTimestamp(eligibility.next_eligible_time()), kStart + absl::Hours(24 * 30));

  status = Submit("nps", "bob", 9, "", &r);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(status.error_message().find("consent"), std::string::npos) << status.error_message();

  suite_->clock().Advance(absl::Hours(24 * 28));
  grpc::ClientContext again_context;
  ASSERT_TRUE(fb().CheckSurveyEligibility(&again_context, check, &eligibility).ok());
  EXPECT_TRUE(eligibility.eligible()) << eligibility.reason();
  EXPECT_TRUE(Submit("nps", "ada", 7, "", &r).ok());
}

// Feedback keeps no copy of consents: the answer of the Profiles service at the time of
// the call decides, so a revocation closes the survey to the profile at once.
TEST_P(FeedbackServiceTest, RevokedConsentClosesTheSurveyAtOnce) {
  CreateProfile("ada");
  CreateSurvey("mail-nps", v1::SURVEY_KIND_NPS, 0, pv1::CONSENT_PURPOSE_MARKETING_EMAIL);
  auto eligibility = [&] {
    grpc::ClientContext context;
    v1::CheckSurveyEligibilityRequest check;
    check.set_survey("surveys/mail-nps");
    check.set_profile("profiles/ada");
    v1::CheckSurveyEligibilityResponse response;
    grpc::Status status = fb().CheckSurveyEligibility(&context, check, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response;
  };
  EXPECT_TRUE(eligibility().eligible()) << eligibility().reason();
  v1::Response r;
  ASSERT_TRUE(Submit("mail-nps", "ada", 9, "", &r).ok());

  {
    grpc::ClientContext context;
    pv1::UpdateProfileRequest request;
    request.mutable_profile()->set_name("profiles/ada");
    auto* consent = request.mutable_profile()->add_consents();
    consent->set_purpose(pv1::CONSENT_PURPOSE_MARKETING_EMAIL);
    consent->set_status(pv1::CONSENT_STATUS_REVOKED);
    request.mutable_update_mask()->add_paths("consents");
    pv1::Profile updated;
    grpc::Status status = suite_->profiles->UpdateProfile(&context, request, &updated);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }
  v1::CheckSurveyEligibilityResponse after = eligibility();
  EXPECT_FALSE(after.eligible());
  EXPECT_NE(after.reason().find("CONSENT_PURPOSE_MARKETING_EMAIL"), std::string::npos)
      << after.reason();
  grpc::Status refused = Submit("mail-nps", "ada", 3, "", &r);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(runtime::Reason(runtime::FromGrpcStatus(refused)), "CONSENT_REQUIRED");
  EXPECT_NE(refused.error_message().find("CONSENT_PURPOSE_MARKETING_EMAIL"), std::string::npos)
      << refused.error_message();
  // Batches check every response the same way.
  grpc::ClientContext batch_context;
  v1::BatchSubmitResponsesRequest batch;
  v1::SubmitResponseRequest* one = batch.add_requests();
  one->set_parent("surveys/mail-nps");
  one->mutable_response()->set_profile("profiles/ada");
  one->mutable_response()->set_score(4);
  v1::BatchSubmitResponsesResponse batch_out;
  EXPECT_EQ(fb().BatchSubmitResponses(&batch_context, batch, &batch_out).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
}

TEST_P(FeedbackServiceTest, DetractorOpensAFollowUpWhoseSlaBreachIsReported) {
  CreateProfile("ada");
  CreateSurvey("nps", v1::SURVEY_KIND_NPS);
  CreateDetractorPolicy();
  v1::Response promoter;
  ASSERT_TRUE(Submit("nps", "ada", 9, "", &promoter).ok());
  EXPECT_TRUE(promoter.follow_up().empty());
  v1::Response detractor;
  ASSERT_TRUE(Submit("nps", "ada", 2, "It keeps crashing", &detractor).ok());
  ASSERT_FALSE(detractor.follow_up().empty());
  v1::FollowUp f = GetFollowUp(detractor.follow_up());
  EXPECT_EQ(f.state(), v1::FOLLOW_UP_STATE_OPEN);
  EXPECT_EQ(f.owner_team(), "support");
  EXPECT_EQ(f.profile(), "profiles/ada");
  EXPECT_EQ(f.response(), detractor.name());
  EXPECT_EQ(runtime::FromTimestamp(f.first_contact_due_time()), kStart + absl::Hours(48));

  // The profile learns its last NPS and its open follow-up (Profiles consumes the events).
  EXPECT_TRUE(WaitFor([&] {
    pv1::Profile p = GetProfile("ada");
    return p.aggregates().has_last_nps_score() && p.aggregates().last_nps_score() == 2 &&
           p.aggregates().open_follow_ups() == 1;
  })) << GetProfile("ada").aggregates().ShortDebugString();

  // Within the SLA nothing is breached (the module's checker runs every second).
  suite_->clock().Advance(absl::Hours(47));
  absl::SleepFor(absl::Milliseconds(2500));
  EXPECT_TRUE(FollowUpEvents("SLA_BREACHED").empty());
  EXPECT_EQ(DetectBreaches(), 0);
  // Past it, the running service reports the breach once.
  suite_->clock().Advance(absl::Hours(2));
  ASSERT_TRUE(WaitFor([&] { return !FollowUpEvents("SLA_BREACHED").empty(); }));
  EXPECT_EQ(DetectBreaches(), 0);  // already reported
  absl::SleepFor(absl::Milliseconds(1500));
  EXPECT_EQ(FollowUpEvents("SLA_BREACHED").size(), 1u);
  f = GetFollowUp(detractor.follow_up());
  ASSERT_EQ(f.breached_slas_size(), 1);
  EXPECT_EQ(f.breached_slas(0), v1::SLA_FIRST_CONTACT);
  ev::FollowUpChanged breach = FollowUpEvents("SLA_BREACHED")[0];
  EXPECT_EQ(breach.follow_up(), f.name());
  EXPECT_EQ(breach.sla(), "FIRST_CONTACT");
  EXPECT_EQ(breach.owner_team(), "support");
  EXPECT_EQ(FollowUpEvents("OPENED").size(), 1u);

  grpc::ClientContext list_context;
  v1::ListFollowUpsRequest list;
  list.set_owner_team("support");
  list.set_breach(v1::BREACH_FILTER_BREACHED);
  v1::ListFollowUpsResponse listed;
  ASSERT_TRUE(fb().ListFollowUps(&list_context, list, &listed).ok());
  ASSERT_EQ(listed.follow_ups_size(), 1);
  EXPECT_EQ(listed.follow_ups(0).name(), f.name());
}

TEST_P(FeedbackServiceTest, FollowUpMovesForwardWithWhoDidWhat) {
  CreateProfile("ada");
  CreateSurvey("csat", v1::SURVEY_KIND_CSAT);
  CreateDetractorPolicy();
  v1::Response r;
  ASSERT_TRUE(Submit("csat", "ada", 1, "Terrible delivery", &r).ok());
  ASSERT_FALSE(r.follow_up().empty());
  auto transition = [&](v1::FollowUpState state, const std::string& note, bool closed_loop,
                        v1::FollowUp* out) {
    grpc::ClientContext context;
    v1::TransitionFollowUpRequest request;
    request.set_name(r.follow_up());
    request.set_state(state);
    request.set_actor("agent@example.com");
    request.set_note(note);
    request.set_closed_loop(closed_loop);
    return fb().TransitionFollowUp(&context, request, out);
  };
  v1::FollowUp f;
  suite_->clock().Advance(absl::Hours(3));
  ASSERT_TRUE(transition(v1::FOLLOW_UP_STATE_CONTACTED, "called, parcel lost", false, &f).ok());
  EXPECT_EQ(runtime::FromTimestamp(f.contact_time()), kStart + absl::Hours(3));
  ASSERT_TRUE(transition(v1::FOLLOW_UP_STATE_RESOLVED, "sent a replacement", false, &f).ok());
  grpc::Status backwards = transition(v1::FOLLOW_UP_STATE_OPEN, "", false, &f);
  EXPECT_EQ(backwards.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(FirstViolation(backwards), "state");
  ASSERT_TRUE(transition(v1::FOLLOW_UP_STATE_CLOSED, "customer confirmed", true, &f).ok());
  EXPECT_EQ(f.state(), v1::FOLLOW_UP_STATE_CLOSED);
  EXPECT_TRUE(f.closed_loop());
  ASSERT_EQ(f.notes_size(), 4);  // opened + three moves
  EXPECT_EQ(f.notes(1).actor(), "agent@example.com");
  EXPECT_EQ(f.notes(3).state(), v1::FOLLOW_UP_STATE_CLOSED);
  // Resolved before the SLA: closing it leaves nothing to breach later.
  suite_->clock().Advance(absl::Hours(24 * 30));
  EXPECT_EQ(DetectBreaches(), 0);
  absl::SleepFor(absl::Milliseconds(1500));
  EXPECT_TRUE(FollowUpEvents("SLA_BREACHED").empty());
  EXPECT_TRUE(WaitFor([&] { return GetProfile("ada").aggregates().open_follow_ups() == 0; }));
  EXPECT_TRUE(WaitFor([&] { return FollowUpEvents("CLOSED").size() == 1; }));
}

TEST_P(FeedbackServiceTest, PolicyRulesAreCheckedAndCanReadTheProfile) {
  grpc::ClientContext context;
  v1::CreateFollowUpPolicyRequest request;
  request.mutable_policy()->set_display_name("bad");
  request.mutable_policy()->set_rule("response.scroe < 3");
  request.mutable_policy()->set_owner_team("support");
  request.mutable_policy()->mutable_first_contact_sla()->set_seconds(3600);
  v1::FollowUpPolicy created;
  grpc::Status status = fb().CreateFollowUpPolicy(&context, request, &created);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(FirstViolation(status), "policy.rule");
  EXPECT_NE(status.error_message().find("scroe"), std::string::npos) << status.error_message();

  // Only valuable customers' passives are followed up.
  CreateDetractorPolicy(
      "response.category == PASSIVE && profile.aggregates.revenue_total > 1000.0");
  CreateProfile("big", 5000);
  CreateProfile("small", 50);
  CreateSurvey("nps", v1::SURVEY_KIND_NPS);
  v1::Response big, small;
  ASSERT_TRUE(Submit("nps", "big", 7, "", &big).ok());
  ASSERT_TRUE(Submit("nps", "small", 7, "", &small).ok());
  EXPECT_FALSE(big.follow_up().empty());
  EXPECT_TRUE(small.follow_up().empty());
}

TEST_P(FeedbackServiceTest, FeatureRequestsRankByDemand) {
  CreateProfile("a1", 100);
  CreateProfile("a2", 100);
  CreateProfile("a3", 100);
  CreateProfile("whale", 90000);
  // A segment of big spenders, so demand says which segments ask.
  grpc::ClientContext segment_context;
  sv1::CreateSegmentRequest segment;
  segment.set_segment_id("big-spenders");
  segment.mutable_segment()->set_display_name("Big spenders");
  segment.mutable_segment()->set_owner_team("growth");
  segment.mutable_segment()->set_rule("profile.aggregates.revenue_total > 1000.0");
  sv1::Segment created_segment;
  ASSERT_TRUE(suite_->segments->CreateSegment(&segment_context, segment, &created_segment).ok());

  auto create = [&](const std::string& id, const std::string& title) {
    grpc::ClientContext context;
    v1::CreateFeatureRequestRequest request;
    request.set_feature_request_id(id);
    request.mutable_feature_request()->set_title(title);
    request.mutable_feature_request()->set_problem("customers cannot " + title);
    request.mutable_feature_request()->set_pain(4);
    v1::FeatureRequest created;
    grpc::Status status = fb().CreateFeatureRequest(&context, request, &created);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(created.state(), v1::FEATURE_REQUEST_STATE_OPEN);
  };
  create("export", "export to CSV");
  create("sso", "sign in with SSO");
  auto link = [&](const std::string& request, const std::string& profile) {
    grpc::ClientContext context;
    v1::LinkFeatureRequestRequest link_request;
    link_request.mutable_link()->set_feature_request("featureRequests/" + request);
    link_request.mutable_link()->set_profile("profiles/" + profile);
    link_request.mutable_link()->set_verbatim("I need this for my monthly report");
    v1::FeatureRequestLink linked;
    grpc::Status status = fb().LinkFeatureRequest(&context, link_request, &linked);
    ASSERT_TRUE(status.ok()) << status.error_message();
  };
  link("export", "a1");
  link("export", "a2");
  link("export", "a3");
  link("export", "a3");  // the same customer again: still one profile
  link("sso", "whale");
  ASSERT_TRUE(WaitFor([&] {
    grpc::ClientContext context;
    v1::GetFeatureRequestRequest get;
    get.set_name("featureRequests/sso");
    v1::FeatureRequest f;
    return fb().GetFeatureRequest(&context, get, &f).ok() && f.demand().segments_size() == 1;
  }));

  grpc::ClientContext context;
  v1::ListFeatureRequestsRequest list;
  v1::ListFeatureRequestsResponse ranked;
  ASSERT_TRUE(fb().ListFeatureRequests(&context, list, &ranked).ok());
  ASSERT_EQ(ranked.feature_requests_size(), 2);
  EXPECT_EQ(ranked.feature_requests(0).name(), "featureRequests/export");
  EXPECT_EQ(ranked.feature_requests(0).demand().profile_count(), 3);
  EXPECT_DOUBLE_EQ(ranked.feature_requests(0).demand().revenue_total(), 300);
  EXPECT_EQ(ranked.feature_requests(1).demand().segments(0).segment(), "segments/big-spenders");

  grpc::ClientContext revenue_context;
  list.set_order_by("revenue");
  ASSERT_TRUE(fb().ListFeatureRequests(&revenue_context, list, &ranked).ok());
  EXPECT_EQ(ranked.feature_requests(0).name(), "featureRequests/sso");
  EXPECT_DOUBLE_EQ(ranked.feature_requests(0).demand().revenue_total(), 90000);

  grpc::ClientContext bad_context;
  list.set_order_by("votes");
  grpc::Status bad = fb().ListFeatureRequests(&bad_context, list, &ranked);
  EXPECT_EQ(FirstViolation(bad), "order_by");
}

TEST_P(FeedbackServiceTest, DetractorThemesRankByDemand) {
  CreateProfile("p1", 10);
  CreateProfile("p2", 20);
  CreateProfile("p3", 5000);
  CreateSurvey("nps", v1::SURVEY_KIND_NPS);
  v1::Response r;
  ASSERT_TRUE(Submit("nps", "p1", 2, "Way too expensive for what it does", &r).ok());
  ASSERT_TRUE(Submit("nps", "p2", 3, "The price went up again, too expensive", &r).ok());
  ASSERT_TRUE(Submit("nps", "p3", 1, "The app is slow and keeps crashing", &r).ok());
  ASSERT_TRUE(Submit("nps", "p3", 10, "great price", &r).ok());  // a promoter: not counted
  grpc::ClientContext context;
  v1::ListThemeDemandRequest request;
  v1::ListThemeDemandResponse response;
  ASSERT_TRUE(fb().ListThemeDemand(&context, request, &response).ok());
  ASSERT_GE(response.themes_size(), 2) << response.ShortDebugString();
  EXPECT_EQ(response.themes(0).theme(), "pricing") << response.ShortDebugString();
  EXPECT_EQ(response.themes(0).response_count(), 2);
  EXPECT_EQ(response.themes(0).demand().profile_count(), 2);
  EXPECT_EQ(response.themes(0).demand().detractor_count(), 2 - 0);
}

TEST_P(FeedbackServiceTest, BatchIsAllOrNothingAndStreamReportsEachRefusal) {
  CreateProfile("ada");
  CreateProfile("bob");
  CreateSurvey("nps", v1::SURVEY_KIND_NPS);
  {
    grpc::ClientContext context;
    v1::BatchSubmitResponsesRequest batch;
    for (int score : {9, 12, 4}) {
      auto* r = batch.add_requests();
      r->set_parent("surveys/nps");
      r->mutable_response()->set_profile("profiles/ada");
      r->mutable_response()->set_score(score);
    }
    v1::BatchSubmitResponsesResponse out;
    grpc::Status status = fb().BatchSubmitResponses(&context, batch, &out);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(FirstViolation(status), "requests[1].response.score");
  }
  grpc::ClientContext list_context;
  v1::ListResponsesRequest list;
  list.set_parent("surveys/nps");
  v1::ListResponsesResponse listed;
  ASSERT_TRUE(fb().ListResponses(&list_context, list, &listed).ok());
  EXPECT_EQ(listed.responses_size(), 0);

  // 1,200 responses in one stream: every 100th is off the scale, one names no profile.
  grpc::ClientContext stream_context;
  v1::StreamResponsesSummary summary;
  auto writer = fb().StreamResponses(&stream_context, &summary);
  for (int i = 0; i < 1200; ++i) {
    v1::SubmitResponseRequest r;
    r.set_parent("surveys/nps");
    r.set_request_id(absl::StrCat("row-", i));
    r.mutable_response()->set_profile(i == 7 ? "profiles/nobody" : (i % 2 ? "profiles/ada" : "profiles/bob"));
    r.mutable_response()->set_score(i % 100 == 99 ? 42 : i % 11);
    *r.mutable_response()->mutable_submit_time() = runtime::ToTimestamp(kStart - absl::Minutes(i));
    ASSERT_TRUE(writer->Write(r));
  }
  // The first row again: a duplicate.
  v1::SubmitResponseRequest again;
  again.set_parent("surveys/nps");
  again.set_request_id("row-0");
  again.mutable_response()->set_profile("profiles/bob");
  again.mutable_response()->set_score(0);
  ASSERT_TRUE(writer->Write(again));
  writer->WritesDone();
  grpc::Status status = writer->Finish();
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(summary.accepted(), 1200 - 12 - 1);
  EXPECT_EQ(summary.rejected(), 13);
  EXPECT_EQ(summary.duplicates(), 1);
  ASSERT_EQ(summary.rejections_size(), 13);
  EXPECT_EQ(summary.rejections(0).index(), 7);
  EXPECT_EQ(summary.rejections(0).code(), "NOT_FOUND");
  EXPECT_EQ(summary.rejections(1).index(), 99);
  EXPECT_EQ(summary.rejections(1).code(), "INVALID_ARGUMENT");
}

TEST_P(FeedbackServiceTest, ErasureLeavesOnlyAnonymousFigures) {
  CreateProfile("ada", 100);
  CreateSurvey("nps", v1::SURVEY_KIND_NPS);
  CreateDetractorPolicy();
  v1::Response r;
  ASSERT_TRUE(Submit("nps", "ada", 1, "My name is Ada Lovelace and this is too expensive", &r).ok());
  {
    grpc::ClientContext context;
    v1::CreateFeatureRequestRequest request;
    request.set_feature_request_id("export");
    request.mutable_feature_request()->set_title("export");
    request.mutable_feature_request()->set_problem("no export");
    v1::FeatureRequest created;
    ASSERT_TRUE(fb().CreateFeatureRequest(&context, request, &created).ok());
    grpc::ClientContext link_context;
    v1::LinkFeatureRequestRequest link;
    link.mutable_link()->set_feature_request("featureRequests/export");
    link.mutable_link()->set_profile("profiles/ada");
    link.mutable_link()->set_verbatim("Ada here, I need it");
    v1::FeatureRequestLink linked;
    ASSERT_TRUE(fb().LinkFeatureRequest(&link_context, link, &linked).ok());
  }
  grpc::ClientContext erase_context;
  pv1::EraseProfileRequest erase;
  erase.set_name("profiles/ada");
  erase.set_reason("GDPR-1");
  pv1::EraseProfileResponse erased;
  ASSERT_TRUE(suite_->profiles->EraseProfile(&erase_context, erase, &erased).ok());
  ASSERT_TRUE(WaitFor([&] {
    grpc::ClientContext context;
    v1::GetResponseRequest get;
    get.set_name(r.name());
    v1::Response read;
    return fb().GetResponse(&context, get, &read).ok() && read.erased();
  }));
  grpc::ClientContext context;
  v1::GetResponseRequest get;
  get.set_name(r.name());
  v1::Response read;
  ASSERT_TRUE(fb().GetResponse(&context, get, &read).ok());
  EXPECT_EQ(read.profile(), "");
  EXPECT_EQ(read.comment(), "");
  EXPECT_EQ(read.score(), 1);  // the anonymous figure stays
  v1::FollowUp f = GetFollowUp(r.follow_up());
  EXPECT_EQ(f.profile(), "");
  // No table of the service holds the profile's name or words any more.
  for (const char* table : {"feedback_responses", "feedback_follow_ups", "feedback_links",
                            "feedback_contacts", "feedback_profiles"}) {
    auto rows = suite_->db().Query(absl::StrCat("SELECT COUNT(*) FROM ", table,
                                                " WHERE profile = 'profiles/ada'"));
    ASSERT_TRUE(rows.ok()) << rows.status();
    EXPECT_EQ((*rows)[0].GetInt(0), 0) << table;
  }
  auto blobs = suite_->db().Query("SELECT data FROM feedback_responses");
  ASSERT_TRUE(blobs.ok());
  for (const store::Row& row : *blobs) {
    EXPECT_EQ(row.GetString(0).find("Lovelace"), std::string::npos);
  }
}

TEST_P(FeedbackServiceTest, SurveysHaveEtagsAndValidation) {
  grpc::ClientContext context;
  v1::CreateSurveyRequest request;
  request.mutable_survey()->set_display_name("x");
  request.mutable_survey()->set_question("?");
  request.mutable_survey()->set_owner_team("cx");
  v1::Survey created;
  grpc::Status status = fb().CreateSurvey(&context, request, &created);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(FirstViolation(status), "survey.kind");
  v1::Survey s = CreateSurvey("onboarding", v1::SURVEY_KIND_CES);
  EXPECT_EQ(s.name(), "surveys/onboarding");
  grpc::ClientContext update_context;
  v1::UpdateSurveyRequest update;
  update.mutable_survey()->set_name(s.name());
  update.mutable_survey()->set_question("How easy was it to get started?");
  update.mutable_update_mask()->add_paths("question");
  update.set_etag(s.etag());
  v1::Survey updated;
  ASSERT_TRUE(fb().UpdateSurvey(&update_context, update, &updated).ok());
  EXPECT_NE(updated.etag(), s.etag());
  grpc::ClientContext stale_context;
  status = fb().UpdateSurvey(&stale_context, update, &updated);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::ABORTED);
  grpc::ClientContext kind_context;
  update.clear_etag();
  update.mutable_update_mask()->set_paths(0, "kind");
  status = fb().UpdateSurvey(&kind_context, update, &updated);
  EXPECT_EQ(FirstViolation(status), "update_mask");
}

INSTANTIATE_TEST_SUITE_P(Backends, FeedbackServiceTest,
                         ::testing::Values(Backend{"sqlite", false}, Backend{"postgres", true}),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace centric::feedback
