#include "services/segmentation/table.h"

#include <algorithm>
#include <utility>

#include "absl/hash/hash.h"
#include "absl/strings/match.h"
#include "absl/strings/strip.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/util/time_util.h"

namespace centric::segmentation {
namespace {

using google::protobuf::util::TimeUtil;

constexpr absl::string_view kTraitsPrefix = "profile.traits.";

int64_t MicrosOf(const google::protobuf::Timestamp& ts) {
  if (ts.seconds() == 0 && ts.nanos() == 0) return 0;
  return TimeUtil::TimestampToMicroseconds(ts);
}

// Dictionary key: kind-tagged so "1" the string and [1] the list differ.
std::string KeyOf(const cel::Value& v) {
  if (v.kind() == cel::Value::Kind::kString) return absl::StrCat("s", v.string_value());
  return absl::StrCat("v", v.DebugString());
}

template <typename T>
T At(const std::vector<T>& column, Row row) {
  return row < column.size() ? column[row] : T{};
}

template <typename T>
void Put(std::vector<T>& column, Row row, T value, Row rows) {
  if (row >= column.size()) {
    if (value == T{}) return;
    column.resize(std::max<size_t>(rows, row + 1));
  }
  column[row] = value;
}

template <typename T>
size_t Bytes(const std::vector<T>& v) {
  return v.capacity() * sizeof(T);
}

const std::vector<FieldInfo>& BuildFields() {
  static const auto* fields = new std::vector<FieldInfo>{
      {Field::kKind, "profile.kind", Storage::kEnum},
      {Field::kConsentMarketingEmail, "profile.consents.marketing_email", Storage::kEnum},
      {Field::kConsentMarketingSms, "profile.consents.marketing_sms", Storage::kEnum},
      {Field::kConsentPersonalization, "profile.consents.personalization", Storage::kEnum},
      {Field::kConsentAnalytics, "profile.consents.analytics", Storage::kEnum},
      {Field::kConsentProfiling, "profile.consents.profiling", Storage::kEnum},
      {Field::kPreferredChannels, "profile.preferred_channels", Storage::kCode},
      {Field::kPersona, "profile.persona", Storage::kCode},
      {Field::kCreateTime, "profile.create_time", Storage::kTime},
      {Field::kFirstSeenTime, "profile.aggregates.first_seen_time", Storage::kTime},
      {Field::kLastSeenTime, "profile.aggregates.last_seen_time", Storage::kTime},
      {Field::kLastPurchaseTime, "profile.aggregates.last_purchase_time", Storage::kTime},
      {Field::kInteractionCount, "profile.aggregates.interaction_count", Storage::kInt},
      {Field::kOrderCount, "profile.aggregates.order_count", Storage::kInt},
      {Field::kRevenueTotal, "profile.aggregates.revenue_total", Storage::kDouble},
      {Field::kOpenSupportTickets, "profile.aggregates.open_support_tickets", Storage::kInt},
      {Field::kLastNpsScore, "profile.aggregates.last_nps_score", Storage::kScore},
      {Field::kLastNpsTime, "profile.aggregates.last_nps_time", Storage::kTime},
      {Field::kLastCsatScore, "profile.aggregates.last_csat_score", Storage::kScore},
      {Field::kLastCsatTime, "profile.aggregates.last_csat_time", Storage::kTime},
      {Field::kOpenFollowUps, "profile.aggregates.open_follow_ups", Storage::kInt},
      {Field::kChannelWeb, "profile.aggregates.interaction_counts.web", Storage::kInt},
      {Field::kChannelEmail, "profile.aggregates.interaction_counts.email", Storage::kInt},
      {Field::kChannelPhone, "profile.aggregates.interaction_counts.phone", Storage::kInt},
      {Field::kChannelBranch, "profile.aggregates.interaction_counts.branch", Storage::kInt},
      {Field::kChannelSupport, "profile.aggregates.interaction_counts.support", Storage::kInt},
      {Field::kChannelBilling, "profile.aggregates.interaction_counts.billing", Storage::kInt},
      {Field::kChannelMobileApp, "profile.aggregates.interaction_counts.mobile_app",
       Storage::kInt},
      {Field::kChannelSms, "profile.aggregates.interaction_counts.sms", Storage::kInt},
      {Field::kChannelSocial, "profile.aggregates.interaction_counts.social", Storage::kInt},
      {Field::kRfmR, "rfm.r", Storage::kEnum},
      {Field::kRfmF, "rfm.f", Storage::kEnum},
      {Field::kRfmM, "rfm.m", Storage::kEnum},
  };
  return *fields;
}

// Sets `out[key] = value` inside nested maps along `path` ("a.b.c").
struct Tree {
  std::map<std::string, Tree> children;
  std::optional<cel::Value> leaf;
  cel::Value ToValue() const {
    if (leaf.has_value()) return *leaf;
    cel::ValueMap map;
    for (const auto& [k, child] : children) map.emplace_back(cel::Value::String(k), child.ToValue());
    return cel::Value::Map(std::move(map));
  }
};

void Insert(Tree& tree, absl::string_view path, cel::Value value) {
  Tree* node = &tree;
  while (true) {
    size_t dot = path.find('.');
    std::string part(path.substr(0, dot));
    node = &node->children[part];
    if (dot == absl::string_view::npos) break;
    path.remove_prefix(dot + 1);
  }
  node->leaf = std::move(value);
}

// Whether the rule's field set needs the column at `path`.
bool Needs(const std::set<std::string>& fields, absl::string_view path) {
  for (absl::string_view p = path;;) {
    if (fields.contains(std::string(p))) return true;
    size_t dot = p.rfind('.');
    if (dot == absl::string_view::npos) return false;
    p = p.substr(0, dot);
  }
}

}  // namespace

ValueDictionary::ValueDictionary() {
  values_.emplace_back();
  refs_.push_back(1);
  generations_.push_back(0);
  keys_.emplace_back();
}

uint32_t ValueDictionary::Acquire(const cel::Value& value) {
  std::string key = KeyOf(value);
  auto it = index_.find(key);
  if (it != index_.end()) {
    ++refs_[it->second];
    return it->second;
  }
  uint32_t code;
  if (!free_.empty()) {
    code = free_.back();
    free_.pop_back();
    values_[code] = value;
    refs_[code] = 1;
    ++generations_[code];
    keys_[code] = key;
  } else {
    code = static_cast<uint32_t>(values_.size());
    values_.push_back(value);
    refs_.push_back(1);
    generations_.push_back(0);
    keys_.push_back(key);
  }
  index_.emplace(std::move(key), code);
  return code;
}

void ValueDictionary::Release(uint32_t code) {
  if (code == 0 || --refs_[code] > 0) return;
  index_.erase(keys_[code]);
  values_[code] = cel::Value();
  std::string().swap(keys_[code]);
  free_.push_back(code);
}

size_t ValueDictionary::MemoryBytes() const {
  size_t bytes = Bytes(values_) + Bytes(refs_) + Bytes(generations_) + Bytes(free_) + Bytes(keys_) +
                 index_.capacity() * (sizeof(std::string) + sizeof(uint32_t) + 1);
  for (const std::string& k : keys_) bytes += k.capacity() > 15 ? k.capacity() * 2 : 0;
  return bytes;
}

uint8_t ScoreCell(bool present, int64_t score) {
  if (!present) return 0;
  return static_cast<uint8_t>(std::clamp<int64_t>(score, 0, 254) + 1);
}

const std::vector<FieldInfo>& Fields() { return BuildFields(); }

const FieldInfo& InfoOf(Field field) { return Fields()[static_cast<size_t>(field)]; }

std::optional<Field> FieldByPath(absl::string_view path) {
  for (const FieldInfo& info : Fields()) {
    if (path == info.path) return info.field;
  }
  return std::nullopt;
}

size_t Table::IdHash::operator()(Row row) const { return (*this)(table->IdOf(row)); }
size_t Table::IdHash::operator()(absl::string_view id) const {
  return absl::Hash<absl::string_view>()(id);
}
bool Table::IdEq::operator()(Row a, absl::string_view b) const { return table->IdOf(a) == b; }

Table::Table()
    : index_(0, IdHash{this}, IdEq{this}),
      enums_(static_cast<size_t>(Field::kCount)),
      ints_(static_cast<size_t>(Field::kCount)),
      doubles_(static_cast<size_t>(Field::kCount)),
      floats_(static_cast<size_t>(Field::kCount)),
      codes_(static_cast<size_t>(Field::kCount)),
      indexes_(static_cast<size_t>(Field::kCount)) {
  id_offsets_.push_back(0);
}

std::optional<Row> Table::Find(absl::string_view profile_id) const {
  auto it = index_.find(profile_id);
  if (it == index_.end()) return std::nullopt;
  return *it;
}

absl::string_view Table::IdOf(Row row) const {
  return absl::string_view(id_bytes_).substr(id_offsets_[row],
                                              id_offsets_[row + 1] - id_offsets_[row]);
}

Row Table::AddRow(absl::string_view id) {
  Row row = row_count();
  id_bytes_.append(id.data(), id.size());
  id_offsets_.push_back(static_cast<uint32_t>(id_bytes_.size()));
  versions_.push_back(0);
  if ((row >> 6) >= live_.size()) live_.push_back(0);
  live_[row >> 6] |= uint64_t{1} << (row & 63);
  ++live_count_;
  index_.insert(row);
  return row;
}

uint8_t Table::EnumAt(Field f, Row row) const { return At(enums_[Index(f)], row); }
int64_t Table::IntAt(Field f, Row row) const { return At(ints_[Index(f)], row); }
double Table::DoubleAt(Field f, Row row) const { return At(doubles_[Index(f)], row); }
int64_t Table::TimeMicrosAt(Field f, Row row) const { return At(ints_[Index(f)], row); }
uint32_t Table::CodeAt(Field f, Row row) const { return At(codes_[Index(f)], row); }

void Table::SetEnum(Field f, Row row, uint8_t value) {
  uint8_t old = EnumAt(f, row);
  if (old == value) return;
  Put(enums_[Index(f)], row, value, row_count());
  indexes_[Index(f)].Move(row, old, value);
}

std::vector<uint8_t> Table::GrowEnum(Field f, std::vector<uint8_t> spare) {
  std::vector<uint8_t>& column = enums_[Index(f)];
  if (spare.size() <= column.size()) return spare;
  std::copy(column.begin(), column.end(), spare.begin());
  column.swap(spare);
  return spare;
}

const ValueIndex* Table::IndexOf(Field f) const {
  switch (InfoOf(f).storage) {
    case Storage::kEnum:
    case Storage::kScore:
    case Storage::kCode:
      return &indexes_[Index(f)];
    default:
      return nullptr;
  }
}
void Table::SetInt(Field f, Row row, int64_t value) { Put(ints_[Index(f)], row, value, row_count()); }
void Table::SetDouble(Field f, Row row, double value) {
  std::vector<double>& doubles = doubles_[Index(f)];
  Put(doubles, row, value, row_count());
  std::vector<float>& floats = floats_[Index(f)];
  if (floats.size() < doubles.size()) floats.resize(doubles.size());
  if (row < floats.size()) floats[row] = static_cast<float>(value);
}

void Table::SetCode(Field f, Row row, const cel::Value& value) {
  uint32_t old = CodeAt(f, row);
  bool empty = (value.kind() == cel::Value::Kind::kString && value.string_value().empty()) ||
               (value.kind() == cel::Value::Kind::kList && value.list_value().empty());
  uint32_t code = empty ? 0 : dict_.Acquire(value);
  Put(codes_[Index(f)], row, code, row_count());
  indexes_[Index(f)].Move(row, old, code);
  dict_.Release(old);
}

const TraitColumn* Table::Trait(absl::string_view key) const {
  auto it = traits_.find(key);
  return it == traits_.end() ? nullptr : &it->second;
}

void Table::ClearTrait(TraitColumn& column, Row row) {
  if (row >= column.tags.size() || column.tags[row] == TraitColumn::kAbsent) return;
  column.tag_rows.Move(row, column.tags[row], TraitColumn::kAbsent);
  if (column.tags[row] == TraitColumn::kCoded) {
    column.code_rows.Move(row, column.codes[row], 0);
    dict_.Release(column.codes[row]);
    column.codes[row] = 0;
  }
  if (row < column.numbers.size()) column.numbers[row] = 0;
  column.tags[row] = TraitColumn::kAbsent;
}

bool Table::SetTrait(const std::string& key, Row row, const google::protobuf::Value& value) {
  TraitColumn& column = traits_[key];
  Row rows = row_count();
  if (column.tags.size() <= row) column.tags.resize(std::max<size_t>(rows, row + 1));
  uint8_t old_tag = column.tags[row];
  uint8_t tag = TraitColumn::kNull;
  double number = 0;
  uint32_t code = 0;
  switch (value.kind_case()) {
    case google::protobuf::Value::kBoolValue:
      tag = value.bool_value() ? TraitColumn::kTrue : TraitColumn::kFalse;
      break;
    case google::protobuf::Value::kNumberValue:
      tag = TraitColumn::kNumber;
      number = value.number_value();
      break;
    case google::protobuf::Value::kStringValue:
    case google::protobuf::Value::kListValue:
    case google::protobuf::Value::kStructValue:
      tag = TraitColumn::kCoded;
      // Acquired before the old value is released, so an unchanged value keeps its code.
      code = dict_.Acquire(profile_cel::JsonToValue(value));
      break;
    default:
      break;
  }
  bool changed = tag != old_tag ||
                 (tag == TraitColumn::kNumber && column.numbers[row] != number) ||
                 (tag == TraitColumn::kCoded && column.codes[row] != code);
  if (!changed) {
    if (tag == TraitColumn::kCoded) dict_.Release(code);  // the row keeps its reference
    return false;
  }
  ClearTrait(column, row);
  column.tags[row] = tag;
  column.tag_rows.Move(row, TraitColumn::kAbsent, tag);
  if (tag == TraitColumn::kNumber) {
    if (column.numbers.size() <= row) column.numbers.resize(std::max<size_t>(rows, row + 1));
    column.numbers[row] = number;
  } else if (tag == TraitColumn::kCoded) {
    if (column.codes.size() <= row) column.codes.resize(std::max<size_t>(rows, row + 1));
    column.codes[row] = code;
    column.code_rows.Move(row, 0, code);
  }
  return changed;
}

std::optional<Table::Change> Table::Upsert(const profiles::v1::Profile& profile) {
  absl::string_view name = profile.name();
  if (!absl::ConsumePrefix(&name, "profiles/") || name.empty()) return std::nullopt;
  Change change;
  std::optional<Row> found = Find(name);
  if (found.has_value()) {
    change.row = *found;
    if (versions_[*found] >= profile.version() || !live(*found)) return std::nullopt;
  } else {
    change.row = AddRow(name);
    change.created = true;
  }
  Row row = change.row;
  versions_[row] = profile.version();

  auto set_enum = [&](Field f, uint8_t v) {
    if (EnumAt(f, row) != v) change.paths.insert(InfoOf(f).path);
    SetEnum(f, row, v);
  };
  auto set_int = [&](Field f, int64_t v) {
    if (IntAt(f, row) != v) change.paths.insert(InfoOf(f).path);
    SetInt(f, row, v);
  };
  auto set_code = [&](Field f, const cel::Value& v) {
    uint32_t before = CodeAt(f, row);
    SetCode(f, row, v);
    if (CodeAt(f, row) != before) change.paths.insert(InfoOf(f).path);
  };

  set_enum(Field::kKind, static_cast<uint8_t>(profile.kind()));
  uint8_t consents[5] = {0, 0, 0, 0, 0};
  for (const auto& c : profile.consents()) {
    if (c.purpose() >= 1 && c.purpose() <= 5) consents[c.purpose() - 1] = static_cast<uint8_t>(c.status());
  }
  for (int i = 0; i < 5; ++i) {
    set_enum(static_cast<Field>(static_cast<int>(Field::kConsentMarketingEmail) + i), consents[i]);
  }
  cel::ValueList channels;
  for (int c : profile.preferred_channels()) {
    if (c >= 1 && c <= 9) channels.push_back(cel::Value::String(ChannelNames()[c - 1]));
  }
  set_code(Field::kPreferredChannels, cel::Value::List(std::move(channels)));
  set_code(Field::kPersona, cel::Value::String(profile.persona()));
  set_int(Field::kCreateTime, MicrosOf(profile.create_time()));
  const auto& agg = profile.aggregates();
  set_int(Field::kFirstSeenTime, MicrosOf(agg.first_seen_time()));
  set_int(Field::kLastSeenTime, MicrosOf(agg.last_seen_time()));
  set_int(Field::kLastPurchaseTime, MicrosOf(agg.last_purchase_time()));
  set_int(Field::kInteractionCount, agg.interaction_count());
  set_int(Field::kOrderCount, agg.order_count());
  if (DoubleAt(Field::kRevenueTotal, row) != agg.revenue_total()) {
    change.paths.insert(InfoOf(Field::kRevenueTotal).path);
  }
  SetDouble(Field::kRevenueTotal, row, agg.revenue_total());
  set_int(Field::kOpenSupportTickets, agg.open_support_tickets());
  set_enum(Field::kLastNpsScore, ScoreCell(agg.has_last_nps_score(), agg.last_nps_score()));
  set_int(Field::kLastNpsTime, MicrosOf(agg.last_nps_time()));
  set_enum(Field::kLastCsatScore, ScoreCell(agg.has_last_csat_score(), agg.last_csat_score()));
  set_int(Field::kLastCsatTime, MicrosOf(agg.last_csat_time()));
  set_int(Field::kOpenFollowUps, agg.open_follow_ups());
  int64_t per_channel[9] = {};
  for (const auto& cc : agg.interaction_counts()) {
    if (cc.channel() >= 1 && cc.channel() <= 9) per_channel[cc.channel() - 1] = cc.count();
  }
  for (int i = 0; i < 9; ++i) {
    set_int(static_cast<Field>(static_cast<int>(Field::kChannelWeb) + i), per_channel[i]);
  }

  // Traits: set the present ones, clear the ones the row had and the profile lost.
  for (auto& [key, column] : traits_) {
    if (row < column.tags.size() && column.tags[row] != TraitColumn::kAbsent &&
        !profile.traits().contains(key)) {
      ClearTrait(column, row);
      change.paths.insert(absl::StrCat(kTraitsPrefix, key));
    }
  }
  for (const auto& [key, value] : profile.traits()) {
    if (SetTrait(key, row, value)) change.paths.insert(absl::StrCat(kTraitsPrefix, key));
  }
  return change;
}

void Table::ClearRow(Row row) {
  for (const FieldInfo& info : Fields()) {
    switch (info.storage) {
      case Storage::kEnum:
      case Storage::kScore:
        SetEnum(info.field, row, 0);
        break;
      case Storage::kInt:
      case Storage::kTime:
        SetInt(info.field, row, 0);
        break;
      case Storage::kDouble:
        SetDouble(info.field, row, 0);
        break;
      case Storage::kCode:
        SetCode(info.field, row, cel::Value::String(""));
        break;
    }
  }
  for (auto& [key, column] : traits_) ClearTrait(column, row);
}

std::optional<Row> Table::Remove(absl::string_view profile_id) {
  std::optional<Row> row = Find(profile_id);
  if (row.has_value() && !live(*row)) return row;
  if (row.has_value()) {
    ClearRow(*row);
  } else {
    // Reserved as removed: a copy read before the removal (the start-up load racing an
    // erasure) must never be stored afterwards.
    row = AddRow(profile_id);
  }
  live_[*row >> 6] &= ~(uint64_t{1} << (*row & 63));
  --live_count_;
  return row;
}

std::optional<cel::Value> Table::CellValue(Field f, Row row) const {
  const FieldInfo& info = InfoOf(f);
  switch (info.storage) {
    case Storage::kEnum:
      return cel::Value::Int(EnumAt(f, row));
    case Storage::kScore:
      return cel::Value::Int(ScoreOfCell(EnumAt(f, row)));
    case Storage::kInt:
      return cel::Value::Int(IntAt(f, row));
    case Storage::kDouble:
      return cel::Value::Double(DoubleAt(f, row));
    case Storage::kTime:
      return cel::Value::Timestamp(absl::FromUnixMicros(TimeMicrosAt(f, row)));
    case Storage::kCode: {
      uint32_t code = CodeAt(f, row);
      if (code != 0) return dict_.Get(code);
      if (f == Field::kPreferredChannels) return cel::Value::List({});
      return cel::Value::String("");
    }
  }
  return std::nullopt;
}

std::optional<cel::Value> Table::TraitValue(const TraitColumn& column, Row row) const {
  uint8_t tag = row < column.tags.size() ? column.tags[row] : uint8_t{TraitColumn::kAbsent};
  switch (tag) {
    case TraitColumn::kNull:
      return cel::Value::Null();
    case TraitColumn::kFalse:
      return cel::Value::Bool(false);
    case TraitColumn::kTrue:
      return cel::Value::Bool(true);
    case TraitColumn::kNumber:
      return cel::Value::Double(column.numbers[row]);
    case TraitColumn::kCoded:
      return dict_.Get(column.codes[row]);
    default:
      return std::nullopt;
  }
}

cel::Value Table::ProfileValue(Row row, const std::set<std::string>& fields) const {
  Tree tree;
  for (const FieldInfo& info : Fields()) {
    if (!absl::StartsWith(info.path, "profile.") || !Needs(fields, info.path)) continue;
    std::optional<cel::Value> v = CellValue(info.field, row);
    Insert(tree, absl::string_view(info.path).substr(8), std::move(*v));
  }
  bool all_traits = Needs(fields, "profile.traits");
  cel::ValueMap traits;
  for (const auto& [key, column] : traits_) {
    if (!all_traits && !fields.contains(absl::StrCat(kTraitsPrefix, key))) continue;
    if (std::optional<cel::Value> v = TraitValue(column, row)) {
      traits.emplace_back(cel::Value::String(key), std::move(*v));
    }
  }
  cel::Value profile = tree.ToValue();
  cel::ValueMap map = profile.map_value();
  map.emplace_back(cel::Value::String("traits"), cel::Value::Map(std::move(traits)));
  return cel::Value::Map(std::move(map));
}

cel::Value Table::RfmValue(Row row) const {
  return cel::Value::Map({{cel::Value::String("r"), cel::Value::Int(EnumAt(Field::kRfmR, row))},
                          {cel::Value::String("f"), cel::Value::Int(EnumAt(Field::kRfmF, row))},
                          {cel::Value::String("m"), cel::Value::Int(EnumAt(Field::kRfmM, row))}});
}

size_t Table::MemoryBytes() const {
  size_t bytes = id_bytes_.capacity() + Bytes(id_offsets_) + Bytes(versions_) +
                 live_.capacity() * sizeof(uint64_t) + index_.capacity() * (sizeof(Row) + 1) +
                 dict_.MemoryBytes();
  for (const auto& v : enums_) bytes += Bytes(v);
  for (const auto& v : ints_) bytes += Bytes(v);
  for (const auto& v : doubles_) bytes += Bytes(v);
  for (const auto& v : floats_) bytes += Bytes(v);
  for (const auto& v : codes_) bytes += Bytes(v);
  for (const ValueIndex& index : indexes_) bytes += index.MemoryBytes();
  for (const auto& [key, column] : traits_) {
    bytes += key.capacity() + Bytes(column.tags) + Bytes(column.numbers) + Bytes(column.codes) +
             column.tag_rows.MemoryBytes() + column.code_rows.MemoryBytes();
  }
  return bytes;
}

}  // namespace centric::segmentation
