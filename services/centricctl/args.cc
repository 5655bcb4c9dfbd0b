#include "services/centricctl/args.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace centric::ctl {

std::string Args::Get(const std::string& name, const std::string& fallback) const {
  auto [begin, end] = flags.equal_range(name);
  if (begin == end) return fallback;
  return std::prev(end)->second;
}

std::vector<std::string> Args::GetAll(const std::string& name) const {
  std::vector<std::string> values;
  auto [begin, end] = flags.equal_range(name);
  for (auto it = begin; it != end; ++it) values.push_back(it->second);
  return values;
}

absl::StatusOr<Args> ParseArgs(int argc, const char* const argv[],
                               const std::set<std::string>& booleans) {
  Args args;
  bool flags_done = false;
  for (int i = 1; i < argc; ++i) {
    std::string word = argv[i];
    if (flags_done || word.size() < 3 || word.rfind("--", 0) != 0) {
      if (word == "--") {
        flags_done = true;
        continue;
      }
      args.positional.push_back(word);
      continue;
    }
    std::string body = word.substr(2);
    std::string::size_type equals = body.find('=');
    if (equals != std::string::npos) {
      args.flags.emplace(body.substr(0, equals), body.substr(equals + 1));
    } else if (booleans.count(body) > 0) {
      args.flags.emplace(body, "true");
    } else if (i + 1 < argc) {
      args.flags.emplace(body, argv[++i]);
    } else {
      return absl::InvalidArgumentError(absl::StrCat("flag --", body, " needs a value"));
    }
  }
  return args;
}

}  // namespace centric::ctl
