// UTF-8 helpers for CEL strings, which are sequences of code points stored as
// UTF-8.
#ifndef CENTRIC_LIBS_CEL_UTF8_H_
#define CENTRIC_LIBS_CEL_UTF8_H_

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace centric::cel {

// True when `s` is well-formed UTF-8 (no overlong forms, surrogates or values
// past U+10FFFF).
bool IsValidUtf8(absl::string_view s);

// Number of code points; precondition: IsValidUtf8(s).
int64_t CodePointCount(absl::string_view s);

// Appends `code_point` encoded as UTF-8; precondition: a scalar value (not a
// surrogate, at most U+10FFFF).
void AppendUtf8(std::string* out, uint32_t code_point);

}  // namespace centric::cel

#endif  // CENTRIC_LIBS_CEL_UTF8_H_
