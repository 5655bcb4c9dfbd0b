#include "services/profiles/merge.h"

#include <algorithm>
#include <set>

#include "services/profiles/profile_rules.h"

namespace centric::profiles {

v1::Profile MergeProfileData(const v1::Profile& survivor, const std::vector<v1::Profile>& merged) {
  v1::Profile out = survivor;
  std::set<std::string> identity_keys;
  for (const auto& identity : out.identities()) identity_keys.insert(IdentityKey(identity));
  std::set<int> channels(out.preferred_channels().begin(), out.preferred_channels().end());

  for (const v1::Profile& other : merged) {
    for (const auto& identity : other.identities()) {
      if (identity_keys.insert(IdentityKey(identity)).second) *out.add_identities() = identity;
    }
    for (const auto& [key, value] : other.traits()) out.mutable_traits()->insert({key, value});
    for (const auto& consent : other.consents()) {
      auto* consents = out.mutable_consents();
      auto it = std::find_if(consents->begin(), consents->end(), [&](const v1::Consent& c) {
        return c.purpose() == consent.purpose();
      });
      if (it == consents->end()) {
        *consents->Add() = consent;
      } else {
        const auto& mine = it->update_time();
        const auto& theirs = consent.update_time();
        if (theirs.seconds() > mine.seconds() ||
            (theirs.seconds() == mine.seconds() && theirs.nanos() > mine.nanos())) {
          *it = consent;
        }
      }
    }
    for (int channel : other.preferred_channels()) {
      if (channels.insert(channel).second) {
        out.add_preferred_channels(static_cast<v1::Channel>(channel));
      }
    }
    for (const auto& membership : other.account_memberships()) {
      auto* memberships = out.mutable_account_memberships();
      auto it = std::find_if(memberships->begin(), memberships->end(),
                             [&](const v1::AccountMembership& m) {
                               return m.account() == membership.account();
                             });
      if (it == memberships->end()) {
        *memberships->Add() = membership;
        continue;
      }
      for (int role : membership.roles()) {
        if (std::find(it->roles().begin(), it->roles().end(), role) == it->roles().end()) {
          it->add_roles(static_cast<v1::BuyingRole>(role));
        }
      }
    }
    if (out.display_name().empty()) out.set_display_name(other.display_name());
    if (out.persona().empty()) out.set_persona(other.persona());
    out.add_merged_profiles(other.name());
    for (const auto& name : other.merged_profiles()) out.add_merged_profiles(name);
  }
  return out;
}

}  // namespace centric::profiles
