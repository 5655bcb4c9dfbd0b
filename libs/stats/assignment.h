// Deterministic, sticky assignment of profiles to experiment variants. The same
// (experiment salt, profile id) gets the same bucket on every machine, in every process
// and in every release, because the hash is SHA-256, not absl::Hash or std::hash (which
// are seeded per process or unspecified). Other languages reproduce a bucket with
//   int.from_bytes(sha256(salt + b"\0" + profile_id)[:8], "big") % 10000
// Changing an experiment's weights or variant list moves profiles between variants; keep
// them fixed while the experiment runs.
#ifndef CENTRIC_LIBS_STATS_ASSIGNMENT_H_
#define CENTRIC_LIBS_STATS_ASSIGNMENT_H_

#include <array>
#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace centric::stats {

// Buckets are [0, kBucketCount): a variant's share is resolved to 1/10000.
inline constexpr int kBucketCount = 10000;

// Longest salt and profile id accepted, in bytes.
inline constexpr size_t kMaxAssignmentKeyBytes = 1024;

// SHA-256 (FIPS 180-4) of `data`.
std::array<uint8_t, 32> Sha256(absl::string_view data);

// The first 8 bytes of SHA-256(experiment_salt, 0x00, profile_id) as a big-endian
// unsigned integer, modulo kBucketCount. The salt, unique per experiment, decorrelates
// experiments.
// Errors (INVALID_ARGUMENT): salt or profile id empty or longer than
// kMaxAssignmentKeyBytes; salt containing a NUL byte (it would make the input ambiguous).
absl::StatusOr<int> AssignmentBucket(absl::string_view experiment_salt,
                                     absl::string_view profile_id);

// The index of the variant that owns `bucket` when the buckets are split in order by
// cumulative `weights`: variant i owns the buckets b with
//   (w_0 + ... + w_{i-1}) · kBucketCount <= b · Σw < (w_0 + ... + w_i) · kBucketCount.
// Errors (INVALID_ARGUMENT): bucket outside [0, kBucketCount); weights invalid
// (ValidateWeights).
absl::StatusOr<int> VariantForBucket(int bucket, absl::Span<const int64_t> weights);

// VariantForBucket(AssignmentBucket(experiment_salt, profile_id), weights).
absl::StatusOr<int> AssignVariant(absl::string_view experiment_salt, absl::string_view profile_id,
                                  absl::Span<const int64_t> weights);

}  // namespace centric::stats

#endif  // CENTRIC_LIBS_STATS_ASSIGNMENT_H_
