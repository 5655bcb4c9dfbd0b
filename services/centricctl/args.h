// Command-line parsing for centricctl: positional words and --flags in any order.
#ifndef CENTRIC_SERVICES_CENTRICCTL_ARGS_H_
#define CENTRIC_SERVICES_CENTRICCTL_ARGS_H_

#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace centric::ctl {

struct Args {
  // Words that are not flags, in order (e.g. "profiles", "get", "ada").
  std::vector<std::string> positional;
  // Flag name (without "--") to its values in order; repeatable flags keep them all.
  std::multimap<std::string, std::string> flags;

  bool Has(const std::string& name) const { return flags.count(name) > 0; }
  // The last value of `name`, or `fallback` when absent.
  std::string Get(const std::string& name, const std::string& fallback = "") const;
  std::vector<std::string> GetAll(const std::string& name) const;
};

// Parses argv[1..]. `--name=value` and `--name value` both work; names in `booleans`
// take no value. "--" ends flags. Errors: INVALID_ARGUMENT (a flag without its value).
absl::StatusOr<Args> ParseArgs(int argc, const char* const argv[],
                               const std::set<std::string>& booleans);

}  // namespace centric::ctl

#endif  // CENTRIC_SERVICES_CENTRICCTL_ARGS_H_
