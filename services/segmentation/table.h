// The segmentation engine's in-memory columnar copy of the segmentable fields of every
// profile: one row per profile, one column per field a rule can read (rule_schema.h),
// values stored compactly (1-byte enums and survey scores, 4-byte dictionary codes for
// strings and lists, 8-byte numbers and times, columns allocated on their first
// non-default value).
//
// Not thread-safe; the engine serialises access.
#ifndef CENTRIC_SERVICES_SEGMENTATION_TABLE_H_
#define CENTRIC_SERVICES_SEGMENTATION_TABLE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "centric/profiles/v1/profiles.pb.h"
#include "libs/cel/value.h"
#include "libs/profile_cel/profile_cel.h"
#include "services/segmentation/bitmap_index.h"

namespace centric::segmentation {

using Row = uint32_t;

// Interned values (strings, lists, maps) shared by every column, with reference counts
// so that a value nobody holds any more (e.g. after an erasure) is forgotten.
class ValueDictionary {
 public:
  // Code 0 is reserved for "no value".
  ValueDictionary();
  uint32_t Acquire(const cel::Value& value);
  void Release(uint32_t code);
  const cel::Value& Get(uint32_t code) const { return values_[code]; }
  // Changes whenever `code` is given to another value (codes are reused once free), so
  // a decision cached per code can tell it is stale.
  uint32_t generation(uint32_t code) const { return generations_[code]; }
  // Codes are below this.
  size_t size() const { return values_.size(); }
  size_t MemoryBytes() const;

 private:
  std::vector<cel::Value> values_;
  std::vector<uint32_t> refs_;
  std::vector<uint32_t> generations_;
  std::vector<uint32_t> free_;
  absl::flat_hash_map<std::string, uint32_t> index_;
  std::vector<std::string> keys_;
};

// How a fixed column stores its cells.
enum class Storage : uint8_t {
  kEnum,    // uint8 (kind, consent status, RFM score)
  kInt,     // int64 (counts)
  kDouble,  // double (revenue)
  kTime,    // int64 microseconds since the epoch; 0 = unset, read as timestamp(0)
  kCode,    // uint32 dictionary code (a string or a list of strings; 0 = empty)
  kScore,   // uint8 survey score (NPS, CSAT): 0 = none, read as -1; otherwise score + 1
};

// A kScore cell and back. Scores are 0-10 (NPS) and 1-5 (CSAT); the Profiles service
// refuses others, and anything outside 0-254 would be clamped into it.
uint8_t ScoreCell(bool present, int64_t score);
inline int64_t ScoreOfCell(uint8_t cell) { return cell == 0 ? -1 : int64_t{cell} - 1; }

// The fixed (non-trait) columns.
enum class Field : uint8_t {
  kKind,
  kConsentMarketingEmail,
  kConsentMarketingSms,
  kConsentPersonalization,
  kConsentAnalytics,
  kConsentProfiling,
  kPreferredChannels,
  kPersona,
  kCreateTime,
  kFirstSeenTime,
  kLastSeenTime,
  kLastPurchaseTime,
  kInteractionCount,
  kOrderCount,
  kRevenueTotal,
  kOpenSupportTickets,
  kLastNpsScore,
  kLastNpsTime,
  kLastCsatScore,
  kLastCsatTime,
  kOpenFollowUps,
  kChannelWeb,  // interaction_counts.<channel>, 9 columns in Channel enum order
  kChannelEmail,
  kChannelPhone,
  kChannelBranch,
  kChannelSupport,
  kChannelBilling,
  kChannelMobileApp,
  kChannelSms,
  kChannelSocial,
  kRfmR,
  kRfmF,
  kRfmM,
  kCount,
};

struct FieldInfo {
  Field field;
  // Path as rules write it: "profile.aggregates.revenue_total", "rfm.r".
  const char* path;
  Storage storage;
};
const std::vector<FieldInfo>& Fields();
const FieldInfo& InfoOf(Field field);
std::optional<Field> FieldByPath(absl::string_view path);

using profile_cel::ChannelNames;
using profile_cel::ConsentPurposeNames;

// A column of one trait ("profile.traits.<key>"): a tag per row and, allocated on first
// use, a number or a dictionary code per row; indexed by tag (the rows holding null,
// false, true, a number, a coded value) and by code.
struct TraitColumn {
  enum Tag : uint8_t { kAbsent = 0, kNull, kFalse, kTrue, kNumber, kCoded };
  std::vector<uint8_t> tags;
  std::vector<double> numbers;
  std::vector<uint32_t> codes;
  ValueIndex tag_rows;
  ValueIndex code_rows;
};

class Table {
 public:
  Table();
  Table(const Table&) = delete;
  Table& operator=(const Table&) = delete;

  // Rows ever created; row ids are below this. Erased rows stay (not live).
  Row row_count() const { return static_cast<Row>(versions_.size()); }
  bool live(Row row) const {
    return row < row_count() && ((live_[row >> 6] >> (row & 63)) & 1) != 0;
  }
  // Live rows as a bitset, 64 rows per word.
  const std::vector<uint64_t>& live_words() const { return live_; }
  int64_t live_count() const { return live_count_; }
  std::optional<Row> Find(absl::string_view profile_id) const;
  absl::string_view IdOf(Row row) const;
  // Hints that IdOf(row) comes soon: first where the id is, later the id itself.
  void PrefetchIdOffset(Row row) const { __builtin_prefetch(&id_offsets_[row]); }
  void PrefetchId(Row row) const { __builtin_prefetch(id_bytes_.data() + id_offsets_[row]); }
  int64_t VersionOf(Row row) const { return versions_[row]; }

  // The fields written (Field and trait keys) when a row changes.
  struct Change {
    Row row = 0;
    bool created = false;
    std::set<std::string> paths;  // "profile.kind", "profile.traits.country", ...
  };
  // Stores the segmentable fields of `profile` (name "profiles/{id}", state ACTIVE).
  // Ignored (nullopt) when the table already holds this version or a newer one.
  std::optional<Change> Upsert(const profiles::v1::Profile& profile);
  // Clears every value of the profile's row and marks it not live (erased, merged or
  // deleted); the id stays reserved until restart, also when the table never held it,
  // so no later Upsert of an older copy (e.g. the start-up load) can bring it back.
  // Returns the row.
  std::optional<Row> Remove(absl::string_view profile_id);

  // Fixed-column cells.
  uint8_t EnumAt(Field f, Row row) const;
  int64_t IntAt(Field f, Row row) const;
  double DoubleAt(Field f, Row row) const;
  int64_t TimeMicrosAt(Field f, Row row) const;
  uint32_t CodeAt(Field f, Row row) const;
  // Raw arrays for the column evaluator (empty when the column holds only defaults).
  const std::vector<uint8_t>& EnumColumn(Field f) const { return enums_[Index(f)]; }
  const std::vector<int64_t>& IntColumn(Field f) const { return ints_[Index(f)]; }
  const std::vector<double>& DoubleColumn(Field f) const { return doubles_[Index(f)]; }
  // The same column rounded to float, as long as the doubles: half the bytes for a scan,
  // which reads the double only where the float cannot decide (float(v) == float(k)).
  const std::vector<float>& FloatColumn(Field f) const { return floats_[Index(f)]; }
  const std::vector<uint32_t>& CodeColumn(Field f) const { return codes_[Index(f)]; }
  void SetEnum(Field f, Row row, uint8_t value);
  // Grows a sparse enum column to `spare`'s size (zeroed, allocated by the caller without
  // the engine's lock, so that the first write of a column of a million rows does not
  // zero-fill megabytes under it). Returns the buffer to free, again outside the lock.
  std::vector<uint8_t> GrowEnum(Field f, std::vector<uint8_t> spare);
  // The inverted index of an enum, score or coded column (nullptr for numbers and times):
  // the rows of every non-default cell value (enum value, score cell, dictionary code).
  const ValueIndex* IndexOf(Field f) const;

  // nullptr when no profile ever had the trait.
  const TraitColumn* Trait(absl::string_view key) const;
  const ValueDictionary& dictionary() const { return dict_; }

  // The CEL value of a cell; nullopt for an absent trait.
  std::optional<cel::Value> CellValue(Field f, Row row) const;
  std::optional<cel::Value> TraitValue(const TraitColumn& column, Row row) const;
  // `profile` and `rfm` as CEL maps for the interpreter, with only the fields a rule
  // reads (paths as in CheckResult::fields; "profile" or "profile.traits" bring in
  // everything below them).
  cel::Value ProfileValue(Row row, const std::set<std::string>& fields) const;
  cel::Value RfmValue(Row row) const;

  // Bytes held by columns, dictionary, ids and indexes (capacity, not size; bitmaps by
  // their serialised size).
  size_t MemoryBytes() const;

 private:
  static size_t Index(Field f) { return static_cast<size_t>(f); }
  void SetInt(Field f, Row row, int64_t value);
  void SetDouble(Field f, Row row, double value);
  void SetCode(Field f, Row row, const cel::Value& value);
  void ClearRow(Row row);
  // Stores one trait value; true when it differs from the row's previous one.
  bool SetTrait(const std::string& key, Row row, const google::protobuf::Value& value);
  void ClearTrait(TraitColumn& column, Row row);
  Row AddRow(absl::string_view id);

  // Heterogeneous hash set of rows keyed by their id in `ids_`.
  struct IdHash {
    using is_transparent = void;
    const Table* table;
    size_t operator()(Row row) const;
    size_t operator()(absl::string_view id) const;
  };
  struct IdEq {
    using is_transparent = void;
    const Table* table;
    bool operator()(Row a, Row b) const { return a == b; }
    bool operator()(Row a, absl::string_view b) const;
    bool operator()(absl::string_view a, Row b) const { return (*this)(b, a); }
  };

  std::string id_bytes_;
  std::vector<uint32_t> id_offsets_;  // row i spans [id_offsets_[i], id_offsets_[i+1])
  absl::flat_hash_set<Row, IdHash, IdEq> index_;
  std::vector<int64_t> versions_;
  std::vector<uint64_t> live_;
  int64_t live_count_ = 0;

  std::vector<std::vector<uint8_t>> enums_;
  std::vector<std::vector<int64_t>> ints_;
  std::vector<std::vector<double>> doubles_;
  std::vector<std::vector<float>> floats_;
  std::vector<std::vector<uint32_t>> codes_;
  std::vector<ValueIndex> indexes_;  // by Field; used for enum, score and coded columns
  std::map<std::string, TraitColumn, std::less<>> traits_;
  ValueDictionary dict_;
};

}  // namespace centric::segmentation

#endif  // CENTRIC_SERVICES_SEGMENTATION_TABLE_H_
