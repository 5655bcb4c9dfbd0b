#include "services/feedback/derive.h"

#include "absl/strings/match.h"
#include "absl/strings/string_view.h"

namespace centric::feedback {
namespace {

// "SURVEY_KIND_NPS" -> "NPS".
std::string WithoutPrefix(const std::string& name, absl::string_view prefix) {
  absl::string_view n = name;
  if (absl::StartsWith(n, prefix)) n.remove_prefix(prefix.size());
  return std::string(n);
}

}  // namespace

Scale ScaleOf(v1::SurveyKind kind) {
  switch (kind) {
    case v1::SURVEY_KIND_NPS:
      return {0, 10, true};
    case v1::SURVEY_KIND_CSAT:
      return {1, 5, true};
    case v1::SURVEY_KIND_CES:
      return {1, 7, true};
    default:
      return {0, 0, false};
  }
}

v1::Category CategoryOf(v1::SurveyKind kind, int score) {
  Scale scale = ScaleOf(kind);
  if (!scale.scored || score < scale.min || score > scale.max) return v1::CATEGORY_UNSPECIFIED;
  switch (kind) {
    case v1::SURVEY_KIND_NPS:
      return score >= 9 ? v1::CATEGORY_PROMOTER
             : score >= 7 ? v1::CATEGORY_PASSIVE
                          : v1::CATEGORY_DETRACTOR;
    case v1::SURVEY_KIND_CSAT:
      return score >= 4 ? v1::CATEGORY_SATISFIED
             : score == 3 ? v1::CATEGORY_NEUTRAL
                          : v1::CATEGORY_DISSATISFIED;
    case v1::SURVEY_KIND_CES:
      return score >= 5 ? v1::CATEGORY_EASY
             : score == 4 ? v1::CATEGORY_MODERATE
                          : v1::CATEGORY_DIFFICULT;
    default:
      return v1::CATEGORY_UNSPECIFIED;
  }
}

bool IsUnhappy(v1::Category category) {
  return category == v1::CATEGORY_DETRACTOR || category == v1::CATEGORY_DISSATISFIED ||
         category == v1::CATEGORY_DIFFICULT;
}

std::vector<v1::Sla> NewlyMissedSlas(const SlaClock& clock, absl::Time now) {
  std::vector<v1::Sla> missed;
  if (clock.state == v1::FOLLOW_UP_STATE_OPEN && !clock.first_contact_breached &&
      clock.first_contact_due <= now) {
    missed.push_back(v1::SLA_FIRST_CONTACT);
  }
  bool unresolved =
      clock.state == v1::FOLLOW_UP_STATE_OPEN || clock.state == v1::FOLLOW_UP_STATE_CONTACTED;
  if (unresolved && !clock.resolution_breached && clock.resolution_due.has_value() &&
      *clock.resolution_due <= now) {
    missed.push_back(v1::SLA_RESOLUTION);
  }
  return missed;
}

std::string KindName(v1::SurveyKind kind) {
  return WithoutPrefix(v1::SurveyKind_Name(kind), "SURVEY_KIND_");
}
std::string CategoryName(v1::Category category) {
  if (category == v1::CATEGORY_UNSPECIFIED) return "";
  return WithoutPrefix(v1::Category_Name(category), "CATEGORY_");
}
std::string StateName(v1::FollowUpState state) {
  return WithoutPrefix(v1::FollowUpState_Name(state), "FOLLOW_UP_STATE_");
}
std::string SlaName(v1::Sla sla) { return WithoutPrefix(v1::Sla_Name(sla), "SLA_"); }

}  // namespace centric::feedback
