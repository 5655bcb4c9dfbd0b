// The ListProfiles filter language: equality terms joined by AND.
//   kind = PERSON AND traits.country = "DE" AND traits.vip = true
#ifndef CENTRIC_SERVICES_PROFILES_LIST_FILTER_H_
#define CENTRIC_SERVICES_PROFILES_LIST_FILTER_H_

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "centric/profiles/v1/profiles.pb.h"

namespace centric::profiles {

struct ListFilter {
  std::optional<centric::profiles::v1::ProfileKind> kind;
  // (trait key, canonical JSON of the value), as stored in the trait index.
  std::vector<std::pair<std::string, std::string>> traits;
};

// Errors: INVALID_ARGUMENT on field "filter" with the position and what was expected.
absl::StatusOr<ListFilter> ParseListFilter(absl::string_view filter);

}  // namespace centric::profiles

#endif  // CENTRIC_SERVICES_PROFILES_LIST_FILTER_H_
