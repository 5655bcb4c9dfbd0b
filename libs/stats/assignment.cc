#include "libs/stats/assignment.h"

#include <openssl/sha.h>

#include <cstddef>
#include <string>

#include "absl/strings/str_cat.h"
#include "libs/stats/validate.h"

namespace centric::stats {
namespace {

absl::Status ValidateKey(absl::string_view name, absl::string_view key) {
  if (key.empty() || key.size() > kMaxAssignmentKeyBytes) {
    return absl::InvalidArgumentError(absl::StrCat(name, " must be 1 to ", kMaxAssignmentKeyBytes,
                                                   " bytes long, got ", key.size()));
  }
  return absl::OkStatus();
}

}  // namespace

std::array<uint8_t, 32> Sha256(absl::string_view data) {
  static_assert(SHA256_DIGEST_LENGTH == 32);
  std::array<uint8_t, 32> digest;
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest.data());
  return digest;
}

absl::StatusOr<int> AssignmentBucket(absl::string_view experiment_salt,
                                     absl::string_view profile_id) {
  if (absl::Status s = ValidateKey("experiment_salt", experiment_salt); !s.ok()) return s;
  if (absl::Status s = ValidateKey("profile_id", profile_id); !s.ok()) return s;
  if (experiment_salt.find('\0') != absl::string_view::npos) {
    return absl::InvalidArgumentError("experiment_salt must not contain a NUL byte");
  }
  std::string input = absl::StrCat(experiment_salt, absl::string_view("\0", 1), profile_id);
  const std::array<uint8_t, 32> digest = Sha256(input);
  uint64_t prefix = 0;
  for (size_t i = 0; i < 8; ++i) prefix = (prefix << 8) | digest[i];
  return static_cast<int>(prefix % kBucketCount);
}

absl::StatusOr<int> VariantForBucket(int bucket, absl::Span<const int64_t> weights) {
  if (bucket < 0 || bucket >= kBucketCount) {
    return absl::InvalidArgumentError(
        absl::StrCat("bucket must be in [0, ", kBucketCount, "), got ", bucket));
  }
  if (absl::Status s = ValidateWeights("weights", weights); !s.ok()) return s;
  int64_t weight_total = 0;
  for (int64_t w : weights) weight_total += w;
  // Integer arithmetic: at most kMaxVariants · kMaxWeight · kBucketCount = 10^12.
  const int64_t position = int64_t{bucket} * weight_total;
  int64_t cumulative = 0;
  for (size_t i = 0; i < weights.size(); ++i) {
    cumulative += weights[i];
    if (position < cumulative * kBucketCount) return static_cast<int>(i);
  }
  return static_cast<int>(weights.size()) - 1;  // unreachable: bucket < kBucketCount
}

absl::StatusOr<int> AssignVariant(absl::string_view experiment_salt, absl::string_view profile_id,
                                  absl::Span<const int64_t> weights) {
  absl::StatusOr<int> bucket = AssignmentBucket(experiment_salt, profile_id);
  if (!bucket.ok()) return bucket.status();
  return VariantForBucket(*bucket, weights);
}

}  // namespace centric::stats
