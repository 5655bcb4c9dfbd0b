#include "libs/stats/assignment.h"

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "libs/stats/srm.h"

namespace centric::stats {
namespace {

std::string Hex(const std::array<uint8_t, 32>& digest) {
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(digest.data()), digest.size()));
}

// FIPS 180-2, Appendix B (one-block and two-block messages) and the empty message.
TEST(Sha256Test, PublishedTestVectors) {
  EXPECT_EQ(Hex(Sha256("abc")), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Hex(Sha256("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(Hex(Sha256("")), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

// Computed once with Python (hashlib):
//   int.from_bytes(sha256(salt + b"\0" + id)[:8], "big") % 10000
// These must never change: a change reassigns live experiments.
TEST(AssignmentBucketTest, FixedVectors) {
  EXPECT_EQ(*AssignmentBucket("checkout-button-2024", "profile-1"), 200);   // d409a31e51029bf8
  EXPECT_EQ(*AssignmentBucket("checkout-button-2024", "profile-2"), 5672);  // d9a0823caa020878
  EXPECT_EQ(*AssignmentBucket("onboarding-email", "01HZX3K9V6B7Q2"), 5014);
  EXPECT_EQ(*AssignmentBucket("x", "y"), 1178);
}

TEST(AssignmentBucketTest, Errors) {
  EXPECT_EQ(AssignmentBucket("", "p").status().message(),
            "experiment_salt must be 1 to 1024 bytes long, got 0");
  EXPECT_EQ(AssignmentBucket("s", "").status().message(),
            "profile_id must be 1 to 1024 bytes long, got 0");
  EXPECT_EQ(AssignmentBucket("s", std::string(1025, 'p')).status().message(),
            "profile_id must be 1 to 1024 bytes long, got 1025");
  EXPECT_EQ(AssignmentBucket(std::string("a\0b", 3), "p").status().message(),
            "experiment_salt must not contain a NUL byte");
}

TEST(VariantForBucketTest, CumulativeWeights) {
  // 1:1 -> buckets [0, 5000) and [5000, 10000).
  EXPECT_EQ(*VariantForBucket(0, {1, 1}), 0);
  EXPECT_EQ(*VariantForBucket(4999, {1, 1}), 0);
  EXPECT_EQ(*VariantForBucket(5000, {1, 1}), 1);
  EXPECT_EQ(*VariantForBucket(9999, {1, 1}), 1);
  // 1:1:1 -> variant 0 owns b·3 < 10000 (0..3333), variant 1 b·3 < 20000 (3334..6666).
  EXPECT_EQ(*VariantForBucket(3333, {1, 1, 1}), 0);
  EXPECT_EQ(*VariantForBucket(3334, {1, 1, 1}), 1);
  EXPECT_EQ(*VariantForBucket(6666, {1, 1, 1}), 1);
  EXPECT_EQ(*VariantForBucket(6667, {1, 1, 1}), 2);
  // 90:10 -> 0..8999 control, 9000..9999 variant.
  EXPECT_EQ(*VariantForBucket(8999, {90, 10}), 0);
  EXPECT_EQ(*VariantForBucket(9000, {90, 10}), 1);
}

TEST(VariantForBucketTest, Errors) {
  EXPECT_EQ(VariantForBucket(10000, {1, 1}).status().message(),
            "bucket must be in [0, 10000), got 10000");
  EXPECT_EQ(VariantForBucket(-1, {1, 1}).status().message(),
            "bucket must be in [0, 10000), got -1");
  EXPECT_EQ(VariantForBucket(5, {1, 0}).status().message(), "weights[1] must be positive, got 0");
  EXPECT_EQ(VariantForBucket(5, {3}).status().message(),
            "weights must hold 2 to 100 variants, got 1");
}

TEST(AssignVariantTest, StickyAndMatchesBucket) {
  const std::vector<int64_t> weights = {50, 50};
  // Bucket 200 < 5000 -> control; bucket 5672 -> variant.
  EXPECT_EQ(*AssignVariant("checkout-button-2024", "profile-1", weights), 0);
  EXPECT_EQ(*AssignVariant("checkout-button-2024", "profile-2", weights), 1);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(*AssignVariant("checkout-button-2024", "profile-2", weights), 1);
  }
}

// 100,000 ids split 50:30:20. The hash is fixed, so the counts are too (Python gives
// 49788 / 30164 / 20048); the test also holds each within 1,000 (1 % of all ids) of its
// weights' share (binomial SD for the 50 % share is 158) and runs the SRM check on them.
TEST(AssignVariantTest, SplitFollowsWeights) {
  const std::vector<int64_t> weights = {50, 30, 20};
  std::vector<int64_t> counts(weights.size(), 0);
  for (int i = 0; i < 100000; ++i) {
    absl::StatusOr<int> v = AssignVariant("split-test", absl::StrCat("profile-", i), weights);
    ASSERT_TRUE(v.ok()) << v.status();
    ++counts[*v];
  }
  EXPECT_EQ(counts, (std::vector<int64_t>{49788, 30164, 20048}));
  EXPECT_NEAR(counts[0], 50000, 1000);
  EXPECT_NEAR(counts[1], 30000, 1000);
  EXPECT_NEAR(counts[2], 20000, 1000);
  absl::StatusOr<SampleRatioCheck> srm = CheckSampleRatio(counts, weights);
  ASSERT_TRUE(srm.ok()) << srm.status();
  EXPECT_FALSE(srm->mismatch) << "p = " << srm->p_value;
}

}  // namespace
}  // namespace centric::stats
