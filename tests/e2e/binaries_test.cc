// End to end: centric-profiles (PostgreSQL + Redis) and centricd (SQLite) started as
// processes, called over gRPC with the generated client, stopped with SIGTERM.
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <sys/wait.h>

#include <fstream>
#include <regex>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "centric/feedback/v1/feedback_service.grpc.pb.h"
#include "centric/profiles/v1/profiles_service.grpc.pb.h"
#include "centric/segmentation/v1/segmentation_service.grpc.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "libs/testing/servers.h"
#include "tests/e2e/fixtures.h"
#include "tests/e2e/processes.h"

namespace centric::e2e {
namespace {

namespace v1 = ::centric::profiles::v1;

void ExerciseProfiles(const std::string& address) {
  auto stub = v1::Profiles::NewStub(grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  v1::CreateProfileRequest create;
  create.set_profile_id("e2e");
  create.mutable_profile()->set_kind(v1::PROFILE_KIND_PERSON);
  auto* identity = create.mutable_profile()->add_identities();
  identity->set_type(v1::IDENTITY_TYPE_EMAIL);
  identity->set_value("e2e@example.com");
  v1::Profile created;
  {
    grpc::ClientContext context;
    grpc::Status status = stub->CreateProfile(&context, create, &created);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }
  v1::RecordInteractionsRequest record;
  record.set_profile("profiles/e2e");
  auto* interaction = record.add_interactions();
  interaction->set_event_id("order-1");
  interaction->set_channel(v1::CHANNEL_WEB);
  interaction->set_type("purchase");
  interaction->mutable_occur_time()->set_seconds(absl::ToUnixSeconds(absl::Now()) - 60);
  interaction->set_monetary_value(42.5);
  {
    grpc::ClientContext context;
    v1::RecordInteractionsResponse response;
    grpc::Status status = stub->RecordInteractions(&context, record, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }
  for (int i = 0; i < 2; ++i) {
    grpc::ClientContext context;
    v1::LookupProfileRequest lookup;
    lookup.mutable_identity()->set_type(v1::IDENTITY_TYPE_EMAIL);
    lookup.mutable_identity()->set_value("E2E@example.com");
    v1::Profile found;
    grpc::Status status = stub->LookupProfile(&context, lookup, &found);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(found.name(), "profiles/e2e");
    EXPECT_DOUBLE_EQ(found.aggregates().revenue_total(), 42.5);
  }
  {
    grpc::ClientContext context;
    v1::EraseProfileRequest erase;
    erase.set_name("profiles/e2e");
    v1::EraseProfileResponse response;
    ASSERT_TRUE(stub->EraseProfile(&context, erase, &response).ok());
  }
  {
    grpc::ClientContext context;
    v1::GetProfileRequest get;
    get.set_name("profiles/e2e");
    v1::Profile got;
    EXPECT_EQ(stub->GetProfile(&context, get, &got).error_code(), grpc::StatusCode::NOT_FOUND);
  }
}

// A segment follows a profile's changes, and a persona is written back to the profile.
void ExerciseSegmentation(const std::string& profiles_address,
                          const std::string& segmentation_address) {
  namespace sv1 = ::centric::segmentation::v1;
  auto profiles = v1::Profiles::NewStub(
      grpc::CreateChannel(profiles_address, grpc::InsecureChannelCredentials()));
  auto segmentation = sv1::Segmentation::NewStub(
      grpc::CreateChannel(segmentation_address, grpc::InsecureChannelCredentials()));
  auto set_country = [&](const std::string& country, bool create) {
    grpc::ClientContext context;
    v1::Profile out;
    grpc::Status status;
    if (create) {
      v1::CreateProfileRequest request;
      request.set_profile_id("seg-e2e");
      request.mutable_profile()->set_kind(v1::PROFILE_KIND_PERSON);
      (*request.mutable_profile()->mutable_traits())["country"].set_string_value(country);
      status = profiles->CreateProfile(&context, request, &out);
    } else {
      v1::UpdateProfileRequest request;
      request.mutable_profile()->set_name("profiles/seg-e2e");
      (*request.mutable_profile()->mutable_traits())["country"].set_string_value(country);
      request.mutable_update_mask()->add_paths("traits.country");
      status = profiles->UpdateProfile(&context, request, &out);
    }
    ASSERT_TRUE(status.ok()) << status.error_message();
  };
  auto size = [&]() -> int64_t {
    grpc::ClientContext context;
    sv1::GetSegmentRequest request;
    request.set_name("segments/germany");
    sv1::Segment segment;
    if (!segmentation->GetSegment(&context, request, &segment).ok()) return -1;
    return segment.state() == sv1::SEGMENT_STATE_ACTIVE ? segment.size() : -1;
  };
  set_country("DE", true);
  {
    grpc::ClientContext context;
    sv1::CreateSegmentRequest request;
    request.set_segment_id("germany");
    request.mutable_segment()->set_display_name("Germany");
    request.mutable_segment()->set_owner_team("growth");
    request.mutable_segment()->set_rule("profile.traits.country == 'DE'");
    sv1::Segment created;
    grpc::Status status = segmentation->CreateSegment(&context, request, &created);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }
  EXPECT_TRUE(Eventually([&] { return size() == 1; }));
  set_country("FR", false);
  EXPECT_TRUE(Eventually([&] { return size() == 0; }));
  {
    grpc::ClientContext context;
    sv1::CreatePersonaRequest request;
    request.set_persona_id("francophile");
    request.mutable_persona()->set_display_name("Francophile");
    request.mutable_persona()->set_assignment_rule("profile.traits.country == 'FR'");
    sv1::Persona created;
    grpc::Status status = segmentation->CreatePersona(&context, request, &created);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }
  EXPECT_TRUE(Eventually([&] {
    grpc::ClientContext context;
    v1::GetProfileRequest get;
    get.set_name("profiles/seg-e2e");
    v1::Profile p;
    return profiles->GetProfile(&context, get, &p).ok() && p.persona() == "personas/francophile";
  }));
}

// A detractor's answer opens a follow-up for the support team with a 48-hour SLA, and
// the profile learns its last NPS score through the feedback events.
void ExerciseFeedback(const std::string& profiles_address, const std::string& feedback_address) {
  namespace fv1 = ::centric::feedback::v1;
  auto profiles =
      v1::Profiles::NewStub(grpc::CreateChannel(profiles_address, grpc::InsecureChannelCredentials()));
  auto feedback = fv1::Feedback::NewStub(
      grpc::CreateChannel(feedback_address, grpc::InsecureChannelCredentials()));
  {
    grpc::ClientContext context;
    v1::CreateProfileRequest request;
    request.set_profile_id("fb-e2e");
    request.mutable_profile()->set_kind(v1::PROFILE_KIND_PERSON);
    v1::Profile out;
    grpc::Status status = profiles->CreateProfile(&context, request, &out);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }
  CreateNpsSurveyWithDetractorFollowUps(*feedback, "nps-after-purchase");
  if (::testing::Test::HasFatalFailure()) return;
  fv1::Response response;
  {
    grpc::ClientContext context;
    fv1::SubmitResponseRequest request;
    request.set_parent("surveys/nps-after-purchase");
    request.mutable_response()->set_profile("profiles/fb-e2e");
    request.mutable_response()->set_score(3);
    request.mutable_response()->set_comment("Delivery was late and nobody answered my emails");
    grpc::Status status = feedback->SubmitResponse(&context, request, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }
  EXPECT_EQ(response.category(), fv1::CATEGORY_DETRACTOR);
  ASSERT_FALSE(response.follow_up().empty());
  grpc::ClientContext context;
  fv1::ListFollowUpsRequest list;
  list.set_owner_team("support");
  list.set_state(fv1::FOLLOW_UP_STATE_OPEN);
  fv1::ListFollowUpsResponse listed;
  grpc::Status status = feedback->ListFollowUps(&context, list, &listed);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(listed.follow_ups_size(), 1);
  const fv1::FollowUp& f = listed.follow_ups(0);
  EXPECT_EQ(f.response(), response.name());
  EXPECT_EQ(f.first_contact_due_time().seconds() - f.open_time().seconds(), 48 * 3600);
  EXPECT_TRUE(Eventually([&] {
    grpc::ClientContext get_context;
    v1::GetProfileRequest get;
    get.set_name("profiles/fb-e2e");
    v1::Profile p;
    return profiles->GetProfile(&get_context, get, &p).ok() &&
           p.aggregates().has_last_nps_score() && p.aggregates().last_nps_score() == 3 &&
           p.aggregates().open_follow_ups() == 1;
  }));
}

TEST(BinariesTest, CentricdRunsWithSqliteAndNoServers) {
  testing::TempDir dir;
  Running centricd = Start("centricd", {"--metrics-listen=127.0.0.1:0"},
                           {absl::StrCat("CENTRIC_DATABASE_URL=sqlite://", dir.path(), "/c.db")},
                           dir.path());
  ASSERT_FALSE(centricd.address.empty()) << "no listening line in " << centricd.log;
  ASSERT_TRUE(WaitServing(centricd.address));
  ExerciseProfiles(centricd.address);
  ExerciseSegmentation(centricd.address, centricd.address);
  ExerciseFeedback(centricd.address, centricd.address);

  // Prometheus metrics of what just ran.
  std::string metrics_address = FromLog(centricd.log, "metrics_listening");
  ASSERT_FALSE(metrics_address.empty()) << "no metrics_listening line in " << centricd.log;
  httplib::Client client(metrics_address.substr(0, metrics_address.rfind(':')),
                         std::stoi(metrics_address.substr(metrics_address.rfind(':') + 1)));
  client.set_read_timeout(5, 0);
  auto response = client.Get("/metrics");
  ASSERT_TRUE(response) << "no answer from " << metrics_address;
  EXPECT_EQ(response->status, 200);
  const std::string& text = response->body;
  EXPECT_NE(text.find("centric_rpc_requests_total{grpc_method=\"/centric.profiles.v1.Profiles/CreateProfile\",grpc_code=\"OK\"} 3"),
            std::string::npos) << text;
  EXPECT_NE(text.find("centric_rpc_requests_total{grpc_method=\"/centric.profiles.v1.Profiles/GetProfile\",grpc_code=\"NOT_FOUND\"} "),
            std::string::npos) << text;
  EXPECT_NE(text.find("# TYPE centric_rpc_duration_seconds histogram"), std::string::npos);
  EXPECT_NE(text.find("centric_rpc_duration_seconds_bucket{grpc_method=\"/centric.segmentation.v1.Segmentation/CreateSegment\",le=\"+Inf\"} 1"),
            std::string::npos) << text;
  EXPECT_NE(text.find("centric_segmentation_segments 1"), std::string::npos) << text;
  EXPECT_NE(text.find("centric_segmentation_ready 1"), std::string::npos) << text;
  EXPECT_NE(text.find("centric_outbox_backlog{service=\"profiles\"}"), std::string::npos) << text;
  EXPECT_NE(text.find("centric_cache_hits_total 0"), std::string::npos) << text;
  EXPECT_NE(text.find("centric_bus_consumer_lag{topic=\"profiles\",group=\"segmentation\"} "),
            std::string::npos) << text;
  EXPECT_NE(text.find("centric_bus_consumer_lag{topic=\"feedback\",group=\"profiles\"} "),
            std::string::npos) << text;
  EXPECT_NE(text.find("centric_feedback_follow_ups_open{team=\"support\"} 1"), std::string::npos)
      << text;
  EXPECT_NE(text.find("centric_feedback_follow_ups_breaching{team=\"support\"} 0"),
            std::string::npos) << text;
  StopGracefully(centricd);
}

TEST(BinariesTest, CentricProfilesRunsOnPostgresWithRedisCacheAndStreams) {
  auto postgres = testing::PostgresServer::Start();
  ASSERT_TRUE(postgres.ok()) << postgres.status();
  auto redis = testing::RedisServer::Start();
  ASSERT_TRUE(redis.ok()) << redis.status();
  testing::TempDir dir;
  Running profiles = Start("centric-profiles", {},
                           {absl::StrCat("CENTRIC_DATABASE_URL=", (*postgres)->url()),
                            absl::StrCat("CENTRIC_REDIS_URL=", (*redis)->url())},
                           dir.path());
  ASSERT_FALSE(profiles.address.empty()) << "no listening line in " << profiles.log;
  ASSERT_TRUE(WaitServing(profiles.address));
  ExerciseProfiles(profiles.address);
  StopGracefully(profiles);
}

TEST(BinariesTest, CentricSegmentationFollowsCentricProfilesThroughRedisStreams) {
  auto postgres = testing::PostgresServer::Start();
  ASSERT_TRUE(postgres.ok()) << postgres.status();
  auto redis = testing::RedisServer::Start();
  ASSERT_TRUE(redis.ok()) << redis.status();
  auto segmentation_db = (*postgres)->CreateDatabase("segmentation");
  ASSERT_TRUE(segmentation_db.ok()) << segmentation_db.status();
  testing::TempDir dir;
  std::string redis_url = absl::StrCat("CENTRIC_REDIS_URL=", (*redis)->url());
  Running profiles = Start("centric-profiles", {},
                           {absl::StrCat("CENTRIC_DATABASE_URL=", (*postgres)->url()), redis_url},
                           dir.path());
  ASSERT_TRUE(WaitServing(profiles.address));
  Running segmentation =
      Start("centric-segmentation", {absl::StrCat("--profiles-target=", profiles.address)},
            {absl::StrCat("CENTRIC_DATABASE_URL=", *segmentation_db), redis_url}, dir.path());
  ASSERT_FALSE(segmentation.address.empty()) << "no listening line in " << segmentation.log;
  ASSERT_TRUE(WaitServing(segmentation.address));
  ExerciseSegmentation(profiles.address, segmentation.address);
  StopGracefully(segmentation);
  StopGracefully(profiles);
}

TEST(BinariesTest, CentricFeedbackFollowsCentricProfilesThroughRedisStreams) {
  auto postgres = testing::PostgresServer::Start();
  ASSERT_TRUE(postgres.ok()) << postgres.status();
  auto redis = testing::RedisServer::Start();
  ASSERT_TRUE(redis.ok()) << redis.status();
  auto feedback_db = (*postgres)->CreateDatabase("feedback");
  ASSERT_TRUE(feedback_db.ok()) << feedback_db.status();
  testing::TempDir dir;
  std::string redis_url = absl::StrCat("CENTRIC_REDIS_URL=", (*redis)->url());
  Running profiles = Start("centric-profiles", {},
                           {absl::StrCat("CENTRIC_DATABASE_URL=", (*postgres)->url()), redis_url},
                           dir.path());
  ASSERT_TRUE(WaitServing(profiles.address));
  Running feedback =
      Start("centric-feedback", {absl::StrCat("--profiles-target=", profiles.address)},
            {absl::StrCat("CENTRIC_DATABASE_URL=", *feedback_db), redis_url}, dir.path());
  ASSERT_FALSE(feedback.address.empty()) << "no listening line in " << feedback.log;
  ASSERT_TRUE(WaitServing(feedback.address));
  ExerciseFeedback(profiles.address, feedback.address);
  StopGracefully(feedback);
  StopGracefully(profiles);
}

TEST(BinariesTest, CentricSegmentationNeedsTheProfilesTarget) {
  testing::TempDir dir;
  auto process = testing::Process::Start(
      {absl::StrCat(CENTRIC_BIN_DIR, "/centric-segmentation"), "--listen=127.0.0.1:0", "--no-cache",
       "--insecure"},
      dir.path() + "/out.log", {absl::StrCat("CENTRIC_DATABASE_URL=sqlite://", dir.path(), "/s.db")});
  ASSERT_TRUE(process.ok());
  absl::Time deadline = absl::Now() + absl::Seconds(10);
  while ((*process)->Running() && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(20));
  int status = (*process)->Signal(SIGKILL, absl::Seconds(1));
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) != 0) << status;
  std::ifstream log(dir.path() + "/out.log");
  std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("CENTRIC_PROFILES_TARGET"), std::string::npos) << text;
}

TEST(BinariesTest, CentricProfilesRefusesToStartWithoutRedisUnlessNoCache) {
  testing::TempDir dir;
  auto process = testing::Process::Start(
      {absl::StrCat(CENTRIC_BIN_DIR, "/centric-profiles"), "--listen=127.0.0.1:0", "--insecure"},
      dir.path() + "/out.log", {absl::StrCat("CENTRIC_DATABASE_URL=sqlite://", dir.path(), "/x.db")});
  ASSERT_TRUE(process.ok());
  absl::Time deadline = absl::Now() + absl::Seconds(10);
  while ((*process)->Running() && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(20));
  int status = (*process)->Signal(SIGKILL, absl::Seconds(1));
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 2) << status;

  Running no_cache = Start("centric-profiles", {"--no-cache"},
                           {absl::StrCat("CENTRIC_DATABASE_URL=sqlite://", dir.path(), "/y.db")},
                           dir.path());
  ASSERT_FALSE(no_cache.address.empty());
  ASSERT_TRUE(WaitServing(no_cache.address));
  StopGracefully(no_cache);
}

}  // namespace
}  // namespace centric::e2e
