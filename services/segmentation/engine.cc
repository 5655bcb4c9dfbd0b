#include "services/segmentation/engine.h"

#include <algorithm>
#include <bit>
#include <thread>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/strip.h"
#include "absl/strings/str_cat.h"
#include "services/segmentation/bitmap_index.h"

namespace centric::segmentation {
namespace {

constexpr absl::string_view kProfilesPrefix = "profiles/";

std::optional<Field> ConsentField(profiles::v1::ConsentPurpose purpose) {
  if (purpose < 1 || purpose > 5) return std::nullopt;
  return static_cast<Field>(static_cast<int>(Field::kConsentMarketingEmail) + purpose - 1);
}

// The words of block `block` of the rows whose consent for `purpose` is GRANTED.
void GrantedBlock(const Table& table, profiles::v1::ConsentPurpose purpose, uint32_t block,
                  uint64_t* words) {
  std::fill(words, words + kBlockWords, uint64_t{0});
  const Roaring* granted =
      table.IndexOf(*ConsentField(purpose))->Rows(profiles::v1::CONSENT_STATUS_GRANTED);
  if (granted != nullptr) OrBlock(*granted, block, words, kBlockWords);
}

uint32_t BlockOf(Row row) { return row / kBlockRows; }

}  // namespace

void EngineChanges::Append(EngineChanges other) {
  for (auto& m : other.membership) membership.push_back(std::move(m));
  for (auto& p : other.personas) personas.push_back(std::move(p));
}

void Engine::LetForegroundIn() const {
  if (waiting_.load(std::memory_order_relaxed) == 0) return;
  absl::Time until = absl::Now() + absl::Milliseconds(5);
  while (waiting_.load(std::memory_order_relaxed) > 0 && absl::Now() < until) {
    std::this_thread::yield();
  }
}

std::string Engine::ProfileName(absl::string_view id) { return absl::StrCat(kProfilesPrefix, id); }

bool Engine::ready() const {
  Foreground lock(this);
  return ready_;
}

void Engine::Ready() {
  absl::Time now = clock_.Now();
  {
    absl::MutexLock lock(&mu_);
    if (ready_ || building_) return;
    building_ = true;
  }
  SweepRfm();
  while (true) {
    std::string next;
    {
      absl::MutexLock lock(&mu_);
      for (const auto& [name, state] : segments_) {
        if (!state.built && !state.sweep.has_value()) {
          next = name;
          break;
        }
      }
    }
    if (next.empty()) break;
    SweepSegment(next, now, nullptr);
  }
  SweepPersonas(now, nullptr);
  absl::MutexLock lock(&mu_);
  ready_ = true;
  building_ = false;
}

Roaring Engine::Evaluate(const SegmentDefinition& def, absl::Time now) const {
  Roaring members = def.rule->EvalAll(table_, now);
  if (std::optional<Field> consent = ConsentField(def.purpose)) {
    const Roaring* granted = table_.IndexOf(*consent)->Rows(profiles::v1::CONSENT_STATUS_GRANTED);
    if (granted == nullptr) return Roaring();
    members &= *granted;
  }
  return members;
}

void Engine::EvaluateBlock(const SegmentDefinition& def, const Rule::Evaluation& evaluation,
                           uint32_t block, uint64_t* words) const {
  evaluation.EvalBlock(table_, block, words);
  if (ConsentField(def.purpose).has_value()) {
    uint64_t granted[kBlockWords];
    GrantedBlock(table_, def.purpose, block, granted);
    for (size_t w = 0; w < kBlockWords; ++w) words[w] &= granted[w];
  }
}

void Engine::SweepSegment(const std::string& name, absl::Time now, EngineChanges* out) {
  std::shared_ptr<const Rule> rule;
  std::unique_ptr<Rule::Evaluation> evaluation;
  SegmentDefinition def;
  uint64_t id;
  {
    absl::MutexLock lock(&mu_);
    auto it = segments_.find(name);
    if (it == segments_.end()) return;
    id = ++sweeps_;
    it->second.sweep = Sweep{id, 0, Roaring()};
    def = it->second.def;
    evaluation = def.rule->Prepare(table_, now);
  }
  std::vector<uint64_t> words(kBlockWords);
  for (uint32_t block = 0;; ++block) {
    LetForegroundIn();
    absl::MutexLock lock(&mu_);
    auto it = segments_.find(name);
    if (it == segments_.end() || !it->second.sweep.has_value() || it->second.sweep->id != id) {
      return;  // removed or swept again: the newer operation owns the result
    }
    SegmentState& state = it->second;
    if (static_cast<uint64_t>(block) * kBlockRows >= table_.row_count()) {
      Roaring members = std::move(state.sweep->members);
      members.runOptimize();
      // A segment new since Ready() announces every member as an entry.
      if (out != nullptr) Diff(name, state.built ? state.members : Roaring(), members, *out);
      state.members = std::move(members);
      state.built = true;
      state.sweep.reset();
      return;
    }
    evaluation->Sync(table_);
    EvaluateBlock(def, *evaluation, block, words.data());
    AppendBlock(state.sweep->members, block, words.data(), kBlockWords);
    state.sweep->next_block = block + 1;
  }
}

bool Engine::SweepRfm() {
  RfmSample sample;
  size_t rows;
  {
    absl::MutexLock lock(&mu_);
    rows = table_.row_count();
  }
  // Reserved outside the mutex: growing inside it would copy megabytes while profile
  // changes wait.
  for (std::vector<double>* v : {&sample.recency, &sample.frequency, &sample.monetary}) {
    v->reserve(rows + kBlockRows);
  }
  for (Row begin = 0;; begin += kBlockRows) {
    LetForegroundIn();
    absl::MutexLock lock(&mu_);
    if (begin >= table_.row_count()) break;
    CollectRfm(table_, begin, begin + kBlockRows, sample);
  }
  RfmBoundaries boundaries = BoundariesOf(sample);
  bool changed = false;
  {
    absl::MutexLock lock(&mu_);
    rfm_ = boundaries;
    scoring_ = true;
  }
  // The score columns are sparse until the first scoring: grown here, not under the lock.
  for (Field f : {Field::kRfmR, Field::kRfmF, Field::kRfmM}) {
    std::vector<uint8_t> spare(rows + kBlockRows, 0);
    absl::MutexLock lock(&mu_);
    spare = table_.GrowEnum(f, std::move(spare));
  }
  // Rescoring moves rows between the score indexes (the first scoring moves every row,
  // allocating as it goes), so it holds the mutex for at most about a millisecond.
  for (Row row = 0;;) {
    LetForegroundIn();
    absl::MutexLock lock(&mu_);
    if (row >= table_.row_count()) break;
    const absl::Time until = absl::Now() + absl::Milliseconds(1);
    for (Row end = std::min<Row>(table_.row_count(), row + kBlockRows); row < end; ++row) {
      if (row % 512 == 0 && absl::Now() > until) break;
      if (table_.live(row) && StoreRfm(table_, row, ScoreRow(table_, row, rfm_))) changed = true;
    }
  }
  return changed;
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
  std::string name = segment.name;
  {
    absl::MutexLock lock(&mu_);
    SegmentState& state = segments_[name];
    state.def = std::move(segment);
    state.sweep.reset();
    // Before Ready() the segment waits for it; during Ready() the build picks it up.
    if (!ready_) return {};
  }
  EngineChanges out;
  SweepSegment(name, now, &out);
  return out;
}

EngineChanges Engine::RemoveSegment(const std::string& name) {
  absl::MutexLock lock(&mu_);
  EngineChanges out;
  auto it = segments_.find(name);
  if (it == segments_.end()) return out;
  if (it->second.built) Diff(name, it->second.members, Roaring(), out);
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
  absl::ReleasableMutexLock lock(&mu_);
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
  ++persona_epoch_;
  bool ready = ready_;
  lock.Release();
  EngineChanges out;
  if (ready) SweepPersonas(now, &out);
  return out;
}

EngineChanges Engine::RemovePersona(const std::string& name) {
  absl::Time now = clock_.Now();
  absl::ReleasableMutexLock lock(&mu_);
  std::erase_if(personas_, [&](const auto& p) { return p.first.name == name; });
  ++persona_epoch_;
  bool ready = ready_;
  lock.Release();
  EngineChanges out;
  if (ready) SweepPersonas(now, &out);
  return out;
}

uint16_t Engine::PersonaOfRow(Row row, absl::Time now, const cel::Activation* activation) const {
  for (const auto& [def, id] : personas_) {
    bool match = activation != nullptr ? def.rule->EvalRow(table_, row, *activation)
                                       : def.rule->EvalRow(table_, row, now);
    if (match) return id;
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

void Engine::SweepPersonas(absl::Time now, EngineChanges* out) {
  std::vector<std::pair<std::unique_ptr<Rule::Evaluation>, uint16_t>> evaluations;
  std::vector<std::shared_ptr<const Rule>> rules;  // kept alive for the evaluations
  uint64_t epoch;
  {
    absl::MutexLock lock(&mu_);
    epoch = persona_epoch_;
    for (const auto& [def, id] : personas_) {
      rules.push_back(def.rule);
      evaluations.emplace_back(def.rule->Prepare(table_, now), id);
    }
  }
  std::vector<uint64_t> words(kBlockWords);
  std::vector<uint16_t> next(kBlockRows);
  for (uint32_t block = 0;; ++block) {
    LetForegroundIn();
    absl::MutexLock lock(&mu_);
    // Personas changed meanwhile: the change's own sweep assigns them.
    if (persona_epoch_ != epoch) return;
    Row base = block * kBlockRows;
    if (base >= table_.row_count()) return;
    Row end = std::min<Row>(table_.row_count(), base + kBlockRows);
    std::fill(next.begin(), next.end(), 0);
    // Highest priority first: a row keeps the first persona that matches it.
    for (auto it = evaluations.rbegin(); it != evaluations.rend(); ++it) {
      it->first->Sync(table_);
      it->first->EvalBlock(table_, block, words.data());
      for (size_t w = 0; w < kBlockWords; ++w) {
        for (uint64_t bits = words[w]; bits != 0; bits &= bits - 1) {
          next[w * 64 + std::countr_zero(bits)] = it->second;
        }
      }
    }
    for (Row row = base; row < end; ++row) {
      if (table_.live(row)) SetPrimary(row, next[row - base], out);
    }
  }
}

EngineChanges Engine::ApplyProfile(const profiles::v1::Profile& profile) {
  absl::Time now = clock_.Now();
  Foreground lock(this);
  EngineChanges out;
  std::optional<Table::Change> change = table_.Upsert(profile);
  if (!change.has_value() || !scoring_) return out;
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
  // The row as every rule sees it, built once for all the rules evaluated.
  std::optional<cel::Activation> activation;
  auto evaluate = [&](const SegmentDefinition& def) {
    if (std::optional<Field> consent = ConsentField(def.purpose)) {
      if (table_.EnumAt(*consent, row) != profiles::v1::CONSENT_STATUS_GRANTED) return false;
    }
    if (!activation.has_value()) activation = RowActivation(table_, row, now, {"profile"});
    return def.rule->EvalRow(table_, row, *activation);
  };
  for (auto& [name, state] : segments_) {
    if (!state.built && !state.sweep.has_value()) continue;  // the build evaluates it
    if (!affected(*state.def.rule, state.def.purpose)) continue;
    bool now_in = evaluate(state.def);
    if (state.sweep.has_value() && BlockOf(row) < state.sweep->next_block) {
      if (now_in) {
        state.sweep->members.add(row);
      } else {
        state.sweep->members.remove(row);
      }
    }
    if (!state.built || now_in == state.members.contains(row)) continue;
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
  if (persona_affected) {
    if (!activation.has_value()) activation = RowActivation(table_, row, now, {"profile"});
    // While building, personas are assigned without deltas, as the build assigns them.
    SetPrimary(row, PersonaOfRow(row, now, &*activation), ready_ ? &out : nullptr);
  }
  return out;
}

EngineChanges Engine::RemoveProfile(const std::string& profile_name) {
  absl::string_view id = profile_name;
  absl::ConsumePrefix(&id, kProfilesPrefix);
  Foreground lock(this);
  EngineChanges out;
  std::optional<Row> found = table_.Find(id);
  if (!found.has_value()) {
    table_.Remove(id);  // reserves the id: the start-up load may still hold a copy
    return out;
  }
  if (!table_.live(*found)) return out;
  Row row = *found;
  for (auto& [name, state] : segments_) {
    if (state.sweep.has_value()) state.sweep->members.remove(row);
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
  {
    absl::MutexLock lock(&mu_);
    if (!ready_) return {};
  }
  bool rfm_changed = SweepRfm();
  std::vector<std::string> due;
  bool personas_due = false;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [name, state] : segments_) {
      const Rule& rule = *state.def.rule;
      if (rule.reads_now() || (rfm_changed && rule.reads_rfm())) due.push_back(name);
    }
    for (const auto& [def, id] : personas_) {
      personas_due = personas_due || def.rule->reads_now() || (rfm_changed && def.rule->reads_rfm());
    }
  }
  EngineChanges out;
  for (const std::string& name : due) SweepSegment(name, now, &out);
  if (personas_due) SweepPersonas(now, &out);
  return out;
}

std::optional<int64_t> Engine::SegmentSize(const std::string& name) const {
  Foreground lock(this);
  auto it = segments_.find(name);
  if (it == segments_.end()) return std::nullopt;
  return static_cast<int64_t>(it->second.members.cardinality());
}

int64_t Engine::PersonaSize(const std::string& name) const {
  Foreground lock(this);
  auto known = std::find(persona_names_.begin(), persona_names_.end(), name);
  if (known == persona_names_.end() || known == persona_names_.begin()) return 0;
  uint16_t id = static_cast<uint16_t>(known - persona_names_.begin());
  return std::count(primary_.begin(), primary_.end(), id);
}

Engine::Preview Engine::PreviewRule(const Rule& rule, profiles::v1::ConsentPurpose purpose,
                                    int sample_size) const {
  absl::Time now = clock_.Now();
  Foreground lock(this);
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

int64_t Engine::StreamMembers(const Rule& rule, profiles::v1::ConsentPurpose purpose,
                              const std::function<void(absl::string_view id)>& sink) const {
  absl::Time now = clock_.Now();
  Foreground lock(this);
  SegmentDefinition def{"", std::shared_ptr<const Rule>(&rule, [](const Rule*) {}), purpose};
  Roaring members = Evaluate(def, now);
  // Members are sparse rows: fetch where their ids are well ahead of reading them.
  constexpr size_t kAhead = 16;
  std::vector<uint32_t> rows(std::min<uint64_t>(members.cardinality(), 4096));
  for (uint32_t block = 0; block * uint64_t{kBlockRows} < table_.row_count(); ++block) {
    if (BlockCardinality(members, block) == 0) continue;
    std::vector<uint64_t> words(kBlockWords, 0);
    OrBlock(members, block, words.data(), kBlockWords);
    rows.clear();
    for (size_t w = 0; w < kBlockWords; ++w) {
      for (uint64_t bits = words[w]; bits != 0; bits &= bits - 1) {
        rows.push_back(block * kBlockRows + static_cast<uint32_t>(w * 64 + std::countr_zero(bits)));
      }
    }
    for (size_t i = 0; i < rows.size(); ++i) {
      if (i + kAhead < rows.size()) table_.PrefetchIdOffset(rows[i + kAhead]);
      if (i + kAhead / 2 < rows.size()) table_.PrefetchId(rows[i + kAhead / 2]);
      sink(table_.IdOf(rows[i]));
    }
  }
  return static_cast<int64_t>(members.cardinality());
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
  Foreground lock(this);
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
  Foreground lock(this);
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
  Foreground lock(this);
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
  Foreground lock(this);
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
  Foreground lock(this);
  return table_.live_count();
}

int64_t Engine::segment_count() const {
  Foreground lock(this);
  return static_cast<int64_t>(segments_.size());
}

size_t Engine::TableMemoryBytes() const {
  Foreground lock(this);
  return table_.MemoryBytes() + primary_.capacity() * sizeof(uint16_t) +
         rows_by_id_.capacity() * sizeof(Row);
}

size_t Engine::BitmapMemoryBytes() const {
  Foreground lock(this);
  size_t bytes = 0;
  for (const auto& [name, state] : segments_) bytes += state.members.getSizeInBytes();
  return bytes;
}

size_t Engine::MemoryBytes() const { return TableMemoryBytes() + BitmapMemoryBytes(); }

}  // namespace centric::segmentation
