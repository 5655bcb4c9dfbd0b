// Bearer tokens of callers without a client certificate (--tokens-file). The file holds
// one "<caller> sha256:<64 hex digits>" line per token (several per caller while one is
// rotated); "#" starts a comment. Only hashes are stored, so the file does not reveal
// the tokens.
#ifndef CENTRIC_LIBS_SECURITY_TOKENS_H_
#define CENTRIC_LIBS_SECURITY_TOKENS_H_

#include <array>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace centric::security {

class TokenTable {
 public:
  // Errors: INVALID_ARGUMENT naming the line and what is wrong with it.
  static absl::StatusOr<TokenTable> Parse(absl::string_view text);

  // The caller the token belongs to. Compares the token's SHA-256 with every entry in
  // constant time (no early exit), so timing reveals neither which entry nor how much
  // of it matched.
  std::optional<std::string> Authenticate(absl::string_view token) const;

  size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    std::string caller;
    std::array<unsigned char, 32> sha256;
  };
  std::vector<Entry> entries_;
};

// "sha256:<hex>" of a token, as the tokens file holds it.
std::string TokenHashLine(absl::string_view token);

}  // namespace centric::security

#endif  // CENTRIC_LIBS_SECURITY_TOKENS_H_
