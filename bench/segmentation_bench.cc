// segmentation_bench: the Segmentation engine's goals (issue 3), each measured against a
// baseline in the same run, on 127.0.0.1.
//
//   eval         Full evaluation of a three-clause rule over a synthetic population
//                (default 1,000,000 profiles with 20 segmentable fields, 100 segments
//                loaded) with Engine::PreviewRule, against the same predicate as SQL on a
//                real PostgreSQL (fsync on) holding the same values: COUNT(*) and the
//                member ids, without an index on the predicate's columns (an ad hoc
//                segment; PostgreSQL's defaults, then JIT off, then also no parallel
//                workers) and with a composite index. The engine and the SQL must agree.
//                Also: what the 100-segment Ready() rebuild costs, rule by rule, and what
//                each clause costs alone.
//   memory       Engine::MemoryBytes (table and bitmaps) per profile with those 100
//                segments, and the growth of this process's resident set while loading.
//   incremental  (with eval or memory) ApplyProfile on the loaded population, alone and
//                while Refresh() holds the engine, as the service's refresh loop does.
//   latency      The Profiles and Segmentation modules wired as centricd wires them (SQLite
//                and the in-process bus, or PostgreSQL and Redis Streams), driven over
//                gRPC: the time from just before an UpdateProfile call that moves a profile
//                in or out of a segment to the arrival of the matching MembershipChanged
//                event on the bus, one update at a time, against the UpdateProfile round
//                trip itself, split at the ProfileChanged event.
//
// Output: readable sections, then one "bench: key=value" line per metric. The exit code
// is 1 only when something failed (setup, an RPC, a count that differs between the
// engine and PostgreSQL, a MembershipChanged event that never came); timing never
// decides it.
#include <grpcpp/grpcpp.h>
#include <libpq-fe.h>
#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "centric/events/v1/events.pb.h"
#include "centric/profiles/v1/profiles_service.grpc.pb.h"
#include "centric/segmentation/v1/segmentation_service.grpc.pb.h"
#include "libs/app/app.h"
#include "libs/cache/cache.h"
#include "libs/events/in_process_bus.h"
#include "libs/events/outbox.h"
#include "libs/events/redis_streams_bus.h"
#include "libs/runtime/clock.h"
#include "libs/runtime/config.h"
#include "libs/runtime/grpc_status.h"
#include "libs/runtime/log.h"
#include "libs/runtime/server.h"
#include "libs/store/store.h"
#include "bench/bench_util.h"
#include "bench/pg_connection.h"
#include "libs/testing/servers.h"
#include "services/profiles/module.h"
#include "services/segmentation/engine.h"
#include "services/segmentation/module.h"
#include "services/segmentation/rule.h"

namespace centric::segmentation_bench {
namespace {

namespace pv1 = ::centric::profiles::v1;
namespace sv1 = ::centric::segmentation::v1;
namespace seg = ::centric::segmentation;
using SteadyClock = std::chrono::steady_clock;

constexpr char kUsage[] = R"(usage: segmentation_bench [--flag=value ...]
  --profiles=N          synthetic profiles for eval and memory (default 1000000)
  --runs=N              timed runs per evaluation, median reported (default 15)
  --segments=N          segments loaded in the engine and created for latency (default 100)
  --latency-profiles=N  profiles created over gRPC for latency (default 2000)
  --updates=N           measured UpdateProfile -> MembershipChanged round trips (default 500)
  --backend=sqlite|postgres|both
                        store and bus of the latency phase (default sqlite): SQLite and
                        the in-process bus, or PostgreSQL (fsync on) and Redis Streams
  --phases=all|eval|memory|latency
                        what to run (default all); eval and memory share one load,
                        and either also measures ApplyProfile on it (incremental)
)";

// The rule of the issue's goal, as a segment would hold it.
constexpr char kThreeClauseRule[] =
    "profile.traits.country == \"DE\" && profile.aggregates.revenue_total > 500.0 && "
    "profile.consents.marketing_email == GRANTED";
constexpr char kThreeClauseSql[] =
    "country = 'DE' AND revenue_total > 500 AND consent_marketing_email = 1";

// The engine's clock: the population's times are spread over the five years before it.
constexpr int64_t kNowUnixSeconds = 1767225600;  // 2026-01-01T00:00:00Z
constexpr int kLoadBatch = 10000;
constexpr int kWarmupRuns = 2;
constexpr int kWarmupUpdates = 20;
// Profiles whose tier flips in the latency phase (each flips updates/this times).
constexpr int kFlippedProfiles = 100;

struct Options {
  int profiles = 1000000;
  int runs = 15;
  int segments = 100;
  int latency_profiles = 2000;
  int updates = 500;
  bool sqlite = true;
  bool postgres = false;
  bool eval = true;
  bool memory = true;
  bool latency = true;
};

absl::StatusOr<Options> ParseFlags(int argc, char** argv) {
  Options options;
  const std::vector<std::pair<absl::string_view, int*>> numbers = {
      {"profiles", &options.profiles},
      {"runs", &options.runs},
      {"segments", &options.segments},
      {"latency-profiles", &options.latency_profiles},
      {"updates", &options.updates}};
  for (int i = 1; i < argc; ++i) {
    const absl::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") return absl::CancelledError(kUsage);
    const size_t eq = arg.find('=');
    if (arg.substr(0, 2) != "--" || eq == absl::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat("\"", arg, "\" is not --flag=value"));
    }
    const absl::string_view name = arg.substr(2, eq - 2);
    const absl::string_view value = arg.substr(eq + 1);
    if (name == "backend") {
      if (value != "sqlite" && value != "postgres" && value != "both") {
        return absl::InvalidArgumentError("--backend needs sqlite, postgres or both");
      }
      options.sqlite = value != "postgres";
      options.postgres = value != "sqlite";
      continue;
    }
    if (name == "phases") {
      if (value != "all" && value != "eval" && value != "memory" && value != "latency") {
        return absl::InvalidArgumentError("--phases needs all, eval, memory or latency");
      }
      options.eval = value == "all" || value == "eval";
      options.memory = value == "all" || value == "memory";
      options.latency = value == "all" || value == "latency";
      continue;
    }
    auto flag = std::find_if(numbers.begin(), numbers.end(),
                             [&](const auto& entry) { return entry.first == name; });
    if (flag == numbers.end()) {
      return absl::InvalidArgumentError(absl::StrCat("unknown flag --", name));
    }
    int n = 0;
    if (!absl::SimpleAtoi(value, &n) || n < 1) {
      return absl::InvalidArgumentError(absl::StrCat("--", name, " needs a positive integer"));
    }
    *flag->second = n;
  }
  if (options.segments > seg::kMaxSegments) {
    return absl::InvalidArgumentError(
        absl::StrCat("--segments: at most ", seg::kMaxSegments, " (the service's limit)"));
  }
  return options;
}

// ---------------------------------------------------------------------------------------
// Measurement helpers

double MillisSince(SteadyClock::time_point start) {
  return std::chrono::duration<double, std::milli>(SteadyClock::now() - start).count();
}

double Millis(SteadyClock::time_point from, SteadyClock::time_point to) {
  return std::chrono::duration<double, std::milli>(to - from).count();
}

// The q-quantile (nearest rank) of `values`.
double Quantile(std::vector<double> values, double q) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  size_t rank = static_cast<size_t>(std::ceil(q * static_cast<double>(values.size())));
  rank = std::clamp<size_t>(rank, 1, values.size());
  return values[rank - 1];
}

double Median(const std::vector<double>& values) { return Quantile(values, 0.5); }

// Resident set of this process, after handing freed heap back to the kernel so that
// memory the allocator merely kept (e.g. of discarded protos) does not count.
int64_t ResidentBytes() {
  malloc_trim(0);
  std::ifstream statm("/proc/self/statm");
  int64_t size_pages = 0, resident_pages = 0;
  statm >> size_pages >> resident_pages;
  return resident_pages * static_cast<int64_t>(sysconf(_SC_PAGESIZE));
}

// The 1-minute load average, from /proc/loadavg: how busy the shared machine was.
std::string LoadAverage() {
  std::ifstream in("/proc/loadavg");
  std::string one;
  in >> one;
  return one.empty() ? "?" : one;
}

// Jiffies of every core since boot, from /proc/stat: busy (not idle or iowait) and total.
std::pair<uint64_t, uint64_t> MachineTicks() {
  std::ifstream stat("/proc/stat");
  std::string label;
  stat >> label;  // "cpu": the sum over cores
  uint64_t value = 0, busy = 0, total = 0;
  // user nice system idle iowait irq softirq steal
  for (int field = 0; field < 8 && stat >> value; ++field) {
    total += value;
    if (field != 3 && field != 4) busy += value;
  }
  return {busy, total};
}

using bench::Metrics;

// ---------------------------------------------------------------------------------------
// The synthetic population

// SplitMix64. Each profile draws from its own stream (seeded by its number), so the
// PostgreSQL loader regenerates exactly the values the engine was given.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed * 0x2545f4914f6cdd1dULL + 0x5eed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  double Uniform() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }  // [0, 1)
  int Below(int n) { return static_cast<int>(Uniform() * n); }
  bool Chance(double p) { return Uniform() < p; }
  // Exponentially distributed with the given mean.
  double Exponential(double mean) { return -std::log(1.0 - Uniform()) * mean; }

 private:
  uint64_t state_;
};

struct Weighted {
  const char* value;
  double weight;
};

constexpr Weighted kCountries[] = {{"DE", 0.30}, {"FR", 0.15}, {"GB", 0.12}, {"US", 0.10},
                                   {"ES", 0.08}, {"IT", 0.08}, {"NL", 0.06}, {"AT", 0.05},
                                   {"CH", 0.03}, {"PL", 0.03}};
constexpr Weighted kPlans[] = {
    {"free", 0.50}, {"basic", 0.25}, {"pro", 0.18}, {"enterprise", 0.07}};

template <size_t N>
const char* Pick(Rng& rng, const Weighted (&table)[N]) {
  double u = rng.Uniform();
  for (const Weighted& w : table) {
    if (u < w.weight) return w.value;
    u -= w.weight;
  }
  return table[N - 1].value;
}

// The 20 segmentable fields of one synthetic profile: kind, five consents, preferred
// channels, create time, first/last seen and last purchase times, interaction and order
// counts, revenue, open support tickets, and the traits country, age, vip, plan, city.
struct Synthetic {
  pv1::ProfileKind kind = pv1::PROFILE_KIND_PERSON;
  pv1::ConsentStatus consents[5] = {};  // ConsentPurpose order; UNSPECIFIED = none given
  std::vector<pv1::Channel> channels;
  int64_t create_seconds = 0;
  int64_t first_seen_seconds = 0;  // 0 = never (no interactions)
  int64_t last_seen_seconds = 0;
  int64_t last_purchase_seconds = 0;
  int64_t interaction_count = 0;
  int64_t order_count = 0;
  double revenue_total = 0;
  int64_t open_support_tickets = 0;
  std::string country;
  std::optional<double> age;  // years; absent for 8 %
  bool vip = false;
  std::string plan;
  std::string city;  // "<country>-<0..29>", a few hundred values, low numbers commoner
};

Synthetic Generate(int n) {
  Rng rng(static_cast<uint64_t>(n));
  Synthetic s;
  s.kind = rng.Chance(0.95) ? pv1::PROFILE_KIND_PERSON : pv1::PROFILE_KIND_ACCOUNT;
  for (pv1::ConsentStatus& consent : s.consents) {
    const double u = rng.Uniform();
    consent = u < 0.55   ? pv1::CONSENT_STATUS_GRANTED
              : u < 0.70 ? pv1::CONSENT_STATUS_DENIED
              : u < 0.75 ? pv1::CONSENT_STATUS_REVOKED
                         : pv1::CONSENT_STATUS_UNSPECIFIED;
  }
  const std::pair<pv1::Channel, double> channels[] = {{pv1::CHANNEL_EMAIL, 0.40},
                                                      {pv1::CHANNEL_WEB, 0.35},
                                                      {pv1::CHANNEL_MOBILE_APP, 0.20},
                                                      {pv1::CHANNEL_SMS, 0.15},
                                                      {pv1::CHANNEL_PHONE, 0.05}};
  for (const auto& [channel, p] : channels) {
    if (rng.Chance(p)) s.channels.push_back(channel);
  }
  constexpr int64_t kFiveYears = 5 * 365 * 86400;
  s.create_seconds = kNowUnixSeconds - static_cast<int64_t>(rng.Uniform() * kFiveYears);
  if (rng.Chance(0.88)) {
    const int64_t lifetime = kNowUnixSeconds - s.create_seconds;
    s.interaction_count = 1 + static_cast<int64_t>(rng.Exponential(40));
    s.first_seen_seconds = s.create_seconds + static_cast<int64_t>(rng.Uniform() * lifetime * 0.3);
    s.last_seen_seconds =
        s.first_seen_seconds +
        static_cast<int64_t>(rng.Uniform() *
                             static_cast<double>(kNowUnixSeconds - s.first_seen_seconds));
    if (rng.Chance(0.6)) {
      s.order_count = 1 + static_cast<int64_t>(rng.Exponential(4));
      const double revenue = s.order_count * (15 + rng.Exponential(80));
      s.revenue_total = std::round(revenue * 100) / 100;
      s.last_purchase_seconds =
          s.first_seen_seconds +
          static_cast<int64_t>(rng.Uniform() *
                               static_cast<double>(s.last_seen_seconds - s.first_seen_seconds));
    }
    if (rng.Chance(0.15)) s.open_support_tickets = 1 + rng.Below(3);
  }
  s.country = Pick(rng, kCountries);
  if (rng.Chance(0.92)) s.age = 18 + rng.Below(63);
  s.vip = rng.Chance(0.04);
  s.plan = Pick(rng, kPlans);
  const double u = rng.Uniform();
  s.city = absl::StrCat(s.country, "-", static_cast<int>(30 * u * u));
  return s;
}

void SetSeconds(google::protobuf::Timestamp* ts, int64_t seconds) { ts->set_seconds(seconds); }

// The mutable part (what CreateProfile accepts): kind, consents, channels, traits.
void FillWritable(const Synthetic& s, pv1::Profile& profile) {
  profile.set_kind(s.kind);
  for (int i = 0; i < 5; ++i) {
    if (s.consents[i] == pv1::CONSENT_STATUS_UNSPECIFIED) continue;
    pv1::Consent* consent = profile.add_consents();
    consent->set_purpose(static_cast<pv1::ConsentPurpose>(i + 1));
    consent->set_status(s.consents[i]);
  }
  for (pv1::Channel c : s.channels) profile.add_preferred_channels(c);
  auto& traits = *profile.mutable_traits();
  traits["country"].set_string_value(s.country);
  if (s.age.has_value()) traits["age"].set_number_value(*s.age);
  traits["vip"].set_bool_value(s.vip);
  traits["plan"].set_string_value(s.plan);
  traits["city"].set_string_value(s.city);
}

// A whole profile as the Profiles service would return it (version 1).
pv1::Profile ToProfile(int n, const Synthetic& s) {
  pv1::Profile profile;
  profile.set_name(absl::StrCat("profiles/p", n));
  profile.set_state(pv1::PROFILE_STATE_ACTIVE);
  profile.set_version(1);
  FillWritable(s, profile);
  SetSeconds(profile.mutable_create_time(), s.create_seconds);
  SetSeconds(profile.mutable_update_time(), s.create_seconds);
  pv1::Aggregates& agg = *profile.mutable_aggregates();
  if (s.first_seen_seconds != 0) {
    SetSeconds(agg.mutable_first_seen_time(), s.first_seen_seconds);
    SetSeconds(agg.mutable_last_seen_time(), s.last_seen_seconds);
  }
  if (s.last_purchase_seconds != 0) {
    SetSeconds(agg.mutable_last_purchase_time(), s.last_purchase_seconds);
  }
  agg.set_interaction_count(s.interaction_count);
  agg.set_order_count(s.order_count);
  agg.set_revenue_total(s.revenue_total);
  agg.set_open_support_tickets(s.open_support_tickets);
  return profile;
}

// ---------------------------------------------------------------------------------------
// The segments

struct SegmentSpec {
  std::string id;  // "s000", ...
  std::string rule;
  pv1::ConsentPurpose purpose = pv1::CONSENT_PURPOSE_UNSPECIFIED;
};

// `count` segments of the kinds a marketing team keeps: countries and regions, value and
// frequency bands, age bands, plans, cities, consents and marketing purposes, channels,
// recency against `now`, RFM scores and combinations; the first is the three-clause rule.
std::vector<SegmentSpec> SegmentSpecs(int count) {
  std::vector<SegmentSpec> specs;
  auto add = [&](std::string rule, pv1::ConsentPurpose purpose = pv1::CONSENT_PURPOSE_UNSPECIFIED) {
    specs.push_back({absl::StrFormat("s%03d", specs.size()), std::move(rule), purpose});
  };
  constexpr char kCountry[] = "profile.traits.country";
  constexpr char kRevenue[] = "profile.aggregates.revenue_total";
  constexpr char kOrders[] = "profile.aggregates.order_count";
  constexpr char kAge[] = "profile.traits.age";
  constexpr char kPlan[] = "profile.traits.plan";
  add(kThreeClauseRule);
  for (const Weighted& c : kCountries) add(absl::StrFormat("%s == \"%s\"", kCountry, c.value));
  for (const char* list :
       {R"(["DE", "AT", "CH"])", R"(["FR", "ES", "IT"])", R"(["GB", "US"])", R"(["NL", "PL"])"}) {
    add(absl::StrFormat("%s in %s", kCountry, list));
  }
  for (int threshold : {100, 500, 1000, 5000}) {
    add(absl::StrFormat("%s > %d.0", kRevenue, threshold));
  }
  for (int n : {1, 3, 10}) add(absl::StrFormat("%s >= %d", kOrders, n));
  for (int n : {10, 50, 200}) {
    add(absl::StrFormat("profile.aggregates.interaction_count > %d", n));
  }
  for (auto [low, high] : {std::pair{18, 25}, {25, 35}, {35, 45}, {45, 55}}) {
    add(absl::StrFormat("%s >= %d.0 && %s < %d.0", kAge, low, kAge, high));
  }
  add(absl::StrFormat("%s >= 55.0", kAge));
  add("profile.traits.vip == true");
  add(absl::StrFormat("profile.traits.vip == true && %s > 1000.0", kRevenue));
  for (const char* plan : {"free", "pro", "enterprise"}) {
    add(absl::StrFormat("%s == \"%s\"", kPlan, plan));
  }
  add(absl::StrFormat(R"(%s in ["pro", "enterprise"])", kPlan));
  for (const char* city : {"DE-0", "DE-1", "FR-0", "GB-2", "US-0"}) {
    add(absl::StrFormat("profile.traits.city == \"%s\"", city));
  }
  add(R"(profile.traits.city in ["FR-0", "FR-1", "FR-2"])");
  add(R"(profile.traits.city.startsWith("GB-"))");
  add("profile.consents.marketing_sms == GRANTED");
  add(absl::StrFormat("profile.consents.personalization == GRANTED && %s == \"FR\"", kCountry));
  add("profile.consents.analytics == DENIED || profile.consents.analytics == REVOKED");
  for (const char* country : {"FR", "GB", "US", "ES", "IT"}) {
    add(absl::StrFormat("%s == \"%s\" && profile.consents.marketing_email == GRANTED", kCountry,
                        country));
  }
  // Marketing segments: members also need consent for the purpose.
  add(absl::StrFormat("%s == \"DE\"", kCountry), pv1::CONSENT_PURPOSE_MARKETING_EMAIL);
  add(absl::StrFormat("%s > 1000.0", kRevenue), pv1::CONSENT_PURPOSE_MARKETING_EMAIL);
  add(R"("sms" in profile.preferred_channels)", pv1::CONSENT_PURPOSE_MARKETING_SMS);
  add(absl::StrFormat("%s == \"pro\"", kPlan), pv1::CONSENT_PURPOSE_PERSONALIZATION);
  add("rfm.m >= 4", pv1::CONSENT_PURPOSE_PROFILING);
  add(R"("sms" in profile.preferred_channels)");
  add(absl::StrFormat(R"("email" in profile.preferred_channels && %s == "GB")", kCountry));
  add("size(profile.preferred_channels) == 0");
  add("profile.kind == ACCOUNT");
  add(absl::StrFormat("profile.kind == PERSON && %s > 60.0", kAge));
  // Recency against `now`: compared with a column (one scan) ...
  for (const char* window : {"168h", "720h", "2160h"}) {
    add(absl::StrFormat("profile.aggregates.last_purchase_time > now - duration(\"%s\")", window));
  }
  add(absl::StrFormat("profile.aggregates.last_seen_time < now - duration(\"2160h\") && %s > 0",
                      kOrders));
  add("profile.create_time > now - duration(\"720h\")");
  add(R"(profile.aggregates.first_seen_time < timestamp("2023-01-01T00:00:00Z"))");
  // ... and written as in docs/CEL.md (arithmetic on the column: run per distinct value).
  add(R"(now - profile.aggregates.last_seen_time < duration("168h"))");
  add(R"(profile.traits.vip == true && now - profile.create_time > duration("17520h"))");
  add("rfm.r >= 4");
  add("rfm.f >= 4 && rfm.m >= 4");
  add("rfm.r <= 2 && rfm.m >= 4");
  add("rfm.r == 5 && rfm.f == 5 && rfm.m == 5");
  add("profile.aggregates.open_support_tickets > 0");
  add("profile.aggregates.open_support_tickets >= 2");
  add("profile.aggregates.open_support_tickets > 0 && profile.traits.vip == true");
  add(absl::StrFormat("%s == \"DE\" && %s == \"pro\" && %s > 200.0", kCountry, kPlan, kRevenue));
  add(absl::StrFormat(R"((%s < 30.0 || profile.traits.vip == true) && %s in ["DE", "FR"])", kAge,
                      kCountry));
  add(absl::StrFormat("!(%s == \"DE\") && %s > 2", kCountry, kOrders));
  add(absl::StrFormat(
      "%s == \"US\" && %s > 1000.0 && profile.aggregates.last_purchase_time > now - "
      "duration(\"2160h\")",
      kCountry, kRevenue));
  add(absl::StrFormat("%s == \"free\" && profile.aggregates.interaction_count > 100", kPlan));
  add(absl::StrFormat(
      "profile.consents.marketing_email == GRANTED && profile.consents.marketing_sms == GRANTED "
      "&& %s >= 1",
      kOrders));
  for (const char* country : {"DE", "FR", "GB", "US", "ES"}) {
    add(absl::StrFormat("%s == \"%s\" && %s > 1000.0", kCountry, country, kRevenue));
  }
  add(absl::StrFormat("%s == \"pro\" && %s < 30.0", kPlan, kAge));
  add(absl::StrFormat("%s == \"enterprise\" && %s >= 40.0", kPlan, kAge));
  add(absl::StrFormat("%s == \"basic\" && profile.traits.vip == true", kPlan));
  add(absl::StrFormat("%s == \"free\" && %s >= 60.0", kPlan, kAge));
  add(absl::StrFormat("%s == 1", kOrders));
  add(absl::StrFormat("%s >= 2 && %s <= 5", kOrders, kOrders));
  add(absl::StrFormat("%s > 5 && %s < 300.0", kOrders, kRevenue));
  add(absl::StrFormat("%s > 200.0 && %s <= 500.0", kRevenue, kRevenue));
  add(absl::StrFormat("%s > 500.0 && %s <= 1000.0", kRevenue, kRevenue));
  for (const char* plan : {"free", "basic"}) {
    add(absl::StrFormat(
        "%s == \"%s\" && profile.aggregates.last_seen_time < now - duration(\"4320h\")", kPlan,
        plan));
  }
  // Two columns in one comparison: the interpreter, row by row.
  add(absl::StrFormat("%s / double(%s) > 150.0", kRevenue, kOrders));
  add(absl::StrFormat("has(%s)", kAge));
  // Beyond the list (a larger --segments): more revenue bands.
  for (int i = 1; static_cast<int>(specs.size()) < count; ++i) {
    add(absl::StrFormat("%s > %d.0", kRevenue, 25 * i));
  }
  specs.resize(count);
  return specs;
}

absl::StatusOr<std::vector<std::shared_ptr<const seg::Rule>>> CompileAll(
    const std::vector<SegmentSpec>& specs) {
  std::vector<std::shared_ptr<const seg::Rule>> rules;
  for (const SegmentSpec& spec : specs) {
    auto rule = seg::Rule::Compile(spec.rule, seg::RuleKind::kSegment);
    if (!rule.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("segment ", spec.id, " (", spec.rule, "): ", rule.status().message()));
    }
    rules.push_back(*rule);
  }
  return rules;
}

// ---------------------------------------------------------------------------------------
// PostgreSQL through libpq

using bench::PgConnection;

// Loads id, country, revenue_total and consent_marketing_email of profiles 0..n-1 (the
// columns the predicate reads, from the same generator the engine was given) with COPY.
absl::Status LoadPostgres(PgConnection& pg, int profiles) {
  if (absl::Status s = pg.Exec(
          "CREATE TABLE segbench (id TEXT NOT NULL, country TEXT NOT NULL, "
          "revenue_total DOUBLE PRECISION NOT NULL, consent_marketing_email SMALLINT NOT NULL)");
      !s.ok()) {
    return s;
  }
  PGresult* start = PQexec(
      pg.get(), "COPY segbench (id, country, revenue_total, consent_marketing_email) FROM STDIN");
  const bool copying = PQresultStatus(start) == PGRES_COPY_IN;
  PQclear(start);
  if (!copying) return absl::InternalError(absl::StrCat("COPY: ", PQerrorMessage(pg.get())));
  std::string buffer;
  auto flush = [&]() -> absl::Status {
    if (PQputCopyData(pg.get(), buffer.data(), static_cast<int>(buffer.size())) != 1) {
      return absl::InternalError(absl::StrCat("COPY data: ", PQerrorMessage(pg.get())));
    }
    buffer.clear();
    return absl::OkStatus();
  };
  for (int n = 0; n < profiles; ++n) {
    const Synthetic s = Generate(n);
    // %.17g prints the double PostgreSQL parses back to the same value.
    absl::StrAppendFormat(&buffer, "p%d\t%s\t%.17g\t%d\n", n, s.country, s.revenue_total,
                          static_cast<int>(s.consents[0]));
    if (buffer.size() >= (1 << 20)) {
      if (absl::Status st = flush(); !st.ok()) return st;
    }
  }
  if (!buffer.empty()) {
    if (absl::Status st = flush(); !st.ok()) return st;
  }
  if (PQputCopyEnd(pg.get(), nullptr) != 1) {
    return absl::InternalError(absl::StrCat("COPY end: ", PQerrorMessage(pg.get())));
  }
  absl::Status status;
  while (PGresult* result = PQgetResult(pg.get())) {
    if (PQresultStatus(result) != PGRES_COMMAND_OK && status.ok()) {
      status = absl::InternalError(absl::StrCat("COPY: ", PQerrorMessage(pg.get())));
    }
    PQclear(result);
  }
  if (!status.ok()) return status;
  if (absl::Status s = pg.Exec("ALTER TABLE segbench ADD PRIMARY KEY (id)"); !s.ok()) return s;
  return pg.Exec("VACUUM ANALYZE segbench");
}

// The plan PostgreSQL picks, one line ("Aggregate / Gather / Parallel Seq Scan on ...").
std::string PlanOf(PgConnection& pg, const std::string& sql) {
  auto lines = pg.Column(absl::StrCat("EXPLAIN (COSTS OFF) ", sql));
  if (!lines.ok()) return lines.status().ToString();
  std::vector<std::string> nodes;
  for (std::string& line : *lines) {
    const size_t start = line.find_first_not_of(" ->");
    if (start == std::string::npos || line.find("Filter") != std::string::npos ||
        line.find("Cond") != std::string::npos || line.find("Workers") != std::string::npos) {
      continue;
    }
    nodes.push_back(line.substr(start));
  }
  return absl::StrJoin(nodes, " / ");
}

// ---------------------------------------------------------------------------------------
// Phase: load (shared by eval and memory)

struct Loaded {
  std::unique_ptr<runtime::FakeClock> clock;
  std::unique_ptr<seg::Engine> engine;
  std::vector<SegmentSpec> specs;
  std::vector<std::shared_ptr<const seg::Rule>> rules;
};

absl::StatusOr<Loaded> LoadEngine(const Options& options, Metrics& metrics) {
  Loaded loaded;
  loaded.specs = SegmentSpecs(options.segments);
  auto rules = CompileAll(loaded.specs);
  if (!rules.ok()) return rules.status();
  loaded.rules = std::move(*rules);

  absl::PrintF("\n== Load: %d synthetic profiles, %d segments (load average %s) ==\n",
               options.profiles, options.segments, LoadAverage());
  const int64_t rss_before = ResidentBytes();
  loaded.clock = std::make_unique<runtime::FakeClock>(absl::FromUnixSeconds(kNowUnixSeconds));
  loaded.engine = std::make_unique<seg::Engine>(*loaded.clock);
  const SteadyClock::time_point load_start = SteadyClock::now();
  double apply_ms = 0;
  std::vector<pv1::Profile> batch;
  for (int first = 0; first < options.profiles; first += kLoadBatch) {
    const int end = std::min(options.profiles, first + kLoadBatch);
    batch.clear();
    for (int n = first; n < end; ++n) batch.push_back(ToProfile(n, Generate(n)));
    const SteadyClock::time_point apply_start = SteadyClock::now();
    for (const pv1::Profile& profile : batch) loaded.engine->ApplyProfile(profile);
    apply_ms += MillisSince(apply_start);
  }
  std::vector<pv1::Profile>().swap(batch);
  const double load_ms = MillisSince(load_start);
  if (loaded.engine->profile_count() != options.profiles) {
    return absl::InternalError(absl::StrCat("the engine holds ", loaded.engine->profile_count(),
                                            " profiles, not ", options.profiles));
  }
  for (size_t i = 0; i < loaded.specs.size(); ++i) {
    loaded.engine->PutSegment(
        {absl::StrCat("segments/", loaded.specs[i].id), loaded.rules[i], loaded.specs[i].purpose});
  }
  const SteadyClock::time_point ready_start = SteadyClock::now();
  loaded.engine->Ready();
  const double ready_ms = MillisSince(ready_start);
  const int64_t rss_after = ResidentBytes();

  absl::PrintF(
      "  generate + ApplyProfile (not ready)   %9.0f ms  (ApplyProfile alone %.0f ms, "
      "%.2f us/profile)\n",
      load_ms, apply_ms, apply_ms * 1000 / options.profiles);
  absl::PrintF("  Ready(): RFM + %d segments rebuilt    %9.0f ms\n", options.segments, ready_ms);
  metrics.AddInt("profiles", options.profiles);
  metrics.AddInt("segments", options.segments);
  metrics.Add("load_apply_us_per_profile", apply_ms * 1000 / options.profiles);
  metrics.Add("ready_rebuild_ms", ready_ms);

  // Per-segment evaluation times: what the rebuild is made of.
  std::vector<std::pair<double, size_t>> per_segment;
  int64_t members_total = 0;
  for (size_t i = 0; i < loaded.specs.size(); ++i) {
    const SteadyClock::time_point start = SteadyClock::now();
    seg::Engine::Preview preview =
        loaded.engine->PreviewRule(*loaded.rules[i], loaded.specs[i].purpose, 0);
    per_segment.emplace_back(MillisSince(start), i);
    std::optional<int64_t> size =
        loaded.engine->SegmentSize(absl::StrCat("segments/", loaded.specs[i].id));
    if (!size.has_value() || *size != preview.size) {
      return absl::InternalError(absl::StrCat("segment ", loaded.specs[i].id, " holds ",
                                              size.value_or(-1), " members after Ready() but ",
                                              preview.size, " by PreviewRule"));
    }
    members_total += preview.size;
  }
  std::sort(per_segment.rbegin(), per_segment.rend());
  double sum_ms = 0;
  for (const auto& [ms, i] : per_segment) sum_ms += ms;
  absl::PrintF(
      "  the same %d rules one by one (PreviewRule): %.0f ms in all, median %.2f ms; "
      "%.1f members per profile\n",
      options.segments, sum_ms, per_segment[per_segment.size() / 2].first,
      static_cast<double>(members_total) / options.profiles);
  absl::PrintF("  slowest:\n");
  for (size_t k = 0; k < std::min<size_t>(5, per_segment.size()); ++k) {
    const auto& [ms, i] = per_segment[k];
    absl::PrintF("    %8.1f ms  %s\n", ms, loaded.specs[i].rule);
  }
  metrics.Add("segment_eval_sum_ms", sum_ms);
  metrics.Add("segment_eval_median_ms", per_segment[per_segment.size() / 2].first);
  metrics.Add("segment_eval_max_ms", per_segment.front().first);

  // Memory.
  const double n = options.profiles;
  const double total = static_cast<double>(loaded.engine->MemoryBytes());
  const double table = static_cast<double>(loaded.engine->TableMemoryBytes());
  const double bitmaps = static_cast<double>(loaded.engine->BitmapMemoryBytes());
  const double rss = static_cast<double>(rss_after - rss_before);
  if (options.memory) {
    absl::PrintF("\n== Memory: %d profiles x 20 fields, %d segments ==\n", options.profiles,
                 options.segments);
    absl::PrintF("  Engine::MemoryBytes        %8.1f MB  %6.1f bytes/profile  goal <= 200: %s\n",
                 total / 1e6, total / n, total / n <= 200 ? "met" : "NOT MET");
    absl::PrintF("    table (columns, ids)     %8.1f MB  %6.1f bytes/profile\n", table / 1e6,
                 table / n);
    absl::PrintF("    bitmaps (%d segments)   %8.1f MB  %6.1f bytes/profile\n", options.segments,
                 bitmaps / 1e6, bitmaps / n);
    absl::PrintF(
        "  process RSS growth         %8.1f MB  %6.1f bytes/profile  (load + Ready, "
        "after malloc_trim)\n",
        rss / 1e6, rss / n);
    metrics.Add("memory_bytes_per_profile", total / n);
    metrics.Add("table_bytes_per_profile", table / n);
    metrics.Add("bitmap_bytes_per_profile", bitmaps / n);
    metrics.Add("rss_bytes_per_profile", rss / n);
    metrics.AddText("memory_goal", total / n <= 200 ? "met" : "not_met");
  }
  return loaded;
}

// ---------------------------------------------------------------------------------------
// Incremental updates on the loaded population, without the service around the engine

// ApplyProfile of one profile whose country flips (so every segment reading the country
// is evaluated again for it), alone and while Refresh() runs, as the service's refresh
// loop runs it every refresh interval (60 s by default): both take the engine's mutex.
void RunIncremental(Loaded& loaded, Metrics& metrics) {
  constexpr int kApplies = 1000;
  seg::Engine& engine = *loaded.engine;
  const Synthetic original = Generate(0);
  int64_t version = 1;
  auto apply_flipped = [&](int k) {
    Synthetic s = original;
    s.country = k % 2 == 0 ? (original.country == "DE" ? "FR" : "DE") : original.country;
    pv1::Profile profile = ToProfile(0, s);
    profile.set_version(++version);
    const SteadyClock::time_point start = SteadyClock::now();
    engine.ApplyProfile(profile);
    return MillisSince(start);
  };
  std::vector<double> alone;
  for (int k = 0; k < kApplies; ++k) alone.push_back(apply_flipped(k));

  loaded.clock->Advance(absl::Seconds(60));
  std::atomic<bool> refreshing{true};
  double refresh_ms = 0;
  size_t refresh_deltas = 0;
  std::thread refresher([&] {
    const SteadyClock::time_point start = SteadyClock::now();
    refresh_deltas = engine.Refresh().membership.size();
    refresh_ms = MillisSince(start);
    refreshing = false;
  });
  std::vector<double> during;
  for (int k = 0; refreshing; ++k) {
    during.push_back(apply_flipped(k));
    absl::SleepFor(absl::Milliseconds(1));
  }
  refresher.join();
  // Leave the profile as generated, so the SQL baseline holds the same values.
  pv1::Profile restored = ToProfile(0, original);
  restored.set_version(++version);
  engine.ApplyProfile(restored);

  absl::PrintF("\n== Incremental: ApplyProfile on %d profiles, %zu segments ==\n",
               static_cast<int>(engine.profile_count()), loaded.specs.size());
  absl::PrintF(
      "  ApplyProfile, country flips   p50 %.3f ms  p99 %.3f ms  max %.3f ms  (%d calls)\n",
      Quantile(alone, 0.5), Quantile(alone, 0.99), Quantile(alone, 1.0), kApplies);
  absl::PrintF("  Refresh() (clock +60 s)        %.0f ms, %zu membership deltas\n", refresh_ms,
               refresh_deltas);
  absl::PrintF("  ApplyProfile during Refresh()  max %.0f ms  (%zu calls, 1 ms apart)\n",
               Quantile(during, 1.0), during.size());
  metrics.Add("apply_profile_p50_ms", Quantile(alone, 0.5));
  metrics.Add("apply_profile_p99_ms", Quantile(alone, 0.99));
  metrics.Add("refresh_ms", refresh_ms);
  metrics.Add("apply_profile_during_refresh_max_ms", Quantile(during, 1.0));
}

// ApplyProfile while a second engine, loaded with the same population, runs its full
// rebuild (Ready(): RFM, every segment), as the service applies profile events that
// arrive during its start-up.
absl::Status RunRebuild(const Options& options, Loaded& loaded, Metrics& metrics) {
  runtime::FakeClock clock(absl::FromUnixSeconds(kNowUnixSeconds));
  seg::Engine engine(clock);
  for (int n = 0; n < options.profiles; ++n) engine.ApplyProfile(ToProfile(n, Generate(n)));
  for (size_t i = 0; i < loaded.specs.size(); ++i) {
    engine.PutSegment(
        {absl::StrCat("segments/", loaded.specs[i].id), loaded.rules[i], loaded.specs[i].purpose});
  }
  const Synthetic original = Generate(1);
  std::atomic<bool> rebuilding{true};
  double ready_ms = 0;
  std::thread rebuilder([&] {
    const SteadyClock::time_point start = SteadyClock::now();
    engine.Ready();
    ready_ms = MillisSince(start);
    rebuilding = false;
  });
  std::vector<double> during;
  for (int k = 0; rebuilding; ++k) {
    Synthetic s = original;
    s.country = k % 2 == 0 ? "NL" : original.country;
    pv1::Profile profile = ToProfile(1, s);
    profile.set_version(2 + k);
    const SteadyClock::time_point start = SteadyClock::now();
    engine.ApplyProfile(profile);
    during.push_back(MillisSince(start));
    absl::SleepFor(absl::Milliseconds(1));
  }
  rebuilder.join();
  pv1::Profile restored = ToProfile(1, original);
  restored.set_version(1 << 30);
  engine.ApplyProfile(restored);
  if (engine.SegmentSize("segments/s000") != loaded.engine->SegmentSize("segments/s000")) {
    return absl::InternalError("the rebuilt engine holds other members than the loaded one");
  }
  absl::PrintF("\n== Rebuild: Ready() of a second engine (%d profiles, %zu segments) ==\n",
               options.profiles, loaded.specs.size());
  absl::PrintF("  Ready() %.0f ms; ApplyProfile meanwhile max %.3f ms, p99 %.3f ms (%zu calls)\n",
               ready_ms, Quantile(during, 1.0), Quantile(during, 0.99), during.size());
  metrics.Add("apply_profile_during_rebuild_max_ms", Quantile(during, 1.0));
  metrics.Add("rebuild_with_applies_ms", ready_ms);
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------------------
// Phase: eval

struct PgTimes {
  double count_ms = 0;
  double ids_ms = 0;
  double engine_ms = 0;      // the size (PreviewRule)
  double engine_ids_ms = 0;  // every member's id, streamed from the bitmap (StreamMembers)
};

// Alternates engine, COUNT(*) and id-list runs, `runs` times after warm-up; medians.
absl::StatusOr<PgTimes> TimeEval(const Options& options, seg::Engine& engine, const seg::Rule& rule,
                                 PgConnection& pg, int64_t expected) {
  const std::string count_sql =
      absl::StrCat("SELECT count(*) FROM segbench WHERE ", kThreeClauseSql);
  const std::string ids_sql = absl::StrCat("SELECT id FROM segbench WHERE ", kThreeClauseSql);
  std::vector<double> engine_ms, engine_ids_ms, count_ms, ids_ms;
  // The ids go into one buffer, as a response stream would serialise them.
  std::string buffer;
  auto sink = [&buffer](absl::string_view id) {
    buffer.append(id.data(), id.size());
    buffer.push_back('\n');
  };
  for (int run = 0; run < kWarmupRuns + options.runs; ++run) {
    SteadyClock::time_point start = SteadyClock::now();
    const int64_t size = engine.PreviewRule(rule, pv1::CONSENT_PURPOSE_UNSPECIFIED, 0).size;
    const double e = MillisSince(start);
    buffer.clear();
    start = SteadyClock::now();
    const int64_t streamed = engine.StreamMembers(rule, pv1::CONSENT_PURPOSE_UNSPECIFIED, sink);
    const double ei = MillisSince(start);
    start = SteadyClock::now();
    auto count = pg.Count(count_sql, /*counting=*/true);
    const double c = MillisSince(start);
    if (!count.ok()) return count.status();
    start = SteadyClock::now();
    auto ids = pg.Count(ids_sql, /*counting=*/false);
    const double i = MillisSince(start);
    if (!ids.ok()) return ids.status();
    if (size != expected || streamed != expected || *count != expected || *ids != expected) {
      return absl::InternalError(absl::StrFormat(
          "counts differ: engine %d, engine ids %d, SQL count(*) %d, SQL ids %d (expected %d)",
          size, streamed, *count, *ids, expected));
    }
    if (run < kWarmupRuns) continue;
    engine_ms.push_back(e);
    engine_ids_ms.push_back(ei);
    count_ms.push_back(c);
    ids_ms.push_back(i);
  }
  return PgTimes{Median(count_ms), Median(ids_ms), Median(engine_ms), Median(engine_ids_ms)};
}

absl::Status RunEval(const Options& options, Loaded& loaded, testing::PostgresServer& postgres,
                     Metrics& metrics) {
  absl::PrintF("\n== Eval: %s (load average %s) ==\n", kThreeClauseRule, LoadAverage());
  auto rule = seg::Rule::Compile(kThreeClauseRule, seg::RuleKind::kSegment);
  if (!rule.ok()) return rule.status();
  seg::Engine& engine = *loaded.engine;

  PgConnection pg;
  if (absl::Status s = pg.Connect(postgres.url()); !s.ok()) return s;
  const SteadyClock::time_point copy_start = SteadyClock::now();
  if (absl::Status s = LoadPostgres(pg, options.profiles); !s.ok()) return s;
  absl::PrintF("  PostgreSQL: %d rows COPYed, primary key, VACUUM ANALYZE in %.1f s\n",
               options.profiles, MillisSince(copy_start) / 1000);
  std::vector<std::string> settings;
  for (const char* name : {"server_version", "shared_buffers", "work_mem",
                           "max_parallel_workers_per_gather", "fsync", "jit"}) {
    auto value = pg.Column(absl::StrCat("SHOW ", name));
    settings.push_back(absl::StrCat(name, "=", value.ok() && !value->empty() ? (*value)[0] : "?"));
  }
  absl::PrintF("  PostgreSQL settings: %s\n", absl::StrJoin(settings, " "));

  // The member set must be the same, not only its size: every sampled engine member is in
  // the SQL result.
  seg::Engine::Preview preview = engine.PreviewRule(**rule, pv1::CONSENT_PURPOSE_UNSPECIFIED, 100);
  auto ids = pg.Column(absl::StrCat("SELECT id FROM segbench WHERE ", kThreeClauseSql));
  if (!ids.ok()) return ids.status();
  absl::flat_hash_set<std::string> sql_members;
  for (std::string& id : *ids) sql_members.insert(absl::StrCat("profiles/", id));
  if (static_cast<int64_t>(sql_members.size()) != preview.size) {
    return absl::InternalError(absl::StrFormat("counts differ: engine %d, PostgreSQL %d",
                                               preview.size, sql_members.size()));
  }
  for (const std::string& name : preview.sample) {
    if (!sql_members.contains(name)) {
      return absl::InternalError(absl::StrCat(name, " is a member for the engine, not for SQL"));
    }
  }
  absl::PrintF("  members: %d (%.2f %%), same in both; %d sampled engine members found in SQL\n",
               preview.size, 100.0 * static_cast<double>(preview.size) / options.profiles,
               preview.sample.size());
  metrics.AddInt("eval_members", preview.size);

  // PostgreSQL as configured by default, then with what could make it faster for this
  // query (JIT compiles the expressions of every execution of a plan costed above
  // jit_above_cost; parallel workers take the other core), then with an index. Each
  // block alternates engine and SQL runs, so drift hits both alike.
  struct Block {
    const char* key;    // metric name suffix
    const char* label;  // what the table says
    const char* sql;    // run before the block (session settings, cumulative)
    bool indexed;
  };
  const Block blocks[] = {
      {"", "no index, defaults", "RESET ALL", false},
      {"_nojit", "no index, jit off", "SET jit = off", false},
      {"_serial", "no index, jit off, no parallel workers",
       "SET max_parallel_workers_per_gather = 0", false},
      {"_indexed", "composite index, defaults", "RESET ALL", true},
  };
  const std::string count_sql =
      absl::StrCat("SELECT count(*) FROM segbench WHERE ", kThreeClauseSql);
  const std::string ids_sql = absl::StrCat("SELECT id FROM segbench WHERE ", kThreeClauseSql);
  absl::PrintF("  median of %d runs (after %d warm-up runs), wall time on the client:\n",
               options.runs, kWarmupRuns);
  absl::PrintF("  %-62s %8s %9s  %s\n", "", "ms", "PG/engine", "PostgreSQL plan");
  double best_unindexed = 0;  // fastest count(*) without index, over engine time
  double best_unindexed_ids = 0;  // the same for the ids
  double default_ratio = 0;
  for (const Block& block : blocks) {
    if (block.indexed) {
      if (absl::Status s = pg.Exec("CREATE INDEX segbench_predicate ON segbench "
                                   "(country, consent_marketing_email, revenue_total)");
          !s.ok()) {
        return s;
      }
      if (absl::Status s = pg.Exec("VACUUM ANALYZE segbench"); !s.ok()) return s;
    }
    if (absl::Status s = pg.Exec(block.sql); !s.ok()) return s;
    const std::string count_plan = PlanOf(pg, count_sql);
    const std::string ids_plan = PlanOf(pg, ids_sql);
    auto times = TimeEval(options, engine, **rule, pg, preview.size);
    if (!times.ok()) return times.status();
    const double count_ratio = times->count_ms / times->engine_ms;
    const double ids_ratio = times->ids_ms / times->engine_ids_ms;
    absl::PrintF("  %-62s %8.2f\n", "engine: PreviewRule (member bitmap, size)", times->engine_ms);
    absl::PrintF("  %-62s %8.2f\n", "engine: StreamMembers (every id)", times->engine_ids_ms);
    absl::PrintF("  %-62s %8.2f %9.1f  %s\n",
                 absl::StrCat("PostgreSQL, ", block.label, ": count(*)"), times->count_ms,
                 count_ratio, count_plan);
    absl::PrintF("  %-62s %8.2f %9.1f  %s\n",
                 absl::StrCat("PostgreSQL, ", block.label, ": SELECT id"), times->ids_ms, ids_ratio,
                 ids_plan);
    metrics.Add(absl::StrCat("engine_eval", block.key, "_ms"), times->engine_ms);
    metrics.Add(absl::StrCat("engine_ids", block.key, "_ms"), times->engine_ids_ms);
    metrics.Add(absl::StrCat("pg_count", block.key, "_ms"), times->count_ms);
    metrics.Add(absl::StrCat("pg_ids", block.key, "_ms"), times->ids_ms);
    metrics.Add(absl::StrCat("eval_ratio", block.key), count_ratio);
    metrics.Add(absl::StrCat("eval_ratio_ids", block.key), ids_ratio);
    if (block.key[0] == '\0') default_ratio = count_ratio;
    if (!block.indexed && (best_unindexed_ids == 0 || ids_ratio < best_unindexed_ids)) {
      best_unindexed_ids = ids_ratio;
    }
    if (block.indexed) {
      absl::PrintF("  ratio against the composite index: count %.1f, ids %.1f;  goal >= 2: %s\n",
                   count_ratio, ids_ratio, count_ratio >= 2 && ids_ratio >= 2 ? "met" : "NOT MET");
      metrics.AddText("eval_indexed_goal", count_ratio >= 2 && ids_ratio >= 2 ? "met" : "not_met");
    }
    if (!block.indexed && (best_unindexed == 0 || count_ratio < best_unindexed)) {
      best_unindexed = count_ratio;
    }
  }
  if (absl::Status s = pg.Exec("RESET ALL"); !s.ok()) return s;
  // What the engine's time is made of: each clause alone over the same population; and
  // what the way a rule is written costs.
  absl::PrintF("  engine, each clause alone (median of %d runs):\n", options.runs);
  for (const char* clause :
       {"profile.aggregates.revenue_total < 0.0", "profile.traits.country == \"DE\"",
        "profile.aggregates.revenue_total > 500.0", "profile.consents.marketing_email == GRANTED",
        // The same recency rule in the two ways CEL allows writing it.
        "profile.aggregates.last_seen_time > now - duration(\"168h\")",
        "now - profile.aggregates.last_seen_time < duration(\"168h\")"}) {
    auto part = seg::Rule::Compile(clause, seg::RuleKind::kSegment);
    if (!part.ok()) return part.status();
    std::vector<double> ms;
    int64_t size = 0;
    for (int run = 0; run < kWarmupRuns + options.runs; ++run) {
      const SteadyClock::time_point start = SteadyClock::now();
      size = engine.PreviewRule(**part, pv1::CONSENT_PURPOSE_UNSPECIFIED, 0).size;
      if (run >= kWarmupRuns) ms.push_back(MillisSince(start));
    }
    absl::PrintF("    %8.2f ms  %-62s %7d members\n", Median(ms), clause, size);
  }
  absl::PrintF(
      "  ratio PG count(*) without index / engine: %.1f with PostgreSQL's defaults, %.1f against "
      "its fastest setting above;  goal >= 50: %s\n",
      default_ratio, best_unindexed, best_unindexed >= 50 ? "met" : "NOT MET");
  absl::PrintF("  ratio PG SELECT id without index / engine ids: %.1f against its fastest setting;"
               "  goal >= 50: %s\n",
               best_unindexed_ids, best_unindexed_ids >= 50 ? "met" : "NOT MET");
  metrics.Add("eval_ratio_best_unindexed", best_unindexed);
  metrics.Add("eval_ratio_ids_best_unindexed", best_unindexed_ids);
  metrics.AddText("eval_goal",
                  best_unindexed >= 50 && best_unindexed_ids >= 50 ? "met" : "not_met");
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------------------
// Phase: latency

// When events of interest arrived on the bus, by key.
class Arrivals {
 public:
  void Record(const std::string& key) {
    const SteadyClock::time_point now = SteadyClock::now();
    absl::MutexLock lock(&mu_);
    seen_.try_emplace(key, now);
  }
  void Forget(const std::string& key) {
    absl::MutexLock lock(&mu_);
    seen_.erase(key);
  }
  std::optional<SteadyClock::time_point> Await(const std::string& key, absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    auto arrived = [&] { return seen_.contains(key); };
    if (!mu_.AwaitWithTimeout(absl::Condition(&arrived), timeout)) return std::nullopt;
    return seen_[key];
  }

 private:
  absl::Mutex mu_;
  std::map<std::string, SteadyClock::time_point> seen_ ABSL_GUARDED_BY(mu_);
};

// The Profiles and Segmentation modules in one process over a real socket, as centricd
// hosts them (the wiring of tests/services/segmentation/segmentation_service_test.cc).
class Deployment {
 public:
  ~Deployment() {
    subscriptions_.clear();
    if (server_ != nullptr) server_->Shutdown();
    if (segmentation_ != nullptr) segmentation_->Stop();
    if (profiles_ != nullptr) profiles_->Stop();
  }

  absl::Status Start(const std::string& database_url, std::unique_ptr<events::Bus> bus) {
    auto config = runtime::LoadConfig({"segmentation_bench"}, {});
    if (!config.ok()) return config.status();
    infra_.config = *config;
    auto db = store::Open(database_url);
    if (!db.ok()) return db.status();
    infra_.db = std::move(*db);
    infra_.cache = std::make_unique<cache::NullCache>();
    infra_.bus = std::move(bus);
    infra_.clock = std::make_unique<runtime::SystemClock>();
    infra_.ids = std::make_unique<runtime::UlidGenerator>(*infra_.clock);
    infra_.pool = std::make_unique<runtime::WorkerPool>(infra_.config.workers);
    server_ = std::make_unique<runtime::Server>(
        runtime::ServerOptions{.listen = "127.0.0.1:0", .drain_timeout = absl::Seconds(2)});
    profiles_ = std::make_unique<profiles::ProfilesModule>(infra_, /*standalone=*/false);
    segmentation_ = std::make_unique<seg::SegmentationModule>(infra_, /*standalone=*/false);
    if (absl::Status s = profiles_->Start(*server_); !s.ok()) return s;
    if (absl::Status s = segmentation_->Start(*server_); !s.ok()) return s;
    if (absl::Status s = server_->Start(); !s.ok()) return s;
    server_->SetServing(true);
    segmentation_->Serving(*server_);
    auto channel = grpc::CreateChannel(server_->address(), grpc::InsecureChannelCredentials());
    profiles_stub = pv1::Profiles::NewStub(channel);
    segmentation_stub = sv1::Segmentation::NewStub(channel);
    return absl::OkStatus();
  }

  void Subscribe(const std::string& topic, events::Handler handler) {
    subscriptions_.push_back(infra_.bus->Subscribe(
        {.topic = topic, .group = "segmentation-bench", .consumer = "bench"}, std::move(handler)));
  }

  seg::Engine& engine() { return segmentation_->engine(); }
  store::Database& db() { return *infra_.db; }
  const runtime::Config& config() const { return infra_.config; }

  std::unique_ptr<pv1::Profiles::Stub> profiles_stub;
  std::unique_ptr<sv1::Segmentation::Stub> segmentation_stub;

 private:
  app::Infrastructure infra_;
  std::unique_ptr<runtime::Server> server_;
  std::unique_ptr<profiles::ProfilesModule> profiles_;
  std::unique_ptr<seg::SegmentationModule> segmentation_;
  std::vector<std::unique_ptr<events::Subscription>> subscriptions_;
};

void SetDeadline(grpc::ClientContext& context) {
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
}

// Waits up to `timeout` for `condition`, checking every 10 ms.
bool WaitFor(const std::function<bool()>& condition, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    if (condition()) return true;
    absl::SleepFor(absl::Milliseconds(10));
  }
  return condition();
}

using bench::ForEachIndex;

std::string LatencyId(int n) { return absl::StrCat("lp", n); }

std::string ArrivalKey(const std::string& profile, bool entered) {
  return absl::StrCat(profile, entered ? " +" : " -");
}

absl::Status RunLatency(const Options& options, absl::string_view backend,
                        const std::string& database_url, std::unique_ptr<events::Bus> bus,
                        Metrics& metrics) {
  absl::PrintF(
      "\n== Latency (%s): UpdateProfile -> MembershipChanged on the bus (load average "
      "%s) ==\n",
      backend == "sqlite" ? "SQLite, in-process bus" : "PostgreSQL, Redis Streams", LoadAverage());
  Deployment deployment;
  if (absl::Status s = deployment.Start(database_url, std::move(bus)); !s.ok()) return s;
  if (!WaitFor([&] { return deployment.engine().ready(); }, absl::Seconds(30))) {
    return absl::DeadlineExceededError("the engine did not become ready");
  }

  // Profiles, over gRPC: the synthetic values (aggregates apart, which only interactions
  // set) and a tier, "silver" for all.
  const int profiles = options.latency_profiles;
  SteadyClock::time_point start = SteadyClock::now();
  absl::Status created = ForEachIndex(4, profiles, [&](int n) {
    grpc::ClientContext context;
    SetDeadline(context);
    pv1::CreateProfileRequest request;
    request.set_profile_id(LatencyId(n));
    FillWritable(Generate(n), *request.mutable_profile());
    (*request.mutable_profile()->mutable_traits())["tier"].set_string_value("silver");
    pv1::Profile profile;
    return runtime::FromGrpcStatus(
        deployment.profiles_stub->CreateProfile(&context, request, &profile));
  });
  if (!created.ok()) return created;
  if (!WaitFor([&] { return deployment.engine().profile_count() == profiles; },
               absl::Seconds(120))) {
    return absl::DeadlineExceededError(absl::StrCat(
        "the engine holds ", deployment.engine().profile_count(), " of ", profiles, " profiles"));
  }
  absl::PrintF("  %d profiles created and in the engine in %.1f s\n", profiles,
               MillisSince(start) / 1000);

  // Segments, over gRPC: the eval phase's rules and the one the updates move through.
  start = SteadyClock::now();
  std::vector<SegmentSpec> specs = SegmentSpecs(std::max(1, options.segments - 1));
  if (options.segments == 1) specs.clear();
  specs.push_back({"gold", R"(profile.traits.tier == "gold")"});
  for (const SegmentSpec& spec : specs) {
    grpc::ClientContext context;
    SetDeadline(context);
    sv1::CreateSegmentRequest request;
    request.set_segment_id(spec.id);
    request.mutable_segment()->set_display_name(spec.id);
    request.mutable_segment()->set_owner_team("bench");
    request.mutable_segment()->set_rule(spec.rule);
    request.mutable_segment()->set_purpose(spec.purpose);
    sv1::Segment segment;
    grpc::Status status = deployment.segmentation_stub->CreateSegment(&context, request, &segment);
    if (!status.ok()) {
      return absl::Status(runtime::FromGrpcStatus(status).code(),
                          absl::StrCat("CreateSegment ", spec.id, ": ", status.error_message()));
    }
  }
  // Creating segments publishes every member's entry; let the outboxes drain first.
  auto drained = [&] {
    auto segmentation = events::OutboxBacklog(deployment.db(), "segmentation");
    auto profile_events = events::OutboxBacklog(deployment.db(), "profiles");
    return segmentation.ok() && *segmentation == 0 && profile_events.ok() && *profile_events == 0;
  };
  if (!WaitFor(drained, absl::Seconds(300))) {
    return absl::DeadlineExceededError("the outboxes did not drain");
  }
  absl::SleepFor(absl::Milliseconds(500));
  absl::PrintF("  %zu segments created, their MembershipChanged events relayed, in %.1f s\n",
               specs.size(), MillisSince(start) / 1000);

  // Our own consumer group on both topics: ProfileChanged (for the breakdown) and
  // MembershipChanged of the gold segment.
  Arrivals arrivals;
  deployment.Subscribe("profiles", [&](const events::Event& event) {
    events::v1::ProfileChanged changed;
    if (event.payload().UnpackTo(&changed)) {
      arrivals.Record(absl::StrCat(changed.profile(), " v", changed.version()));
    }
    return absl::OkStatus();
  });
  deployment.Subscribe("segmentation", [&](const events::Event& event) {
    events::v1::MembershipChanged changed;
    if (event.payload().UnpackTo(&changed) && changed.segment() == "segments/gold") {
      arrivals.Record(ArrivalKey(changed.profile(), changed.entered()));
    }
    return absl::OkStatus();
  });
  absl::SleepFor(absl::Milliseconds(300));

  const int flipped = std::min(profiles, kFlippedProfiles);
  std::vector<bool> gold(flipped, false);
  std::vector<double> latency_ms, rtt_ms, to_profile_event_ms, profile_to_membership_ms;
  int missing = 0;
  const auto [busy_before, total_before] = MachineTicks();
  for (int k = 0; k < kWarmupUpdates + options.updates; ++k) {
    const int n = k % flipped;
    const std::string name = absl::StrCat("profiles/", LatencyId(n));
    const bool entering = !gold[n];
    const std::string key = ArrivalKey(name, entering);
    arrivals.Forget(key);
    grpc::ClientContext context;
    SetDeadline(context);
    pv1::UpdateProfileRequest request;
    request.mutable_profile()->set_name(name);
    (*request.mutable_profile()->mutable_traits())["tier"].set_string_value(entering ? "gold"
                                                                                     : "silver");
    request.mutable_update_mask()->add_paths("traits.tier");
    pv1::Profile updated;
    const SteadyClock::time_point sent = SteadyClock::now();
    grpc::Status status = deployment.profiles_stub->UpdateProfile(&context, request, &updated);
    const SteadyClock::time_point answered = SteadyClock::now();
    if (!status.ok()) {
      return absl::Status(runtime::FromGrpcStatus(status).code(),
                          absl::StrCat("UpdateProfile: ", status.error_message()));
    }
    gold[n] = entering;
    std::optional<SteadyClock::time_point> arrived = arrivals.Await(key, absl::Seconds(10));
    if (!arrived.has_value()) {
      ++missing;
      continue;
    }
    if (k < kWarmupUpdates) continue;
    latency_ms.push_back(Millis(sent, *arrived));
    rtt_ms.push_back(Millis(sent, answered));
    std::optional<SteadyClock::time_point> profile_event =
        arrivals.Await(absl::StrCat(name, " v", updated.version()), absl::Seconds(1));
    if (profile_event.has_value()) {
      to_profile_event_ms.push_back(Millis(sent, *profile_event));
      profile_to_membership_ms.push_back(Millis(*profile_event, *arrived));
    }
  }
  const auto [busy_after, total_after] = MachineTicks();
  const double machine_busy = total_after > total_before
                                  ? static_cast<double>(busy_after - busy_before) /
                                        static_cast<double>(total_after - total_before)
                                  : 0;
  if (missing > 0) {
    return absl::InternalError(absl::StrCat(missing, " of ", kWarmupUpdates + options.updates,
                                            " MembershipChanged events did not arrive in 10 s"));
  }

  absl::PrintF(
      "  %d sequential updates (after %d warm-up), each flipping traits.tier of one of "
      "%d profiles (half enter, half leave segments/gold); ms:\n",
      options.updates, kWarmupUpdates, flipped);
  absl::PrintF("  %-48s %8s %8s %8s %8s\n", "", "p50", "p90", "p99", "max");
  auto row = [](absl::string_view label, const std::vector<double>& v) {
    absl::PrintF("  %-48s %8.2f %8.2f %8.2f %8.2f\n", label, Quantile(v, 0.5), Quantile(v, 0.9),
                 Quantile(v, 0.99), Quantile(v, 1.0));
  };
  row("UpdateProfile -> MembershipChanged on the bus", latency_ms);
  row("UpdateProfile round trip (baseline)", rtt_ms);
  row("  of which: UpdateProfile -> ProfileChanged on bus", to_profile_event_ms);
  row("  of which: ProfileChanged -> MembershipChanged", profile_to_membership_ms);
  const double p99 = Quantile(latency_ms, 0.99);
  const double rtt_p99 = Quantile(rtt_ms, 0.99);
  absl::PrintF("  p99 latency / p99 UpdateProfile RTT: %.2f;  p50 / p50: %.2f\n", p99 / rtt_p99,
               Quantile(latency_ms, 0.5) / Quantile(rtt_ms, 0.5));
  absl::PrintF("  p99 %.2f ms  goal <= 20 ms: %s\n", p99, p99 <= 20 ? "met" : "NOT MET");
  absl::PrintF(
      "  (refresh interval %s, %d worker threads, no cache; machine CPU busy during the "
      "updates: %.0f %%, every process included)\n",
      absl::FormatDuration(deployment.config().refresh_interval), deployment.config().workers,
      100 * machine_busy);

  const std::string prefix = absl::StrCat("latency_", backend, "_");
  for (const auto& [name, values] : std::vector<std::pair<std::string, const std::vector<double>*>>{
           {"", &latency_ms},
           {"rtt_", &rtt_ms},
           {"to_profile_event_", &to_profile_event_ms},
           {"profile_event_to_membership_", &profile_to_membership_ms}}) {
    for (const auto& [label, q] : std::vector<std::pair<const char*, double>>{
             {"p50", 0.5}, {"p90", 0.9}, {"p99", 0.99}, {"max", 1.0}}) {
      metrics.Add(absl::StrCat(prefix, name, label, "_ms"), Quantile(*values, q));
    }
  }
  metrics.Add(absl::StrCat(prefix, "p99_rtt_ratio"), p99 / rtt_p99);
  metrics.Add(absl::StrCat(prefix, "machine_busy"), machine_busy);
  metrics.AddText(absl::StrCat(prefix, "goal"), p99 <= 20 ? "met" : "not_met");
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------------------

int Fail(absl::string_view what, const absl::Status& status) {
  std::fprintf(stderr, "%s: %s\n", std::string(what).c_str(), status.ToString().c_str());
  return 1;
}

int Run(const Options& options) {
  runtime::SetMinLogLevel(runtime::LogLevel::kWarning);
  Metrics metrics;
  std::unique_ptr<testing::PostgresServer> postgres;
  auto need_postgres = [&]() -> absl::Status {
    if (postgres != nullptr) return absl::OkStatus();
    std::fprintf(stderr, "starting PostgreSQL (fsync on)...\n");
    auto started = testing::PostgresServer::Start(/*fast=*/false);
    if (!started.ok()) return started.status();
    postgres = std::move(*started);
    return absl::OkStatus();
  };

  if (options.eval || options.memory) {
    auto loaded = LoadEngine(options, metrics);
    if (!loaded.ok()) return Fail("load", loaded.status());
    RunIncremental(*loaded, metrics);
    if (options.eval) {
      if (absl::Status s = RunRebuild(options, *loaded, metrics); !s.ok()) return Fail("rebuild", s);
      if (absl::Status s = need_postgres(); !s.ok()) return Fail("PostgreSQL", s);
      if (absl::Status s = RunEval(options, *loaded, *postgres, metrics); !s.ok()) {
        return Fail("eval", s);
      }
    }
  }

  if (options.latency && options.sqlite) {
    testing::TempDir dir;
    absl::Status s =
        RunLatency(options, "sqlite", absl::StrCat("sqlite://", dir.path(), "/centric.db"),
                   events::NewInProcessBus(), metrics);
    if (!s.ok()) return Fail("latency (sqlite)", s);
  }
  if (options.latency && options.postgres) {
    if (absl::Status s = need_postgres(); !s.ok()) return Fail("PostgreSQL", s);
    auto redis = testing::RedisServer::Start();
    if (!redis.ok()) return Fail("Redis", redis.status());
    auto url = postgres->CreateDatabase("seglatency");
    if (!url.ok()) return Fail("PostgreSQL", url.status());
    events::RedisStreamsOptions bus_options;
    bus_options.port = (*redis)->port();
    bus_options.key_prefix = "segbench:";
    absl::Status s =
        RunLatency(options, "postgres", *url, events::NewRedisStreamsBus(bus_options), metrics);
    if (!s.ok()) return Fail("latency (postgres)", s);
  }

  absl::PrintF("\n");
  metrics.Print();
  return 0;
}

}  // namespace
}  // namespace centric::segmentation_bench

int main(int argc, char** argv) {
  auto options = centric::segmentation_bench::ParseFlags(argc, argv);
  if (!options.ok()) {
    if (absl::IsCancelled(options.status())) {
      std::fputs(centric::segmentation_bench::kUsage, stdout);
      return 0;
    }
    std::fprintf(stderr, "%s\n%s", std::string(options.status().message()).c_str(),
                 centric::segmentation_bench::kUsage);
    return 2;
  }
  return centric::segmentation_bench::Run(*options);
}
