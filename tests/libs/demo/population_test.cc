#include "libs/demo/population.h"

#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "services/profiles/profile_rules.h"

namespace centric::demo {
namespace {

namespace v1 = ::centric::profiles::v1;

absl::Time Utc(int year, int month, int day) {
  return absl::FromCivil(absl::CivilSecond(year, month, day), absl::UTCTimeZone());
}

Population MustGenerate(const Options& options) {
  absl::StatusOr<Population> population = Generate(options);
  EXPECT_TRUE(population.ok()) << population.status();
  return population.ok() ? *std::move(population) : Population{};
}

// Map fields (traits, properties) serialise in no fixed order, so compare by content.
bool Same(const google::protobuf::Message& a, const google::protobuf::Message& b) {
  return google::protobuf::util::MessageDifferencer::Equals(a, b);
}

absl::Time TimeOf(const v1::Interaction& interaction) {
  return absl::FromUnixSeconds(interaction.occur_time().seconds()) +
         absl::Nanoseconds(interaction.occur_time().nanos());
}

// Longest time a ticket took, from the opened/closed pairs; open tickets count up to
// `end`. -1 when the customer opened none.
double WorstResolutionHours(const GeneratedProfile& p, absl::Time end) {
  std::map<std::string, absl::Time> opened;
  std::map<std::string, absl::Time> closed;
  for (const v1::Interaction& i : p.interactions) {
    if (i.type() != "support_ticket_opened" && i.type() != "support_ticket_closed") continue;
    const std::string ticket = i.properties().fields().at("ticket_id").string_value();
    (i.type() == "support_ticket_opened" ? opened : closed)[ticket] = TimeOf(i);
  }
  double worst = -1;
  for (const auto& [ticket, open_time] : opened) {
    auto it = closed.find(ticket);
    const absl::Time close_time = it == closed.end() ? end : it->second;
    worst = std::max(worst, absl::ToDoubleHours(close_time - open_time));
  }
  return worst;
}

TEST(GenerateTest, SameSeedSamePopulationOtherSeedDifferent) {
  Options options;
  options.seed = 7;
  options.profiles = 300;
  const Population a = MustGenerate(options);
  const Population b = MustGenerate(options);
  ASSERT_EQ(a.profiles.size(), 300u);
  ASSERT_EQ(b.profiles.size(), 300u);
  for (size_t i = 0; i < a.profiles.size(); ++i) {
    const GeneratedProfile& x = a.profiles[i];
    const GeneratedProfile& y = b.profiles[i];
    EXPECT_EQ(x.id, y.id);
    EXPECT_EQ(x.persona, y.persona);
    EXPECT_TRUE(Same(x.profile, y.profile));
    ASSERT_EQ(x.interactions.size(), y.interactions.size());
    for (size_t j = 0; j < x.interactions.size(); ++j) {
      EXPECT_TRUE(Same(x.interactions[j], y.interactions[j]));
    }
    ASSERT_EQ(x.nps.has_value(), y.nps.has_value());
    if (x.nps) {
      EXPECT_EQ(x.nps->score, y.nps->score);
      EXPECT_EQ(x.nps->time, y.nps->time);
      EXPECT_EQ(x.nps->touchpoint, y.nps->touchpoint);
    }
  }

  // A smaller population is a prefix of a larger one.
  options.profiles = 10;
  const Population prefix = MustGenerate(options);
  for (size_t i = 0; i < prefix.profiles.size(); ++i) {
    EXPECT_TRUE(Same(prefix.profiles[i].profile, a.profiles[i].profile));
  }

  options.seed = 8;
  options.profiles = 300;
  const Population c = MustGenerate(options);
  int same = 0;
  for (size_t i = 0; i < a.profiles.size(); ++i) {
    same += Same(a.profiles[i].profile, c.profiles[i].profile);
  }
  EXPECT_LT(same, 30);
}

TEST(GenerateTest, RejectsBadOptions) {
  Options options;
  options.profiles = -1;
  EXPECT_EQ(Generate(options).status().code(), absl::StatusCode::kInvalidArgument);
  options.profiles = kMaxProfiles + 1;
  EXPECT_EQ(Generate(options).status().code(), absl::StatusCode::kInvalidArgument);
  options.profiles = 1;
  options.end = absl::InfiniteFuture();
  EXPECT_EQ(Generate(options).status().code(), absl::StatusCode::kInvalidArgument);
  options.end = Utc(2026, 1, 1);
  options.profiles = 0;
  ASSERT_TRUE(Generate(options).ok());
  EXPECT_TRUE(Generate(options)->profiles.empty());
}

TEST(GenerateTest, PersonaSharesAndTraits) {
  Options options;
  options.profiles = 4000;
  const Population population = MustGenerate(options);
  std::map<Persona, int> counts;
  std::set<std::string> ids;
  std::set<std::string> emails;
  for (const GeneratedProfile& p : population.profiles) {
    ++counts[p.persona];
    ids.insert(p.id);
    ASSERT_EQ(p.profile.identities_size(), 1);
    emails.insert(p.profile.identities(0).value());
    EXPECT_EQ(p.profile.traits().at("persona_hint").string_value(), PersonaName(p.persona));
    EXPECT_EQ(p.profile.traits().at("country").string_value().size(), 2u);
  }
  EXPECT_EQ(ids.size(), population.profiles.size());
  EXPECT_EQ(emails.size(), population.profiles.size());
  const std::map<Persona, double> expected = {{Persona::kLoyalRegular, 0.35},
                                              {Persona::kBargainHunter, 0.25},
                                              {Persona::kAtRisk, 0.20},
                                              {Persona::kNewCustomer, 0.20}};
  for (const auto& [persona, share] : expected) {
    EXPECT_NEAR(counts[persona] / 4000.0, share, 0.03) << PersonaName(persona);
  }
}

// Purchases per day in November and December against the rest of the year, for a year
// ending on New Year and one ending in mid-year (Nov/Dec in the middle).
TEST(GenerateTest, PurchasesPeakInNovemberAndDecember) {
  for (absl::Time end : {Utc(2026, 1, 1), Utc(2026, 6, 15)}) {
    Options options;
    options.profiles = 1000;
    options.end = end;
    const Population population = MustGenerate(options);
    int season = 0;
    int rest = 0;
    for (const GeneratedProfile& p : population.profiles) {
      for (const v1::Interaction& i : p.interactions) {
        if (i.type() != "purchase") continue;
        const int month = absl::ToCivilMonth(TimeOf(i), absl::UTCTimeZone()).month();
        (month >= 11 ? season : rest) += 1;
      }
    }
    const double season_per_day = season / 61.0;
    const double rest_per_day = rest / (365.0 - 61.0);
    EXPECT_GE(season_per_day, 1.5 * rest_per_day) << absl::FormatTime(end);
  }
}

TEST(GenerateTest, PersonasBehaveDifferently) {
  Options options;
  options.profiles = 2000;
  const Population population = MustGenerate(options);
  const absl::Time half_year = options.end - absl::Hours(24 * 182);
  const absl::Time ninety_days = options.end - absl::Hours(24 * 90);
  std::map<Persona, int> profiles, purchases, late_purchases, tickets, early_first;
  for (const GeneratedProfile& p : population.profiles) {
    ++profiles[p.persona];
    bool first = true;
    for (const v1::Interaction& i : p.interactions) {
      if (i.type() == "support_ticket_opened") ++tickets[p.persona];
      if (i.type() != "purchase") continue;
      ++purchases[p.persona];
      if (TimeOf(i) >= half_year) ++late_purchases[p.persona];
      if (first && TimeOf(i) < ninety_days) ++early_first[p.persona];
      first = false;
    }
  }
  auto per = [&](std::map<Persona, int>& m, Persona persona) {
    return static_cast<double>(m[persona]) / profiles[persona];
  };
  // Loyal regulars buy most often and open fewest tickets.
  EXPECT_GT(per(purchases, Persona::kLoyalRegular), 1.5 * per(purchases, Persona::kBargainHunter));
  EXPECT_LT(per(tickets, Persona::kLoyalRegular), 0.5 * per(tickets, Persona::kAtRisk));
  // At-risk customers' purchases tail off: under 15% in the second half of the year.
  EXPECT_LT(late_purchases[Persona::kAtRisk], 0.15 * purchases[Persona::kAtRisk]);
  // New customers have their first purchase within the last 90 days.
  EXPECT_EQ(early_first[Persona::kNewCustomer], 0);
  EXPECT_GT(purchases[Persona::kNewCustomer], 0);
}

TEST(GenerateTest, NpsIsLowerAfterSlowTickets) {
  Options options;
  options.profiles = 4000;
  const Population population = MustGenerate(options);
  double slow_sum = 0, none_sum = 0;
  int slow_count = 0, none_count = 0, promoters = 0, detractors = 0, answers = 0;
  for (const GeneratedProfile& p : population.profiles) {
    if (!p.nps) continue;
    ASSERT_GE(p.nps->score, 0);
    ASSERT_LE(p.nps->score, 10);
    ASSERT_LE(p.nps->time, options.end);
    ++answers;
    promoters += p.nps->score >= 9;
    detractors += p.nps->score <= 6;
    const double worst = WorstResolutionHours(p, options.end);
    if (worst < 0) {
      none_sum += p.nps->score;
      ++none_count;
    } else if (worst > 72) {
      slow_sum += p.nps->score;
      ++slow_count;
    }
  }
  ASSERT_GT(slow_count, 30);
  ASSERT_GT(none_count, 30);
  const double slow_mean = slow_sum / slow_count;
  const double none_mean = none_sum / none_count;
  EXPECT_GE(none_mean - slow_mean, 2.0) << none_mean << " vs " << slow_mean;
  EXPECT_GE(none_mean, 7.5);
  const double nps = 100.0 * (promoters - detractors) / answers;
  EXPECT_GE(nps, -20.0);
  EXPECT_LE(nps, 60.0);
}

TEST(GenerateTest, EverythingPassesProfilesValidation) {
  Options options;
  options.profiles = 500;
  options.end = Utc(2025, 8, 20) + absl::Milliseconds(750);
  const Population population = MustGenerate(options);
  std::set<std::string> event_ids;
  for (const GeneratedProfile& p : population.profiles) {
    std::vector<runtime::FieldViolation> violations;
    profiles::CheckProfileId(p.id, "profile_id", violations);
    v1::Profile profile = p.profile;
    profiles::NormalizeMutableFields(profile, "profile", options.end, violations);
    for (size_t i = 0; i < p.interactions.size(); ++i) {
      v1::Interaction interaction = p.interactions[i];
      // "now" is the end itself: nothing may lie after it, not even the 5 minutes allowed.
      profiles::NormalizeInteraction(interaction, "interactions", options.end - absl::Minutes(5),
                                     violations);
      EXPECT_LE(TimeOf(p.interactions[i]), options.end);
      EXPECT_GE(TimeOf(p.interactions[i]), options.end - absl::Hours(24 * 365) - absl::Seconds(1));
      if (i > 0) {
        EXPECT_LE(TimeOf(p.interactions[i - 1]), TimeOf(p.interactions[i]));
      }
      EXPECT_TRUE(event_ids.insert(p.interactions[i].event_id()).second)
          << p.interactions[i].event_id();
    }
    EXPECT_TRUE(profiles::ToStatus(std::move(violations)).ok()) << p.id;
    EXPECT_LE(p.interactions.size(), 1000u);  // One RecordInteractions call.
  }
}

}  // namespace
}  // namespace centric::demo
