// Roaring bitmaps seen in blocks of 65,536 rows (one CRoaring container each), and the
// inverted indexes of the column table built on them.
//
// The column evaluator works one block at a time on plain bitsets of 1,024 words, small
// enough to stay in the core's cache. A block of an index bitmap is copied into such a
// bitset straight from its container (a memcpy for a bitmap container), and a block of
// result is appended to a Roaring as one container, so moving between the two costs
// microseconds, not a visit per member. This reads CRoaring's container structs
// (roaring_array_t and the 0.2.x container layouts); tests/services/segmentation/
// bitmap_index_test.cc checks every container kind against Roaring's own answers.
#ifndef CENTRIC_SERVICES_SEGMENTATION_BITMAP_INDEX_H_
#define CENTRIC_SERVICES_SEGMENTATION_BITMAP_INDEX_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "roaring/roaring.hh"

namespace centric::segmentation {

inline constexpr uint32_t kBlockRows = 65536;
inline constexpr size_t kBlockWords = kBlockRows / 64;

// ORs block `block` of `bitmap` (rows block*65536 ...) into `words` (bit i = row
// block*65536 + i); `words` holds at least `word_count` words and bits past them are
// dropped.
void OrBlock(const Roaring& bitmap, uint32_t block, uint64_t* words, size_t word_count);

// Members of `bitmap` in block `block`.
uint32_t BlockCardinality(const Roaring& bitmap, uint32_t block);

// Appends `words` as block `block` of `bitmap`, which holds no row of this or any later
// block yet (blocks are appended in increasing order).
void AppendBlock(Roaring& bitmap, uint32_t block, const uint64_t* words, size_t word_count);

// An inverted index of one column: for every value other than the column's default
// (0: an unset enum, an empty string, an absent trait tag), the rows holding it.
class ValueIndex {
 public:
  // Moves `row` from value `from` to value `to` (either may be 0, the default).
  void Move(uint32_t row, uint32_t from, uint32_t to);
  // nullptr when no row holds `value`.
  const Roaring* Rows(uint32_t value) const;
  const absl::flat_hash_map<uint32_t, Roaring>& values() const { return rows_; }
  size_t MemoryBytes() const;

 private:
  absl::flat_hash_map<uint32_t, Roaring> rows_;
};

}  // namespace centric::segmentation

#endif  // CENTRIC_SERVICES_SEGMENTATION_BITMAP_INDEX_H_
