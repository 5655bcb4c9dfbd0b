// libFuzzer target for segment and persona rules (services/segmentation/rule.h): parsing,
// checking against the profile schema and compiling arbitrary text, as CreateSegment,
// UpdateSegment, PreviewSegment and the persona RPCs do with the rule a caller sends.
//
// The first byte picks the kind (even: segment, odd: persona); the rest is the rule.
// Invariants, beyond not crashing:
//   - a refused rule gets a message that fits a field violation ("segment.rule": valid
//     UTF-8 for UTF-8 input, the only kind the wire carries);
//   - a persona rule never reads profile.persona (the field it assigns);
//   - an accepted rule gives the same members evaluated column by column (EvalAll) as
//     row by row by the interpreter (EvalRow), on a small fixed population with every
//     kind of column value, an erased row and profiles without traits.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <google/protobuf/util/time_util.h>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "fuzz/fuzz_support.h"
#include "services/segmentation/rule.h"
#include "services/segmentation/table.h"

namespace {

namespace pv1 = ::centric::profiles::v1;
using ::centric::segmentation::Field;
using ::centric::segmentation::Row;
using ::centric::segmentation::Rule;
using ::centric::segmentation::RuleKind;
using ::centric::segmentation::Table;
using ::google::protobuf::util::TimeUtil;

const absl::Time kNow = absl::FromUnixSeconds(1790000000);
constexpr int kRows = 24;

// Profile i of the population: every field takes a few values, cycling at different
// rates so that the rows differ in every combination that matters for a comparison.
pv1::Profile PopulationProfile(int i) {
  pv1::Profile p;
  p.set_name(absl::StrCat("profiles/p", i));
  p.set_version(1);
  p.set_kind(i % 5 == 0 ? pv1::PROFILE_KIND_ACCOUNT : pv1::PROFILE_KIND_PERSON);
  for (int purpose = 1; purpose <= 5; ++purpose) {
    if ((i + purpose) % 3 == 0) continue;
    auto* consent = p.add_consents();
    consent->set_purpose(static_cast<pv1::ConsentPurpose>(purpose));
    consent->set_status(static_cast<pv1::ConsentStatus>(1 + (i + purpose) % 3));
  }
  for (int channel = 1; channel <= 9; ++channel) {
    if ((i * channel) % 4 == 1) p.add_preferred_channels(static_cast<pv1::Channel>(channel));
  }
  if (i % 3 == 1) p.set_persona(i % 2 ? "personas/bargain-hunter" : "personas/pro");
  *p.mutable_create_time() = TimeUtil::SecondsToTimestamp(1790000000 - i * 7 * 86400);
  auto* aggregates = p.mutable_aggregates();
  int orders = i % 4 == 0 ? 0 : i % 7;
  aggregates->set_order_count(orders);
  aggregates->set_interaction_count(orders + i % 11);
  aggregates->set_revenue_total(orders == 0 ? 0 : (i * 3719 % 20000) / 100.0);
  if (orders > 0) {
    *aggregates->mutable_last_purchase_time() =
        TimeUtil::MicrosecondsToTimestamp((1790000000LL - i * 9 * 86400) * 1000000 + i * 12345);
  }
  if (i % 2 == 0) {
    auto* count = aggregates->add_interaction_counts();
    count->set_channel(pv1::CHANNEL_EMAIL);
    count->set_count(i % 10);
  }
  if (i % 2 == 1) {
    aggregates->set_last_nps_score(i % 11);
    *aggregates->mutable_last_nps_time() = TimeUtil::SecondsToTimestamp(1790000000 - i * 86400);
  }
  if (i % 3 == 2) aggregates->set_last_csat_score(1 + i % 5);
  if (i % 4 == 3) aggregates->set_open_follow_ups(i % 3);
  auto& traits = *p.mutable_traits();
  const char* countries[] = {"DE", "FR", "US", "de"};
  if (i % 5 != 4) traits["country"].set_string_value(countries[i % 4]);
  if (i % 3 != 0) traits["age"].set_number_value(18 + i * 7 % 60);
  if (i % 4 == 0) traits["age"].set_string_value("unknown");
  if (i % 3 == 1) traits["vip"].set_bool_value(i % 2 == 0);
  if (i % 6 == 5) traits["vip"].set_null_value(google::protobuf::NULL_VALUE);
  if (i % 3 == 2) {
    auto* tags = traits["tags"].mutable_list_value();
    for (int t = i % 4; t > 0; --t) tags->add_values()->set_string_value(t % 2 ? "beta" : "churn-risk");
  }
  if (i % 7 == 3) {
    auto& address = *traits["address"].mutable_struct_value()->mutable_fields();
    address["city"].set_string_value("Berlin");
    address["zip"].set_number_value(10115);
  }
  return p;
}

const Table& Population() {
  static const Table* table = [] {
    auto* t = new Table();
    for (int i = 0; i < kRows; ++i) t->Upsert(PopulationProfile(i));
    t->Remove("p7");  // an erased row must never match
    for (Row row = 0; row < t->row_count(); ++row) {
      if (!t->live(row)) continue;
      t->SetEnum(Field::kRfmR, row, static_cast<uint8_t>(row % 6));
      t->SetEnum(Field::kRfmF, row, static_cast<uint8_t>((row * 5) % 6));
      t->SetEnum(Field::kRfmM, row, static_cast<uint8_t>((row * 2) % 6));
    }
    return t;
  }();
  return *table;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  centric::fuzz::SilenceProtobufLogs();
  Population();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0 || size > centric::segmentation::kMaxRuleBytes + 1) return -1;
  RuleKind kind = data[0] % 2 == 0 ? RuleKind::kSegment : RuleKind::kPersona;
  absl::string_view source(reinterpret_cast<const char*>(data + 1), size - 1);
  auto rule = Rule::Compile(source, kind);
  if (!rule.ok()) {
    CENTRIC_FUZZ_CHECK(rule.status().code() == absl::StatusCode::kInvalidArgument,
                       rule.status().ToString());
    if (centric::fuzz::IsValidUtf8(source)) {
      centric::fuzz::CheckViolations({{"segment.rule", std::string(rule.status().message())}});
    }
    return 0;
  }
  if (kind == RuleKind::kPersona) {
    CENTRIC_FUZZ_CHECK(!(*rule)->Reads("profile.persona"), "persona rule reads profile.persona: ",
                       source);
  }
  const Table& table = Population();
  Roaring members = (*rule)->EvalAll(table, kNow);
  for (Row row = 0; row < table.row_count(); ++row) {
    bool expected = (*rule)->EvalRow(table, row, kNow);
    CENTRIC_FUZZ_CHECK(members.contains(row) == expected, "rule ", source, ": row ", row, " (",
                       table.IdOf(row), ") column evaluation says ", members.contains(row),
                       ", the interpreter ", expected);
  }
  return 0;
}
