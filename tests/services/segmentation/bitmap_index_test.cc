// Blocks of Roaring bitmaps read and written straight from CRoaring's containers: every
// container kind (array, bitmap, run, shared) gives exactly Roaring's own members, and
// the indexes follow every move of a row.
#include "services/segmentation/bitmap_index.h"

#include <gtest/gtest.h>

#include <random>
#include <vector>

namespace centric::segmentation {
namespace {

// The members of block `block` by Roaring's own iteration.
std::vector<uint32_t> Expected(const Roaring& r, uint32_t block) {
  std::vector<uint32_t> out;
  for (uint32_t v : r) {
    if (v / kBlockRows == block) out.push_back(v % kBlockRows);
  }
  return out;
}

std::vector<uint32_t> Read(const Roaring& r, uint32_t block, size_t words = kBlockWords) {
  std::vector<uint64_t> bits(kBlockWords, 0);
  OrBlock(r, block, bits.data(), words);
  std::vector<uint32_t> out;
  for (uint32_t i = 0; i < kBlockRows; ++i) {
    if ((bits[i / 64] >> (i % 64)) & 1) out.push_back(i);
  }
  return out;
}

Roaring Mixed() {
  Roaring r;
  std::mt19937 rng(5);
  for (int i = 0; i < 1000; ++i) r.add(rng() % kBlockRows);                 // block 0: array
  for (uint32_t i = kBlockRows; i < 2 * kBlockRows; i += 3) r.add(i);      // block 1: bitmap
  r.addRange(2 * kBlockRows + 100, 2 * kBlockRows + 40000);                // block 2: a run
  r.add(2 * kBlockRows + 50000);
  r.add(5 * kBlockRows + 65535);                                           // block 5: last row
  return r;
}

TEST(BitmapBlocksTest, EveryContainerKindReadsAsRoaringSeesIt) {
  Roaring r = Mixed();
  r.runOptimize();  // block 2 becomes a run container
  for (uint32_t block : {0u, 1u, 2u, 3u, 5u, 9u}) {
    EXPECT_EQ(Read(r, block), Expected(r, block)) << "block " << block;
    EXPECT_EQ(BlockCardinality(r, block), Expected(r, block).size()) << "block " << block;
  }
  // Copy-on-write copies share containers behind a wrapper.
  r.setCopyOnWrite(true);
  Roaring shared(r);
  shared.setCopyOnWrite(true);
  Roaring copy(shared);
  for (uint32_t block : {0u, 1u, 2u, 5u}) EXPECT_EQ(Read(copy, block), Expected(r, block));
}

TEST(BitmapBlocksTest, AShortBlockDropsRowsPastItsWords) {
  Roaring r = Mixed();
  r.runOptimize();
  std::vector<uint32_t> want;
  for (uint32_t v : Expected(r, 2)) {
    if (v < 640) want.push_back(v);
  }
  EXPECT_EQ(Read(r, 2, 10), want);
}

TEST(BitmapBlocksTest, AppendedBlocksAreTheRoaringOfTheirBits) {
  Roaring source = Mixed();
  Roaring built;
  std::vector<uint64_t> bits(kBlockWords);
  for (uint32_t block = 0; block < 7; ++block) {
    std::fill(bits.begin(), bits.end(), 0);
    OrBlock(source, block, bits.data(), kBlockWords);
    AppendBlock(built, block, bits.data(), kBlockWords);
  }
  EXPECT_EQ(built, source);
  EXPECT_EQ(built.cardinality(), source.cardinality());
  built.add(7 * kBlockRows + 3);  // still an ordinary, writable Roaring
  EXPECT_TRUE(built.contains(7 * kBlockRows + 3));
}

TEST(ValueIndexTest, RowsFollowTheirValues) {
  ValueIndex index;
  index.Move(1, 0, 7);
  index.Move(2, 0, 7);
  index.Move(3, 0, 9);
  index.Move(1, 7, 9);
  index.Move(3, 9, 0);
  ASSERT_NE(index.Rows(7), nullptr);
  EXPECT_EQ(index.Rows(7)->cardinality(), 1u);
  EXPECT_TRUE(index.Rows(7)->contains(2));
  EXPECT_TRUE(index.Rows(9)->contains(1));
  EXPECT_FALSE(index.Rows(9)->contains(3));
  index.Move(2, 7, 0);
  EXPECT_EQ(index.Rows(7), nullptr) << "an emptied value is forgotten";
  EXPECT_EQ(index.values().size(), 1u);
}

}  // namespace
}  // namespace centric::segmentation
