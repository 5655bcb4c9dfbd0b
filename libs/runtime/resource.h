// API conventions every service shares for its resources: etags and page sizes.
#ifndef CENTRIC_LIBS_RUNTIME_RESOURCE_H_
#define CENTRIC_LIBS_RUNTIME_RESOURCE_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace centric::runtime {

// The etag of a resource at `version`: "\"v<version>\"".
std::string EtagOf(int64_t version);
// The version an etag names, or -1 when it is not an etag of ours.
int64_t VersionOfEtag(absl::string_view etag);

// A request's page_size: 0 means `default_size`, larger than `max_size` is capped.
// Errors: INVALID_ARGUMENT on page_size when negative.
absl::StatusOr<int> PageSize(int32_t requested, int default_size, int max_size);

}  // namespace centric::runtime

#endif  // CENTRIC_LIBS_RUNTIME_RESOURCE_H_
