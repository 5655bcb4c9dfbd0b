// Profile aggregates: figures folded from interactions. Pure functions.
#ifndef CENTRIC_SERVICES_PROFILES_AGGREGATES_H_
#define CENTRIC_SERVICES_PROFILES_AGGREGATES_H_

#include <vector>

#include "centric/profiles/v1/profiles.pb.h"

namespace centric::profiles {

// Interaction types with a meaning for aggregates.
inline constexpr char kPurchase[] = "purchase";
inline constexpr char kRefund[] = "refund";
inline constexpr char kTicketOpened[] = "support_ticket_opened";
inline constexpr char kTicketClosed[] = "support_ticket_closed";

// Folds one new interaction into `aggregates`. Order-independent for every figure
// except open_support_tickets, which is clamped at 0 as tickets close.
void ApplyInteraction(const centric::profiles::v1::Interaction& interaction,
                      centric::profiles::v1::Aggregates& aggregates);

// Aggregates of a whole timeline (used after a merge), folded oldest first.
centric::profiles::v1::Aggregates ComputeAggregates(
    std::vector<centric::profiles::v1::Interaction> interactions);

}  // namespace centric::profiles

#endif  // CENTRIC_SERVICES_PROFILES_AGGREGATES_H_
