// Rules: checking against the profile schema, and the column evaluator (EvalAll) giving
// exactly the interpreter's answer (EvalRow) on every row, for hand-written and random
// rules over a random population.
#include "services/segmentation/rule.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>
#include <optional>
#include <random>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/container/flat_hash_map.h"
#include "google/protobuf/util/time_util.h"
#include "services/segmentation/rule_program.h"

namespace centric::segmentation {
namespace {

using ::testing::HasSubstr;
using google::protobuf::util::TimeUtil;
namespace pv1 = profiles::v1;

const absl::Time kNow = absl::FromUnixSeconds(1790000000);

pv1::Profile RandomProfile(std::mt19937& rng, int i) {
  auto pick = [&](int n) { return static_cast<int>(rng() % n); };
  pv1::Profile p;
  p.set_name(absl::StrCat("profiles/p", 100000 + i));
  p.set_version(1);
  p.set_kind(pick(5) == 0 ? pv1::PROFILE_KIND_ACCOUNT : pv1::PROFILE_KIND_PERSON);
  for (int purpose = 1; purpose <= 5; ++purpose) {
    if (pick(3) == 0) continue;
    auto* c = p.add_consents();
    c->set_purpose(static_cast<pv1::ConsentPurpose>(purpose));
    c->set_status(static_cast<pv1::ConsentStatus>(1 + pick(3)));
  }
  for (int c = 1; c <= 9; ++c) {
    if (pick(4) == 0) p.add_preferred_channels(static_cast<pv1::Channel>(c));
  }
  if (pick(3) == 0) p.set_persona(pick(2) ? "personas/bargain-hunter" : "personas/pro");
  *p.mutable_create_time() = TimeUtil::SecondsToTimestamp(1790000000 - pick(400) * 86400);
  auto* agg = p.mutable_aggregates();
  int orders = pick(4) == 0 ? 0 : pick(12);
  agg->set_order_count(orders);
  agg->set_interaction_count(orders + pick(30));
  agg->set_revenue_total(orders == 0 ? 0 : pick(200000) / 100.0);
  if (orders > 0) {
    *agg->mutable_last_purchase_time() =
        TimeUtil::MicrosecondsToTimestamp((1790000000LL - pick(200) * 86400) * 1000000 + pick(999999));
  }
  if (pick(2)) {
    auto* cc = agg->add_interaction_counts();
    cc->set_channel(pv1::CHANNEL_EMAIL);
    cc->set_count(pick(10));
  }
  auto& traits = *p.mutable_traits();
  const char* countries[] = {"DE", "FR", "US", "de"};
  if (pick(5) != 0) traits["country"].set_string_value(countries[pick(4)]);
  if (pick(3) != 0) traits["age"].set_number_value(18 + pick(60));
  if (pick(4) == 0) traits["age"].set_string_value("unknown");
  if (pick(3) == 0) traits["vip"].set_bool_value(pick(2));
  if (pick(6) == 0) traits["vip"].set_null_value(google::protobuf::NULL_VALUE);
  if (pick(2) == 0) traits["city"].set_string_value(absl::StrCat("c", pick(300)));
  if (pick(3) == 0) {
    auto* tags = traits["tags"].mutable_list_value();
    for (int t = pick(4); t > 0; --t) tags->add_values()->set_string_value(pick(2) ? "beta" : "churn-risk");
  }
  // Feedback figures: about half answered an NPS survey (0-10), a third a CSAT one (1-5).
  if (pick(2) == 0) {
    agg->set_last_nps_score(pick(11));
    *agg->mutable_last_nps_time() = TimeUtil::MicrosecondsToTimestamp(
        (1790000000LL - pick(120) * 86400) * 1000000 + pick(999999));
  }
  if (pick(3) == 0) {
    agg->set_last_csat_score(1 + pick(5));
    *agg->mutable_last_csat_time() = TimeUtil::SecondsToTimestamp(1790000000 - pick(120) * 86400);
  }
  if (pick(4) == 0) agg->set_open_follow_ups(pick(3));
  return p;
}

class RuleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::mt19937 rng(20261122);
    for (int i = 0; i < 3000; ++i) {
      profiles_.push_back(RandomProfile(rng, i));
      table_.Upsert(profiles_.back());
    }
    // Some erased rows must never match.
    for (int i = 0; i < 3000; i += 97) table_.Remove(absl::StrCat("p", 100000 + i));
    for (Row row = 0; row < table_.row_count(); ++row) {
      if (!table_.live(row)) continue;
      table_.SetEnum(Field::kRfmR, row, static_cast<uint8_t>(rng() % 6));
      table_.SetEnum(Field::kRfmF, row, static_cast<uint8_t>(rng() % 6));
    }
  }

  // EvalAll and EvalRow agree on every row; returns the member count.
  int64_t ExpectAgreement(const std::string& source) {
    auto rule = Rule::Compile(source, RuleKind::kSegment);
    EXPECT_TRUE(rule.ok()) << source << ": " << rule.status();
    if (!rule.ok()) return -1;
    Roaring all = (*rule)->EvalAll(table_, kNow);
    int64_t mismatches = 0;
    for (Row row = 0; row < table_.row_count(); ++row) {
      bool expected = (*rule)->EvalRow(table_, row, kNow);
      if (all.contains(row) != expected && ++mismatches <= 3) {
        ADD_FAILURE() << source << ": row " << row << " (" << table_.IdOf(row)
                      << ") column=" << all.contains(row) << " interpreter=" << expected;
      }
    }
    return static_cast<int64_t>(all.cardinality());
  }

  // ExpectAgreement, and the members are exactly the live profiles for which `expected`
  // holds (so a column filled wrongly from the profile fails, not just a wrong evaluator).
  void ExpectMembers(const std::string& source,
                     const std::function<bool(const pv1::Aggregates&)>& expected) {
    int64_t want = 0;
    for (const pv1::Profile& p : profiles_) {
      std::optional<Row> row = table_.Find(p.name().substr(9));
      if (row.has_value() && table_.live(*row) && expected(p.aggregates())) ++want;
    }
    EXPECT_EQ(ExpectAgreement(source), want) << source;
    EXPECT_GT(want, 0) << source << " selects nobody: the test proves little";
  }

  std::vector<pv1::Profile> profiles_;  // in row order
  Table table_;
};

TEST_F(RuleTest, ColumnEvaluationMatchesTheInterpreterOnHandWrittenRules) {
  const char* rules[] = {
      "profile.traits.country == 'DE' && profile.aggregates.revenue_total > 500.0 && "
      "profile.consents.marketing_email == GRANTED && rfm.r >= 4",
      "profile.traits.country == 'DE' || profile.traits.country == 'FR'",
      "!(profile.traits.country == 'DE')",
      "profile.traits.age > 40",
      "profile.traits.age >= 40 || profile.traits.vip",
      "!(profile.traits.age < 30) && !profile.traits.vip",
      "has(profile.traits.vip) && profile.traits.vip == null",
      "profile.traits.country in ['DE', 'FR'] && profile.kind == PERSON",
      "'email' in profile.preferred_channels",
      "profile.preferred_channels.size() >= 2 || profile.persona.startsWith('personas/pro')",
      "profile.traits.country.matches('^[A-Z]{2}$')",
      "now - profile.aggregates.last_purchase_time < duration('720h')",
      "profile.aggregates.last_purchase_time > now - duration('2400h') && "
      "profile.aggregates.order_count >= 3",
      "has(profile.aggregates.last_purchase_time)",
      "profile.aggregates.last_purchase_time == timestamp('2026-09-01T00:00:00.5Z')",
      "profile.aggregates.last_purchase_time <= timestamp('2026-09-01T00:00:00.0000005Z')",
      "profile.create_time < now - duration('8760h')",
      "profile.aggregates.order_count > 2.5 && profile.aggregates.revenue_total >= 100",
      "profile.aggregates.interaction_counts.email > 3",
      "profile.traits.tags.exists(t, t == 'churn-risk')",
      "size(profile.traits.tags) > 1 && profile.traits.country != 'US'",
      "profile.aggregates.order_count > 0 ? profile.aggregates.revenue_total / "
      "double(profile.aggregates.order_count) > 100.0 : false",
      "profile.traits.missing == 1 || profile.kind == ACCOUNT",
      "profile.traits.missing == 1 && profile.kind == ACCOUNT",
      "!(profile.traits.missing == 1) || rfm.f == 0",
      "rfm.r == 5 && rfm.f >= 4 || profile.traits.vip == true",
      "profile.traits['country'] == 'FR'",
      "profile.traits.age == 30 || profile.traits.age == 'unknown'",
      "profile.consents.marketing_email != GRANTED",
      "true",
      "false || profile.traits.vip",
      "profile.aggregates.last_nps_score >= 0 && profile.aggregates.last_nps_score <= 6",
      "profile.aggregates.last_nps_score == -1",
      "has(profile.aggregates.last_nps_score) && profile.aggregates.open_follow_ups > 0",
      "!has(profile.aggregates.last_csat_score) || profile.aggregates.last_csat_score >= 4",
      "profile.aggregates.last_csat_score < 3.5",
      "profile.aggregates.last_nps_score in [9, 10]",
      "now - profile.aggregates.last_nps_time < duration('720h')",
      "profile.aggregates.last_csat_time > timestamp('2026-08-01T00:00:00Z')",
      "has(profile.aggregates.last_nps_time)",
      "profile.aggregates.last_nps_score + profile.aggregates.open_follow_ups > 8",
      // Column kernels: several columns, arithmetic, CEL's errors and types.
      "profile.aggregates.revenue_total / double(profile.aggregates.order_count) > 150.0",
      "profile.aggregates.order_count <= profile.aggregates.interaction_count - 3",
      "profile.aggregates.order_count * 2 - profile.aggregates.open_follow_ups >= 7",
      "profile.aggregates.interaction_count / profile.aggregates.order_count > 2",
      "profile.aggregates.interaction_count % profile.aggregates.order_count == 0 || "
      "profile.kind == ACCOUNT",
      "!(profile.aggregates.interaction_count / profile.aggregates.order_count > 2)",
      "-profile.aggregates.order_count < -3 && profile.traits.country == 'DE'",
      "double(profile.aggregates.last_csat_score) * 2.0 != double(profile.aggregates.order_count)",
      "profile.aggregates.revenue_total - 100.0 * double(profile.aggregates.order_count) < 0.0",
      "profile.aggregates.revenue_total / 0.0 > 1.0",
      "rfm.r + rfm.f >= 7",
      "profile.aggregates.revenue_total * 2.0 > 1500.0",
      "profile.aggregates.order_count >= 3 ? profile.aggregates.revenue_total > 900.0 : "
      "profile.traits.vip == true",
      "profile.aggregates.order_count > 0 ? profile.aggregates.interaction_count / "
      "profile.aggregates.order_count >= 4 : profile.traits.age > 50",
      "profile.traits.country in ['DE', 'FR'] ? 'beta' in profile.traits.tags : false",
      "size(profile.preferred_channels) == 0",
      "profile.traits.city == 'x' || has(profile.traits.age)",
      "profile.traits.age in [30, 31, 'unknown']",
      "profile.traits.tags == ['beta'] || profile.traits.vip != true",
      "profile.persona == ''",
  };
  for (const char* source : rules) ExpectAgreement(source);
  EXPECT_GT(ExpectAgreement("profile.traits.country == 'DE'"), 100);
  EXPECT_GT(ExpectAgreement("!(profile.traits.country == 'DE')"), 100);
}

TEST_F(RuleTest, FeedbackFiguresSelectWhoTheyDescribe) {
  // Scores read -1 when the profile never answered.
  ExpectMembers(
      "profile.aggregates.last_nps_score >= 0 && profile.aggregates.last_nps_score <= 6",
      [](const pv1::Aggregates& a) { return a.has_last_nps_score() && a.last_nps_score() <= 6; });
  ExpectMembers("profile.aggregates.last_nps_score <= 6", [](const pv1::Aggregates& a) {
    return !a.has_last_nps_score() || a.last_nps_score() <= 6;
  });
  ExpectMembers("profile.aggregates.last_nps_score == -1",
                [](const pv1::Aggregates& a) { return !a.has_last_nps_score(); });
  ExpectMembers("profile.aggregates.last_nps_score == 0", [](const pv1::Aggregates& a) {
    return a.has_last_nps_score() && a.last_nps_score() == 0;
  });
  ExpectMembers("has(profile.aggregates.last_csat_score)",
                [](const pv1::Aggregates& a) { return a.has_last_csat_score(); });
  ExpectMembers("profile.aggregates.last_csat_score >= 4.0", [](const pv1::Aggregates& a) {
    return a.has_last_csat_score() && a.last_csat_score() >= 4;
  });
  ExpectMembers("profile.aggregates.open_follow_ups >= 2",
                [](const pv1::Aggregates& a) { return a.open_follow_ups() >= 2; });
  ExpectMembers("profile.aggregates.last_nps_time > now - duration('720h')",
                [](const pv1::Aggregates& a) {
                  return TimeUtil::TimestampToMicroseconds(a.last_nps_time()) >
                         absl::ToUnixMicros(kNow - absl::Hours(720));
                });
  ExpectMembers("profile.aggregates.last_csat_time == timestamp(0)",
                [](const pv1::Aggregates& a) { return !a.has_last_csat_time(); });
}

// The table reads every column as profile_cel::ProfileValue reads the profile, so a rule
// means the same in segmentation as wherever else profiles are evaluated.
TEST_F(RuleTest, ColumnsHoldWhatProfileCelReads) {
  for (Row row = 0; row < table_.row_count(); row += 7) {
    if (!table_.live(row)) continue;
    cel::Value expected = profile_cel::ProfileValue(profiles_[row]);
    for (const FieldInfo& info : Fields()) {
      if (!absl::StartsWith(info.path, "profile.")) continue;
      const cel::Value* v = &expected;
      for (absl::string_view part : absl::StrSplit(absl::string_view(info.path).substr(8), '.')) {
        v = cel::MapFind(v->map_value(), cel::Value::String(std::string(part)));
        ASSERT_NE(v, nullptr) << info.path << " is not in profile_cel::ProfileValue";
      }
      std::optional<cel::Value> cell = table_.CellValue(info.field, row);
      ASSERT_TRUE(cell.has_value()) << info.path;
      EXPECT_EQ(cell->DebugString(), v->DebugString()) << info.path << " of " << table_.IdOf(row);
    }
  }
}

TEST_F(RuleTest, ColumnEvaluationMatchesTheInterpreterOnRandomRules) {
  const char* atoms[] = {
      "profile.traits.country == 'DE'", "profile.traits.age > 35", "profile.traits.vip",
      "profile.aggregates.revenue_total > 900.0", "profile.aggregates.order_count >= 5",
      "rfm.r >= 3", "profile.consents.analytics == GRANTED", "has(profile.traits.tags)",
      "profile.traits.tags.exists(t, t == 'beta')", "'web' in profile.preferred_channels",
      "now - profile.aggregates.last_purchase_time < duration('1440h')",
      "profile.traits.age == 'unknown'", "profile.kind == ACCOUNT", "profile.traits.missing > 1",
      "profile.aggregates.last_nps_score <= 6", "has(profile.aggregates.last_csat_score)",
      "profile.aggregates.open_follow_ups >= 1",
      "now - profile.aggregates.last_nps_time < duration('1440h')",
  };
  std::mt19937 rng(7);
  std::function<std::string(int)> gen = [&](int depth) -> std::string {
    int choice = depth == 0 ? 0 : static_cast<int>(rng() % 4);
    switch (choice) {
      case 1: return absl::StrCat("(", gen(depth - 1), " && ", gen(depth - 1), ")");
      case 2: return absl::StrCat("(", gen(depth - 1), " || ", gen(depth - 1), ")");
      case 3: return absl::StrCat("!(", gen(depth - 1), ")");
      default: return atoms[rng() % (sizeof atoms / sizeof atoms[0])];
    }
  };
  for (int i = 0; i < 150; ++i) ExpectAgreement(gen(3));
}

// Every indexed column's index holds exactly the live rows with each value.
void ExpectIndexesMatchColumns(const Table& table) {
  for (const FieldInfo& info : Fields()) {
    const ValueIndex* index = table.IndexOf(info.field);
    if (index == nullptr) continue;
    absl::flat_hash_map<uint32_t, Roaring> want;
    for (Row row = 0; row < table.row_count(); ++row) {
      uint32_t cell = info.storage == Storage::kCode ? table.CodeAt(info.field, row)
                                                     : table.EnumAt(info.field, row);
      if (cell != 0) want[cell].add(row);
    }
    EXPECT_EQ(index->values().size(), want.size()) << info.path;
    for (const auto& [value, rows] : want) {
      const Roaring* got = index->Rows(value);
      ASSERT_NE(got, nullptr) << info.path << " value " << value;
      EXPECT_EQ(*got, rows) << info.path << " value " << value;
    }
  }
}

TEST_F(RuleTest, IndexesStayRightThroughThousandsOfChanges) {
  std::mt19937 rng(99);
  int64_t version = 1;
  for (int change = 0; change < 4000; ++change) {
    int i = static_cast<int>(rng() % profiles_.size());
    if (rng() % 50 == 0) {
      table_.Remove(profiles_[i].name().substr(9));
      continue;
    }
    pv1::Profile p = RandomProfile(rng, i);
    p.set_version(++version);
    table_.Upsert(p);
    std::optional<Row> row = table_.Find(p.name().substr(9));
    if (row.has_value() && table_.live(*row)) {
      table_.SetEnum(Field::kRfmR, *row, static_cast<uint8_t>(rng() % 6));
      profiles_[*row] = p;
    }
  }
  ExpectIndexesMatchColumns(table_);
  for (const char* source :
       {"profile.traits.country == 'DE' && profile.consents.marketing_email == GRANTED",
        "profile.traits.country != 'US' || profile.kind == ACCOUNT", "rfm.r >= 3",
        "'web' in profile.preferred_channels", "profile.traits.vip == true",
        "profile.persona.startsWith('personas/pro')", "has(profile.traits.tags)",
        "profile.traits.age >= 40.0 && profile.aggregates.revenue_total > 800.0",
        "profile.aggregates.last_nps_score <= 6"}) {
    ExpectAgreement(source);
  }
}

TEST_F(RuleTest, AWrongKernelIsCaught) {
  const std::string rule = "profile.aggregates.order_count <= profile.aggregates.interaction_count - 2";
  ExpectAgreement(rule);
  auto compiled = Rule::Compile(rule, RuleKind::kSegment);
  ASSERT_TRUE(compiled.ok());
  rule_internal::BreakKernelsForTesting(true);
  Roaring broken = (*compiled)->EvalAll(table_, kNow);
  rule_internal::BreakKernelsForTesting(false);
  int64_t mismatches = 0;
  for (Row row = 0; row < table_.row_count(); ++row) {
    mismatches += broken.contains(row) != (*compiled)->EvalRow(table_, row, kNow) ? 1 : 0;
  }
  EXPECT_GT(mismatches, 10) << "a kernel answering < for <= must disagree with the interpreter";
}

// Rows in several blocks (65,536 rows each), with erased rows, so block boundaries, the
// second evaluation thread and partly filled last blocks are exercised.
TEST(RuleBlocksTest, RulesAgreeAcrossBlocks) {
  Table table;
  std::mt19937 rng(3);
  const int kRows = 2 * static_cast<int>(kBlockRows) + 1234;
  for (int i = 0; i < kRows; ++i) table.Upsert(RandomProfile(rng, i));
  for (int i = 0; i < kRows; i += 31) table.Remove(absl::StrCat("p", 100000 + i));
  for (const char* source :
       {"profile.traits.country == 'DE' && profile.aggregates.revenue_total > 500.0 && "
        "profile.consents.marketing_email == GRANTED",
        "profile.aggregates.revenue_total / double(profile.aggregates.order_count) > 150.0",
        "profile.traits.age > 60 || profile.kind == ACCOUNT",
        "now - profile.aggregates.last_purchase_time < duration('720h')"}) {
    auto rule = Rule::Compile(source, RuleKind::kSegment);
    ASSERT_TRUE(rule.ok()) << rule.status();
    Roaring all = (*rule)->EvalAll(table, kNow);
    int64_t mismatches = 0;
    for (Row row = 0; row < table.row_count(); ++row) {
      mismatches += all.contains(row) != (*rule)->EvalRow(table, row, kNow) ? 1 : 0;
    }
    EXPECT_EQ(mismatches, 0) << source;
    EXPECT_GT(all.cardinality(), 0u) << source;
    EXPECT_GT(all.maximum(), 2 * kBlockRows) << source << ": the last block has members";
  }
}

TEST(RuleCompileTest, RejectsBadRulesWithPositionAndReason) {
  auto check = [](const std::string& source) {
    auto r = Rule::Compile(source, RuleKind::kSegment);
    EXPECT_FALSE(r.ok()) << source;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
    return std::string(r.status().message());
  };
  EXPECT_THAT(check("profile.traits.country == "), HasSubstr("1:27: expected"));
  EXPECT_THAT(check("profile.aggregates.revenue > 1.0"),
              HasSubstr("unknown field 'revenue' of profile.aggregates"));
  EXPECT_THAT(check("profile.aggregates.order_count == 'ten'"),
              HasSubstr("'==' applied to (int, string)"));
  EXPECT_THAT(check("profile.aggregates.revenue_total"), HasSubstr("must be a condition"));
  EXPECT_THAT(check("profile.traits.items.exists(a, profile.traits.items.exists(b, a == b))"),
              HasSubstr("limit 100000"));
  EXPECT_THAT(check(std::string(4097, ' ') + "true"), HasSubstr("at most 4096"));
  EXPECT_THAT(check(""), HasSubstr("empty"));
  // Persona rules cannot read the persona they assign.
  EXPECT_TRUE(Rule::Compile("profile.persona == ''", RuleKind::kSegment).ok());
  auto persona = Rule::Compile("profile.persona == ''", RuleKind::kPersona);
  ASSERT_FALSE(persona.ok());
  EXPECT_THAT(persona.status().message(), HasSubstr("unknown field 'persona'"));
}

TEST(RuleCompileTest, ReportsWhatItReads) {
  auto r = Rule::Compile("profile.traits.country == 'DE' && rfm.r > 3 && now > profile.create_time",
                         RuleKind::kSegment);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE((*r)->Reads("profile.traits.country"));
  EXPECT_FALSE((*r)->Reads("profile.traits.city"));
  EXPECT_TRUE((*r)->Reads("rfm.r"));
  EXPECT_FALSE((*r)->Reads("rfm.f"));
  EXPECT_TRUE((*r)->reads_now());
  EXPECT_TRUE((*r)->reads_rfm());
  auto whole = Rule::Compile("profile.traits.exists(k, k == 'x')", RuleKind::kSegment);
  ASSERT_TRUE(whole.ok()) << whole.status();
  EXPECT_TRUE((*whole)->Reads("profile.traits.anything"));
}

}  // namespace
}  // namespace centric::segmentation
