// The Segmentation service as centricd hosts it: the Profiles and Segmentation modules in
// one server over a real socket, on SQLite with the in-process bus and on PostgreSQL with
// Redis Streams, driven only through their gRPC APIs.
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <functional>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "centric/profiles/v1/profiles_service.grpc.pb.h"
#include "centric/segmentation/v1/segmentation_service.grpc.pb.h"
#include "google/rpc/error_details.pb.h"
#include "gtest/gtest.h"
#include "libs/events/in_process_bus.h"
#include "libs/events/redis_streams_bus.h"
#include "libs/runtime/grpc_status.h"
#include "libs/testing/servers.h"
#include "libs/testing/shared_servers.h"
#include "services/profiles/module.h"
#include "services/segmentation/module.h"

namespace centric::segmentation {
namespace {

namespace pv1 = profiles::v1;

struct Backend {
  std::string name;
  bool postgres;
};

using testing::SharedPostgres;
using testing::SharedRedis;

// One centricd-like process: infrastructure, both modules, a server.
class Suite {
 public:
  Suite(const Backend& backend, const std::string& database_url, int* counter) {
    infra_.config.refresh_interval = absl::Seconds(1);
    auto db = store::Open(database_url);
    EXPECT_TRUE(db.ok()) << db.status();
    infra_.db = std::move(*db);
    infra_.cache = std::make_unique<cache::NullCache>();
    if (backend.postgres) {
      events::RedisStreamsOptions options;
      options.host = "127.0.0.1";
      options.port = SharedRedis()->port();
      options.key_prefix = absl::StrCat("t", ++*counter, ":");
      infra_.bus = events::NewRedisStreamsBus(options);
    } else {
      infra_.bus = events::NewInProcessBus();
    }
    auto clock = std::make_unique<runtime::FakeClock>(absl::FromUnixSeconds(1790000000));
    clock_ = clock.get();
    infra_.clock = std::move(clock);
    infra_.ids = std::make_unique<runtime::UlidGenerator>(*infra_.clock);
    infra_.pool = std::make_unique<runtime::WorkerPool>(8);
    server_ = std::make_unique<runtime::Server>(
        runtime::ServerOptions{.listen = "127.0.0.1:0", .drain_timeout = absl::Seconds(2)});
    profiles_ = profiles::NewProfilesModule(infra_);
    auto segmentation = std::make_unique<SegmentationModule>(infra_, false);
    segmentation_ = segmentation.get();
    segmentation_module_ = std::move(segmentation);
    EXPECT_TRUE(profiles_->Start(*server_).ok());
    EXPECT_TRUE(segmentation_module_->Start(*server_).ok());
    EXPECT_TRUE(server_->Start().ok());
    server_->SetServing(true);
    segmentation_module_->Serving(*server_);
    auto channel = grpc::CreateChannel(server_->address(), grpc::InsecureChannelCredentials());
    profiles_stub = pv1::Profiles::NewStub(channel);
    stub = v1::Segmentation::NewStub(channel);
  }
  ~Suite() {
    server_->Shutdown();
    segmentation_module_->Stop();
    profiles_->Stop();
  }
  Engine& engine() { return segmentation_->engine(); }
  runtime::FakeClock& clock() { return *clock_; }
  events::Bus& bus() { return *infra_.bus; }

  std::unique_ptr<pv1::Profiles::Stub> profiles_stub;
  std::unique_ptr<v1::Segmentation::Stub> stub;

 private:
  app::Infrastructure infra_;
  runtime::FakeClock* clock_ = nullptr;
  std::unique_ptr<runtime::Server> server_;
  std::unique_ptr<app::Module> profiles_;
  std::unique_ptr<app::Module> segmentation_module_;
  SegmentationModule* segmentation_ = nullptr;
};

bool WaitFor(const std::function<bool()>& condition, absl::Duration timeout = absl::Seconds(10)) {
  absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    if (condition()) return true;
    absl::SleepFor(absl::Milliseconds(20));
  }
  return condition();
}

class SegmentationServiceTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    if (GetParam().postgres) {
      ASSERT_NE(SharedPostgres(), nullptr);
      ASSERT_NE(SharedRedis(), nullptr);
      auto url = SharedPostgres()->CreateDatabase(absl::StrCat("seg", ++counter_));
      ASSERT_TRUE(url.ok()) << url.status();
      url_ = *url;
    } else {
      url_ = absl::StrCat("sqlite://", dir_.path(), "/centric.db");
    }
    suite_ = std::make_unique<Suite>(GetParam(), url_, &counter_);
    ASSERT_TRUE(WaitFor([&] { return suite_->engine().ready(); }));
  }

  void Restart() {
    suite_.reset();
    suite_ = std::make_unique<Suite>(GetParam(), url_, &counter_);
    ASSERT_TRUE(WaitFor([&] { return suite_->engine().ready(); }));
  }

  pv1::Profile CreateProfile(const std::string& id, const std::string& country,
                             pv1::ConsentStatus email_consent = pv1::CONSENT_STATUS_GRANTED) {
    grpc::ClientContext context;
    pv1::CreateProfileRequest request;
    request.set_profile_id(id);
    request.mutable_profile()->set_kind(pv1::PROFILE_KIND_PERSON);
    (*request.mutable_profile()->mutable_traits())["country"].set_string_value(country);
    auto* consent = request.mutable_profile()->add_consents();
    consent->set_purpose(pv1::CONSENT_PURPOSE_MARKETING_EMAIL);
    consent->set_status(email_consent);
    pv1::Profile created;
    grpc::Status status = suite_->profiles_stub->CreateProfile(&context, request, &created);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return created;
  }

  void UpdateTrait(const std::string& id, const std::string& key, const std::string& value) {
    grpc::ClientContext context;
    pv1::UpdateProfileRequest request;
    request.mutable_profile()->set_name(absl::StrCat("profiles/", id));
    (*request.mutable_profile()->mutable_traits())[key].set_string_value(value);
    request.mutable_update_mask()->add_paths(absl::StrCat("traits.", key));
    pv1::Profile updated;
    grpc::Status status = suite_->profiles_stub->UpdateProfile(&context, request, &updated);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }

  void SetConsent(const std::string& id, pv1::ConsentStatus status_value) {
    grpc::ClientContext context;
    pv1::UpdateProfileRequest request;
    request.mutable_profile()->set_name(absl::StrCat("profiles/", id));
    auto* consent = request.mutable_profile()->add_consents();
    consent->set_purpose(pv1::CONSENT_PURPOSE_MARKETING_EMAIL);
    consent->set_status(status_value);
    request.mutable_update_mask()->add_paths("consents");
    pv1::Profile updated;
    grpc::Status status = suite_->profiles_stub->UpdateProfile(&context, request, &updated);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }

  void Purchase(const std::string& id, double amount, absl::Time when, const std::string& event) {
    grpc::ClientContext context;
    pv1::RecordInteractionsRequest request;
    request.set_profile(absl::StrCat("profiles/", id));
    auto* i = request.add_interactions();
    i->set_event_id(event);
    i->set_channel(pv1::CHANNEL_WEB);
    i->set_type("purchase");
    i->set_monetary_value(amount);
    i->mutable_occur_time()->set_seconds(absl::ToUnixSeconds(when));
    pv1::RecordInteractionsResponse response;
    grpc::Status status = suite_->profiles_stub->RecordInteractions(&context, request, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }

  grpc::Status CreateSegment(const std::string& id, const std::string& rule, v1::Segment* out,
                             pv1::ConsentPurpose purpose = pv1::CONSENT_PURPOSE_UNSPECIFIED) {
    grpc::ClientContext context;
    v1::CreateSegmentRequest request;
    request.set_segment_id(id);
    request.mutable_segment()->set_display_name(id);
    request.mutable_segment()->set_owner_team("growth");
    request.mutable_segment()->set_rule(rule);
    request.mutable_segment()->set_purpose(purpose);
    return suite_->stub->CreateSegment(&context, request, out);
  }

  int64_t SizeOf(const std::string& segment) {
    grpc::ClientContext context;
    v1::GetSegmentRequest request;
    request.set_name(segment);
    v1::Segment s;
    grpc::Status status = suite_->stub->GetSegment(&context, request, &s);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return s.size();
  }

  std::vector<std::string> SegmentsOf(const std::string& profile, std::string* persona = nullptr,
                                      v1::RfmScore* rfm = nullptr) {
    grpc::ClientContext context;
    v1::CheckMembershipRequest request;
    request.set_profile(profile);
    v1::CheckMembershipResponse response;
    grpc::Status status = suite_->stub->CheckMembership(&context, request, &response);
    if (!status.ok()) return {"<" + status.error_message() + ">"};
    if (persona != nullptr) *persona = response.primary_persona();
    if (rfm != nullptr) *rfm = response.rfm();
    return {response.segments().begin(), response.segments().end()};
  }

  static int counter_;
  testing::TempDir dir_;
  std::string url_;
  std::unique_ptr<Suite> suite_;
};

int SegmentationServiceTest::counter_ = 0;

TEST_P(SegmentationServiceTest, SegmentMembershipFollowsProfileChanges) {
  CreateProfile("anna", "DE");
  CreateProfile("bert", "FR");
  ASSERT_TRUE(WaitFor([&] { return suite_->engine().profile_count() == 2; }));
  v1::Segment segment;
  ASSERT_TRUE(CreateSegment("germany", "profile.traits.country == 'DE'", &segment).ok());
  EXPECT_EQ(segment.name(), "segments/germany");
  EXPECT_EQ(segment.state(), v1::SEGMENT_STATE_ACTIVE);
  EXPECT_EQ(segment.size(), 1);
  EXPECT_EQ(segment.etag(), "\"v1\"");
  EXPECT_EQ(SegmentsOf("profiles/anna"), std::vector<std::string>{"segments/germany"});

  // A profile created afterwards and a profile changing country both count.
  CreateProfile("cleo", "DE");
  UpdateTrait("anna", "country", "AT");
  ASSERT_TRUE(WaitFor([&] { return SegmentsOf("profiles/cleo").size() == 1; }));
  ASSERT_TRUE(WaitFor([&] { return SegmentsOf("profiles/anna").empty(); }));
  EXPECT_EQ(SizeOf("segments/germany"), 1);

  // Erasure removes the profile from every segment and from memory.
  {
    grpc::ClientContext context;
    pv1::EraseProfileRequest erase;
    erase.set_name("profiles/cleo");
    erase.set_reason("test");
    pv1::EraseProfileResponse response;
    ASSERT_TRUE(suite_->profiles_stub->EraseProfile(&context, erase, &response).ok());
  }
  ASSERT_TRUE(WaitFor([&] { return SizeOf("segments/germany") == 0; }));
  EXPECT_EQ(SegmentsOf("profiles/cleo")[0].find("<profiles/cleo is not known"), 0u);
}

TEST_P(SegmentationServiceTest, MergedProfilesLeaveAndTheSurvivorStays) {
  CreateProfile("anna", "DE");
  CreateProfile("anna-dup", "DE");
  ASSERT_TRUE(WaitFor([&] { return suite_->engine().profile_count() == 2; }));
  v1::Segment segment;
  ASSERT_TRUE(CreateSegment("germany", "profile.traits.country == 'DE'", &segment).ok());
  EXPECT_EQ(segment.size(), 2);
  grpc::ClientContext context;
  pv1::MergeProfilesRequest merge;
  merge.set_survivor("profiles/anna");
  merge.add_merged("profiles/anna-dup");
  pv1::Profile survivor;
  ASSERT_TRUE(suite_->profiles_stub->MergeProfiles(&context, merge, &survivor).ok());
  ASSERT_TRUE(WaitFor([&] { return SizeOf("segments/germany") == 1; }));
  EXPECT_EQ(SegmentsOf("profiles/anna"), std::vector<std::string>{"segments/germany"});
  EXPECT_EQ(suite_->engine().profile_count(), 1);
}

TEST_P(SegmentationServiceTest, WatchAndEventsCarryEnteredAndExited) {
  CreateProfile("anna", "FR");
  ASSERT_TRUE(WaitFor([&] { return suite_->engine().profile_count() == 1; }));
  v1::Segment segment;
  ASSERT_TRUE(CreateSegment("germany", "profile.traits.country == 'DE'", &segment).ok());

  absl::Mutex mu;
  std::vector<std::string> events;
  auto subscription = suite_->bus().Subscribe(
      {.topic = "segmentation", .group = "test", .consumer = "t"},
      [&](const events::Event& event) {
        events::v1::MembershipChanged changed;
        EXPECT_TRUE(event.payload().UnpackTo(&changed));
        absl::MutexLock lock(&mu);
        events.push_back(absl::StrCat(changed.profile(), changed.entered() ? " entered " : " left ",
                                      changed.segment()));
        return absl::OkStatus();
      });

  grpc::ClientContext watch_context;
  v1::WatchMembershipRequest watch;
  watch.add_segments("segments/germany");
  auto reader = suite_->stub->WatchMembership(&watch_context, watch);
  absl::SleepFor(absl::Milliseconds(200));  // the stream is registered
  UpdateTrait("anna", "country", "DE");
  v1::MembershipChange change;
  ASSERT_TRUE(reader->Read(&change));
  EXPECT_EQ(change.profile(), "profiles/anna");
  EXPECT_TRUE(change.entered());
  UpdateTrait("anna", "country", "FR");
  ASSERT_TRUE(reader->Read(&change));
  EXPECT_FALSE(change.entered());
  watch_context.TryCancel();

  ASSERT_TRUE(WaitFor([&] {
    absl::MutexLock lock(&mu);
    return events.size() >= 2;
  }));
  absl::MutexLock lock(&mu);
  EXPECT_EQ(events[0], "profiles/anna entered segments/germany");
  EXPECT_EQ(events[1], "profiles/anna left segments/germany");
}

// The Feedback service's events reach segments through Profiles: the profiles module
// consumes them, the aggregates change, ProfileChanged makes segmentation re-evaluate
// the segments that read the feedback figures.
TEST_P(SegmentationServiceTest, FeedbackEventsMoveProfilesBetweenSegments) {
  CreateProfile("anna", "DE");
  CreateProfile("bert", "DE");
  ASSERT_TRUE(WaitFor([&] { return suite_->engine().profile_count() == 2; }));
  v1::Segment segment;
  ASSERT_TRUE(CreateSegment("detractors",
                            "profile.aggregates.last_nps_score >= 0 && "
                            "profile.aggregates.last_nps_score <= 6",
                            &segment)
                  .ok());
  ASSERT_TRUE(CreateSegment("follow-up-open", "profile.aggregates.open_follow_ups > 0", &segment)
                  .ok());
  EXPECT_EQ(SizeOf("segments/detractors"), 0) << "no answer reads as -1";

  int next_id = 0;
  auto publish = [&](const std::string& profile, int64_t version, int nps, int64_t open) {
    events::v1::ResponseReceived received;
    received.set_profile(profile);
    received.set_kind("NPS");
    received.set_score(nps);
    events::v1::FeedbackSummary* summary = received.mutable_profile_feedback();
    summary->set_version(version);
    summary->set_last_nps_score(nps);
    summary->mutable_last_nps_time()->set_seconds(1789990000 + version);
    summary->set_open_follow_ups(open);
    events::Event event;
    event.set_id(absl::StrCat("feedback-", ++next_id));
    event.set_type("centric.events.v1.ResponseReceived");
    event.set_source("feedback");
    event.set_subject(profile);
    event.mutable_payload()->PackFrom(received);
    ASSERT_TRUE(suite_->bus().Publish(event).ok());
  };
  publish("profiles/anna", 1, 3, 1);
  ASSERT_TRUE(WaitFor([&] { return SizeOf("segments/detractors") == 1; }));
  EXPECT_EQ(SegmentsOf("profiles/anna"),
            (std::vector<std::string>{"segments/detractors", "segments/follow-up-open"}));
  EXPECT_TRUE(SegmentsOf("profiles/bert").empty());
  publish("profiles/anna", 2, 9, 0);  // answered again, follow-up closed
  ASSERT_TRUE(WaitFor([&] { return SegmentsOf("profiles/anna").empty(); }));
  EXPECT_EQ(SizeOf("segments/detractors"), 0);
  EXPECT_EQ(SizeOf("segments/follow-up-open"), 0);
}

TEST_P(SegmentationServiceTest, MarketingSegmentsOnlyHoldGrantedConsent) {
  CreateProfile("anna", "DE", pv1::CONSENT_STATUS_GRANTED);
  CreateProfile("bert", "DE", pv1::CONSENT_STATUS_DENIED);
  ASSERT_TRUE(WaitFor([&] { return suite_->engine().profile_count() == 2; }));
  v1::Segment segment;
  ASSERT_TRUE(CreateSegment("de-mail", "profile.traits.country == 'DE'", &segment,
                            pv1::CONSENT_PURPOSE_MARKETING_EMAIL)
                  .ok());
  EXPECT_EQ(segment.size(), 1);
  EXPECT_EQ(SegmentsOf("profiles/bert"), std::vector<std::string>{});
  // Revoking consent removes the profile within seconds.
  absl::Time revoked = absl::Now();
  SetConsent("anna", pv1::CONSENT_STATUS_REVOKED);
  ASSERT_TRUE(WaitFor([&] { return SizeOf("segments/de-mail") == 0; }, absl::Seconds(5)));
  EXPECT_LT(absl::Now() - revoked, absl::Seconds(5));
  SetConsent("bert", pv1::CONSENT_STATUS_GRANTED);
  ASSERT_TRUE(WaitFor([&] { return SegmentsOf("profiles/bert").size() == 1; }));
}

// A revocation is an exit like any other: watchers and the bus see it.
TEST_P(SegmentationServiceTest, RevokedConsentIsAnExitOnWatchAndBus) {
  CreateProfile("anna", "DE", pv1::CONSENT_STATUS_GRANTED);
  ASSERT_TRUE(WaitFor([&] { return suite_->engine().profile_count() == 1; }));
  v1::Segment segment;
  ASSERT_TRUE(CreateSegment("de-mail", "profile.traits.country == 'DE'", &segment,
                            pv1::CONSENT_PURPOSE_MARKETING_EMAIL)
                  .ok());
  ASSERT_EQ(segment.size(), 1);

  absl::Mutex mu;
  std::vector<std::string> events;
  auto subscription = suite_->bus().Subscribe(
      {.topic = "segmentation", .group = "consent-test", .consumer = "t"},
      [&](const events::Event& event) {
        events::v1::MembershipChanged changed;
        EXPECT_TRUE(event.payload().UnpackTo(&changed));
        absl::MutexLock lock(&mu);
        events.push_back(absl::StrCat(changed.profile(), changed.entered() ? " entered " : " left ",
                                      changed.segment()));
        return absl::OkStatus();
      });
  grpc::ClientContext watch_context;
  v1::WatchMembershipRequest watch;
  watch.add_segments("segments/de-mail");
  auto reader = suite_->stub->WatchMembership(&watch_context, watch);
  absl::SleepFor(absl::Milliseconds(200));  // the stream is registered

  SetConsent("anna", pv1::CONSENT_STATUS_REVOKED);
  v1::MembershipChange change;
  ASSERT_TRUE(reader->Read(&change));
  EXPECT_EQ(change.profile(), "profiles/anna");
  EXPECT_EQ(change.segment(), "segments/de-mail");
  EXPECT_FALSE(change.entered());
  watch_context.TryCancel();
  EXPECT_EQ(SegmentsOf("profiles/anna"), std::vector<std::string>{});
  ASSERT_TRUE(WaitFor([&] {
    absl::MutexLock lock(&mu);
    return std::find(events.begin(), events.end(), "profiles/anna left segments/de-mail") !=
           events.end();
  }));
}

TEST_P(SegmentationServiceTest, BadRulesAreRejectedWithTheFieldAndPosition) {
  v1::Segment segment;
  grpc::Status status = CreateSegment("bad", "profile.traits.country == ", &segment);
  ASSERT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  google::rpc::BadRequest bad;
  google::rpc::Status rich = runtime::RichStatus(status);
  ASSERT_EQ(rich.details_size(), 2);
  ASSERT_TRUE(rich.details(1).UnpackTo(&bad));
  EXPECT_EQ(bad.field_violations(0).field(), "segment.rule");
  EXPECT_NE(bad.field_violations(0).description().find("1:27"), std::string::npos)
      << bad.field_violations(0).description();

  status = CreateSegment("bad", "profile.aggregates.revenue > 1.0", &segment);
  ASSERT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("unknown field 'revenue'"), std::string::npos);
  status = CreateSegment("bad", "profile.traits.l.exists(a, profile.traits.l.exists(b, a == b))",
                         &segment);
  EXPECT_NE(status.error_message().find("limit 100000"), std::string::npos) << status.error_message();
  status = CreateSegment("Bad Id", "true", &segment);
  EXPECT_NE(status.error_message().find("segment_id"), std::string::npos);
  // Nothing was saved.
  grpc::ClientContext context;
  v1::ListSegmentsResponse list;
  ASSERT_TRUE(suite_->stub->ListSegments(&context, {}, &list).ok());
  EXPECT_EQ(list.segments_size(), 0);
}

TEST_P(SegmentationServiceTest, PreviewListMembersAndOverlap) {
  for (int i = 0; i < 25; ++i) CreateProfile(absl::StrCat("p", 100 + i), i % 2 ? "DE" : "FR");
  ASSERT_TRUE(WaitFor([&] { return suite_->engine().profile_count() == 25; }));
  {
    grpc::ClientContext context;
    v1::PreviewSegmentRequest request;
    request.set_rule("profile.traits.country == 'DE'");
    request.set_sample_size(5);
    v1::PreviewSegmentResponse response;
    ASSERT_TRUE(suite_->stub->PreviewSegment(&context, request, &response).ok());
    EXPECT_EQ(response.size(), 12);
    EXPECT_EQ(response.sample_size(), 5);
  }
  v1::Segment de, all;
  ASSERT_TRUE(CreateSegment("de", "profile.traits.country == 'DE'", &de).ok());
  ASSERT_TRUE(CreateSegment("all", "true", &all).ok());

  // Members in name order, in chunks of 5, resumed after the second chunk.
  std::vector<std::string> members;
  std::string token;
  {
    grpc::ClientContext context;
    v1::ListSegmentMembersRequest request;
    request.set_segment("segments/de");
    request.set_chunk_size(5);
    auto reader = suite_->stub->ListSegmentMembers(&context, request);
    v1::ListSegmentMembersResponse chunk;
    for (int i = 0; i < 2 && reader->Read(&chunk); ++i) {
      for (const auto& p : chunk.profiles()) members.push_back(p);
      token = chunk.resume_token();
    }
    context.TryCancel();
  }
  {
    grpc::ClientContext context;
    v1::ListSegmentMembersRequest request;
    request.set_segment("segments/de");
    request.set_chunk_size(5);
    request.set_resume_token(token);
    auto reader = suite_->stub->ListSegmentMembers(&context, request);
    v1::ListSegmentMembersResponse chunk;
    while (reader->Read(&chunk)) {
      for (const auto& p : chunk.profiles()) members.push_back(p);
    }
    ASSERT_TRUE(reader->Finish().ok());
  }
  ASSERT_EQ(members.size(), 12u);
  EXPECT_TRUE(std::is_sorted(members.begin(), members.end()));
  EXPECT_EQ(members[0], "profiles/p101");

  grpc::ClientContext context;
  v1::GetSegmentOverlapRequest request;
  request.add_segments("segments/de");
  request.add_segments("segments/all");
  v1::GetSegmentOverlapResponse overlap;
  ASSERT_TRUE(suite_->stub->GetSegmentOverlap(&context, request, &overlap).ok());
  EXPECT_EQ(overlap.intersection_size(), 12);
  EXPECT_EQ(overlap.union_size(), 25);
  ASSERT_EQ(overlap.differences_size(), 2);
  EXPECT_EQ(overlap.differences(0).size(), 0);   // de - all
  EXPECT_EQ(overlap.differences(1).size(), 13);  // all - de
}

TEST_P(SegmentationServiceTest, PersonasAreAssignedByPriorityAndWrittenBack) {
  CreateProfile("anna", "DE");
  CreateProfile("bert", "FR");
  ASSERT_TRUE(WaitFor([&] { return suite_->engine().profile_count() == 2; }));
  auto create = [&](const std::string& id, const std::string& rule, int priority) {
    grpc::ClientContext context;
    v1::CreatePersonaRequest request;
    request.set_persona_id(id);
    request.mutable_persona()->set_display_name(id);
    request.mutable_persona()->add_goals("save time");
    request.mutable_persona()->add_preferred_channels(pv1::CHANNEL_EMAIL);
    request.mutable_persona()->set_assignment_rule(rule);
    request.mutable_persona()->set_priority(priority);
    v1::Persona created;
    grpc::Status status = suite_->stub->CreatePersona(&context, request, &created);
    EXPECT_TRUE(status.ok()) << status.error_message();
  };
  create("everyone", "true", 1);
  create("german", "profile.traits.country == 'DE'", 10);
  std::string persona;
  SegmentsOf("profiles/anna", &persona);
  EXPECT_EQ(persona, "personas/german");
  SegmentsOf("profiles/bert", &persona);
  EXPECT_EQ(persona, "personas/everyone");
  // Written back to the profile through the Profiles API.
  ASSERT_TRUE(WaitFor([&] {
    grpc::ClientContext context;
    pv1::GetProfileRequest get;
    get.set_name("profiles/anna");
    pv1::Profile p;
    return suite_->profiles_stub->GetProfile(&context, get, &p).ok() && p.persona() == "personas/german";
  }));
  // A profile leaving the higher persona falls back to the next one.
  UpdateTrait("anna", "country", "FR");
  ASSERT_TRUE(WaitFor([&] {
    std::string p;
    SegmentsOf("profiles/anna", &p);
    return p == "personas/everyone";
  }));
  grpc::ClientContext context;
  v1::GetPersonaRequest get;
  get.set_name("personas/everyone");
  v1::Persona everyone;
  ASSERT_TRUE(suite_->stub->GetPersona(&context, get, &everyone).ok());
  EXPECT_EQ(everyone.size(), 2);
}

TEST_P(SegmentationServiceTest, RfmScoresTemplatesAndTimeRules) {
  absl::Time now = suite_->clock().Now();
  for (int i = 0; i < 10; ++i) {
    std::string id = absl::StrCat("c", i);
    CreateProfile(id, "DE");
    // Customer i: i+1 purchases of 10*(i+1), the last one i*10 days ago.
    for (int k = 0; k <= i; ++k) {
      Purchase(id, 10.0 * (i + 1), now - absl::Hours(24 * (i * 10 + k)), absl::StrCat(id, "-", k));
    }
  }
  CreateProfile("never", "DE");
  ASSERT_TRUE(WaitFor([&] { return suite_->engine().profile_count() == 11; }));
  v1::Segment recent;
  ASSERT_TRUE(CreateSegment("recent", "now - profile.aggregates.last_purchase_time < duration('360h')",
                            &recent).ok());
  // Interactions arrive as events; wait until every customer's purchases are in.
  ASSERT_TRUE(WaitFor([&] { return SizeOf("segments/recent") == 2; }));
  // RFM boundaries are computed on refresh (every second here).
  v1::RfmScore rfm;
  ASSERT_TRUE(WaitFor([&] {
    SegmentsOf("profiles/c9", nullptr, &rfm);
    return rfm.f() == 5;
  }));
  EXPECT_EQ(rfm.r(), 1);  // bought longest ago
  EXPECT_EQ(rfm.m(), 5);
  SegmentsOf("profiles/never", nullptr, &rfm);
  EXPECT_EQ(rfm.f(), 0);
  {
    grpc::ClientContext context;
    v1::CreateSegmentRequest request;
    request.set_segment_id("champions");
    request.mutable_segment()->set_template_("rfm-champions");
    request.mutable_segment()->set_owner_team("crm");
    v1::Segment champions;
    grpc::Status status = suite_->stub->CreateSegment(&context, request, &champions);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(champions.display_name(), "Champions");
    EXPECT_EQ(champions.rule(), "rfm.r >= 4 && rfm.f >= 4 && rfm.m >= 4");
  }
  // Time passes: nobody bought within 15 days any more.
  suite_->clock().Advance(absl::Hours(24 * 30));
  ASSERT_TRUE(WaitFor([&] { return SizeOf("segments/recent") == 0; }));
}

TEST_P(SegmentationServiceTest, RestartRebuildsTheSameMembership) {
  for (int i = 0; i < 6; ++i) CreateProfile(absl::StrCat("p", i), i < 4 ? "DE" : "FR");
  ASSERT_TRUE(WaitFor([&] { return suite_->engine().profile_count() == 6; }));
  v1::Segment de;
  ASSERT_TRUE(CreateSegment("de", "profile.traits.country == 'DE'", &de).ok());
  EXPECT_EQ(de.size(), 4);
  Restart();
  EXPECT_EQ(SizeOf("segments/de"), 4);
  EXPECT_EQ(SegmentsOf("profiles/p0"), std::vector<std::string>{"segments/de"});
  // Update and delete with etags.
  grpc::ClientContext context;
  v1::UpdateSegmentRequest update;
  update.mutable_segment()->set_name("segments/de");
  update.mutable_segment()->set_rule("profile.traits.country == 'FR'");
  update.mutable_update_mask()->add_paths("rule");
  update.set_etag("\"v1\"");
  v1::Segment updated;
  ASSERT_TRUE(suite_->stub->UpdateSegment(&context, update, &updated).ok());
  EXPECT_EQ(updated.size(), 2);
  EXPECT_EQ(updated.etag(), "\"v2\"");
  grpc::ClientContext stale_context;
  v1::DeleteSegmentRequest del;
  del.set_name("segments/de");
  del.set_etag("\"v1\"");
  v1::DeleteSegmentResponse deleted;
  EXPECT_EQ(suite_->stub->DeleteSegment(&stale_context, del, &deleted).error_code(),
            grpc::StatusCode::ABORTED);
}

INSTANTIATE_TEST_SUITE_P(Backends, SegmentationServiceTest,
                         ::testing::Values(Backend{"sqlite", false}, Backend{"postgres", true}),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace centric::segmentation
