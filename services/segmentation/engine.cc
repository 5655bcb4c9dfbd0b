#include "services/segmentation/engine.h"

#include <algorithm>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/strip.h"
#include "absl/strings/str_cat.h"

namespace centric::segmentation {
namespace {

constexpr absl::string_view kProfilesPrefix = "profiles/";

std::optional<Field> ConsentField(profiles::v1::ConsentPurpose purpose) {
  if (purpose < 1 || purpose > 5) return std::nullopt;
  return static_cast<Field>(static_cast<int>(Field::kConsentMarketingEmail) + purpose - 1);
}

// Live rows whose consent for `purpose` is GRANTED.
Roaring Granted(const Table& table, profiles::v1::ConsentPurpose purpose) {
  std::vector<uint32_t> rows;
  Field f = *ConsentField(purpose);
  const std::vector<uint8_t>& col = table.EnumColumn(f);
  for (Row row = 0; row < col.size(); ++row) {
    if (col[row] == profiles::v1::CONSENT_STATUS_GRANTED && table.live(row)) rows.push_back(row);
  }
  Roaring out;
  out.addMany(rows.size(), rows.data());
  return out;
}

}  // namespace

void EngineChanges::Append(EngineChanges other) {
  for (auto& m : other.membership) membership.push_back(std::move(m));
  for (auto& p : other.personas) personas.push_back(std::move(p));
}

std::string Engine::ProfileName(absl::string_view id) { return absl::StrCat(kProfilesPrefix, id); }

bool Engine::ready() const {
  absl::MutexLock lock(&mu_);
  return ready_;
}

void Engine::Ready() {
  absl::Time now = clock_.Now();
  absl::MutexLock lock(&mu_);
  if (ready_) return;
  rfm_ = ComputeRfmBoundaries(table_);
  RescoreRfm(nullptr);
  for (auto& [name, state] : segments_) state.members = Evaluate(state.def, now);
  AssignPersonas(now, nullptr);
  ready_ = true;
}

Roaring Engine::Evaluate(const SegmentDefinition& def, absl::Time now) const {
  Roaring members = def.rule->EvalAll(table_, now);
  if (ConsentField(def.purpose).has_value()) members &= Granted(table_, def.purpose);
  return members;
}

bool Engine::EvaluateRow(const SegmentDefinition& def, Row row, absl::Time now) const {
  if (std::optional<Field> consent = ConsentField(def.purpose)) {
    if (table_.EnumAt(*consent, row) != profiles::v1::CONSENT_STATUS_GRANTED) return false;
  }
  return def.rule->EvalRow(table_, row, now);
}

void Engine::Diff(const std::string& segment, const Roaring& before,
                  const Roaring& after, EngineChanges& out) const {
  for (uint32_t row : after - before) {
    out.membership.push_back({segment, ProfileName(table_.IdOf(row)), true, table_.VersionOf(row)});
  }
  for (uint32_t row : before - after) {
    out.membership.push_back({segment, ProfileName(table_.IdOf(row)), false, table_.VersionOf(row)});
  }
}

EngineChanges Engine::PutSegment(SegmentDefinition segment) {
  absl::Time now = clock_.Now();
  absl::MutexLock lock(&mu_);
  EngineChanges out;
  SegmentState& state = segments_[segment.name];
  state.def = std::move(segment);
  if (!ready_) return out;
  Roaring members = Evaluate(state.def, now);
  Diff(state.def.name, state.members, members, out);
  state.members = std::move(members);
  return out;
}

EngineChanges Engine::RemoveSegment(const std::string& name) {
  absl::MutexLock lock(&mu_);
  EngineChanges out;
  auto it = segments_.find(name);
  if (it == segments_.end()) return out;
  if (ready_) Diff(name, it->second.members, Roaring(), out);
  segments_.erase(it);
  return out;
}

void Engine::SortPersonas() {
  std::stable_sort(personas_.begin(), personas_.end(), [](const auto& a, const auto& b) {
    if (a.first.priority != b.first.priority) return a.first.priority > b.first.priority;
    if (a.first.create_time != b.first.create_time) return a.first.create_time < b.first.create_time;
    return a.first.name < b.first.name;
  });
}

EngineChanges Engine::PutPersona(PersonaDefinition persona) {
  absl::Time now = clock_.Now();
  absl::MutexLock lock(&mu_);
  auto it = std::find_if(personas_.begin(), personas_.end(),
                         [&](const auto& p) { return p.first.name == persona.name; });
  if (it != personas_.end()) {
    it->first = std::move(persona);
  } else {
    auto known = std::find(persona_names_.begin(), persona_names_.end(), persona.name);
    uint16_t id;
    if (known != persona_names_.end()) {
      id = static_cast<uint16_t>(known - persona_names_.begin());
    } else {
      id = static_cast<uint16_t>(persona_names_.size());
      persona_names_.push_back(persona.name);
    }
    personas_.emplace_back(std::move(persona), id);
  }
  SortPersonas();
  EngineChanges out;
  if (ready_) AssignPersonas(now, &out);
  return out;
}

EngineChanges Engine::RemovePersona(const std::string& name) {
  absl::Time now = clock_.Now();
  absl::MutexLock lock(&mu_);
  std::erase_if(personas_, [&](const auto& p) { return p.first.name == name; });
  EngineChanges out;
  if (ready_) AssignPersonas(now, &out);
  return out;
}

uint16_t Engine::PersonaOfRow(Row row, absl::Time now) const {
  for (const auto& [def, id] : personas_) {
    if (def.rule->EvalRow(table_, row, now)) return id;
  }
  return 0;
}

void Engine::SetPrimary(Row row, uint16_t id, EngineChanges* out) {
  if (primary_.size() <= row) {
    if (id == 0) return;
    primary_.resize(table_.row_count(), 0);
  }
  if (primary_[row] == id) return;
  primary_[row] = id;
  if (out != nullptr) out->personas.push_back({ProfileName(table_.IdOf(row)), persona_names_[id]});
}

void Engine::AssignPersonas(absl::Time now, EngineChanges* out) {
  std::vector<uint16_t> next(table_.row_count(), 0);
  Roaring assigned;
  for (const auto& [def, id] : personas_) {
    Roaring matches = def.rule->EvalAll(table_, now) - assigned;
    for (uint32_t row : matches) next[row] = id;
    assigned |= matches;
  }
  for (Row row = 0; row < table_.row_count(); ++row) {
    if (table_.live(row)) SetPrimary(row, next[row], out);
  }
}

void Engine::RescoreRfm(Roaring* changed) {
  for (Row row = 0; row < table_.row_count(); ++row) {
    if (!table_.live(row)) continue;
    if (StoreRfm(table_, row, ScoreRow(table_, row, rfm_)) && changed != nullptr) changed->add(row);
  }
}

EngineChanges Engine::ApplyProfile(const profiles::v1::Profile& profile) {
  absl::Time now = clock_.Now();
  absl::MutexLock lock(&mu_);
  EngineChanges out;
  std::optional<Table::Change> change = table_.Upsert(profile);
  if (!change.has_value() || !ready_) return out;
  Row row = change->row;
  if (StoreRfm(table_, row, ScoreRow(table_, row, rfm_))) {
    change->paths.insert({"rfm.r", "rfm.f", "rfm.m"});
  }
  auto affected = [&](const Rule& rule, profiles::v1::ConsentPurpose purpose) {
    if (change->created) return true;
    if (std::optional<Field> consent = ConsentField(purpose)) {
      if (change->paths.contains(InfoOf(*consent).path)) return true;
    }
    for (const std::string& path : change->paths) {
      if (rule.Reads(path)) return true;
    }
    return false;
  };
  for (auto& [name, state] : segments_) {
    if (!affected(*state.def.rule, state.def.purpose)) continue;
    bool now_in = EvaluateRow(state.def, row, now);
    if (now_in == state.members.contains(row)) continue;
    if (now_in) {
      state.members.add(row);
    } else {
      state.members.remove(row);
    }
    out.membership.push_back({name, profile.name(), now_in, profile.version()});
  }
  bool persona_affected = false;
  for (const auto& [def, id] : personas_) {
    persona_affected = persona_affected || affected(*def.rule, profiles::v1::CONSENT_PURPOSE_UNSPECIFIED);
  }
  if (persona_affected) SetPrimary(row, PersonaOfRow(row, now), &out);
  return out;
}

EngineChanges Engine::RemoveProfile(const std::string& profile_name) {
  absl::string_view id = profile_name;
  absl::ConsumePrefix(&id, kProfilesPrefix);
  absl::MutexLock lock(&mu_);
  EngineChanges out;
  std::optional<Row> found = table_.Find(id);
  if (!found.has_value()) {
    table_.Remove(id);  // reserves the id: the start-up load may still hold a copy
    return out;
  }
  if (!table_.live(*found)) return out;
  Row row = *found;
  for (auto& [name, state] : segments_) {
    if (state.members.contains(row)) {
      state.members.remove(row);
      out.membership.push_back({name, profile_name, false, table_.VersionOf(row)});
    }
  }
  if (row < primary_.size()) primary_[row] = 0;  // the profile is gone: nothing to write back
  table_.Remove(id);
  return out;
}

EngineChanges Engine::Refresh() {
  absl::Time now = clock_.Now();
  absl::MutexLock lock(&mu_);
  EngineChanges out;
  if (!ready_) return out;
  rfm_ = ComputeRfmBoundaries(table_);
  Roaring rescored;
  RescoreRfm(&rescored);
  bool rfm_changed = !rescored.isEmpty();
  for (auto& [name, state] : segments_) {
    const Rule& rule = *state.def.rule;
    if (!rule.reads_now() && !(rfm_changed && rule.reads_rfm())) continue;
    Roaring members = Evaluate(state.def, now);
    Diff(name, state.members, members, out);
    state.members = std::move(members);
  }
  bool personas_changed = false;
  for (const auto& [def, id] : personas_) {
    personas_changed = personas_changed || def.rule->reads_now() || (rfm_changed && def.rule->reads_rfm());
  }
  if (personas_changed) AssignPersonas(now, &out);
  return out;
}

std::optional<int64_t> Engine::SegmentSize(const std::string& name) const {
  absl::MutexLock lock(&mu_);
  auto it = segments_.find(name);
  if (it == segments_.end()) return std::nullopt;
  return static_cast<int64_t>(it->second.members.cardinality());
}

int64_t Engine::PersonaSize(const std::string& name) const {
  absl::MutexLock lock(&mu_);
  auto known = std::find(persona_names_.begin(), persona_names_.end(), name);
  if (known == persona_names_.end() || known == persona_names_.begin()) return 0;
  uint16_t id = static_cast<uint16_t>(known - persona_names_.begin());
  return std::count(primary_.begin(), primary_.end(), id);
}

Engine::Preview Engine::PreviewRule(const Rule& rule, profiles::v1::ConsentPurpose purpose,
                                    int sample_size) const {
  absl::Time now = clock_.Now();
  absl::MutexLock lock(&mu_);
  SegmentDefinition def{"", std::shared_ptr<const Rule>(&rule, [](const Rule*) {}), purpose};
  Roaring members = Evaluate(def, now);
  Preview preview;
  preview.size = static_cast<int64_t>(members.cardinality());
  // Evenly spread over the members, so the sample is not just the oldest rows.
  int64_t n = std::min<int64_t>(sample_size, preview.size);
  for (int64_t i = 0; i < n; ++i) {
    uint32_t row;
    if (members.select(static_cast<uint32_t>(i * preview.size / n), &row)) {
      preview.sample.push_back(ProfileName(table_.IdOf(row)));
    }
  }
  return preview;
}

const std::vector<Row>& Engine::RowsById() const {
  if (rows_sorted_ != table_.row_count()) {
    for (Row row = rows_sorted_; row < table_.row_count(); ++row) rows_by_id_.push_back(row);
    std::sort(rows_by_id_.begin(), rows_by_id_.end(),
              [&](Row a, Row b) { return table_.IdOf(a) < table_.IdOf(b); });
    rows_sorted_ = table_.row_count();
  }
  return rows_by_id_;
}

std::optional<std::vector<std::string>> Engine::Members(const std::string& segment,
                                                        const std::string& after_profile,
                                                        int limit, bool* more) const {
  absl::MutexLock lock(&mu_);
  auto it = segments_.find(segment);
  if (it == segments_.end()) return std::nullopt;
  const Roaring& members = it->second.members;
  const std::vector<Row>& order = RowsById();
  absl::string_view after = after_profile;
  absl::ConsumePrefix(&after, kProfilesPrefix);
  auto pos = after.empty() ? order.begin()
                           : std::upper_bound(order.begin(), order.end(), after,
                                              [&](absl::string_view id, Row row) {
                                                return id < table_.IdOf(row);
                                              });
  std::vector<std::string> out;
  *more = false;
  for (; pos != order.end(); ++pos) {
    if (!members.contains(*pos)) continue;
    if (static_cast<int>(out.size()) == limit) {
      *more = true;
      break;
    }
    out.push_back(ProfileName(table_.IdOf(*pos)));
  }
  return out;
}

std::optional<Membership> Engine::Check(const std::string& profile_name) const {
  absl::string_view id = profile_name;
  absl::ConsumePrefix(&id, kProfilesPrefix);
  absl::MutexLock lock(&mu_);
  std::optional<Row> row = table_.Find(id);
  if (!row.has_value() || !table_.live(*row)) return std::nullopt;
  Membership m;
  for (const auto& [name, state] : segments_) {
    if (state.members.contains(*row)) m.segments.push_back(name);
  }
  if (*row < primary_.size()) m.persona = persona_names_[primary_[*row]];
  m.rfm = {table_.EnumAt(Field::kRfmR, *row), table_.EnumAt(Field::kRfmF, *row),
           table_.EnumAt(Field::kRfmM, *row)};
  return m;
}

std::optional<Overlap> Engine::GetOverlap(const std::vector<std::string>& segments) const {
  absl::MutexLock lock(&mu_);
  std::vector<const Roaring*> sets;
  for (const std::string& name : segments) {
    auto it = segments_.find(name);
    if (it == segments_.end()) return std::nullopt;
    sets.push_back(&it->second.members);
  }
  Overlap o;
  Roaring inter = *sets[0];
  Roaring uni = *sets[0];
  for (size_t i = 1; i < sets.size(); ++i) {
    inter &= *sets[i];
    uni |= *sets[i];
  }
  o.intersection = static_cast<int64_t>(inter.cardinality());
  o.unions = static_cast<int64_t>(uni.cardinality());
  o.differences.assign(sets.size(), std::vector<int64_t>(sets.size(), 0));
  for (size_t i = 0; i < sets.size(); ++i) {
    for (size_t j = 0; j < sets.size(); ++j) {
      if (i != j) o.differences[i][j] = static_cast<int64_t>(sets[i]->andnot_cardinality(*sets[j]));
    }
  }
  return o;
}

std::vector<PersonaDelta> Engine::PersonaDrift() const {
  absl::MutexLock lock(&mu_);
  std::vector<PersonaDelta> out;
  for (Row row = 0; row < table_.row_count(); ++row) {
    if (!table_.live(row)) continue;
    const std::string& want = persona_names_[row < primary_.size() ? primary_[row] : 0];
    std::optional<cel::Value> have = table_.CellValue(Field::kPersona, row);
    if (have->string_value() != want) out.push_back({ProfileName(table_.IdOf(row)), want});
  }
  return out;
}

int64_t Engine::profile_count() const {
  absl::MutexLock lock(&mu_);
  return table_.live_count();
}

int64_t Engine::segment_count() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int64_t>(segments_.size());
}

size_t Engine::TableMemoryBytes() const {
  absl::MutexLock lock(&mu_);
  return table_.MemoryBytes() + primary_.capacity() * sizeof(uint16_t) +
         rows_by_id_.capacity() * sizeof(Row);
}

size_t Engine::BitmapMemoryBytes() const {
  absl::MutexLock lock(&mu_);
  size_t bytes = 0;
  for (const auto& [name, state] : segments_) bytes += state.members.getSizeInBytes();
  return bytes;
}

size_t Engine::MemoryBytes() const { return TableMemoryBytes() + BitmapMemoryBytes(); }

}  // namespace centric::segmentation
