// The erasure guard of FeedbackService (migration 4) on SQLite and a real PostgreSQL: a
// response or feature-request link whose profile lookup raced an erasure is refused, and
// on PostgreSQL a submit in flight waits for an erasure holding the profile's guard row,
// then is refused, so nothing the erasure should have removed survives it.
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "centric/events/v1/events.pb.h"
#include "gtest/gtest.h"
#include "libs/runtime/clock.h"
#include "libs/store/store.h"
#include "libs/testing/shared_servers.h"
#include "services/feedback/feedback_service.h"

namespace centric::feedback {
namespace {

namespace pv1 = ::centric::profiles::v1;
namespace ev = ::centric::events::v1;

// Answers every lookup with the profile, as a Profiles service would have just before
// the erasure: the stale answer the guard has to catch.
class StaleProfiles : public ProfileSource {
 public:
  absl::StatusOr<std::vector<std::optional<pv1::Profile>>> Get(const std::vector<std::string>& names,
                                                                absl::Time) override {
    std::vector<std::optional<pv1::Profile>> out;
    for (const std::string& name : names) {
      pv1::Profile profile;
      profile.set_name(name);
      profile.set_kind(pv1::PROFILE_KIND_PERSON);
      out.push_back(profile);
    }
    return out;
  }
};

class ErasureGuardTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    std::string url = "sqlite::memory:";
    if (GetParam() == "postgresql") {
      auto* postgres = testing::SharedPostgres();
      ASSERT_NE(postgres, nullptr);
      auto created = postgres->CreateDatabase(testing::UniqueTestName());
      ASSERT_TRUE(created.ok()) << created.status();
      url = *created;
    }
    auto db = store::Open(url);
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = std::move(*db);
    ASSERT_TRUE(store::Migrate(*db_, "feedback", FeedbackMigrations()).ok());
    FeedbackService::Deps deps;
    deps.db = db_.get();
    deps.clock = &clock_;
    deps.ids = &ids_;
    deps.profiles = &profiles_;
    service_ = std::make_unique<FeedbackService>(std::move(deps));
    v1::CreateSurveyRequest survey;
    survey.set_survey_id("nps");
    survey.mutable_survey()->set_display_name("NPS");
    survey.mutable_survey()->set_kind(v1::SURVEY_KIND_NPS);
    survey.mutable_survey()->set_question("How likely are you to recommend us?");
    survey.mutable_survey()->set_owner_team("cx");
    ASSERT_TRUE(service_->CreateSurvey(survey).ok());
  }

  absl::StatusOr<v1::Response> Submit(const std::string& profile, const std::string& comment) {
    v1::SubmitResponseRequest request;
    request.set_parent("surveys/nps");
    request.mutable_response()->set_profile(profile);
    request.mutable_response()->set_score(2);
    request.mutable_response()->set_comment(comment);
    return service_->SubmitResponse(request, absl::Now() + absl::Seconds(30));
  }

  absl::Status Erase(const std::string& profile) {
    return db_->Transact([&](store::Tx& tx) { return service_->ApplyEvent(tx, Erased(profile)); });
  }

  static ev::Event Erased(const std::string& profile) {
    ev::ProfileErased erased;
    erased.set_profile(profile);
    ev::Event event;
    event.set_id("e1");
    event.mutable_payload()->PackFrom(erased);
    return event;
  }

  // Responses still naming `profile`.
  int64_t Remaining(const std::string& profile) {
    int64_t count = -1;
    absl::Status s = db_->Transact([&](store::Tx& tx) -> absl::Status {
      auto rows = tx.Query("SELECT COUNT(*) FROM feedback_responses WHERE profile = $1", {profile});
      if (!rows.ok()) return rows.status();
      count = (*rows)[0].GetInt(0);
      return absl::OkStatus();
    });
    EXPECT_TRUE(s.ok()) << s;
    return count;
  }

  runtime::FakeClock clock_;
  runtime::SequentialIdGenerator ids_;
  StaleProfiles profiles_;
  std::unique_ptr<store::Database> db_;
  std::unique_ptr<FeedbackService> service_;
};

TEST_P(ErasureGuardTest, WritesAfterTheErasureAreRefusedDespiteAStaleLookup) {
  ASSERT_TRUE(Submit("profiles/ada", "late again").ok());
  ASSERT_TRUE(Erase("profiles/ada").ok());
  EXPECT_EQ(Remaining("profiles/ada"), 0);

  absl::StatusOr<v1::Response> late = Submit("profiles/ada", "my address is 1 Main St");
  EXPECT_EQ(late.status().code(), absl::StatusCode::kNotFound) << late.status();
  EXPECT_EQ(Remaining("profiles/ada"), 0);

  v1::CreateFeatureRequestRequest create;
  create.set_feature_request_id("export");
  create.mutable_feature_request()->set_title("CSV export");
  create.mutable_feature_request()->set_problem("I need my data in a spreadsheet");
  ASSERT_TRUE(service_->CreateFeatureRequest(create).ok());
  v1::LinkFeatureRequestRequest link;
  link.mutable_link()->set_feature_request("featureRequests/export");
  link.mutable_link()->set_profile("profiles/ada");
  link.mutable_link()->set_verbatim("please, I am Ada from Berlin");
  absl::StatusOr<v1::FeatureRequestLink> linked =
      service_->LinkFeatureRequest(link, absl::Now() + absl::Seconds(30));
  EXPECT_EQ(linked.status().code(), absl::StatusCode::kNotFound) << linked.status();

  // Other profiles are unaffected, also in a batch with the erased one.
  EXPECT_TRUE(Submit("profiles/bob", "fine").ok());
  v1::SubmitResponseRequest a, b;
  for (auto [request, profile] : {std::pair{&a, "profiles/ada"}, std::pair{&b, "profiles/cy"}}) {
    request->set_parent("surveys/nps");
    request->mutable_response()->set_profile(profile);
    request->mutable_response()->set_score(9);
  }
  auto batch = service_->SubmitBatch({a, b}, absl::Now() + absl::Seconds(30));
  ASSERT_TRUE(batch.ok()) << batch.status();
  EXPECT_EQ((*batch)[0].status.code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE((*batch)[1].status.ok()) << (*batch)[1].status;
  EXPECT_EQ(Remaining("profiles/ada"), 0);
  EXPECT_EQ(Remaining("profiles/cy"), 1);
}

TEST_P(ErasureGuardTest, ASubmitInFlightWaitsForTheErasureThenIsRefused) {
  if (GetParam() != "postgresql") GTEST_SKIP() << "SQLite runs one writer at a time";
  absl::Notification guard_held, release, submitted;
  std::thread eraser([&] {
    absl::Status s = db_->Transact([&](store::Tx& tx) -> absl::Status {
      absl::Status applied = service_->ApplyEvent(tx, Erased("profiles/ada"));
      if (!guard_held.HasBeenNotified()) guard_held.Notify();
      release.WaitForNotification();
      return applied;
    });
    EXPECT_TRUE(s.ok()) << s;
  });
  guard_held.WaitForNotification();
  absl::StatusOr<v1::Response> result = absl::UnknownError("not run");
  std::thread submitter([&] {
    result = Submit("profiles/ada", "Ada Lovelace, 12 Baker Street");
    submitted.Notify();
  });
  // Without the guard the submit would commit now, behind the erasure's scrub.
  EXPECT_FALSE(submitted.WaitForNotificationWithTimeout(absl::Milliseconds(300)))
      << "the submit did not wait for the erasure: " << result.status();
  release.Notify();
  eraser.join();
  submitter.join();
  EXPECT_EQ(result.status().code(), absl::StatusCode::kNotFound) << result.status();
  EXPECT_EQ(Remaining("profiles/ada"), 0);
}

INSTANTIATE_TEST_SUITE_P(Backends, ErasureGuardTest, ::testing::Values("sqlite", "postgresql"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace centric::feedback
