#include "services/feedback/text/lines.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace centric::feedback::text {

absl::Status ForEachLine(absl::string_view text,
                         absl::FunctionRef<absl::Status(int, absl::string_view)> fn) {
  int number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++number;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (absl::Status status = fn(number, line); !status.ok()) return status;
  }
  return absl::OkStatus();
}

absl::Status LineError(int number, absl::string_view message) {
  return absl::InvalidArgumentError(absl::StrCat("line ", number, ": ", message));
}

}  // namespace centric::feedback::text
