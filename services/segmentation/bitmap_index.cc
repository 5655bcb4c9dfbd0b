#include "services/segmentation/bitmap_index.h"

#include <algorithm>
#include <bit>
#include <cstring>

namespace centric::segmentation {
namespace {

// roaring.h brings CRoaring's container types (containers/*.h).
constexpr int32_t kMaxArrayCardinality = DEFAULT_MAX_SIZE;

// The container of `block`, unwrapped; nullptr when the block is empty.
const void* ContainerOf(const Roaring& bitmap, uint32_t block, uint8_t* type) {
  const roaring_array_t& ra = bitmap.roaring.high_low_container;
  if (ra.size == 0 || block > 0xffff) return nullptr;
  int32_t i = ra_get_index(&ra, static_cast<uint16_t>(block));
  if (i < 0) return nullptr;
  const void* c = ra_get_container_at_index(&ra, static_cast<uint16_t>(i), type);
  return container_unwrap_shared(c, type);
}

// Set bits of words[0 .. n). Built twice on x86-64 (the ifunc picks the POPCNT
// instruction where the processor has it, which every current one does).
#if defined(__x86_64__) && !defined(__POPCNT__)
__attribute__((target_clones("popcnt", "default")))
#endif
int32_t CountBits(const uint64_t* words, size_t n) {
  int32_t count = 0;
  for (size_t w = 0; w < n; ++w) count += __builtin_popcountll(words[w]);
  return count;
}

}  // namespace

void OrBlock(const Roaring& bitmap, uint32_t block, uint64_t* words, size_t word_count) {
  uint8_t type = 0;
  const void* c = ContainerOf(bitmap, block, &type);
  if (c == nullptr) return;
  const size_t limit = word_count * 64;
  switch (type) {
    case BITSET_CONTAINER_TYPE_CODE: {
      const uint64_t* src = static_cast<const bitset_container_t*>(c)->array;
      for (size_t w = 0; w < word_count; ++w) words[w] |= src[w];
      return;
    }
    case ARRAY_CONTAINER_TYPE_CODE: {
      const auto* a = static_cast<const array_container_t*>(c);
      for (int32_t k = 0; k < a->cardinality; ++k) {
        uint32_t v = a->array[k];
        if (v >= limit) break;
        words[v >> 6] |= uint64_t{1} << (v & 63);
      }
      return;
    }
    case RUN_CONTAINER_TYPE_CODE: {
      const auto* r = static_cast<const run_container_t*>(c);
      for (int32_t k = 0; k < r->n_runs; ++k) {
        size_t first = r->runs[k].value;
        size_t last = std::min<size_t>(first + r->runs[k].length, limit - 1);
        if (first >= limit) break;
        for (size_t w = first >> 6; w <= last >> 6; ++w) {
          size_t lo = w == first >> 6 ? first & 63 : 0;
          size_t hi = w == last >> 6 ? last & 63 : 63;
          uint64_t mask = (hi == 63 ? ~uint64_t{0} : (uint64_t{1} << (hi + 1)) - 1) &
                          ~((uint64_t{1} << lo) - 1);
          words[w] |= mask;
        }
      }
      return;
    }
    default:
      return;
  }
}

uint32_t BlockCardinality(const Roaring& bitmap, uint32_t block) {
  uint8_t type = 0;
  const void* c = ContainerOf(bitmap, block, &type);
  if (c == nullptr) return 0;
  switch (type) {
    case BITSET_CONTAINER_TYPE_CODE:
      return static_cast<uint32_t>(static_cast<const bitset_container_t*>(c)->cardinality);
    case ARRAY_CONTAINER_TYPE_CODE:
      return static_cast<uint32_t>(static_cast<const array_container_t*>(c)->cardinality);
    case RUN_CONTAINER_TYPE_CODE: {
      const auto* r = static_cast<const run_container_t*>(c);
      uint32_t n = 0;
      for (int32_t k = 0; k < r->n_runs; ++k) n += uint32_t{r->runs[k].length} + 1;
      return n;
    }
    default:
      return 0;
  }
}

void AppendBlock(Roaring& bitmap, uint32_t block, const uint64_t* words, size_t word_count) {
  word_count = std::min(word_count, kBlockWords);
  int32_t cardinality = CountBits(words, word_count);
  if (cardinality == 0) return;
  roaring_array_t* ra = &bitmap.roaring.high_low_container;
  if (cardinality > kMaxArrayCardinality) {
    bitset_container_t* b = bitset_container_create();
    std::memcpy(b->array, words, word_count * sizeof(uint64_t));
    b->cardinality = cardinality;
    ra_append(ra, static_cast<uint16_t>(block), b, BITSET_CONTAINER_TYPE_CODE);
    return;
  }
  array_container_t* a = array_container_create_given_capacity(cardinality);
  int32_t k = 0;
  for (size_t w = 0; w < word_count; ++w) {
    for (uint64_t bits = words[w]; bits != 0; bits &= bits - 1) {
      a->array[k++] = static_cast<uint16_t>(w * 64 + std::countr_zero(bits));
    }
  }
  a->cardinality = cardinality;
  ra_append(ra, static_cast<uint16_t>(block), a, ARRAY_CONTAINER_TYPE_CODE);
}

void ValueIndex::Move(uint32_t row, uint32_t from, uint32_t to) {
  if (from == to) return;
  if (from != 0) {
    auto it = rows_.find(from);
    if (it != rows_.end()) {
      it->second.remove(row);
      if (it->second.isEmpty()) rows_.erase(it);
    }
  }
  if (to != 0) rows_[to].add(row);
}

const Roaring* ValueIndex::Rows(uint32_t value) const {
  auto it = rows_.find(value);
  return it == rows_.end() ? nullptr : &it->second;
}

size_t ValueIndex::MemoryBytes() const {
  size_t bytes = rows_.capacity() * (sizeof(uint32_t) + sizeof(Roaring) + 1);
  for (const auto& [value, rows] : rows_) bytes += rows.getSizeInBytes();
  return bytes;
}

}  // namespace centric::segmentation
