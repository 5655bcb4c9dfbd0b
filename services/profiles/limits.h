// Documented limits of the Profiles API (also stated in the proto comments).
#ifndef CENTRIC_SERVICES_PROFILES_LIMITS_H_
#define CENTRIC_SERVICES_PROFILES_LIMITS_H_

#include <cstddef>

namespace centric::profiles {

inline constexpr size_t kMaxIdentities = 100;
inline constexpr size_t kMaxIdentityValueBytes = 256;
inline constexpr size_t kMaxEmailBytes = 254;
inline constexpr size_t kMaxSourceBytes = 64;
inline constexpr size_t kMaxTraits = 200;
inline constexpr size_t kMaxTraitKeyBytes = 128;
inline constexpr size_t kMaxTraitValueJsonBytes = 4 * 1024;
inline constexpr size_t kMaxTraitsJsonBytes = 64 * 1024;
inline constexpr size_t kMaxDisplayNameBytes = 256;
inline constexpr size_t kMaxConsentSourceBytes = 128;
inline constexpr size_t kMaxPersonaBytes = 256;
inline constexpr size_t kMaxAccountMemberships = 50;
inline constexpr size_t kMaxProfileIdBytes = 63;
inline constexpr size_t kMaxRequestIdBytes = 128;
inline constexpr size_t kMaxBatchGet = 1000;
inline constexpr size_t kMaxInteractionsPerCall = 1000;
inline constexpr size_t kMaxEventIdBytes = 128;
inline constexpr size_t kMaxInteractionTypeBytes = 64;
inline constexpr size_t kMaxPropertyKeys = 50;
inline constexpr size_t kMaxPropertiesJsonBytes = 16 * 1024;
inline constexpr int kDefaultPageSize = 100;
inline constexpr int kMaxPageSize = 1000;
inline constexpr size_t kMaxMerged = 10;
inline constexpr size_t kMaxFilterBytes = 2048;
inline constexpr size_t kMaxFilterTerms = 10;
inline constexpr size_t kMaxEraseReasonBytes = 256;

}  // namespace centric::profiles

#endif  // CENTRIC_SERVICES_PROFILES_LIMITS_H_
