// Line-oriented parsing shared by the lexicon, sample and taxonomy formats.
#ifndef CENTRIC_SERVICES_FEEDBACK_TEXT_LINES_H_
#define CENTRIC_SERVICES_FEEDBACK_TEXT_LINES_H_

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace centric::feedback::text {

// Calls `fn` with the 1-based number and the text of every line of `text` (split at
// '\n', a trailing '\r' removed), stopping at the first error, which it returns.
absl::Status ForEachLine(absl::string_view text,
                         absl::FunctionRef<absl::Status(int, absl::string_view)> fn);

// INVALID_ARGUMENT "line <number>: <message>".
absl::Status LineError(int number, absl::string_view message);

}  // namespace centric::feedback::text

#endif  // CENTRIC_SERVICES_FEEDBACK_TEXT_LINES_H_
