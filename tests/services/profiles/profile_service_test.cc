// ProfileService against real stores: every RPC on SQLite and PostgreSQL, with the Redis
// cache off and on. PostgreSQL and Redis are real servers started once per binary.
#include "services/profiles/profile_service.h"

#include <google/protobuf/util/time_util.h>

#include <optional>
#include <thread>

#include "absl/strings/escaping.h"
#include "google/protobuf/wrappers.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/cache/redis_cache.h"
#include "libs/events/bus.h"
#include "libs/events/outbox.h"
#include "libs/runtime/errors.h"
#include "libs/testing/servers.h"
#include "services/profiles/profile_rules.h"
#include "services/profiles/profile_store.h"

namespace centric::profiles {
namespace {

using google::protobuf::util::TimeUtil;
using ::testing::ElementsAre;
namespace ev = ::centric::events::v1;

struct Servers {
  std::unique_ptr<testing::PostgresServer> postgres;
  std::unique_ptr<testing::RedisServer> redis;
};

Servers& SharedServers() {
  static Servers* servers = [] {
    auto* s = new Servers();
    auto pg = testing::PostgresServer::Start();
    if (pg.ok()) s->postgres = std::move(*pg);
    auto redis = testing::RedisServer::Start();
    if (redis.ok()) s->redis = std::move(*redis);
    return s;
  }();
  return *servers;
}

struct Setup {
  bool postgres;
  bool redis;
};

// The other services' parts of ExportProfile: canned, recording what was asked.
class FakeExportSources : public ExportSources {
 public:
  absl::StatusOr<Parts> Export(const std::string& profile,
                               const std::vector<std::string>& merged_profiles,
                               absl::Time deadline) override {
    ++calls;
    asked_profile = profile;
    asked_merged = merged_profiles;
    asked_deadline = deadline;
    if (!fail_with.ok()) return fail_with;
    Parts parts;
    google::protobuf::StringValue value;
    for (auto [any, service] : {std::pair{&parts.segmentation, "segmentation"},
                                {&parts.feedback, "feedback"},
                                {&parts.reporting, "reporting"}}) {
      value.set_value(absl::StrCat(service, " about ", profile));
      any->PackFrom(value);
    }
    return parts;
  }
  absl::Status fail_with;
  int calls = 0;
  std::string asked_profile;
  std::vector<std::string> asked_merged;
  absl::Time asked_deadline;
};

std::string SetupName(const ::testing::TestParamInfo<Setup>& info) {
  return std::string(info.param.postgres ? "Postgres" : "Sqlite") +
         (info.param.redis ? "RedisCache" : "NoCache");
}

class ProfileServiceTest : public ::testing::TestWithParam<Setup> {
 protected:
  void SetUp() override {
    static int counter = 0;
    ++counter;
    std::string url;
    if (GetParam().postgres) {
      ASSERT_NE(SharedServers().postgres, nullptr) << "PostgreSQL did not start";
      auto db_url = SharedServers().postgres->CreateDatabase(absl::StrCat("profiles_", counter));
      ASSERT_TRUE(db_url.ok()) << db_url.status();
      url = *db_url;
    } else {
      url = absl::StrCat("sqlite://", dir_.path(), "/profiles.db");
    }
    auto db = store::Open(url);
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = std::move(*db);
    ASSERT_TRUE(store::Migrate(*db_, "profiles", ProfilesMigrations()).ok());
    if (GetParam().redis) {
      ASSERT_NE(SharedServers().redis, nullptr) << "Redis did not start";
      cache::RedisOptions options;
      options.port = SharedServers().redis->port();
      options.key_prefix = absl::StrCat("test", counter, ":");
      cache_ = cache::NewRedisCache(options);
    } else {
      cache_ = std::make_unique<cache::NullCache>();
    }
    ProfileService::Deps deps{db_.get(), cache_.get(), &clock_, &ids_, [this] { ++commits_; },
                              &export_sources_};
    service_ = std::make_unique<ProfileService>(deps);
  }

  v1::Profile Create(const std::string& email, const std::string& id = "",
                     v1::ProfileKind kind = v1::PROFILE_KIND_PERSON) {
    v1::CreateProfileRequest request;
    request.set_profile_id(id);
    request.mutable_profile()->set_kind(kind);
    if (!email.empty()) {
      auto* identity = request.mutable_profile()->add_identities();
      identity->set_type(v1::IDENTITY_TYPE_EMAIL);
      identity->set_value(email);
    }
    auto created = service_->CreateProfile(request);
    EXPECT_TRUE(created.ok()) << created.status();
    return created.ok() ? *created : v1::Profile();
  }

  v1::Interaction Interaction(const std::string& event_id, const std::string& type,
                              int64_t seconds_ago, double value = 0) {
    v1::Interaction interaction;
    interaction.set_event_id(event_id);
    interaction.set_type(type);
    interaction.set_channel(v1::CHANNEL_WEB);
    *interaction.mutable_occur_time() =
        TimeUtil::SecondsToTimestamp(absl::ToUnixSeconds(clock_.Now()) - seconds_ago);
    interaction.set_monetary_value(value);
    return interaction;
  }

  absl::StatusOr<v1::Profile> Get(const std::string& name) {
    v1::GetProfileRequest request;
    request.set_name(name);
    return service_->GetProfile(request);
  }

  int64_t OutboxCount() {
    auto n = events::OutboxBacklog(*db_, "profiles");
    return n.ok() ? *n : -1;
  }

  // The event written to the outbox last.
  ev::Event LastOutboxEvent() {
    ev::Event event;
    auto rows = db_->Query("SELECT payload FROM profiles_outbox ORDER BY seq DESC LIMIT 1");
    if (!rows.ok() || rows->empty()) {
      ADD_FAILURE() << "the outbox is empty";
      return event;
    }
    EXPECT_TRUE(event.ParseFromString((*rows)[0].GetString(0)));
    return event;
  }

  // The Feedback service's figures of a profile; times are seconds since the epoch.
  static ev::FeedbackSummary Summary(int64_t version, std::optional<int> nps, int64_t nps_time,
                                     std::optional<int> csat, int64_t csat_time,
                                     int64_t open_follow_ups) {
    ev::FeedbackSummary summary;
    summary.set_version(version);
    if (nps.has_value()) {
      summary.set_last_nps_score(*nps);
      *summary.mutable_last_nps_time() = TimeUtil::SecondsToTimestamp(nps_time);
    }
    if (csat.has_value()) {
      summary.set_last_csat_score(*csat);
      *summary.mutable_last_csat_time() = TimeUtil::SecondsToTimestamp(csat_time);
    }
    summary.set_open_follow_ups(open_follow_ups);
    return summary;
  }

  // A ResponseReceived (or, with `follow_up`, a FollowUpChanged) event as the Feedback
  // service publishes it.
  static ev::Event FeedbackEvent(const std::string& event_id, const std::string& profile,
                                 const ev::FeedbackSummary& summary, bool follow_up = false) {
    ev::Event event;
    event.set_id(event_id);
    event.set_source("feedback");
    if (follow_up) {
      ev::FollowUpChanged changed;
      changed.set_follow_up("followUps/f1");
      changed.set_profile(profile);
      changed.set_change("OPENED");
      changed.set_state("OPEN");
      *changed.mutable_profile_feedback() = summary;
      event.set_subject(changed.follow_up());
      event.mutable_payload()->PackFrom(changed);
    } else {
      ev::ResponseReceived received;
      received.set_response("surveys/s1/responses/r1");
      received.set_survey("surveys/s1");
      received.set_profile(profile);
      received.set_kind("NPS");
      *received.mutable_profile_feedback() = summary;
      event.set_subject(received.response());
      event.mutable_payload()->PackFrom(received);
    }
    event.set_type(event.payload().type_url().substr(event.payload().type_url().rfind('/') + 1));
    return event;
  }

  testing::TempDir dir_;
  runtime::FakeClock clock_;
  runtime::UlidGenerator ids_{clock_};
  std::unique_ptr<store::Database> db_;
  std::unique_ptr<cache::VersionedCache> cache_;
  std::unique_ptr<ProfileService> service_;
  FakeExportSources export_sources_;
  int commits_ = 0;
};

TEST_P(ProfileServiceTest, CreateThenGetReturnsNormalisedProfileWithEtag) {
  v1::CreateProfileRequest request;
  request.set_profile_id("ada");
  v1::Profile* p = request.mutable_profile();
  p->set_kind(v1::PROFILE_KIND_PERSON);
  p->set_display_name("Ada Lovelace");
  auto* email = p->add_identities();
  email->set_type(v1::IDENTITY_TYPE_EMAIL);
  email->set_value(" Ada@Example.com ");
  (*p->mutable_traits())["country"].set_string_value("GB");
  auto* consent = p->add_consents();
  consent->set_purpose(v1::CONSENT_PURPOSE_MARKETING_EMAIL);
  consent->set_status(v1::CONSENT_STATUS_GRANTED);
  p->mutable_aggregates()->set_order_count(99);  // output only: ignored

  auto created = service_->CreateProfile(request);
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_EQ(created->name(), "profiles/ada");
  EXPECT_EQ(created->state(), v1::PROFILE_STATE_ACTIVE);
  EXPECT_EQ(created->identities(0).value(), "ada@example.com");
  EXPECT_EQ(created->version(), 1);
  EXPECT_EQ(created->etag(), "\"v1\"");
  EXPECT_EQ(created->aggregates().order_count(), 0);
  EXPECT_TRUE(created->consents(0).has_update_time()) << "defaults to the time of the write";
  EXPECT_EQ(OutboxCount(), 1) << "ProfileChanged written with the profile";

  for (int i = 0; i < 2; ++i) {  // second read is a cache hit when the cache is on
    auto got = Get("profiles/ada");
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(got->SerializeAsString(), created->SerializeAsString());
  }
  if (GetParam().redis) {
    EXPECT_GE(cache_->Stats().hits, 1);
  }
}

TEST_P(ProfileServiceTest, GeneratedIdsAreValidProfileNames) {
  v1::Profile a = Create("a@example.com");
  v1::Profile b = Create("b@example.com");
  EXPECT_NE(a.name(), b.name());
  EXPECT_TRUE(ParseProfileName(a.name(), "name").ok()) << a.name();
}

TEST_P(ProfileServiceTest, CreateIsIdempotentByRequestId) {
  v1::CreateProfileRequest request;
  request.mutable_profile()->set_kind(v1::PROFILE_KIND_PERSON);
  request.set_request_id("req-1");
  auto first = service_->CreateProfile(request);
  auto second = service_->CreateProfile(request);
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_EQ(first->name(), second->name());
  EXPECT_EQ(OutboxCount(), 1);
}

TEST_P(ProfileServiceTest, BadInputNamesEveryFieldAndWritesNothing) {
  v1::CreateProfileRequest request;
  request.set_profile_id("Bad_Id");
  auto* identity = request.mutable_profile()->add_identities();
  identity->set_type(v1::IDENTITY_TYPE_EMAIL);
  identity->set_value("not-an-email");
  auto created = service_->CreateProfile(request);
  ASSERT_EQ(created.status().code(), absl::StatusCode::kInvalidArgument);
  std::set<std::string> fields;
  for (const auto& v : runtime::FieldViolations(created.status())) fields.insert(v.field);
  EXPECT_EQ(fields, (std::set<std::string>{"profile.kind", "profile_id",
                                           "profile.identities[0].value"}));
  EXPECT_EQ(OutboxCount(), 0);
  v1::ListProfilesRequest list;
  EXPECT_EQ(service_->ListProfiles(list)->profiles_size(), 0);
}

TEST_P(ProfileServiceTest, DuplicateIdentityIsAlreadyExistsAndNamesTheOwner) {
  v1::Profile owner = Create("taken@example.com", "owner");
  v1::CreateProfileRequest request;
  request.mutable_profile()->set_kind(v1::PROFILE_KIND_PERSON);
  auto* identity = request.mutable_profile()->add_identities();
  identity->set_type(v1::IDENTITY_TYPE_EMAIL);
  identity->set_value("TAKEN@example.com");
  auto created = service_->CreateProfile(request);
  ASSERT_EQ(created.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(runtime::Reason(created.status()), "IDENTITY_ALREADY_EXISTS");
  auto violations = runtime::FieldViolations(created.status());
  ASSERT_EQ(violations.size(), 1u);
  EXPECT_EQ(violations[0].field, "profile.identities[0]");
  EXPECT_THAT(violations[0].description, ::testing::HasSubstr("profiles/owner"));
  v1::CreateProfileRequest same_id;
  same_id.set_profile_id("owner");
  same_id.mutable_profile()->set_kind(v1::PROFILE_KIND_PERSON);
  EXPECT_EQ(service_->CreateProfile(same_id).status().code(), absl::StatusCode::kAlreadyExists);
}

TEST_P(ProfileServiceTest, UnknownAndMalformedNames) {
  EXPECT_EQ(Get("profiles/nobody").status().code(), absl::StatusCode::kNotFound);
  auto bad = Get("customers/1");
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(runtime::FieldViolations(bad.status())[0].field, "name");
}

TEST_P(ProfileServiceTest, BatchGetKeepsOrderAndNamesTheMissingOne) {
  Create("", "one");
  Create("", "two");
  v1::BatchGetProfilesRequest request;
  request.add_names("profiles/two");
  request.add_names("profiles/one");
  auto both = service_->BatchGetProfiles(request);
  ASSERT_TRUE(both.ok()) << both.status();
  EXPECT_EQ(both->profiles(0).name(), "profiles/two");
  EXPECT_EQ(both->profiles(1).name(), "profiles/one");
  request.add_names("profiles/three");
  auto missing = service_->BatchGetProfiles(request);
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(runtime::FieldViolations(missing.status())[0].field, "names[2]");
}

TEST_P(ProfileServiceTest, LookupByNormalisedIdentity) {
  Create("grace@example.com", "grace");
  v1::LookupProfileRequest request;
  request.mutable_identity()->set_type(v1::IDENTITY_TYPE_EMAIL);
  request.mutable_identity()->set_value("GRACE@example.com");
  auto found = service_->LookupProfile(request);
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_EQ(found->name(), "profiles/grace");
  request.mutable_identity()->set_value("nobody@example.com");
  EXPECT_EQ(service_->LookupProfile(request).status().code(), absl::StatusCode::kNotFound);
}

TEST_P(ProfileServiceTest, UpdateWithMaskEtagAndSingleTraitPaths) {
  v1::Profile created = Create("u@example.com", "u");
  v1::UpdateProfileRequest request;
  request.mutable_profile()->set_name("profiles/u");
  request.mutable_profile()->set_display_name("Updated");
  (*request.mutable_profile()->mutable_traits())["tier"].set_string_value("gold");
  request.mutable_update_mask()->add_paths("display_name");
  request.mutable_update_mask()->add_paths("traits.tier");
  request.set_etag(created.etag());
  auto updated = service_->UpdateProfile(request);
  ASSERT_TRUE(updated.ok()) << updated.status();
  EXPECT_EQ(updated->display_name(), "Updated");
  EXPECT_EQ(updated->traits().at("tier").string_value(), "gold");
  EXPECT_EQ(updated->identities_size(), 1) << "fields outside the mask are kept";
  EXPECT_EQ(updated->version(), 2);

  // The read after the write sees the write, cache or not.
  auto got = Get("profiles/u");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->display_name(), "Updated");

  // Stale etag → ABORTED; nothing changes.
  request.mutable_profile()->set_display_name("Lost update");
  auto stale = service_->UpdateProfile(request);
  EXPECT_EQ(stale.status().code(), absl::StatusCode::kAborted);
  EXPECT_EQ(Get("profiles/u")->display_name(), "Updated");

  // Removing one trait: the key in the mask, absent from the profile.
  v1::UpdateProfileRequest remove;
  remove.mutable_profile()->set_name("profiles/u");
  remove.mutable_update_mask()->add_paths("traits.tier");
  auto removed = service_->UpdateProfile(remove);
  ASSERT_TRUE(removed.ok());
  EXPECT_EQ(removed->traits().count("tier"), 0u);
}

TEST_P(ProfileServiceTest, UpdateRejectsUnknownPathsAndBadValuesInMaskedFieldsOnly) {
  Create("", "m");
  v1::UpdateProfileRequest request;
  request.mutable_profile()->set_name("profiles/m");
  request.mutable_profile()->set_display_name(std::string(300, 'x'));
  request.mutable_update_mask()->add_paths("aggregates");
  auto bad = service_->UpdateProfile(request);
  ASSERT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  auto violations = runtime::FieldViolations(bad.status());
  ASSERT_EQ(violations.size(), 1u) << "display_name is not in the mask, so not reported";
  EXPECT_EQ(violations[0].field, "update_mask.paths[0]");
}

TEST_P(ProfileServiceTest, IdentityUpdateReleasesOldAndClaimsNew) {
  Create("old@example.com", "x");
  v1::UpdateProfileRequest request;
  request.mutable_profile()->set_name("profiles/x");
  auto* identity = request.mutable_profile()->add_identities();
  identity->set_type(v1::IDENTITY_TYPE_EMAIL);
  identity->set_value("new@example.com");
  request.mutable_update_mask()->add_paths("identities");
  ASSERT_TRUE(service_->UpdateProfile(request).ok());
  Create("old@example.com", "y");  // the released identity can be claimed again
  v1::LookupProfileRequest lookup;
  lookup.mutable_identity()->set_type(v1::IDENTITY_TYPE_EMAIL);
  lookup.mutable_identity()->set_value("new@example.com");
  EXPECT_EQ(service_->LookupProfile(lookup)->name(), "profiles/x");
}

TEST_P(ProfileServiceTest, ListPagesWithFilterOnKindAndTraits) {
  for (int i = 0; i < 5; ++i) {
    v1::CreateProfileRequest request;
    request.set_profile_id(absl::StrCat("p", i));
    request.mutable_profile()->set_kind(v1::PROFILE_KIND_PERSON);
    (*request.mutable_profile()->mutable_traits())["country"].set_string_value(i % 2 ? "DE" : "FR");
    (*request.mutable_profile()->mutable_traits())["score"].set_number_value(i);
    ASSERT_TRUE(service_->CreateProfile(request).ok());
  }
  Create("", "acme", v1::PROFILE_KIND_ACCOUNT);

  std::vector<std::string> names;
  v1::ListProfilesRequest request;
  request.set_page_size(2);
  while (true) {
    auto page = service_->ListProfiles(request);
    ASSERT_TRUE(page.ok()) << page.status();
    for (const auto& p : page->profiles()) names.push_back(p.name());
    if (page->next_page_token().empty()) break;
    request.set_page_token(page->next_page_token());
  }
  EXPECT_EQ(names.size(), 6u);

  // Tokens depend only on the request and the data, never on the process that issued
  // them, so any replica (or a restarted one) accepts them.
  v1::ListProfilesRequest first_page;
  first_page.set_page_size(2);
  std::string expected_token;
  absl::WebSafeBase64Escape("profiles|cbf29ce484222325|p0", &expected_token);
  EXPECT_EQ(service_->ListProfiles(first_page)->next_page_token(), expected_token);

  v1::ListProfilesRequest filtered;
  filtered.set_filter("kind = PERSON AND traits.country = \"DE\"");
  auto de = service_->ListProfiles(filtered);
  ASSERT_TRUE(de.ok()) << de.status();
  ASSERT_EQ(de->profiles_size(), 2);
  EXPECT_EQ(de->profiles(0).name(), "profiles/p1");
  EXPECT_EQ(de->profiles(1).name(), "profiles/p3");
  filtered.set_filter("traits.score = 4");
  EXPECT_EQ(service_->ListProfiles(filtered)->profiles_size(), 1);
  filtered.set_filter("kind = ACCOUNT");
  EXPECT_EQ(service_->ListProfiles(filtered)->profiles_size(), 1);

  // A token from one filter is refused for another.
  request.set_filter("kind = ACCOUNT");
  request.set_page_token(service_->ListProfiles([] {
                           v1::ListProfilesRequest r;
                           r.set_page_size(1);
                           return r;
                         }())->next_page_token());
  EXPECT_EQ(service_->ListProfiles(request).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_P(ProfileServiceTest, RecordInteractionsUpdatesAggregatesOnceAndPagesTimeline) {
  Create("", "buyer");
  v1::RecordInteractionsRequest request;
  request.set_profile("profiles/buyer");
  *request.add_interactions() = Interaction("e1", "page_view", 300);
  *request.add_interactions() = Interaction("e2", "purchase", 200, 40.0);
  *request.add_interactions() = Interaction("e3", "purchase", 100, 60.0);
  *request.add_interactions() = Interaction("e3", "purchase", 100, 60.0);  // repeat in batch
  auto first = service_->RecordInteractions(request);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->recorded_count(), 3);
  EXPECT_EQ(first->duplicate_count(), 1);
  EXPECT_EQ(first->profile().aggregates().order_count(), 2);
  EXPECT_DOUBLE_EQ(first->profile().aggregates().revenue_total(), 100.0);

  auto again = service_->RecordInteractions(request);  // a retry of the whole batch
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->recorded_count(), 0);
  EXPECT_EQ(again->duplicate_count(), 4);
  EXPECT_EQ(Get("profiles/buyer")->aggregates().order_count(), 2) << "applied once";

  v1::ListInteractionsRequest list;
  list.set_profile("profiles/buyer");
  list.set_page_size(2);
  auto page1 = service_->ListInteractions(list);
  ASSERT_TRUE(page1.ok()) << page1.status();
  ASSERT_EQ(page1->interactions_size(), 2);
  EXPECT_EQ(page1->interactions(0).event_id(), "e3") << "newest first";
  list.set_page_token(page1->next_page_token());
  auto page2 = service_->ListInteractions(list);
  ASSERT_TRUE(page2.ok());
  ASSERT_EQ(page2->interactions_size(), 1);
  EXPECT_EQ(page2->interactions(0).event_id(), "e1");
  EXPECT_TRUE(page2->next_page_token().empty());
}

TEST_P(ProfileServiceTest, RecordInteractionsRejectsTheWholeBatchOnOneBadItem) {
  Create("", "strict");
  v1::RecordInteractionsRequest request;
  request.set_profile("profiles/strict");
  *request.add_interactions() = Interaction("ok", "purchase", 10, 5.0);
  v1::Interaction bad = Interaction("bad id with spaces", "purchase", 10, 5.0);
  *request.add_interactions() = bad;
  auto result = service_->RecordInteractions(request);
  ASSERT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(runtime::FieldViolations(result.status())[0].field, "interactions[1].event_id");
  EXPECT_EQ(Get("profiles/strict")->aggregates().interaction_count(), 0) << "nothing half-written";
}

TEST_P(ProfileServiceTest, MergeUnitesIdentitiesInteractionsAndResolvesMergedName) {
  v1::Profile survivor = Create("main@example.com", "main");
  Create("alt@example.com", "alt");
  v1::UpdateProfileRequest traits;
  traits.mutable_profile()->set_name("profiles/alt");
  (*traits.mutable_profile()->mutable_traits())["tier"].set_string_value("gold");
  traits.mutable_update_mask()->add_paths("traits");
  ASSERT_TRUE(service_->UpdateProfile(traits).ok());
  v1::RecordInteractionsRequest record;
  record.set_profile("profiles/alt");
  *record.add_interactions() = Interaction("a1", "purchase", 50, 10.0);
  ASSERT_TRUE(service_->RecordInteractions(record).ok());
  record.set_profile("profiles/main");
  record.clear_interactions();
  *record.add_interactions() = Interaction("m1", "purchase", 40, 5.0);
  ASSERT_TRUE(service_->RecordInteractions(record).ok());
  ASSERT_TRUE(Get("profiles/alt").ok());  // warm the cache with the pre-merge profile

  v1::MergeProfilesRequest merge;
  merge.set_survivor("profiles/main");
  merge.add_merged("profiles/alt");
  auto merged = service_->MergeProfiles(merge);
  ASSERT_TRUE(merged.ok()) << merged.status();
  EXPECT_EQ(merged->identities_size(), 2);
  EXPECT_EQ(merged->traits().at("tier").string_value(), "gold");
  EXPECT_EQ(merged->aggregates().order_count(), 2);
  EXPECT_DOUBLE_EQ(merged->aggregates().revenue_total(), 15.0);
  EXPECT_THAT(merged->merged_profiles(), ElementsAre("profiles/alt"));

  auto via_old_name = Get("profiles/alt");
  ASSERT_TRUE(via_old_name.ok()) << via_old_name.status();
  EXPECT_EQ(via_old_name->name(), "profiles/main") << "merged name resolves to the survivor";
  v1::LookupProfileRequest lookup;
  lookup.mutable_identity()->set_type(v1::IDENTITY_TYPE_EMAIL);
  lookup.mutable_identity()->set_value("alt@example.com");
  EXPECT_EQ(service_->LookupProfile(lookup)->name(), "profiles/main");
  // Interactions recorded on the merged name land on the survivor.
  record.set_profile("profiles/alt");
  record.clear_interactions();
  *record.add_interactions() = Interaction("a2", "page_view", 1);
  auto later = service_->RecordInteractions(record);
  ASSERT_TRUE(later.ok());
  EXPECT_EQ(later->profile().name(), "profiles/main");

  merge.add_merged("profiles/main");
  EXPECT_EQ(service_->MergeProfiles(merge).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_P(ProfileServiceTest, FeedbackEventSetsAggregatesAndPublishesProfileChanged) {
  Create("", "fan");
  ASSERT_TRUE(Get("profiles/fan").ok());  // cached at version 1
  const int64_t outbox = OutboxCount();
  const int commits = commits_;
  ASSERT_TRUE(service_
                  ->HandleFeedbackEvent(FeedbackEvent(
                      "f1", "profiles/fan", Summary(1, 9, 1789990000, std::nullopt, 0, 1)))
                  .ok());
  auto got = Get("profiles/fan");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->version(), 2) << "a profile change; the cached version 1 is not served";
  EXPECT_EQ(TimeUtil::TimestampToMicroseconds(got->update_time()),
            absl::ToUnixMicros(clock_.Now()));
  const v1::Aggregates& a = got->aggregates();
  ASSERT_TRUE(a.has_last_nps_score());
  EXPECT_EQ(a.last_nps_score(), 9);
  EXPECT_EQ(a.last_nps_time().seconds(), 1789990000);
  EXPECT_FALSE(a.has_last_csat_score());
  EXPECT_EQ(a.open_follow_ups(), 1);
  EXPECT_EQ(OutboxCount(), outbox + 1);
  EXPECT_GT(commits_, commits) << "the relay is woken";
  ev::Event published = LastOutboxEvent();
  ev::ProfileChanged changed;
  ASSERT_TRUE(published.payload().UnpackTo(&changed)) << published.type();
  EXPECT_EQ(published.source(), "profiles");
  EXPECT_EQ(published.subject(), "profiles/fan");
  EXPECT_EQ(changed.profile(), "profiles/fan");
  EXPECT_THAT(changed.changed_paths(), ElementsAre("aggregates"));
  EXPECT_EQ(changed.version(), 2);
  EXPECT_FALSE(changed.created());

  // A follow-up closes and a CSAT answer arrives: the figures follow the newer summary.
  ASSERT_TRUE(service_
                  ->HandleFeedbackEvent(FeedbackEvent(
                      "f2", "profiles/fan", Summary(2, 9, 1789990000, 4, 1789995000, 0),
                      /*follow_up=*/true))
                  .ok());
  got = Get("profiles/fan");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->version(), 3);
  EXPECT_EQ(got->aggregates().last_csat_score(), 4);
  EXPECT_EQ(got->aggregates().last_csat_time().seconds(), 1789995000);
  EXPECT_EQ(got->aggregates().open_follow_ups(), 0);
  EXPECT_EQ(OutboxCount(), outbox + 2);

  // A newer summary with the same figures is stored, but is no profile change.
  ASSERT_TRUE(service_
                  ->HandleFeedbackEvent(FeedbackEvent(
                      "f3", "profiles/fan", Summary(3, 9, 1789990000, 4, 1789995000, 0)))
                  .ok());
  EXPECT_EQ(Get("profiles/fan")->version(), 3);
  EXPECT_EQ(OutboxCount(), outbox + 2);
}

TEST_P(ProfileServiceTest, RedeliveredFeedbackEventAppliesOnce) {
  Create("", "twice");
  const int64_t outbox = OutboxCount();
  const ev::Event event =
      FeedbackEvent("dup", "profiles/twice", Summary(1, 6, 1789990000, std::nullopt, 0, 2));
  ASSERT_TRUE(service_->HandleFeedbackEvent(event).ok());
  ASSERT_TRUE(service_->HandleFeedbackEvent(event).ok()) << "a duplicate is acknowledged";
  EXPECT_EQ(Get("profiles/twice")->version(), 2);
  EXPECT_EQ(OutboxCount(), outbox + 1);
  // The summary's version decides, not the event id: the same figures delivered under
  // another id change nothing either.
  ev::Event same_figures =
      FeedbackEvent("other-id", "profiles/twice", Summary(1, 6, 1789990000, std::nullopt, 0, 2));
  ASSERT_TRUE(service_->HandleFeedbackEvent(same_figures).ok());
  auto got = Get("profiles/twice");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->version(), 2);
  EXPECT_EQ(got->aggregates().last_nps_score(), 6);
  EXPECT_EQ(got->aggregates().open_follow_ups(), 2);
  EXPECT_EQ(OutboxCount(), outbox + 1);
}

TEST_P(ProfileServiceTest, OlderFeedbackSummaryNeverRollsBackANewerOne) {
  Create("", "late");
  ASSERT_TRUE(service_
                  ->HandleFeedbackEvent(FeedbackEvent(
                      "v3", "profiles/late", Summary(3, 2, 1789993000, std::nullopt, 0, 1)))
                  .ok());
  const int64_t outbox = OutboxCount();
  // Published before v3, delivered after it.
  ASSERT_TRUE(service_
                  ->HandleFeedbackEvent(FeedbackEvent(
                      "v2", "profiles/late", Summary(2, 10, 1789992000, 5, 1789992000, 4)))
                  .ok());
  auto got = Get("profiles/late");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->version(), 2);
  EXPECT_EQ(got->aggregates().last_nps_score(), 2);
  EXPECT_FALSE(got->aggregates().has_last_csat_score());
  EXPECT_EQ(got->aggregates().open_follow_ups(), 1);
  EXPECT_EQ(OutboxCount(), outbox) << "nothing changed, nothing published";
  ASSERT_TRUE(service_
                  ->HandleFeedbackEvent(FeedbackEvent(
                      "v4", "profiles/late", Summary(4, 8, 1789994000, std::nullopt, 0, 0)))
                  .ok());
  EXPECT_EQ(Get("profiles/late")->aggregates().last_nps_score(), 8);
}

TEST_P(ProfileServiceTest, MergeKeepsFeedbackAndMergedNamesFeedTheSurvivor) {
  Create("", "main");
  Create("", "alt");
  v1::RecordInteractionsRequest record;
  record.set_profile("profiles/alt");
  *record.add_interactions() = Interaction("a1", "purchase", 50, 10.0);
  ASSERT_TRUE(service_->RecordInteractions(record).ok());
  // main: older NPS, newer CSAT, 1 open follow-up; alt: newer NPS, older CSAT, 2 open.
  ASSERT_TRUE(service_
                  ->HandleFeedbackEvent(FeedbackEvent(
                      "m1", "profiles/main", Summary(4, 3, 1789991000, 5, 1789994000, 1)))
                  .ok());
  ASSERT_TRUE(service_
                  ->HandleFeedbackEvent(FeedbackEvent(
                      "a1", "profiles/alt", Summary(6, 10, 1789992000, 2, 1789993000, 2)))
                  .ok());

  v1::MergeProfilesRequest merge;
  merge.set_survivor("profiles/main");
  merge.add_merged("profiles/alt");
  auto merged = service_->MergeProfiles(merge);
  ASSERT_TRUE(merged.ok()) << merged.status();
  for (const v1::Profile& p : {*merged, *Get("profiles/main")}) {
    const v1::Aggregates& a = p.aggregates();
    EXPECT_EQ(a.order_count(), 1) << "interaction figures recomputed as before";
    EXPECT_EQ(a.last_nps_score(), 10) << "the newer NPS answer, from the merged profile";
    EXPECT_EQ(a.last_nps_time().seconds(), 1789992000);
    EXPECT_EQ(a.last_csat_score(), 5) << "the newer CSAT answer, the survivor's";
    EXPECT_EQ(a.last_csat_time().seconds(), 1789994000);
    EXPECT_EQ(a.open_follow_ups(), 3) << "the sum";
  }

  // The Feedback service keeps counting under the merged name: its figures still count
  // towards the survivor, which changes (and says so) on its behalf.
  const int64_t outbox = OutboxCount();
  ASSERT_TRUE(service_
                  ->HandleFeedbackEvent(FeedbackEvent(
                      "a2", "profiles/alt", Summary(7, 10, 1789992000, 2, 1789993000, 0),
                      /*follow_up=*/true))
                  .ok());
  auto survivor = Get("profiles/main");
  ASSERT_TRUE(survivor.ok());
  EXPECT_EQ(survivor->version(), merged->version() + 1);
  EXPECT_EQ(survivor->aggregates().open_follow_ups(), 1);
  EXPECT_EQ(survivor->aggregates().last_nps_score(), 10);
  EXPECT_EQ(OutboxCount(), outbox + 1);
  ev::ProfileChanged changed;
  ASSERT_TRUE(LastOutboxEvent().payload().UnpackTo(&changed));
  EXPECT_EQ(changed.profile(), "profiles/main");
  // An older summary of the merged name is still refused.
  ASSERT_TRUE(service_
                  ->HandleFeedbackEvent(FeedbackEvent(
                      "a0", "profiles/alt", Summary(5, 0, 1789999000, std::nullopt, 0, 9)))
                  .ok());
  EXPECT_EQ(Get("profiles/main")->aggregates().open_follow_ups(), 1);
  EXPECT_EQ(OutboxCount(), outbox + 1);
}

TEST_P(ProfileServiceTest, FeedbackForNoProfileIsIgnoredAndMalformedFeedbackIsPoison) {
  Create("", "kept");
  Create("", "gone");
  ASSERT_TRUE(service_
                  ->HandleFeedbackEvent(FeedbackEvent(
                      "g1", "profiles/gone", Summary(1, 4, 1789990000, std::nullopt, 0, 1)))
                  .ok());
  v1::EraseProfileRequest erase;
  erase.set_name("profiles/gone");
  ASSERT_TRUE(service_->EraseProfile(erase).ok());
  auto held = db_->Query("SELECT COUNT(*) FROM profiles_feedback WHERE profile_id = 'gone'");
  ASSERT_TRUE(held.ok());
  EXPECT_EQ((*held)[0].GetInt(0), 0) << "erasure removes the feedback figures too";
  const int64_t outbox = OutboxCount();

  const ev::FeedbackSummary summary = Summary(2, 7, 1789990000, std::nullopt, 0, 0);
  EXPECT_TRUE(service_->HandleFeedbackEvent(FeedbackEvent("e1", "profiles/gone", summary)).ok());
  EXPECT_TRUE(
      service_->HandleFeedbackEvent(FeedbackEvent("e2", "profiles/never-seen", summary)).ok());
  // Malformed events are poison: the bus dead-letters them at once.
  EXPECT_TRUE(events::IsPoison(
      service_->HandleFeedbackEvent(FeedbackEvent("e3", "not a name", summary))));
  EXPECT_TRUE(events::IsPoison(service_->HandleFeedbackEvent(FeedbackEvent(
      "e4", "profiles/kept", Summary(1, 11, 1789990000, std::nullopt, 0, 0)))))
      << "an NPS score of 11 is malformed";
  ev::Event other = FeedbackEvent("e5", "profiles/kept", summary);
  ev::FeatureRequestLinked linked;
  linked.set_profile("profiles/kept");
  other.mutable_payload()->PackFrom(linked);
  EXPECT_TRUE(service_->HandleFeedbackEvent(other).ok()) << "not an event Profiles uses";
  ev::Event garbled = FeedbackEvent("e6", "profiles/kept", summary);
  garbled.mutable_payload()->set_value("\xff\xff");
  EXPECT_TRUE(events::IsPoison(service_->HandleFeedbackEvent(garbled)));

  EXPECT_EQ(OutboxCount(), outbox);
  auto kept = Get("profiles/kept");
  ASSERT_TRUE(kept.ok());
  EXPECT_EQ(kept->version(), 1);
  EXPECT_FALSE(kept->aggregates().has_last_nps_score());
  EXPECT_EQ(Get("profiles/gone").status().code(), absl::StatusCode::kNotFound);
  held = db_->Query("SELECT COUNT(*) FROM profiles_feedback");
  ASSERT_TRUE(held.ok());
  EXPECT_EQ((*held)[0].GetInt(0), 0) << "nothing stored for profiles that cannot hold it";
}

TEST_P(ProfileServiceTest, AccountsAndMembers) {
  Create("", "acme", v1::PROFILE_KIND_ACCOUNT);
  v1::CreateProfileRequest member;
  member.set_profile_id("bob");
  member.mutable_profile()->set_kind(v1::PROFILE_KIND_PERSON);
  auto* membership = member.mutable_profile()->add_account_memberships();
  membership->set_account("profiles/acme");
  membership->add_roles(v1::BUYING_ROLE_DECISION_MAKER);
  ASSERT_TRUE(service_->CreateProfile(member).ok());

  v1::CreateProfileRequest bad = member;
  bad.set_profile_id("eve");
  bad.mutable_profile()->mutable_account_memberships(0)->set_account("profiles/bob");
  auto not_account = service_->CreateProfile(bad);
  ASSERT_EQ(not_account.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(runtime::FieldViolations(not_account.status())[0].field,
            "profile.account_memberships[0].account");

  v1::DeleteProfileRequest del;
  del.set_name("profiles/acme");
  EXPECT_EQ(service_->DeleteProfile(del).code(), absl::StatusCode::kFailedPrecondition);
}

TEST_P(ProfileServiceTest, EraseRemovesPersonalDataEverywhereAndEmitsEvents) {
  Create("erase@example.com", "gone");
  v1::RecordInteractionsRequest record;
  record.set_profile("profiles/gone");
  *record.add_interactions() = Interaction("g1", "purchase", 10, 3.0);
  ASSERT_TRUE(service_->RecordInteractions(record).ok());
  ASSERT_TRUE(Get("profiles/gone").ok());  // cached
  int64_t before = OutboxCount();

  v1::EraseProfileRequest erase;
  erase.set_name("profiles/gone");
  erase.set_reason("ticket DSR-7");
  ASSERT_TRUE(service_->EraseProfile(erase).ok());
  EXPECT_EQ(Get("profiles/gone").status().code(), absl::StatusCode::kNotFound)
      << "no read may return erased data, from the cache either";
  EXPECT_EQ(OutboxCount(), before + 1) << "ProfileErased";
  ASSERT_TRUE(service_->EraseProfile(erase).ok()) << "erasing twice succeeds";

  // No row holds the personal data any more.
  auto rows = db_->Query("SELECT COUNT(*) FROM profiles_interactions WHERE profile_id = 'gone'");
  EXPECT_EQ((*rows)[0].GetInt(0), 0);
  auto identities = db_->Query("SELECT COUNT(*) FROM profiles_identities WHERE profile_id = 'gone'");
  EXPECT_EQ((*identities)[0].GetInt(0), 0);
  auto data = db_->Query("SELECT data FROM profiles_profiles WHERE id = 'gone'");
  EXPECT_EQ((*data)[0].GetString(0).find("erase@example.com"), std::string::npos);
  // The id is never reused; the identity is free again.
  v1::CreateProfileRequest reuse;
  reuse.set_profile_id("gone");
  reuse.mutable_profile()->set_kind(v1::PROFILE_KIND_PERSON);
  EXPECT_EQ(service_->CreateProfile(reuse).status().code(), absl::StatusCode::kAlreadyExists);
  Create("erase@example.com", "fresh");
}

TEST_P(ProfileServiceTest, ExportHoldsProfileAndEveryInteraction) {
  Create("x@example.com", "dsar");
  v1::RecordInteractionsRequest record;
  record.set_profile("profiles/dsar");
  for (int i = 0; i < 30; ++i) *record.add_interactions() = Interaction(absl::StrCat("x", i), "page_view", i);
  ASSERT_TRUE(service_->RecordInteractions(record).ok());
  v1::ExportProfileRequest request;
  request.set_name("profiles/dsar");
  auto exported = service_->ExportProfile(request);
  ASSERT_TRUE(exported.ok()) << exported.status();
  EXPECT_EQ(exported->profile().identities(0).value(), "x@example.com");
  EXPECT_EQ(exported->interactions_size(), 30);
}

TEST_P(ProfileServiceTest, ExportHoldsEveryServicesPartForThePersonAndItsMergedNames) {
  Create("survivor@example.com", "survivor");
  Create("merged@example.com", "merged");
  v1::MergeProfilesRequest merge;
  merge.set_survivor("profiles/survivor");
  merge.add_merged("profiles/merged");
  ASSERT_TRUE(service_->MergeProfiles(merge).ok());
  v1::ExportProfileRequest request;
  request.set_name("profiles/merged");  // the merged name exports the same person
  const absl::Time deadline = absl::Now() + absl::Seconds(7);
  auto exported = service_->ExportProfile(request, deadline);
  ASSERT_TRUE(exported.ok()) << exported.status();
  EXPECT_EQ(exported->profile().name(), "profiles/survivor");
  EXPECT_EQ(export_sources_.asked_profile, "profiles/survivor");
  EXPECT_THAT(export_sources_.asked_merged, ElementsAre("profiles/merged"));
  EXPECT_EQ(export_sources_.asked_deadline, deadline);
  google::protobuf::StringValue part;
  ASSERT_TRUE(exported->segmentation().UnpackTo(&part));
  EXPECT_EQ(part.value(), "segmentation about profiles/survivor");
  ASSERT_TRUE(exported->feedback().UnpackTo(&part));
  EXPECT_EQ(part.value(), "feedback about profiles/survivor");
  ASSERT_TRUE(exported->reporting().UnpackTo(&part));
  EXPECT_EQ(part.value(), "reporting about profiles/survivor");
}

TEST_P(ProfileServiceTest, ExportIsAllOrNothing) {
  Create("partial@example.com", "partial");
  export_sources_.fail_with = absl::UnavailableError("the export is incomplete without reporting");
  v1::ExportProfileRequest request;
  request.set_name("profiles/partial");
  auto exported = service_->ExportProfile(request);
  EXPECT_EQ(exported.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(exported.status().message()), ::testing::HasSubstr("reporting"));
  // An unknown or erased profile is NOT_FOUND before any other service is asked.
  export_sources_.fail_with = absl::OkStatus();
  const int calls = export_sources_.calls;
  request.set_name("profiles/nobody");
  EXPECT_EQ(service_->ExportProfile(request).status().code(), absl::StatusCode::kNotFound);
  v1::EraseProfileRequest erase;
  erase.set_name("profiles/partial");
  ASSERT_TRUE(service_->EraseProfile(erase).ok());
  request.set_name("profiles/partial");
  EXPECT_EQ(service_->ExportProfile(request).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(export_sources_.calls, calls);
}

TEST_P(ProfileServiceTest, ConcurrentUpdatesNeverLoseAWriteOrServeStaleReads) {
  Create("", "hot");
  constexpr int kWriters = 4;
  constexpr int kWritesEach = 15;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([&, w] {
      for (int i = 0; i < kWritesEach; ++i) {
        v1::RecordInteractionsRequest record;
        record.set_profile("profiles/hot");
        *record.add_interactions() = Interaction(absl::StrCat("w", w, "-", i), "purchase", 5, 1.0);
        auto recorded = service_->RecordInteractions(record);
        if (!recorded.ok()) {
          ++failures;
          ADD_FAILURE() << recorded.status();
        }
        auto read = Get("profiles/hot");
        if (!read.ok()) {
          ++failures;
          ADD_FAILURE() << read.status();
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  auto final_profile = Get("profiles/hot");
  ASSERT_TRUE(final_profile.ok());
  EXPECT_EQ(final_profile->aggregates().order_count(), kWriters * kWritesEach);
  EXPECT_EQ(final_profile->version(), 1 + kWriters * kWritesEach);
}

TEST_P(ProfileServiceTest, DeadlineInThePastIsDeadlineExceeded) {
  Create("", "slow");
  v1::UpdateProfileRequest request;
  request.mutable_profile()->set_name("profiles/slow");
  request.mutable_update_mask()->add_paths("display_name");
  auto result = service_->UpdateProfile(request, absl::Now() - absl::Seconds(1));
  EXPECT_EQ(result.status().code(), absl::StatusCode::kDeadlineExceeded);
}

// Redis down means slower, never wrong and never failing.
TEST(ProfileServiceCacheOutageTest, ReadsAndWritesGoOnAndNothingStaleAfterRecovery) {
  auto redis = testing::RedisServer::Start();
  ASSERT_TRUE(redis.ok()) << redis.status();
  testing::TempDir dir;
  auto db = store::Open(absl::StrCat("sqlite://", dir.path(), "/outage.db"));
  ASSERT_TRUE(db.ok());
  ASSERT_TRUE(store::Migrate(**db, "profiles", ProfilesMigrations()).ok());
  cache::RedisOptions options;
  options.port = (*redis)->port();
  options.retry_backoff = absl::Milliseconds(50);
  auto cache = cache::NewRedisCache(options);
  runtime::FakeClock clock;
  runtime::UlidGenerator ids(clock);
  ProfileService service({db->get(), cache.get(), &clock, &ids, nullptr});

  v1::CreateProfileRequest create;
  create.set_profile_id("steady");
  create.mutable_profile()->set_kind(v1::PROFILE_KIND_PERSON);
  create.mutable_profile()->set_display_name("before");
  ASSERT_TRUE(service.CreateProfile(create).ok());
  v1::GetProfileRequest get;
  get.set_name("profiles/steady");
  ASSERT_TRUE(service.GetProfile(get).ok());
  ASSERT_TRUE(service.GetProfile(get).ok());
  EXPECT_GE(cache->Stats().hits, 1) << "cached before the outage";

  (*redis)->Stop();
  v1::UpdateProfileRequest update;
  update.mutable_profile()->set_name("profiles/steady");
  update.mutable_profile()->set_display_name("during");
  update.mutable_update_mask()->add_paths("display_name");
  auto updated = service.UpdateProfile(update);
  ASSERT_TRUE(updated.ok()) << "a write during the outage succeeds: " << updated.status();
  auto during = service.GetProfile(get);
  ASSERT_TRUE(during.ok()) << during.status();
  EXPECT_EQ(during->display_name(), "during");
  EXPECT_GE(cache->Stats().outages, 1);

  ASSERT_TRUE((*redis)->Restart().ok());
  absl::SleepFor(absl::Milliseconds(100));  // past retry_backoff, Redis is tried again
  for (int i = 0; i < 3; ++i) {
    auto after = service.GetProfile(get);
    ASSERT_TRUE(after.ok()) << after.status();
    EXPECT_EQ(after->display_name(), "during") << "no stale read after recovery";
  }
}

INSTANTIATE_TEST_SUITE_P(Stores, ProfileServiceTest,
                         ::testing::Values(Setup{false, false}, Setup{false, true},
                                           Setup{true, false}, Setup{true, true}),
                         SetupName);

}  // namespace
}  // namespace centric::profiles
