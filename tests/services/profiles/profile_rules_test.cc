#include "services/profiles/profile_rules.h"

#include <google/protobuf/util/time_util.h>

#include <cmath>
#include <limits>
#include <optional>
#include <set>

#include "gtest/gtest.h"
#include "services/profiles/aggregates.h"
#include "services/profiles/list_filter.h"
#include "services/profiles/merge.h"

namespace centric::profiles {
namespace {

using google::protobuf::util::TimeUtil;

v1::Identity MakeIdentity(v1::IdentityType type, std::string value, std::string source = "") {
  v1::Identity identity;
  identity.set_type(type);
  identity.set_value(std::move(value));
  identity.set_source(std::move(source));
  return identity;
}

TEST(NormalizeIdentityTest, EmailIsTrimmedAndLowerCased) {
  v1::Identity identity = MakeIdentity(v1::IDENTITY_TYPE_EMAIL, "  Ada.Lovelace@Example.COM ");
  std::vector<FieldViolation> violations;
  NormalizeIdentity(identity, "identity", violations);
  EXPECT_TRUE(violations.empty());
  EXPECT_EQ(identity.value(), "ada.lovelace@example.com");
  EXPECT_EQ(IdentityKey(identity), "email::ada.lovelace@example.com");
}

TEST(NormalizeIdentityTest, MalformedEmailNamesTheField) {
  for (const char* bad : {"no-at-sign", "@example.com", "a@b", "a@@b.com", "a b@c.com"}) {
    v1::Identity identity = MakeIdentity(v1::IDENTITY_TYPE_EMAIL, bad);
    std::vector<FieldViolation> violations;
    NormalizeIdentity(identity, "profile.identities[0]", violations);
    ASSERT_EQ(violations.size(), 1u) << bad;
    EXPECT_EQ(violations[0].field, "profile.identities[0].value");
  }
}

TEST(NormalizeIdentityTest, PhoneBecomesE164) {
  v1::Identity identity = MakeIdentity(v1::IDENTITY_TYPE_PHONE, "+49 (30) 123-456.78");
  std::vector<FieldViolation> violations;
  NormalizeIdentity(identity, "identity", violations);
  EXPECT_TRUE(violations.empty());
  EXPECT_EQ(identity.value(), "+493012345678");
  v1::Identity local = MakeIdentity(v1::IDENTITY_TYPE_PHONE, "030 123456");
  NormalizeIdentity(local, "identity", violations);
  EXPECT_EQ(violations.size(), 1u) << "a number without country code is ambiguous";
}

TEST(NormalizeIdentityTest, ExternalIdNeedsSourceAndIsScopedByIt) {
  v1::Identity missing = MakeIdentity(v1::IDENTITY_TYPE_EXTERNAL_ID, "123");
  std::vector<FieldViolation> violations;
  NormalizeIdentity(missing, "identity", violations);
  ASSERT_EQ(violations.size(), 1u);
  EXPECT_EQ(violations[0].field, "identity.source");
  v1::Identity a = MakeIdentity(v1::IDENTITY_TYPE_EXTERNAL_ID, "123", "Shopify");
  v1::Identity b = MakeIdentity(v1::IDENTITY_TYPE_EXTERNAL_ID, "123", "zendesk");
  violations.clear();
  NormalizeIdentity(a, "a", violations);
  NormalizeIdentity(b, "b", violations);
  EXPECT_TRUE(violations.empty());
  EXPECT_NE(IdentityKey(a), IdentityKey(b));
  EXPECT_EQ(a.source(), "shopify");
}

TEST(NormalizeMutableFieldsTest, ReportsEveryViolationWithItsPath) {
  v1::Profile profile;
  profile.set_kind(v1::PROFILE_KIND_PERSON);
  profile.set_display_name(std::string(300, 'x'));
  *profile.add_identities() = MakeIdentity(v1::IDENTITY_TYPE_EMAIL, "a@example.com");
  *profile.add_identities() = MakeIdentity(v1::IDENTITY_TYPE_EMAIL, "A@example.com ");
  (*profile.mutable_traits())["bad key!"].set_string_value("x");
  (*profile.mutable_traits())["big"].set_string_value(std::string(5000, 'y'));
  v1::Consent* consent = profile.add_consents();
  consent->set_purpose(v1::CONSENT_PURPOSE_MARKETING_EMAIL);
  profile.add_preferred_channels(v1::CHANNEL_EMAIL);
  profile.add_preferred_channels(v1::CHANNEL_EMAIL);
  std::vector<FieldViolation> violations;
  NormalizeMutableFields(profile, "profile", absl::Now(), violations);
  std::set<std::string> fields;
  for (const auto& v : violations) fields.insert(v.field);
  EXPECT_TRUE(fields.count("profile.display_name"));
  EXPECT_TRUE(fields.count("profile.identities[1]")) << "duplicate after normalisation";
  EXPECT_TRUE(fields.count("profile.traits[\"bad key!\"]"));
  EXPECT_TRUE(fields.count("profile.traits[\"big\"]"));
  EXPECT_TRUE(fields.count("profile.consents[0].status"));
  EXPECT_TRUE(fields.count("profile.preferred_channels[1]"));
  EXPECT_EQ(violations.size(), 6u);
  // The limits are named in the description so a caller can act on them.
  for (const auto& v : violations) {
    if (v.field == "profile.display_name") {
      EXPECT_NE(v.description.find("256"), std::string::npos);
    }
  }
}

TEST(NormalizeInteractionTest, RejectsFutureTimesAndBadMoney) {
  v1::Interaction interaction;
  interaction.set_event_id("e1");
  interaction.set_channel(v1::CHANNEL_WEB);
  interaction.set_type("purchase");
  absl::Time now = absl::FromUnixSeconds(1767225600);
  *interaction.mutable_occur_time() =
      TimeUtil::SecondsToTimestamp(absl::ToUnixSeconds(now + absl::Hours(1)));
  interaction.set_monetary_value(-5);
  interaction.set_currency_code("eur");
  std::vector<FieldViolation> violations;
  NormalizeInteraction(interaction, "interactions[3]", now, violations);
  std::set<std::string> fields;
  for (const auto& v : violations) fields.insert(v.field);
  EXPECT_EQ(fields, (std::set<std::string>{"interactions[3].occur_time",
                                           "interactions[3].monetary_value",
                                           "interactions[3].currency_code"}));
}

// Violations quote at most 80 bytes of a bad name (64 of a trait key); a cut inside a
// multi-byte character made the BadRequest unparseable, so the violation was lost and an
// account membership naming no profile was accepted (found by
// fuzz/profiles_validation_fuzzer).
TEST(NormalizeMutableFieldsTest, QuotedInputStaysUtf8WhereItIsCut) {
  v1::Profile profile;
  profile.set_kind(v1::PROFILE_KIND_PERSON);
  profile.add_account_memberships()->set_account("profiles/" + std::string(70, 'a') + "\xc3\xa9");
  (*profile.mutable_traits())[std::string(63, 'k') + "\xc3\xa9"].set_string_value("x");
  std::vector<FieldViolation> violations;
  NormalizeMutableFields(profile, "profile", absl::UnixEpoch(), violations);
  ASSERT_EQ(violations.size(), 2u);
  std::vector<FieldViolation> read_back = runtime::FieldViolations(ToStatus(violations));
  ASSERT_EQ(read_back.size(), 2u);
  EXPECT_EQ(read_back[0].field, "profile.traits[\"" + std::string(63, 'k') + "\"]");
  EXPECT_EQ(read_back[1].field, "profile.account_memberships[0].account");
  EXPECT_EQ(Excerpt("ab\xc3\xa9", 3), "ab");
  EXPECT_EQ(Excerpt("ab\xc3\xa9", 4), "ab\xc3\xa9");
}

// JSON has no NaN or Infinity: protobuf prints them as strings, so a client reading the
// profile as JSON got the string "NaN" back (found by fuzz/profiles_validation_fuzzer).
TEST(NormalizeMutableFieldsTest, TraitsAndFiltersHoldOnlyFiniteNumbers) {
  v1::Profile profile;
  (*profile.mutable_traits())["age"].set_number_value(std::nan(""));
  (*profile.mutable_traits())["scores"].mutable_list_value()->add_values()->set_number_value(
      std::numeric_limits<double>::infinity());
  std::vector<FieldViolation> violations;
  NormalizeMutableFields(profile, "profile", absl::UnixEpoch(), violations);
  std::set<std::string> fields;
  for (const FieldViolation& v : violations) fields.insert(v.field);
  EXPECT_EQ(fields, (std::set<std::string>{"profile.traits[\"age\"]",
                                           "profile.traits[\"scores\"]"}));
  EXPECT_FALSE(ParseListFilter("traits.age = nan").ok());
  EXPECT_FALSE(ParseListFilter("traits.age = -inf").ok());
}

TEST(EtagTest, RoundTripsAndRejectsForeignValues) {
  EXPECT_EQ(VersionOfEtag(EtagOf(42)), 42);
  EXPECT_EQ(VersionOfEtag("42"), -1);
  EXPECT_EQ(VersionOfEtag("\"v0\""), -1);
}

v1::Interaction At(std::string id, std::string type, int64_t seconds, double value = 0,
                   v1::Channel channel = v1::CHANNEL_WEB) {
  v1::Interaction interaction;
  interaction.set_event_id(std::move(id));
  interaction.set_type(std::move(type));
  interaction.set_channel(channel);
  *interaction.mutable_occur_time() = TimeUtil::SecondsToTimestamp(seconds);
  interaction.set_monetary_value(value);
  return interaction;
}

TEST(AggregatesTest, FoldsOrdersRevenueTicketsAndChannels) {
  v1::Aggregates a = ComputeAggregates({
      At("1", "page_view", 100), At("2", "purchase", 200, 50.0),
      At("3", "purchase", 300, 25.5, v1::CHANNEL_BRANCH), At("4", "refund", 350, 5.5),
      At("5", "support_ticket_opened", 400, 0, v1::CHANNEL_SUPPORT),
      At("6", "support_ticket_closed", 500, 0, v1::CHANNEL_SUPPORT),
      At("7", "support_ticket_closed", 600, 0, v1::CHANNEL_SUPPORT)});
  EXPECT_EQ(a.interaction_count(), 7);
  EXPECT_EQ(a.order_count(), 2);
  EXPECT_DOUBLE_EQ(a.revenue_total(), 70.0);
  EXPECT_EQ(a.last_purchase_time().seconds(), 300);
  EXPECT_EQ(a.first_seen_time().seconds(), 100);
  EXPECT_EQ(a.last_seen_time().seconds(), 600);
  EXPECT_EQ(a.open_support_tickets(), 0) << "never below zero";
  ASSERT_EQ(a.interaction_counts_size(), 3);
  EXPECT_EQ(a.interaction_counts(0).channel(), v1::CHANNEL_WEB);
  EXPECT_EQ(a.interaction_counts(0).count(), 3);
  EXPECT_EQ(a.interaction_counts(2).channel(), v1::CHANNEL_SUPPORT);
}

centric::events::v1::FeedbackSummary Summary(int64_t version, std::optional<int> nps,
                                             int64_t nps_seconds, std::optional<int> csat,
                                             int64_t csat_seconds, int64_t open_follow_ups) {
  centric::events::v1::FeedbackSummary summary;
  summary.set_version(version);
  if (nps.has_value()) {
    summary.set_last_nps_score(*nps);
    *summary.mutable_last_nps_time() = TimeUtil::SecondsToTimestamp(nps_seconds);
  }
  if (csat.has_value()) {
    summary.set_last_csat_score(*csat);
    *summary.mutable_last_csat_time() = TimeUtil::SecondsToTimestamp(csat_seconds);
  }
  summary.set_open_follow_ups(open_follow_ups);
  return summary;
}

TEST(AggregatesTest, FeedbackTakesTheLatestAnswersAndSumsOpenFollowUps) {
  v1::Aggregates a;
  a.set_order_count(4);
  // The survivor's summary and one of a profile merged into it.
  EXPECT_TRUE(SetFeedback({Summary(7, 3, 100, 5, 400, 1), Summary(2, 10, 200, 2, 300, 2)}, a));
  EXPECT_EQ(a.last_nps_score(), 10);
  EXPECT_EQ(a.last_nps_time().seconds(), 200);
  EXPECT_EQ(a.last_csat_score(), 5);
  EXPECT_EQ(a.last_csat_time().seconds(), 400);
  EXPECT_EQ(a.open_follow_ups(), 3);
  EXPECT_EQ(a.order_count(), 4) << "figures from interactions are left alone";
  EXPECT_FALSE(SetFeedback({Summary(8, 3, 100, 5, 400, 1), Summary(2, 10, 200, 2, 300, 2)}, a))
      << "a newer summary with the same figures changes nothing";
  EXPECT_TRUE(SetFeedback({Summary(9, 3, 100, 5, 400, 0), Summary(2, 10, 200, 2, 300, 2)}, a));
  EXPECT_EQ(a.open_follow_ups(), 2);
  EXPECT_TRUE(SetFeedback({Summary(1, std::nullopt, 0, std::nullopt, 0, 0)}, a));
  EXPECT_FALSE(a.has_last_nps_score()) << "no answer: absent, not 0";
  EXPECT_FALSE(a.has_last_nps_time());
  EXPECT_FALSE(a.has_last_csat_score());
  EXPECT_EQ(a.open_follow_ups(), 0);
}

TEST(CheckFeedbackSummaryTest, NamesEveryBadField) {
  std::vector<FieldViolation> ok;
  CheckFeedbackSummary(Summary(1, 0, 1, 1, 1, 0), "profile_feedback", ok);
  CheckFeedbackSummary(Summary(1, 10, 1, 5, 1, 3), "profile_feedback", ok);
  EXPECT_TRUE(ok.empty());
  std::vector<FieldViolation> bad;
  auto summary = Summary(0, 11, 1, 0, 1, -1);
  summary.mutable_last_nps_time()->set_nanos(-1);
  CheckFeedbackSummary(summary, "profile_feedback", bad);
  std::set<std::string> fields;
  for (const auto& v : bad) fields.insert(v.field);
  EXPECT_EQ(fields, (std::set<std::string>{
                        "profile_feedback.version", "profile_feedback.last_nps_score",
                        "profile_feedback.last_nps_time", "profile_feedback.last_csat_score",
                        "profile_feedback.open_follow_ups"}));
}

TEST(MergeTest, SurvivorWinsTraitsNewestConsentWinsIdentitiesUnite) {
  v1::Profile survivor;
  survivor.set_name("profiles/s");
  (*survivor.mutable_traits())["country"].set_string_value("DE");
  *survivor.add_identities() = MakeIdentity(v1::IDENTITY_TYPE_EMAIL, "s@example.com");
  v1::Consent* old_consent = survivor.add_consents();
  old_consent->set_purpose(v1::CONSENT_PURPOSE_MARKETING_EMAIL);
  old_consent->set_status(v1::CONSENT_STATUS_GRANTED);
  old_consent->mutable_update_time()->set_seconds(100);

  v1::Profile newer;
  newer.set_name("profiles/n");
  newer.set_display_name("Ada");
  (*newer.mutable_traits())["country"].set_string_value("FR");
  (*newer.mutable_traits())["tier"].set_string_value("gold");
  *newer.add_identities() = MakeIdentity(v1::IDENTITY_TYPE_EMAIL, "n@example.com");
  *newer.add_identities() = MakeIdentity(v1::IDENTITY_TYPE_EMAIL, "s@example.com");
  v1::Consent* new_consent = newer.add_consents();
  new_consent->set_purpose(v1::CONSENT_PURPOSE_MARKETING_EMAIL);
  new_consent->set_status(v1::CONSENT_STATUS_REVOKED);
  new_consent->mutable_update_time()->set_seconds(200);
  newer.add_merged_profiles("profiles/older");

  v1::Profile older;
  older.set_name("profiles/o");
  (*older.mutable_traits())["tier"].set_string_value("silver");

  v1::Profile out = MergeProfileData(survivor, {newer, older});
  EXPECT_EQ(out.traits().at("country").string_value(), "DE");
  EXPECT_EQ(out.traits().at("tier").string_value(), "gold") << "most recent merged profile first";
  EXPECT_EQ(out.identities_size(), 2);
  ASSERT_EQ(out.consents_size(), 1);
  EXPECT_EQ(out.consents(0).status(), v1::CONSENT_STATUS_REVOKED) << "newest answer wins";
  EXPECT_EQ(out.display_name(), "Ada");
  EXPECT_EQ(std::vector<std::string>(out.merged_profiles().begin(), out.merged_profiles().end()),
            (std::vector<std::string>{"profiles/n", "profiles/older", "profiles/o"}));
}

TEST(ListFilterTest, ParsesKindAndTraitTerms) {
  auto filter = ParseListFilter("kind = PERSON AND traits.country = \"DE\" and traits.vip=true");
  ASSERT_TRUE(filter.ok()) << filter.status();
  EXPECT_EQ(filter->kind, v1::PROFILE_KIND_PERSON);
  ASSERT_EQ(filter->traits.size(), 2u);
  EXPECT_EQ(filter->traits[0], (std::pair<std::string, std::string>{"country", "\"DE\""}));
  EXPECT_EQ(filter->traits[1].second, "true");
}

TEST(ListFilterTest, ErrorsSayWhereAndWhat) {
  auto filter = ParseListFilter("kind = PERSON OR traits.a = 1");
  ASSERT_FALSE(filter.ok());
  EXPECT_EQ(filter.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(filter.status().message().find("column 15"), absl::string_view::npos)
      << filter.status();
  auto unknown = ParseListFilter("email = \"x\"");
  EXPECT_NE(unknown.status().message().find("kind or traits"), absl::string_view::npos);
}

}  // namespace
}  // namespace centric::profiles
