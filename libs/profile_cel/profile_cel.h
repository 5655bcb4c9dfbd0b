// The customer profile as CEL rules see it, shared by every service that evaluates rules
// over profiles (segmentation's segment and persona rules, feedback's follow-up
// policies), so a rule means the same wherever it is written:
//
//   profile.kind == PERSON && profile.traits.country == "DE"
//   && profile.consents.marketing_email == GRANTED
//   && profile.aggregates.revenue_total > 500.0 && "email" in profile.preferred_channels
//
// Fields: kind (int, PERSON/ACCOUNT), consents.<purpose> (int status, UNSPECIFIED when
// absent), preferred_channels (list of channel names), persona (string), create_time,
// aggregates.{first_seen_time, last_seen_time, last_purchase_time, interaction_count,
// order_count, revenue_total, open_support_tickets, interaction_counts.<channel>,
// last_nps_score, last_nps_time, last_csat_score, last_csat_time, open_follow_ups},
// traits (map of string to the JSON value). Unset times read as the Unix epoch; a
// profile without an NPS (CSAT) answer reads last_nps_score (last_csat_score) as -1, so
// `has(profile.aggregates.last_nps_score)` is true exactly when it answered one and a
// detractor rule needs a lower bound: `last_nps_score >= 0 && last_nps_score <= 6`.
#ifndef CENTRIC_LIBS_PROFILE_CEL_PROFILE_CEL_H_
#define CENTRIC_LIBS_PROFILE_CEL_PROFILE_CEL_H_

#include <string>
#include <vector>

#include <google/protobuf/struct.pb.h>

#include "centric/profiles/v1/profiles.pb.h"
#include "libs/cel/checker.h"
#include "libs/cel/value.h"

namespace centric::profile_cel {

// Lower-case channel names as rules see them ("web", "email", ..., "social"), Channel
// enum order from 1.
const std::vector<std::string>& ChannelNames();
// The name of one channel as ChannelNames spells it (and events carry it); "" for
// CHANNEL_UNSPECIFIED or a number outside the enum.
std::string ChannelName(profiles::v1::Channel channel);
// The names of the five consent purposes ("marketing_email", ...), ConsentPurpose order
// from 1.
const std::vector<std::string>& ConsentPurposeNames();

// The declared `profile` object; without `persona` for rules that assign personas.
const cel::ObjectType& ProfileType(bool with_persona = true);

// Adds the constants rules compare with: UNSPECIFIED, GRANTED, DENIED, REVOKED (consent
// statuses) and PERSON, ACCOUNT (profile kinds).
void AddProfileConstants(cel::Declarations& declarations);

// A JSON value (a trait) as CEL: numbers are doubles, objects are maps with their keys
// in sorted order.
cel::Value JsonToValue(const google::protobuf::Value& value);

// `profile` as a CEL map with exactly the fields ProfileType declares.
cel::Value ProfileValue(const profiles::v1::Profile& profile);

}  // namespace centric::profile_cel

#endif  // CENTRIC_LIBS_PROFILE_CEL_PROFILE_CEL_H_
