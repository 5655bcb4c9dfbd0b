#include "libs/demo/population.h"

#include <algorithm>
#include <cmath>
#include <iterator>
#include <random>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/civil_time.h"

namespace centric::demo {
namespace {

namespace v1 = ::centric::profiles::v1;

constexpr int kDays = 365;
constexpr double kPi = 3.14159265358979323846;

// Random numbers from std::mt19937_64, whose output sequence the standard fixes; the
// std distributions are left to the implementation, so these helpers replace them.
class Random {
 public:
  explicit Random(uint64_t seed) : engine_(seed) {}

  // Uniform in [0, 1).
  double Uniform() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }
  bool Chance(double p) { return Uniform() < p; }
  // Uniform in [0, n), n > 0.
  int Below(int n) { return static_cast<int>(engine_() % static_cast<uint64_t>(n)); }
  double Normal() {
    const double u = 1.0 - Uniform();  // (0, 1]: log stays finite.
    return std::sqrt(-2.0 * std::log(u)) * std::cos(2.0 * kPi * Uniform());
  }
  double Exponential(double mean) { return -mean * std::log(1.0 - Uniform()); }

 private:
  std::mt19937_64 engine_;
};

// SplitMix64's finaliser: independent-looking seeds for neighbouring profile indices.
uint64_t Mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// Yearly pattern and levels per persona. Rates are per year, amounts in EUR.
struct Behaviour {
  double purchases_per_year;
  double median_order_eur;
  double tickets_per_year;
  double mean_resolution_hours;
  double survey_invite_chance;
  double answer_chance;
  double base_nps;
};

const Behaviour& BehaviourOf(Persona persona) {
  static const Behaviour kLoyal{24, 65, 0.4, 10, 0.7, 0.55, 9.1};
  static const Behaviour kBargain{6, 30, 1.0, 20, 0.7, 0.5, 7.6};
  static const Behaviour kAtRisk{18, 50, 2.5, 60, 0.7, 0.4, 6.6};
  static const Behaviour kNew{12, 45, 1.5, 16, 0.7, 0.5, 8.4};
  switch (persona) {
    case Persona::kLoyalRegular:
      return kLoyal;
    case Persona::kBargainHunter:
      return kBargain;
    case Persona::kAtRisk:
      return kAtRisk;
    case Persona::kNewCustomer:
      break;
  }
  return kNew;
}

bool IsSalesMonth(int month) { return month == 1 || month == 7 || month == 11 || month == 12; }

// Purchase-rate multiplier of a calendar month: the Christmas season for everyone, every
// sales season (much stronger) for bargain hunters.
double SeasonFactor(Persona persona, int month) {
  if (persona == Persona::kBargainHunter) {
    if (month == 11) return 6.0;
    if (month == 12) return 4.0;
    if (month == 1 || month == 7) return 3.0;
    return 1.0;
  }
  if (month == 11) return 2.2;
  if (month == 12) return 2.8;
  return 1.0;
}

Persona PickPersona(Random& random) {
  const double u = random.Uniform();
  if (u < 0.35) return Persona::kLoyalRegular;
  if (u < 0.60) return Persona::kBargainHunter;
  if (u < 0.80) return Persona::kAtRisk;
  return Persona::kNewCustomer;
}

const char* PickCountry(Random& random) {
  static const std::pair<const char*, int> kCountries[] = {
      {"DE", 25}, {"US", 20}, {"GB", 15}, {"FR", 12}, {"NL", 8}, {"ES", 8}, {"IT", 7}, {"SE", 5}};
  int ticket = random.Below(100);
  for (const auto& [country, weight] : kCountries) {
    if (ticket < weight) return country;
    ticket -= weight;
  }
  return "DE";
}

v1::Channel PickPurchaseChannel(Random& random) {
  const double u = random.Uniform();
  if (u < 0.5) return v1::CHANNEL_WEB;
  if (u < 0.8) return v1::CHANNEL_MOBILE_APP;
  return v1::CHANNEL_BRANCH;
}

double Cents(double eur) { return std::round(eur * 100.0) / 100.0; }

struct Timed {
  absl::Time time;
  v1::Interaction interaction;
};

v1::Interaction NewInteraction(std::string event_id, v1::Channel channel, absl::string_view type,
                               absl::Time time) {
  v1::Interaction interaction;
  interaction.set_event_id(std::move(event_id));
  interaction.set_channel(channel);
  interaction.set_type(std::string(type));
  interaction.mutable_occur_time()->set_seconds(absl::ToUnixSeconds(time));
  return interaction;
}

GeneratedProfile GenerateOne(uint64_t seed, int index, absl::Time end) {
  static const char* const kFirstNames[] = {"ada",    "alan",    "barbara", "claude",   "donald",
                                            "edsger", "frances", "grace",   "hedy",     "ivan",
                                            "joan",   "ken",     "leslie",  "margaret", "niklaus",
                                            "radia",  "sophie",  "tim",     "ursula",   "yukihiro"};
  static const char* const kLastNames[] = {
      "lovelace", "turing",  "liskov",     "shannon", "knuth",    "dijkstra", "allen",
      "hopper",   "lamarr",  "sutherland", "clarke",  "thompson", "lamport",  "hamilton",
      "wirth",    "perlman", "wilson",     "berners", "franklin", "matsumoto"};

  Random random(Mix(seed ^ Mix(static_cast<uint64_t>(index))));
  GeneratedProfile out;
  out.id = absl::StrFormat("demo-%05d", index);
  out.persona = PickPersona(random);
  const Behaviour& behaviour = BehaviourOf(out.persona);

  const std::string first = kFirstNames[random.Below(static_cast<int>(std::size(kFirstNames)))];
  const std::string last = kLastNames[random.Below(static_cast<int>(std::size(kLastNames)))];
  v1::Profile& profile = out.profile;
  profile.set_kind(v1::PROFILE_KIND_PERSON);
  std::string display_name = absl::StrCat(first, " ", last);
  display_name[0] = absl::ascii_toupper(display_name[0]);
  display_name[first.size() + 1] = absl::ascii_toupper(display_name[first.size() + 1]);
  profile.set_display_name(display_name);
  v1::Identity* email = profile.add_identities();
  email->set_type(v1::IDENTITY_TYPE_EMAIL);
  email->set_value(absl::StrFormat("%s.%s.%05d@example.com", first, last, index));
  (*profile.mutable_traits())["country"].set_string_value(PickCountry(random));
  (*profile.mutable_traits())["persona_hint"].set_string_value(
      std::string(PersonaName(out.persona)));
  if (random.Chance(0.7)) {
    v1::Consent* consent = profile.add_consents();
    consent->set_purpose(v1::CONSENT_PURPOSE_MARKETING_EMAIL);
    consent->set_status(v1::CONSENT_STATUS_GRANTED);
    consent->set_source("demo");
  }
  profile.add_preferred_channels(v1::CHANNEL_EMAIL);

  const absl::Time start = end - absl::Hours(24 * kDays);
  // New customers arrive on one of the last 90 days, with a purchase.
  const int first_day = out.persona == Persona::kNewCustomer ? kDays - 1 - random.Below(90) : 0;

  std::vector<Timed> timeline;
  int purchases = 0;
  int tickets = 0;
  absl::Time last_purchase = absl::InfinitePast();
  absl::Time last_ticket_close = absl::InfinitePast();
  double worst_resolution_hours = -1;  // < 0: no ticket.
  for (int day = first_day; day < kDays; ++day) {
    const absl::Time day_start = start + absl::Hours(24 * day);
    const int month = absl::ToCivilDay(day_start, absl::UTCTimeZone()).month();
    double rate = behaviour.purchases_per_year / kDays * SeasonFactor(out.persona, month);
    if (out.persona == Persona::kAtRisk) {
      rate *= std::pow(1.0 - static_cast<double>(day) / kDays, 2.5);
    }
    const bool forced_first = out.persona == Persona::kNewCustomer && day == first_day;
    if (forced_first || random.Chance(rate)) {
      const absl::Time time = day_start + absl::Seconds(random.Below(24 * 3600));
      double amount = behaviour.median_order_eur * std::exp(0.5 * random.Normal());
      v1::Interaction purchase = NewInteraction(absl::StrCat(out.id, "-p", purchases++),
                                                PickPurchaseChannel(random), "purchase", time);
      if (out.persona == Persona::kBargainHunter && IsSalesMonth(month)) {
        const int discount_percent = 20 + 10 * random.Below(4);
        amount *= 1.0 - discount_percent / 100.0;
        (*purchase.mutable_properties()->mutable_fields())["discount_percent"].set_number_value(
            discount_percent);
      }
      purchase.set_monetary_value(Cents(std::max(amount, 1.0)));
      purchase.set_currency_code("EUR");
      timeline.push_back({time, std::move(purchase)});
      last_purchase = std::max(last_purchase, time);
    }
    if (random.Chance(behaviour.tickets_per_year / kDays)) {
      const std::string ticket_id = absl::StrCat(out.id, "-t", tickets++);
      const absl::Time opened = day_start + absl::Seconds(random.Below(24 * 3600));
      const double hours = 0.5 + random.Exponential(behaviour.mean_resolution_hours);
      const absl::Time closed = opened + absl::Seconds(static_cast<int64_t>(hours * 3600));
      v1::Interaction open = NewInteraction(absl::StrCat(ticket_id, "-opened"), v1::CHANNEL_SUPPORT,
                                            "support_ticket_opened", opened);
      (*open.mutable_properties()->mutable_fields())["ticket_id"].set_string_value(ticket_id);
      timeline.push_back({opened, std::move(open)});
      if (closed <= end) {
        const double rounded = std::round(hours * 10.0) / 10.0;
        v1::Interaction close =
            NewInteraction(absl::StrCat(ticket_id, "-closed"), v1::CHANNEL_SUPPORT,
                           "support_ticket_closed", closed);
        auto& fields = *close.mutable_properties()->mutable_fields();
        fields["ticket_id"].set_string_value(ticket_id);
        fields["resolution_hours"].set_number_value(rounded);
        timeline.push_back({closed, std::move(close)});
        last_ticket_close = std::max(last_ticket_close, closed);
      }
      // A ticket still open at the end counts with the time it has waited so far.
      worst_resolution_hours =
          std::max(worst_resolution_hours, std::min(hours, absl::ToDoubleHours(end - opened)));
    }
  }

  if (purchases > 0 && random.Chance(behaviour.survey_invite_chance)) {
    const bool after_support = last_ticket_close > last_purchase;
    const absl::Time anchor = std::max(last_purchase, last_ticket_close);
    const absl::Time invited =
        std::min(end, anchor + absl::Seconds(3600 + random.Below(47 * 3600)));
    v1::Interaction invite =
        NewInteraction(absl::StrCat(out.id, "-s0"), v1::CHANNEL_EMAIL, "survey_invited", invited);
    (*invite.mutable_properties()->mutable_fields())["survey"].set_string_value("nps");
    timeline.push_back({invited, std::move(invite)});
    if (random.Chance(behaviour.answer_chance)) {
      double score = behaviour.base_nps + random.Normal();
      if (worst_resolution_hours > 72) {
        score -= 4.0;
      } else if (worst_resolution_hours > 24) {
        score -= 1.5;
      } else if (worst_resolution_hours >= 0) {
        score -= 0.3;
      }
      NpsAnswer answer;
      answer.score = std::clamp(static_cast<int>(std::lround(score)), 0, 10);
      answer.time = std::min(end, invited + absl::Seconds(60 + random.Below(24 * 3600)));
      answer.channel = v1::CHANNEL_EMAIL;
      answer.touchpoint = after_support ? "after_support" : "after_purchase";
      out.nps = std::move(answer);
    }
  }

  std::stable_sort(timeline.begin(), timeline.end(),
                   [](const Timed& a, const Timed& b) { return a.time < b.time; });
  out.interactions.reserve(timeline.size());
  for (Timed& t : timeline) out.interactions.push_back(std::move(t.interaction));
  return out;
}

}  // namespace

absl::string_view PersonaName(Persona persona) {
  switch (persona) {
    case Persona::kLoyalRegular:
      return "loyal_regular";
    case Persona::kBargainHunter:
      return "bargain_hunter";
    case Persona::kAtRisk:
      return "at_risk";
    case Persona::kNewCustomer:
      break;
  }
  return "new_customer";
}

absl::StatusOr<Population> Generate(const Options& options) {
  if (options.profiles < 0 || options.profiles > kMaxProfiles) {
    return absl::InvalidArgumentError(
        absl::StrCat("profiles must be from 0 to ", kMaxProfiles, ", got ", options.profiles));
  }
  if (options.end == absl::InfiniteFuture() || options.end == absl::InfinitePast()) {
    return absl::InvalidArgumentError("end must be a finite time");
  }
  // Whole seconds, so that every generated time (whole seconds after start) is <= end.
  const absl::Time end = absl::FromUnixSeconds(absl::ToUnixSeconds(options.end));
  Population population;
  population.profiles.reserve(options.profiles);
  for (int i = 0; i < options.profiles; ++i) {
    population.profiles.push_back(GenerateOne(options.seed, i + 1, end));
  }
  return population;
}

}  // namespace centric::demo
