// The engine's contract for removed profiles: once erased (or merged away), a name never
// holds values or memberships again, whatever copy of the profile arrives later.
#include "services/segmentation/engine.h"

#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/time_util.h"
#include "libs/runtime/clock.h"

namespace centric::segmentation {
namespace {

namespace pv1 = ::centric::profiles::v1;

pv1::Profile Gold(const std::string& name, int64_t version) {
  pv1::Profile p;
  p.set_name(name);
  p.set_kind(pv1::PROFILE_KIND_PERSON);
  p.set_state(pv1::PROFILE_STATE_ACTIVE);
  p.set_version(version);
  (*p.mutable_traits())["tier"].set_string_value("gold");
  return p;
}

class EngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto rule = Rule::Compile("profile.traits.tier == \"gold\"", RuleKind::kSegment);
    ASSERT_TRUE(rule.ok()) << rule.status();
    engine_.PutSegment({"segments/gold", *rule, pv1::CONSENT_PURPOSE_UNSPECIFIED});
    engine_.Ready();
  }
  runtime::FakeClock clock_;
  Engine engine_{clock_};
};

TEST_F(EngineTest, ARemovedProfileLeavesItsSegmentsAndItsValues) {
  engine_.ApplyProfile(Gold("profiles/ann", 1));
  ASSERT_EQ(engine_.SegmentSize("segments/gold"), 1);
  EngineChanges removed = engine_.RemoveProfile("profiles/ann");
  ASSERT_EQ(removed.membership.size(), 1u);
  EXPECT_FALSE(removed.membership[0].entered);
  EXPECT_EQ(engine_.SegmentSize("segments/gold"), 0);
  EXPECT_FALSE(engine_.Check("profiles/ann").has_value());
  EXPECT_EQ(engine_.profile_count(), 0);
}

TEST_F(EngineTest, ACopyReadBeforeTheErasureNeverComesBack) {
  engine_.ApplyProfile(Gold("profiles/ann", 1));
  engine_.RemoveProfile("profiles/ann");
  engine_.ApplyProfile(Gold("profiles/ann", 7));
  EXPECT_FALSE(engine_.Check("profiles/ann").has_value());
  EXPECT_EQ(engine_.SegmentSize("segments/gold"), 0);
}

TEST_F(EngineTest, AnErasureOfAProfileNotLoadedYetStillWins) {
  // The start-up load read a page holding the profile; the erasure is handled first.
  engine_.RemoveProfile("profiles/bob");
  EngineChanges late = engine_.ApplyProfile(Gold("profiles/bob", 3));
  EXPECT_TRUE(late.membership.empty());
  EXPECT_FALSE(engine_.Check("profiles/bob").has_value());
  EXPECT_EQ(engine_.SegmentSize("segments/gold"), 0);
  EXPECT_EQ(engine_.profile_count(), 0);
  // Other profiles are unaffected.
  engine_.ApplyProfile(Gold("profiles/cy", 1));
  EXPECT_EQ(engine_.SegmentSize("segments/gold"), 1);
}

TEST_F(EngineTest, ASegmentCreatedAfterReadyAnnouncesItsMembersOnce) {
  engine_.ApplyProfile(Gold("profiles/ann", 1));
  pv1::Profile silver = Gold("profiles/bob", 1);
  (*silver.mutable_traits())["tier"].set_string_value("silver");
  engine_.ApplyProfile(silver);
  auto rule = Rule::Compile("profile.traits.tier == \"silver\"", RuleKind::kSegment);
  ASSERT_TRUE(rule.ok()) << rule.status();
  EngineChanges created =
      engine_.PutSegment({"segments/silver", *rule, pv1::CONSENT_PURPOSE_UNSPECIFIED});
  ASSERT_EQ(created.membership.size(), 1u);
  EXPECT_EQ(created.membership[0].segment, "segments/silver");
  EXPECT_EQ(created.membership[0].profile, "profiles/bob");
  EXPECT_TRUE(created.membership[0].entered);
  // Put again unchanged: nobody enters or leaves.
  EXPECT_TRUE(
      engine_.PutSegment({"segments/silver", *rule, pv1::CONSENT_PURPOSE_UNSPECIFIED})
          .membership.empty());
}

// A profile of the sweep test: a tier, and a last purchase `days` before the clock.
pv1::Profile Customer(int n, int64_t version, bool gold, int days, absl::Time now) {
  pv1::Profile p = Gold(absl::StrCat("profiles/c", n), version);
  if (!gold) (*p.mutable_traits())["tier"].set_string_value("silver");
  p.mutable_aggregates()->set_order_count(1 + n % 7);
  p.mutable_aggregates()->set_revenue_total(10.0 * (n % 97));
  *p.mutable_aggregates()->mutable_last_purchase_time() =
      google::protobuf::util::TimeUtil::SecondsToTimestamp(absl::ToUnixSeconds(now) - days * 86400);
  return p;
}

std::set<std::string> MembersOf(const Engine& engine, const std::string& segment) {
  bool more = false;
  std::optional<std::vector<std::string>> names = engine.Members(segment, "", 1 << 30, &more);
  return names.has_value() ? std::set<std::string>(names->begin(), names->end())
                           : std::set<std::string>();
}

// Profiles change and are erased while Refresh() sweeps the table block by block with a
// moving clock: no membership change is lost or announced twice (per segment and
// profile, entries minus exits is the change of membership), and the end state is what
// a fresh evaluation gives.
TEST(EngineSweepTest, ChangesDuringSweepsAreNeitherLostNorDoubled) {
  runtime::FakeClock clock;
  Engine engine(clock);
  const int kProfiles = 2 * 65536 + 5000;
  std::mt19937 rng(11);
  for (int n = 0; n < kProfiles; ++n) {
    engine.ApplyProfile(Customer(n, 1, rng() % 3 == 0, static_cast<int>(rng() % 90), clock.Now()));
  }
  std::vector<std::pair<std::string, std::string>> rules = {
      {"segments/gold", "profile.traits.tier == 'gold'"},
      {"segments/recent", "profile.aggregates.last_purchase_time > now - duration('720h')"},
      {"segments/rfm", "rfm.r >= 4 && rfm.m >= 3"},
      {"segments/gold-recent",
       "profile.traits.tier == 'gold' && now - profile.aggregates.last_purchase_time < "
       "duration('240h')"}};
  std::vector<std::shared_ptr<const Rule>> compiled;
  for (const auto& [name, source] : rules) {
    auto rule = Rule::Compile(source, RuleKind::kSegment);
    ASSERT_TRUE(rule.ok()) << rule.status();
    compiled.push_back(*rule);
    engine.PutSegment({name, *rule, pv1::CONSENT_PURPOSE_UNSPECIFIED});
  }
  engine.Ready();
  std::map<std::string, std::set<std::string>> before;
  for (const auto& [name, source] : rules) before[name] = MembersOf(engine, name);

  std::vector<MembershipDelta> deltas;
  std::atomic<bool> changing{true};
  std::atomic<bool> sweeping{false};
  std::thread changer([&] {
    // The changes start once the sweeps do, so that they overlap however the threads are
    // scheduled.
    while (!sweeping) std::this_thread::yield();
    std::mt19937 r(12);
    std::vector<MembershipDelta> mine;
    for (int k = 0; k < 3000; ++k) {
      int n = static_cast<int>(r() % kProfiles);
      EngineChanges c = r() % 40 == 0
                            ? engine.RemoveProfile(absl::StrCat("profiles/c", n))
                            : engine.ApplyProfile(Customer(n, 2 + k, r() % 2 == 0,
                                                           static_cast<int>(r() % 90), clock.Now()));
      for (auto& d : c.membership) mine.push_back(std::move(d));
    }
    changing = false;
    deltas.insert(deltas.end(), mine.begin(), mine.end());
  });
  std::vector<MembershipDelta> refreshed;
  // A segment created while profiles change: its entries are announced by its first sweep
  // and the changes made during it.
  {
    auto rule = Rule::Compile("profile.aggregates.revenue_total > 400.0", RuleKind::kSegment);
    ASSERT_TRUE(rule.ok()) << rule.status();
    rules.push_back({"segments/late", "profile.aggregates.revenue_total > 400.0"});
    compiled.push_back(*rule);
    before["segments/late"] = {};
    EngineChanges c =
        engine.PutSegment({"segments/late", *rule, pv1::CONSENT_PURPOSE_UNSPECIFIED});
    for (auto& d : c.membership) refreshed.push_back(std::move(d));
  }
  sweeping = true;
  do {
    clock.Advance(absl::Hours(20));
    EngineChanges c = engine.Refresh();
    for (auto& d : c.membership) refreshed.push_back(std::move(d));
  } while (changing);
  changer.join();
  deltas.insert(deltas.end(), refreshed.begin(), refreshed.end());

  std::map<std::pair<std::string, std::string>, int> net;
  for (const MembershipDelta& d : deltas) net[{d.segment, d.profile}] += d.entered ? 1 : -1;
  for (size_t i = 0; i < rules.size(); ++i) {
    const std::string& name = rules[i].first;
    std::set<std::string> after = MembersOf(engine, name);
    // What a fresh evaluation at the final clock gives.
    Engine::Preview fresh = engine.PreviewRule(*compiled[i], pv1::CONSENT_PURPOSE_UNSPECIFIED, 0);
    EXPECT_EQ(static_cast<int64_t>(after.size()), fresh.size) << name;
    int64_t wrong = 0;
    std::set<std::string> profiles = before[name];
    profiles.insert(after.begin(), after.end());
    for (const auto& [key, count] : net) {
      if (key.first == name) profiles.insert(key.second);
    }
    for (const std::string& p : profiles) {
      int want = (after.contains(p) ? 1 : 0) - (before[name].contains(p) ? 1 : 0);
      auto it = net.find({name, p});
      int got = it == net.end() ? 0 : it->second;
      if (got != want && ++wrong <= 3) {
        ADD_FAILURE() << name << " " << p << ": announced " << got << ", membership changed by "
                      << want;
      }
    }
    EXPECT_EQ(wrong, 0) << name;
  }
}

}  // namespace
}  // namespace centric::segmentation
