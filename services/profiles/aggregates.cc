#include "services/profiles/aggregates.h"

#include <google/protobuf/util/time_util.h>

#include <algorithm>

namespace centric::profiles {
namespace {

namespace v1 = ::centric::profiles::v1;
namespace ev = ::centric::events::v1;
using google::protobuf::Timestamp;

bool Before(const Timestamp& a, const Timestamp& b) {
  return a.seconds() < b.seconds() || (a.seconds() == b.seconds() && a.nanos() < b.nanos());
}

bool SameTime(const Timestamp& a, const Timestamp& b) {
  return a.seconds() == b.seconds() && a.nanos() == b.nanos();
}

// One answer (NPS or CSAT): the latest by time among the summaries that hold one.
struct LatestAnswer {
  bool present = false;
  int32_t score = 0;
  Timestamp time;
  void Offer(bool has_score, int32_t offered_score, const Timestamp& offered_time) {
    if (!has_score || (present && !Before(time, offered_time))) return;
    present = true;
    score = offered_score;
    time = offered_time;
  }
};

}  // namespace

void ApplyInteraction(const v1::Interaction& interaction, v1::Aggregates& aggregates) {
  const Timestamp& t = interaction.occur_time();
  if (!aggregates.has_first_seen_time() || Before(t, aggregates.first_seen_time())) {
    *aggregates.mutable_first_seen_time() = t;
  }
  if (!aggregates.has_last_seen_time() || Before(aggregates.last_seen_time(), t)) {
    *aggregates.mutable_last_seen_time() = t;
  }
  aggregates.set_interaction_count(aggregates.interaction_count() + 1);

  auto* counts = aggregates.mutable_interaction_counts();
  auto it = std::find_if(counts->begin(), counts->end(), [&](const v1::ChannelCount& c) {
    return c.channel() == interaction.channel();
  });
  if (it == counts->end()) {
    v1::ChannelCount* added = counts->Add();
    added->set_channel(interaction.channel());
    added->set_count(1);
    std::sort(counts->begin(), counts->end(),
              [](const v1::ChannelCount& a, const v1::ChannelCount& b) {
                return a.channel() < b.channel();
              });
  } else {
    it->set_count(it->count() + 1);
  }

  const std::string& type = interaction.type();
  if (type == kPurchase) {
    aggregates.set_order_count(aggregates.order_count() + 1);
    aggregates.set_revenue_total(aggregates.revenue_total() + interaction.monetary_value());
    if (!aggregates.has_last_purchase_time() || Before(aggregates.last_purchase_time(), t)) {
      *aggregates.mutable_last_purchase_time() = t;
    }
  } else if (type == kRefund) {
    aggregates.set_revenue_total(aggregates.revenue_total() - interaction.monetary_value());
  } else if (type == kTicketOpened) {
    aggregates.set_open_support_tickets(aggregates.open_support_tickets() + 1);
  } else if (type == kTicketClosed) {
    aggregates.set_open_support_tickets(std::max<int64_t>(0, aggregates.open_support_tickets() - 1));
  }
}

v1::Aggregates ComputeAggregates(std::vector<v1::Interaction> interactions) {
  std::sort(interactions.begin(), interactions.end(),
            [](const v1::Interaction& a, const v1::Interaction& b) {
              if (Before(a.occur_time(), b.occur_time())) return true;
              if (Before(b.occur_time(), a.occur_time())) return false;
              return a.event_id() < b.event_id();
            });
  v1::Aggregates aggregates;
  for (const v1::Interaction& interaction : interactions) ApplyInteraction(interaction, aggregates);
  return aggregates;
}

bool SetFeedback(const std::vector<ev::FeedbackSummary>& summaries, v1::Aggregates& aggregates) {
  LatestAnswer nps;
  LatestAnswer csat;
  int64_t open_follow_ups = 0;
  for (const ev::FeedbackSummary& summary : summaries) {
    nps.Offer(summary.has_last_nps_score(), summary.last_nps_score(), summary.last_nps_time());
    csat.Offer(summary.has_last_csat_score(), summary.last_csat_score(), summary.last_csat_time());
    open_follow_ups += summary.open_follow_ups();
  }
  const bool changed =
      nps.present != aggregates.has_last_nps_score() ||
      (nps.present && (nps.score != aggregates.last_nps_score() ||
                       !SameTime(nps.time, aggregates.last_nps_time()))) ||
      csat.present != aggregates.has_last_csat_score() ||
      (csat.present && (csat.score != aggregates.last_csat_score() ||
                        !SameTime(csat.time, aggregates.last_csat_time()))) ||
      open_follow_ups != aggregates.open_follow_ups();
  if (nps.present) {
    aggregates.set_last_nps_score(nps.score);
    *aggregates.mutable_last_nps_time() = nps.time;
  } else {
    aggregates.clear_last_nps_score();
    aggregates.clear_last_nps_time();
  }
  if (csat.present) {
    aggregates.set_last_csat_score(csat.score);
    *aggregates.mutable_last_csat_time() = csat.time;
  } else {
    aggregates.clear_last_csat_score();
    aggregates.clear_last_csat_time();
  }
  aggregates.set_open_follow_ups(open_follow_ups);
  return changed;
}

}  // namespace centric::profiles
