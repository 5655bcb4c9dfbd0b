// Profile aggregates: figures folded from interactions, and the feedback figures taken
// from the Feedback service's events. Pure functions.
#ifndef CENTRIC_SERVICES_PROFILES_AGGREGATES_H_
#define CENTRIC_SERVICES_PROFILES_AGGREGATES_H_

#include <vector>

#include "centric/events/v1/events.pb.h"
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

// Sets the feedback figures of `aggregates` (last_nps_score/time, last_csat_score/time,
// open_follow_ups) from the Feedback service's latest summaries of a profile and of every
// profile merged into it (the Feedback service counts per profile name): the NPS and the
// CSAT answer with the latest time across them (on equal times the earlier summary in
// `summaries` wins), absent when none has one; open_follow_ups is the sum. Returns
// whether any figure changed.
bool SetFeedback(const std::vector<centric::events::v1::FeedbackSummary>& summaries,
                 centric::profiles::v1::Aggregates& aggregates);

}  // namespace centric::profiles

#endif  // CENTRIC_SERVICES_PROFILES_AGGREGATES_H_
