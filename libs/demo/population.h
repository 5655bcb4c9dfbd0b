// A deterministic synthetic customer population for demos: profiles of four personas
// with a year of purchases (seasonal, more in November and December), support tickets
// with resolution times, survey invitations and NPS answers that are lower after slow
// tickets. Pure C++: no I/O, no clock; the same Options give the same Population on
// every run and platform (own random helpers over std::mt19937_64, no std distributions,
// whose output the standard leaves to the implementation).
#ifndef CENTRIC_LIBS_DEMO_POPULATION_H_
#define CENTRIC_LIBS_DEMO_POPULATION_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "centric/profiles/v1/profiles.pb.h"

namespace centric::demo {

// How a generated customer behaves.
enum class Persona {
  // Buys about twice a month all year, rarely opens tickets; mostly promoters.
  kLoyalRegular,
  // Buys mostly in sales seasons (January, July, November, December) with discounts,
  // small baskets.
  kBargainHunter,
  // Bought regularly early in the year, then purchases tail off; more and slower tickets.
  kAtRisk,
  // First purchase within the last 90 days.
  kNewCustomer,
};
inline constexpr int kPersonaCount = 4;

// "loyal_regular", "bargain_hunter", "at_risk", "new_customer": the `persona_hint` trait.
absl::string_view PersonaName(Persona persona);

// An answer to the NPS question "How likely are you to recommend us?".
struct NpsAnswer {
  // 0 to 10.
  int score = 0;
  // When it was given: after its survey_invited interaction, not after Options::end.
  absl::Time time;
  profiles::v1::Channel channel = profiles::v1::CHANNEL_EMAIL;
  // [a-z0-9_]: "after_purchase" or "after_support".
  std::string touchpoint;
};

struct GeneratedProfile {
  // Profile id for CreateProfileRequest.profile_id: "demo-" and 5 digits.
  std::string id;
  Persona persona = Persona::kLoyalRegular;
  // What to create: kind PERSON, display name, one e-mail identity (unique in the
  // population), traits `country` (ISO 3166 alpha-2) and `persona_hint`, and for some a
  // marketing e-mail consent. No output-only fields.
  profiles::v1::Profile profile;
  // Oldest first; event ids unique in the population ("<id>-<kind><n>"), every one
  // within [Options::end - 365 days, Options::end]. Types: purchase (monetary_value in
  // EUR), support_ticket_opened, support_ticket_closed (properties ticket_id and
  // resolution_hours), survey_invited (property survey = "nps").
  std::vector<profiles::v1::Interaction> interactions;
  // Present for about half of the invited customers.
  std::optional<NpsAnswer> nps;
};

struct Population {
  std::vector<GeneratedProfile> profiles;
};

struct Options {
  uint64_t seed = 1;
  // 0 to kMaxProfiles.
  int profiles = 200;
  // The end of the generated year; finite. Nothing is generated after it.
  absl::Time end = absl::FromCivil(absl::CivilSecond(2026, 1, 1), absl::UTCTimeZone());
};
inline constexpr int kMaxProfiles = 100000;

// The population of `options`. Profile i depends only on the seed, i and `end`, so a
// larger `profiles` extends a smaller one. Errors: INVALID_ARGUMENT (profiles out of
// range, end infinite).
absl::StatusOr<Population> Generate(const Options& options);

}  // namespace centric::demo

#endif  // CENTRIC_LIBS_DEMO_POPULATION_H_
