#include "libs/runtime/resource.h"

#include <algorithm>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "libs/runtime/errors.h"

namespace centric::runtime {

std::string EtagOf(int64_t version) { return absl::StrCat("\"v", version, "\""); }

int64_t VersionOfEtag(absl::string_view etag) {
  int64_t version = 0;
  if (!absl::ConsumePrefix(&etag, "\"v") || !absl::ConsumeSuffix(&etag, "\"") ||
      !absl::SimpleAtoi(etag, &version) || version < 1) {
    return -1;
  }
  return version;
}

absl::StatusOr<int> PageSize(int32_t requested, int default_size, int max_size) {
  if (requested < 0) return InvalidField("page_size", "must not be negative");
  if (requested == 0) return default_size;
  return std::min<int>(requested, max_size);
}

}  // namespace centric::runtime
