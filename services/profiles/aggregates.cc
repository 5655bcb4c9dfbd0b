#include "services/profiles/aggregates.h"

#include <google/protobuf/util/time_util.h>

#include <algorithm>

namespace centric::profiles {
namespace {

namespace v1 = ::centric::profiles::v1;
using google::protobuf::Timestamp;

bool Before(const Timestamp& a, const Timestamp& b) {
  return a.seconds() < b.seconds() || (a.seconds() == b.seconds() && a.nanos() < b.nanos());
}

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

}  // namespace centric::profiles
