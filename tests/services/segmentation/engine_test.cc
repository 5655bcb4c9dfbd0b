// The engine's contract for removed profiles: once erased (or merged away), a name never
// holds values or memberships again, whatever copy of the profile arrives later.
#include "services/segmentation/engine.h"

#include <gtest/gtest.h>

#include "google/protobuf/struct.pb.h"
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

}  // namespace
}  // namespace centric::segmentation
