#include "libs/runtime/clock.h"

#include <random>

#include "absl/numeric/int128.h"
#include "absl/strings/str_cat.h"

namespace centric::runtime {

std::string UlidGenerator::NewId() {
  static constexpr char kAlphabet[] = "0123456789abcdefghjkmnpqrstvwxyz";
  thread_local std::mt19937_64 rng{std::random_device{}()};
  uint64_t millis = static_cast<uint64_t>(absl::ToUnixMillis(clock_.Now()));
  uint64_t random_high = rng() & 0xFFFF;  // 16 bits
  uint64_t random_low = rng();            // 64 bits
  // 128 bits = 48 (time) + 80 (random), written as 26 base32 digits (130 bits, top 2 zero).
  absl::uint128 value = (absl::uint128(millis) << 80) | (absl::uint128(random_high) << 64) |
                        absl::uint128(random_low);
  std::string id(26, '0');
  for (int i = 25; i >= 0; --i) {
    id[i] = kAlphabet[absl::Uint128Low64(value & 31)];
    value >>= 5;
  }
  return id;
}

std::string SequentialIdGenerator::NewId() {
  absl::MutexLock lock(&mu_);
  return absl::StrCat(prefix_, next_++);
}

}  // namespace centric::runtime
