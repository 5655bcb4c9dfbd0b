// Helpers shared by the libFuzzer targets in fuzz/: invariant checks that abort (so
// libFuzzer keeps the input as a crash), and the checks every validation result must
// pass whatever the input.
#ifndef CENTRIC_FUZZ_FUZZ_SUPPORT_H_
#define CENTRIC_FUZZ_FUZZ_SUPPORT_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <google/protobuf/message.h>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "libs/runtime/errors.h"

namespace centric::fuzz {

// Prints the broken invariant and aborts.
[[noreturn]] void Fail(const char* condition, const char* file, int line,
                       const std::string& details);

// Aborts with `condition` and the StrCat of the details when `condition` is false.
#define CENTRIC_FUZZ_CHECK(condition, ...)                                                   \
  do {                                                                                       \
    if (!(condition)) {                                                                      \
      ::centric::fuzz::Fail(#condition, __FILE__, __LINE__, ::absl::StrCat(__VA_ARGS__));   \
    }                                                                                        \
  } while (0)

// Silences protobuf's log lines (e.g. "invalid UTF-8" on every rejected input), which
// would otherwise cost most of the run time. Call once, from LLVMFuzzerInitialize.
void SilenceProtobufLogs();

// Parses `size` bytes of the wire format into `message`; false when they do not parse
// (the input is then not interesting: a gRPC server would refuse it before any handler).
bool ParseWire(const uint8_t* data, size_t size, google::protobuf::Message& message);

// What every list of violations must satisfy for the caller to get a usable answer:
// each names a field starting with one of `prefixes` (any field when empty) and says
// something; field and description are valid UTF-8 (they travel in google.rpc.BadRequest,
// whose proto3 strings a client refuses to parse otherwise); and they come back
// unchanged from the INVALID_ARGUMENT status they are packed into.
void CheckViolations(const std::vector<runtime::FieldViolation>& violations,
                     const std::vector<absl::string_view>& prefixes = {});

// An INVALID_ARGUMENT must carry at least one violation, each passing CheckViolations.
void CheckInvalidArgument(const absl::Status& status,
                          const std::vector<absl::string_view>& prefixes = {});

// Whether `text` is well-formed UTF-8 (what protobuf demands of proto3 strings).
bool IsValidUtf8(absl::string_view text);

}  // namespace centric::fuzz

#endif  // CENTRIC_FUZZ_FUZZ_SUPPORT_H_
