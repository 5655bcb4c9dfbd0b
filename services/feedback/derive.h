// What the Feedback service derives from a score and names on the wire: the scale of each
// survey kind, the category a score falls in, and the names events and rules use.
#ifndef CENTRIC_SERVICES_FEEDBACK_DERIVE_H_
#define CENTRIC_SERVICES_FEEDBACK_DERIVE_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"

#include "centric/feedback/v1/feedback.pb.h"

namespace centric::feedback {

struct Scale {
  int min = 0;
  int max = 0;
  // OPEN_TEXT has no score.
  bool scored = false;
};

// NPS 0-10, CSAT 1-5, CES 1-7, OPEN_TEXT unscored.
Scale ScaleOf(v1::SurveyKind kind);

// The category of `score` for `kind` (UNSPECIFIED for OPEN_TEXT or a score off the scale).
v1::Category CategoryOf(v1::SurveyKind kind, int score);

// Whether the category is an unhappy answer: DETRACTOR, DISSATISFIED or DIFFICULT.
bool IsUnhappy(v1::Category category);

// Where a follow-up stands against its service levels.
struct SlaClock {
  v1::FollowUpState state = v1::FOLLOW_UP_STATE_OPEN;
  absl::Time first_contact_due;
  // Unset when the policy has no resolution SLA.
  std::optional<absl::Time> resolution_due;
  // Breaches already reported.
  bool first_contact_breached = false;
  bool resolution_breached = false;
};

// The service levels missed at `now` and not reported yet: first contact while still
// OPEN past its due time; resolution while OPEN or CONTACTED past its due time.
std::vector<v1::Sla> NewlyMissedSlas(const SlaClock& clock, absl::Time now);

// Names without the enum prefix, as events carry them: "NPS", "DETRACTOR", "OPEN", ...
std::string KindName(v1::SurveyKind kind);
std::string CategoryName(v1::Category category);
std::string StateName(v1::FollowUpState state);
std::string SlaName(v1::Sla sla);

}  // namespace centric::feedback

#endif  // CENTRIC_SERVICES_FEEDBACK_DERIVE_H_
