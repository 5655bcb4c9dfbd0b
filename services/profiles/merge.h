// Identity resolution: the pure part of MergeProfiles.
#ifndef CENTRIC_SERVICES_PROFILES_MERGE_H_
#define CENTRIC_SERVICES_PROFILES_MERGE_H_

#include <vector>

#include "centric/profiles/v1/profiles.pb.h"

namespace centric::profiles {

// Folds `merged` into `survivor` (aggregates are not touched; the caller recomputes them
// from the combined timeline):
//   identities, account memberships (roles united), preferred channels: union, the
//     survivor's entries first;
//   consents: per purpose, the answer with the newest update_time wins (the survivor's on
//     a tie);
//   traits: the survivor's value wins; keys it lacks come from the merged profiles, the
//     most recently updated first;
//   display_name, persona: the survivor's unless empty, then the first non-empty in the
//     same order;
//   merged_profiles: the survivor's, then each merged name and the names merged into it.
// `merged` must be ordered most recently updated first.
centric::profiles::v1::Profile MergeProfileData(
    const centric::profiles::v1::Profile& survivor,
    const std::vector<centric::profiles::v1::Profile>& merged);

}  // namespace centric::profiles

#endif  // CENTRIC_SERVICES_PROFILES_MERGE_H_
