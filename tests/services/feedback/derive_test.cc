// Categories, scales, SLA clocks and follow-up policy rules: the Feedback service's pure
// domain code, without a store or a server.
#include "services/feedback/derive.h"

#include "gtest/gtest.h"
#include "services/feedback/policy.h"

namespace centric::feedback {
namespace {

namespace pv1 = profiles::v1;

TEST(CategoryTest, NpsCsatAndCesBoundaries) {
  EXPECT_EQ(CategoryOf(v1::SURVEY_KIND_NPS, 0), v1::CATEGORY_DETRACTOR);
  EXPECT_EQ(CategoryOf(v1::SURVEY_KIND_NPS, 6), v1::CATEGORY_DETRACTOR);
  EXPECT_EQ(CategoryOf(v1::SURVEY_KIND_NPS, 7), v1::CATEGORY_PASSIVE);
  EXPECT_EQ(CategoryOf(v1::SURVEY_KIND_NPS, 8), v1::CATEGORY_PASSIVE);
  EXPECT_EQ(CategoryOf(v1::SURVEY_KIND_NPS, 9), v1::CATEGORY_PROMOTER);
  EXPECT_EQ(CategoryOf(v1::SURVEY_KIND_NPS, 10), v1::CATEGORY_PROMOTER);
  EXPECT_EQ(CategoryOf(v1::SURVEY_KIND_NPS, 11), v1::CATEGORY_UNSPECIFIED);
  EXPECT_EQ(CategoryOf(v1::SURVEY_KIND_CSAT, 2), v1::CATEGORY_DISSATISFIED);
  EXPECT_EQ(CategoryOf(v1::SURVEY_KIND_CSAT, 3), v1::CATEGORY_NEUTRAL);
  EXPECT_EQ(CategoryOf(v1::SURVEY_KIND_CSAT, 4), v1::CATEGORY_SATISFIED);
  EXPECT_EQ(CategoryOf(v1::SURVEY_KIND_CSAT, 0), v1::CATEGORY_UNSPECIFIED);
  EXPECT_EQ(CategoryOf(v1::SURVEY_KIND_CES, 3), v1::CATEGORY_DIFFICULT);
  EXPECT_EQ(CategoryOf(v1::SURVEY_KIND_CES, 4), v1::CATEGORY_MODERATE);
  EXPECT_EQ(CategoryOf(v1::SURVEY_KIND_CES, 5), v1::CATEGORY_EASY);
  EXPECT_EQ(CategoryOf(v1::SURVEY_KIND_OPEN_TEXT, 5), v1::CATEGORY_UNSPECIFIED);
  EXPECT_TRUE(IsUnhappy(v1::CATEGORY_DETRACTOR));
  EXPECT_FALSE(IsUnhappy(v1::CATEGORY_PASSIVE));
  EXPECT_EQ(CategoryName(v1::CATEGORY_DETRACTOR), "DETRACTOR");
  EXPECT_EQ(KindName(v1::SURVEY_KIND_OPEN_TEXT), "OPEN_TEXT");
}

TEST(SlaClockTest, EachServiceLevelIsMissedOnceAndOnlyWhileItApplies) {
  const absl::Time t0 = absl::FromUnixSeconds(1790000000);
  SlaClock clock;
  clock.first_contact_due = t0 + absl::Hours(48);
  clock.resolution_due = t0 + absl::Hours(24 * 7);
  EXPECT_TRUE(NewlyMissedSlas(clock, t0 + absl::Hours(47)).empty());
  EXPECT_EQ(NewlyMissedSlas(clock, t0 + absl::Hours(48)),
            std::vector<v1::Sla>{v1::SLA_FIRST_CONTACT});
  clock.first_contact_breached = true;
  EXPECT_TRUE(NewlyMissedSlas(clock, t0 + absl::Hours(49)).empty());
  // Contacted in time: only resolution is left to miss.
  clock.first_contact_breached = false;
  clock.state = v1::FOLLOW_UP_STATE_CONTACTED;
  EXPECT_TRUE(NewlyMissedSlas(clock, t0 + absl::Hours(100)).empty());
  EXPECT_EQ(NewlyMissedSlas(clock, t0 + absl::Hours(24 * 8)),
            std::vector<v1::Sla>{v1::SLA_RESOLUTION});
  clock.state = v1::FOLLOW_UP_STATE_RESOLVED;
  EXPECT_TRUE(NewlyMissedSlas(clock, t0 + absl::Hours(24 * 8)).empty());
  // No resolution SLA at all.
  clock.state = v1::FOLLOW_UP_STATE_CONTACTED;
  clock.resolution_due.reset();
  EXPECT_TRUE(NewlyMissedSlas(clock, t0 + absl::Hours(24 * 365)).empty());
  // Both at once when nobody ever acted.
  clock.state = v1::FOLLOW_UP_STATE_OPEN;
  clock.resolution_due = t0 + absl::Hours(72);
  EXPECT_EQ(NewlyMissedSlas(clock, t0 + absl::Hours(100)),
            (std::vector<v1::Sla>{v1::SLA_FIRST_CONTACT, v1::SLA_RESOLUTION}));
}

v1::Response Answer(v1::SurveyKind kind, int score, std::vector<std::string> themes = {}) {
  v1::Response r;
  r.set_kind(kind);
  r.set_score(score);
  r.set_category(CategoryOf(kind, score));
  r.set_channel(pv1::CHANNEL_EMAIL);
  for (auto& t : themes) r.add_themes(t);
  return r;
}

TEST(PolicyRuleTest, TheIssuesExampleRule) {
  auto rule = PolicyRule::Compile(
      "response.category == DETRACTOR || (response.kind == CSAT && response.score <= 2)");
  ASSERT_TRUE(rule.ok()) << rule.status();
  pv1::Profile profile;
  EXPECT_TRUE((*rule)->Matches(Answer(v1::SURVEY_KIND_NPS, 6), "surveys/a", profile));
  EXPECT_FALSE((*rule)->Matches(Answer(v1::SURVEY_KIND_NPS, 7), "surveys/a", profile));
  EXPECT_TRUE((*rule)->Matches(Answer(v1::SURVEY_KIND_CSAT, 2), "surveys/a", profile));
  EXPECT_FALSE((*rule)->Matches(Answer(v1::SURVEY_KIND_CSAT, 3), "surveys/a", profile));
  EXPECT_FALSE((*rule)->Matches(Answer(v1::SURVEY_KIND_CES, 1), "surveys/a", profile));
}

TEST(PolicyRuleTest, RulesReadThemesChannelSurveyAndTheProfile) {
  auto rule = PolicyRule::Compile(
      "\"reliability\" in response.themes && response.channel == \"email\" && "
      "response.survey == \"surveys/onboarding\" && "
      "profile.consents.marketing_email == GRANTED && "
      "profile.aggregates.revenue_total >= 100.0");
  ASSERT_TRUE(rule.ok()) << rule.status();
  pv1::Profile profile;
  profile.mutable_aggregates()->set_revenue_total(150);
  auto* consent = profile.add_consents();
  consent->set_purpose(pv1::CONSENT_PURPOSE_MARKETING_EMAIL);
  consent->set_status(pv1::CONSENT_STATUS_GRANTED);
  v1::Response r = Answer(v1::SURVEY_KIND_CES, 2, {"usability", "reliability"});
  EXPECT_TRUE((*rule)->Matches(r, "surveys/onboarding", profile));
  EXPECT_FALSE((*rule)->Matches(r, "surveys/other", profile));
  profile.mutable_aggregates()->set_revenue_total(99);
  EXPECT_FALSE((*rule)->Matches(r, "surveys/onboarding", profile));
  // An open-text answer reads score -1.
  auto unscored = PolicyRule::Compile("response.score < 0 && response.kind == OPEN_TEXT");
  ASSERT_TRUE(unscored.ok()) << unscored.status();
  v1::Response text;
  text.set_kind(v1::SURVEY_KIND_OPEN_TEXT);
  EXPECT_TRUE((*unscored)->Matches(text, "surveys/ideas", profile));
}

TEST(PolicyRuleTest, BadRulesAreRefusedWithThePosition) {
  for (const char* bad : {"response.scroe < 3", "response.score", "response.score < \"3\"",
                          "profile.nope == 1", "", "response.category == DETRACTER"}) {
    auto rule = PolicyRule::Compile(bad);
    EXPECT_FALSE(rule.ok()) << bad;
    EXPECT_EQ(rule.status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  auto rule = PolicyRule::Compile("response.scroe < 3");
  EXPECT_NE(rule.status().message().find("1:"), absl::string_view::npos) << rule.status();
  EXPECT_FALSE(PolicyRule::Compile(std::string(5000, ' ') + "true").ok());
}

}  // namespace
}  // namespace centric::feedback
