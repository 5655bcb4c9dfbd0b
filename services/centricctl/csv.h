// The CSV subset `profiles import` reads: comma-separated, fields optionally in double
// quotes with "" for a quote; one record per line.
#ifndef CENTRIC_SERVICES_CENTRICCTL_CSV_H_
#define CENTRIC_SERVICES_CENTRICCTL_CSV_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace centric::ctl {

// Splits one line (a trailing '\r' is dropped) into its fields.
std::vector<std::string> ParseCsvLine(absl::string_view line);

}  // namespace centric::ctl

#endif  // CENTRIC_SERVICES_CENTRICCTL_CSV_H_
