// Consent is enforced, not just stored: the four service binaries on PostgreSQL with the
// Redis cache and Redis Streams bus. A profile with marketing e-mail consent GRANTED is a
// member of a segment, eligible for a survey and assigned a variant of an experiment that
// all need that consent; after UpdateProfile revokes it, each of the three must refuse
// it within 10 seconds. The measured latencies are printed (and recorded as test
// properties) for docs/SEGMENTATION.md, docs/FEEDBACK.md and docs/REPORTING.md.
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <functional>
#include <iostream>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "centric/feedback/v1/feedback_service.grpc.pb.h"
#include "centric/profiles/v1/profiles_service.grpc.pb.h"
#include "centric/reporting/v1/reporting_service.grpc.pb.h"
#include "centric/segmentation/v1/segmentation_service.grpc.pb.h"
#include "gtest/gtest.h"
#include "libs/runtime/errors.h"
#include "libs/runtime/grpc_status.h"
#include "libs/testing/servers.h"
#include "tests/e2e/processes.h"

namespace centric::e2e {
namespace {

namespace fv1 = ::centric::feedback::v1;
namespace pv1 = ::centric::profiles::v1;
namespace rv1 = ::centric::reporting::v1;
namespace sv1 = ::centric::segmentation::v1;

constexpr char kSegment[] = "segments/mail-optin";
constexpr char kSurvey[] = "surveys/mail-nps";
constexpr char kExperiment[] = "experiments/mail-subject";
// How long a revocation may take to be enforced, and how often it is checked.
constexpr absl::Duration kLimit = absl::Seconds(10);
constexpr absl::Duration kStep = absl::Milliseconds(50);

void Deadline(grpc::ClientContext& context, int seconds = 10) {
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(seconds));
}

std::shared_ptr<grpc::Channel> Channel(const std::string& address) {
  return grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
}

// Now, to the microsecond: an exposure is timed to the microsecond, and a purchase in
// the same second but before it would not convert.
google::protobuf::Timestamp Now() {
  const int64_t micros = absl::ToUnixMicros(absl::Now());
  google::protobuf::Timestamp t;
  t.set_seconds(micros / 1000000);
  t.set_nanos(static_cast<int32_t>(micros % 1000000) * 1000);
  return t;
}

std::string Ms(absl::Duration d) { return absl::StrCat(absl::ToInt64Milliseconds(d), " ms"); }

// The four binaries on one PostgreSQL (a database each) and one Redis.
class ConsentEndToEndTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto postgres = testing::PostgresServer::Start();
    ASSERT_TRUE(postgres.ok()) << postgres.status();
    postgres_ = std::move(*postgres);
    auto redis = testing::RedisServer::Start();
    ASSERT_TRUE(redis.ok()) << redis.status();
    redis_ = std::move(*redis);
    const std::string redis_url = absl::StrCat("CENTRIC_REDIS_URL=", redis_->url());
    auto database = [&](const std::string& name) {
      auto url = postgres_->CreateDatabase(name);
      EXPECT_TRUE(url.ok()) << url.status();
      return absl::StrCat("CENTRIC_DATABASE_URL=", url.ok() ? *url : "");
    };
    profiles_ = Start("centric-profiles", {}, {database("profiles"), redis_url}, dir_.path());
    ASSERT_TRUE(WaitServing(profiles_.address)) << profiles_.log;
    const std::string profiles_target = absl::StrCat("--profiles-target=", profiles_.address);
    segmentation_ = Start("centric-segmentation", {profiles_target},
                          {database("segmentation"), redis_url}, dir_.path());
    feedback_ = Start("centric-feedback", {profiles_target}, {database("feedback"), redis_url},
                      dir_.path());
    reporting_ = Start("centric-reporting", {profiles_target}, {database("reporting"), redis_url},
                       dir_.path());
    ASSERT_TRUE(WaitServing(segmentation_.address)) << segmentation_.log;
    ASSERT_TRUE(WaitServing(feedback_.address)) << feedback_.log;
    ASSERT_TRUE(WaitServing(reporting_.address)) << reporting_.log;
    profiles_stub_ = pv1::Profiles::NewStub(Channel(profiles_.address));
    segmentation_stub_ = sv1::Segmentation::NewStub(Channel(segmentation_.address));
    feedback_stub_ = fv1::Feedback::NewStub(Channel(feedback_.address));
    reporting_stub_ = rv1::Reporting::NewStub(Channel(reporting_.address));
  }

  void TearDown() override {
    for (Running* running : {&reporting_, &feedback_, &segmentation_, &profiles_}) {
      if (running->process != nullptr) StopGracefully(*running);
    }
  }

  void CreateProfile(const std::string& id) {
    grpc::ClientContext context;
    Deadline(context);
    pv1::CreateProfileRequest request;
    request.set_profile_id(id);
    request.mutable_profile()->set_kind(pv1::PROFILE_KIND_PERSON);
    pv1::Identity* identity = request.mutable_profile()->add_identities();
    identity->set_type(pv1::IDENTITY_TYPE_EMAIL);
    identity->set_value(absl::StrCat(id, "@example.com"));
    pv1::Consent* consent = request.mutable_profile()->add_consents();
    consent->set_purpose(pv1::CONSENT_PURPOSE_MARKETING_EMAIL);
    consent->set_status(pv1::CONSENT_STATUS_GRANTED);
    pv1::Profile created;
    grpc::Status status = profiles_stub_->CreateProfile(&context, request, &created);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }

  void Purchase(const std::string& profile, const std::string& event_id) {
    grpc::ClientContext context;
    Deadline(context);
    pv1::RecordInteractionsRequest request;
    request.set_profile(profile);
    pv1::Interaction* i = request.add_interactions();
    i->set_event_id(event_id);
    i->set_channel(pv1::CHANNEL_EMAIL);
    i->set_type("purchase");
    *i->mutable_occur_time() = Now();
    i->set_monetary_value(25);
    pv1::RecordInteractionsResponse response;
    grpc::Status status = profiles_stub_->RecordInteractions(&context, request, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }

  bool InSegment(const std::string& profile) {
    grpc::ClientContext context;
    Deadline(context);
    sv1::CheckMembershipRequest request;
    request.set_profile(profile);
    sv1::CheckMembershipResponse response;
    if (!segmentation_stub_->CheckMembership(&context, request, &response).ok()) return false;
    return std::find(response.segments().begin(), response.segments().end(), kSegment) !=
           response.segments().end();
  }

  fv1::CheckSurveyEligibilityResponse Eligibility(const std::string& profile) {
    grpc::ClientContext context;
    Deadline(context);
    fv1::CheckSurveyEligibilityRequest request;
    request.set_survey(kSurvey);
    request.set_profile(profile);
    fv1::CheckSurveyEligibilityResponse response;
    grpc::Status status = feedback_stub_->CheckSurveyEligibility(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response;
  }

  grpc::Status Submit(const std::string& profile, int score) {
    grpc::ClientContext context;
    Deadline(context);
    fv1::SubmitResponseRequest request;
    request.set_parent(kSurvey);
    request.mutable_response()->set_profile(profile);
    request.mutable_response()->set_score(score);
    fv1::Response response;
    return feedback_stub_->SubmitResponse(&context, request, &response);
  }

  absl::StatusOr<rv1::Assignment> Assign(const std::string& profile) {
    grpc::ClientContext context;
    Deadline(context);
    rv1::AssignVariantRequest request;
    request.set_experiment(kExperiment);
    request.set_profile(profile);
    rv1::Assignment assignment;
    grpc::Status status = reporting_stub_->AssignVariant(&context, request, &assignment);
    if (!status.ok()) return runtime::FromGrpcStatus(status);
    return assignment;
  }

  rv1::ExperimentResults Results() {
    grpc::ClientContext context;
    Deadline(context);
    rv1::GetExperimentResultsRequest request;
    request.set_name(kExperiment);
    rv1::ExperimentResults results;
    grpc::Status status = reporting_stub_->GetExperimentResults(&context, request, &results);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return results;
  }

  testing::TempDir dir_;
  std::unique_ptr<testing::PostgresServer> postgres_;
  std::unique_ptr<testing::RedisServer> redis_;
  Running profiles_, segmentation_, feedback_, reporting_;
  std::unique_ptr<pv1::Profiles::Stub> profiles_stub_;
  std::unique_ptr<sv1::Segmentation::Stub> segmentation_stub_;
  std::unique_ptr<fv1::Feedback::Stub> feedback_stub_;
  std::unique_ptr<rv1::Reporting::Stub> reporting_stub_;
};

TEST_F(ConsentEndToEndTest, RevokingMarketingConsentRemovesTheProfileWithinSeconds) {
  const std::string ada = "profiles/ada";  // revokes
  const std::string bob = "profiles/bob";  // keeps consent: the control of every check
  CreateProfile("ada");
  CreateProfile("bob");

  // A segment, a survey and an experiment, each for marketing e-mail.
  {
    grpc::ClientContext context;
    Deadline(context);
    sv1::CreateSegmentRequest request;
    request.set_segment_id("mail-optin");
    request.mutable_segment()->set_display_name("Mail opt-in");
    request.mutable_segment()->set_owner_team("growth");
    request.mutable_segment()->set_rule("profile.kind == PERSON");
    request.mutable_segment()->set_purpose(pv1::CONSENT_PURPOSE_MARKETING_EMAIL);
    sv1::Segment created;
    grpc::Status status = segmentation_stub_->CreateSegment(&context, request, &created);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }
  {
    grpc::ClientContext context;
    Deadline(context);
    fv1::CreateSurveyRequest request;
    request.set_survey_id("mail-nps");
    fv1::Survey* survey = request.mutable_survey();
    survey->set_display_name("NPS by e-mail");
    survey->set_kind(fv1::SURVEY_KIND_NPS);
    survey->set_question("How likely are you to recommend us?");
    survey->set_channel(pv1::CHANNEL_EMAIL);
    survey->set_owner_team("cx");
    survey->mutable_contact_policy()->set_required_consent(pv1::CONSENT_PURPOSE_MARKETING_EMAIL);
    fv1::Survey created;
    grpc::Status status = feedback_stub_->CreateSurvey(&context, request, &created);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }
  {
    grpc::ClientContext context;
    Deadline(context);
    rv1::CreateExperimentRequest request;
    request.set_experiment_id("mail-subject");
    rv1::Experiment* e = request.mutable_experiment();
    e->set_display_name("Subject line with the first name");
    e->set_change("Newsletter subject line: personal instead of generic");
    for (const char* id : {"generic", "personal"}) {
      rv1::Variant* v = e->add_variants();
      v->set_id(id);
      v->set_weight(1);
    }
    e->mutable_primary_metric()->set_interaction_type("purchase");
    e->mutable_primary_metric()->mutable_window()->set_seconds(7 * 86400);
    e->set_purpose(pv1::CONSENT_PURPOSE_MARKETING_EMAIL);
    rv1::Experiment created;
    grpc::Status status = reporting_stub_->CreateExperiment(&context, request, &created);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(created.purpose(), pv1::CONSENT_PURPOSE_MARKETING_EMAIL);
    grpc::ClientContext start_context;
    Deadline(start_context);
    rv1::StartExperimentRequest start;
    start.set_name(kExperiment);
    rv1::Experiment started;
    status = reporting_stub_->StartExperiment(&start_context, start, &started);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }

  // With consent: a member, eligible, assigned (and exposed).
  ASSERT_TRUE(Eventually([&] { return InSegment(ada) && InSegment(bob); }))
      << "the segment never held both; see " << segmentation_.log;
  EXPECT_TRUE(Eligibility(ada).eligible()) << Eligibility(ada).reason();
  for (const std::string& profile : {ada, bob}) {
    auto assigned = Assign(profile);
    ASSERT_TRUE(assigned.ok()) << assigned.status();
    EXPECT_TRUE(assigned->eligible()) << profile;
    EXPECT_NE(assigned->variant(), "");
  }

  // A watcher of the segment sees the exit.
  grpc::ClientContext watch_context;
  sv1::WatchMembershipRequest watch;
  watch.add_segments(kSegment);
  auto reader = segmentation_stub_->WatchMembership(&watch_context, watch);
  absl::SleepFor(absl::Milliseconds(300));  // the stream is registered
  absl::Mutex watch_mu;
  std::optional<absl::Time> watched_exit;
  std::thread watcher([&] {
    sv1::MembershipChange change;
    while (reader->Read(&change)) {
      if (change.profile() == ada && !change.entered()) {
        absl::MutexLock lock(&watch_mu);
        watched_exit = absl::Now();
      }
    }
  });
  absl::Cleanup stop_watching = [&] {
    watch_context.TryCancel();
    watcher.join();
  };

  // Revoke. Latencies count from the request: the services may act on the commit before
  // Profiles' answer is back.
  const absl::Time revoked = absl::Now();
  absl::Duration update_call;
  {
    grpc::ClientContext context;
    Deadline(context);
    pv1::UpdateProfileRequest request;
    request.mutable_profile()->set_name(ada);
    pv1::Consent* consent = request.mutable_profile()->add_consents();
    consent->set_purpose(pv1::CONSENT_PURPOSE_MARKETING_EMAIL);
    consent->set_status(pv1::CONSENT_STATUS_REVOKED);
    request.mutable_update_mask()->add_paths("consents");
    pv1::Profile updated;
    grpc::Status status = profiles_stub_->UpdateProfile(&context, request, &updated);
    ASSERT_TRUE(status.ok()) << status.error_message();
    update_call = absl::Now() - revoked;
  }

  // Poll the three, each on its own thread so that one slow answer does not delay the
  // others, until each refuses ada: the latency is when the first refusal came back,
  // `polls` how many answers it took (1: the first call after the revocation refused).
  struct Probe {
    Probe(const char* what, std::function<bool()> refuses)
        : what(what), refuses(std::move(refuses)) {}
    const char* what;
    std::function<bool()> refuses;
    std::optional<absl::Duration> latency;
    int polls = 0;
  };
  std::vector<Probe> probes;
  probes.emplace_back("segment (CheckMembership)", [&] { return !InSegment(ada); });
  probes.emplace_back("survey (CheckSurveyEligibility)",
                      [&] { return !Eligibility(ada).eligible(); });
  probes.emplace_back("experiment (AssignVariant)", [&] {
    auto assignment = Assign(ada);
    EXPECT_TRUE(assignment.ok()) << assignment.status();
    return assignment.ok() && !assignment->eligible();
  });
  std::vector<std::thread> pollers;
  for (Probe& probe : probes) {
    pollers.emplace_back([&probe, revoked] {
      while (absl::Now() - revoked < kLimit) {
        ++probe.polls;
        if (probe.refuses()) {
          probe.latency = absl::Now() - revoked;
          return;
        }
        absl::SleepFor(kStep);
      }
    });
  }
  for (std::thread& t : pollers) t.join();
  for (const Probe& probe : probes) {
    ASSERT_TRUE(probe.latency.has_value()) << probe.what << " still admits ada after " << kLimit;
  }
  ASSERT_TRUE(Eventually(
      [&] {
        absl::MutexLock lock(&watch_mu);
        return watched_exit.has_value();
      },
      kLimit))
      << "WatchMembership never reported the exit";
  absl::Duration watch_latency;
  {
    absl::MutexLock lock(&watch_mu);
    watch_latency = *watched_exit - revoked;
  }

  std::cout << "[consent] UpdateProfile (revoke) answered in " << Ms(update_call)
            << "; enforced after, counted from the request (polled every " << Ms(kStep) << "):";
  for (const Probe& probe : probes) {
    std::cout << " " << probe.what << " " << Ms(*probe.latency) << " (" << probe.polls
              << (probe.polls == 1 ? " poll)," : " polls),");
  }
  std::cout << " WatchMembership exit " << Ms(watch_latency) << std::endl;
  RecordProperty("segment_ms", absl::ToInt64Milliseconds(*probes[0].latency));
  RecordProperty("survey_ms", absl::ToInt64Milliseconds(*probes[1].latency));
  RecordProperty("experiment_ms", absl::ToInt64Milliseconds(*probes[2].latency));
  RecordProperty("watch_ms", absl::ToInt64Milliseconds(watch_latency));

  // Each refusal is the documented one; bob, who kept his consent, is untouched.
  grpc::Status refused = Submit(ada, 9);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(runtime::Reason(runtime::FromGrpcStatus(refused)), "CONSENT_REQUIRED");
  EXPECT_NE(refused.error_message().find("CONSENT_PURPOSE_MARKETING_EMAIL"), std::string::npos)
      << refused.error_message();
  auto refused_assignment = Assign(ada);
  ASSERT_TRUE(refused_assignment.ok()) << refused_assignment.status();
  EXPECT_EQ(refused_assignment->variant(), "");
  EXPECT_FALSE(refused_assignment->has_exposure_time());
  EXPECT_TRUE(InSegment(bob));
  EXPECT_TRUE(Eligibility(bob).eligible());
  grpc::Status answered = Submit(bob, 9);
  EXPECT_TRUE(answered.ok()) << answered.error_message();
  auto kept = Assign(bob);
  ASSERT_TRUE(kept.ok() && kept->eligible());

  // Both exposures stay; ada's purchase after the revocation does not convert, bob's
  // (recorded after hers, so Reporting has seen hers when it counts his) does.
  Purchase(ada, "consent-ada-order");
  Purchase(bob, "consent-bob-order");
  auto conversions = [&] {
    rv1::ExperimentResults results = Results();
    int64_t n = 0;
    for (const auto& v : results.variants()) n += v.primary().conversions();
    return n;
  };
  ASSERT_TRUE(Eventually([&] { return conversions() >= 1; }, kLimit))
      << "bob's purchase never converted; see " << reporting_.log;
  absl::SleepFor(absl::Milliseconds(500));
  rv1::ExperimentResults results = Results();
  int64_t exposures = 0;
  for (const auto& v : results.variants()) exposures += v.exposures();
  EXPECT_EQ(exposures, 2);
  EXPECT_EQ(conversions(), 1);
}

}  // namespace
}  // namespace centric::e2e
