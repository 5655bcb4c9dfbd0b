#include "fuzz/fuzz_support.h"

#include <cstdio>
#include <cstdlib>

#include <google/protobuf/stubs/logging.h>

#include "absl/strings/match.h"
#include "libs/cel/utf8.h"

namespace centric::fuzz {

void Fail(const char* condition, const char* file, int line, const std::string& details) {
  std::fprintf(stderr, "\n%s:%d: invariant broken: %s\n  %s\n", file, line, condition,
               details.c_str());
  std::abort();
}

void SilenceProtobufLogs() { google::protobuf::SetLogHandler(nullptr); }

bool ParseWire(const uint8_t* data, size_t size, google::protobuf::Message& message) {
  return message.ParseFromArray(data, static_cast<int>(size));
}

bool IsValidUtf8(absl::string_view text) { return cel::IsValidUtf8(text); }

void CheckViolations(const std::vector<runtime::FieldViolation>& violations,
                     const std::vector<absl::string_view>& prefixes) {
  for (const runtime::FieldViolation& v : violations) {
    CENTRIC_FUZZ_CHECK(!v.field.empty(), "a violation without a field: ", v.description);
    CENTRIC_FUZZ_CHECK(!v.description.empty(), "a violation without a description: ", v.field);
    CENTRIC_FUZZ_CHECK(IsValidUtf8(v.field), "field path is not UTF-8: ", v.field);
    CENTRIC_FUZZ_CHECK(IsValidUtf8(v.description), "description of ", v.field,
                       " is not UTF-8: ", v.description);
    bool known = prefixes.empty();
    for (absl::string_view prefix : prefixes) known = known || absl::StartsWith(v.field, prefix);
    CENTRIC_FUZZ_CHECK(known, "field outside the request: ", v.field);
  }
  if (violations.empty()) return;
  std::vector<runtime::FieldViolation> back =
      runtime::FieldViolations(runtime::InvalidArgument(violations));
  CENTRIC_FUZZ_CHECK(back.size() == violations.size(), violations.size(),
                     " violations packed into the status, ", back.size(), " read back; first: ",
                     violations[0].field, ": ", violations[0].description);
  for (size_t i = 0; i < back.size(); ++i) {
    CENTRIC_FUZZ_CHECK(back[i].field == violations[i].field &&
                           back[i].description == violations[i].description,
                       "violation ", i, " changed in the status: ", violations[i].field);
  }
}

void CheckInvalidArgument(const absl::Status& status,
                          const std::vector<absl::string_view>& prefixes) {
  if (status.code() != absl::StatusCode::kInvalidArgument) return;
  std::vector<runtime::FieldViolation> violations = runtime::FieldViolations(status);
  CENTRIC_FUZZ_CHECK(!violations.empty(), "INVALID_ARGUMENT without a field violation: ",
                     status.ToString());
  CheckViolations(violations, prefixes);
}

}  // namespace centric::fuzz
