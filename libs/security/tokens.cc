#include "libs/security/tokens.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace centric::security {
namespace {

std::array<unsigned char, 32> Sha256(absl::string_view data) {
  std::array<unsigned char, 32> digest{};
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest.data());
  return digest;
}

}  // namespace

absl::StatusOr<TokenTable> TokenTable::Parse(absl::string_view text) {
  TokenTable table;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    if (size_t hash = line.find('#'); hash != absl::string_view::npos) line = line.substr(0, hash);
    line = absl::StripAsciiWhitespace(line);
    if (line.empty()) continue;
    std::vector<absl::string_view> parts = absl::StrSplit(line, ' ', absl::SkipEmpty());
    absl::string_view hex;
    if (parts.size() != 2 || !absl::StartsWith(parts[1], "sha256:")) {
      return absl::InvalidArgumentError(absl::StrCat(
          "line ", line_number, ": must be \"<caller> sha256:<64 hex digits>\""));
    }
    hex = parts[1].substr(7);
    if (hex.size() != 64 || !std::all_of(hex.begin(), hex.end(), [](char c) {
          return absl::ascii_isxdigit(static_cast<unsigned char>(c));
        })) {
      return absl::InvalidArgumentError(
          absl::StrCat("line ", line_number, ": the hash must be 64 hex digits"));
    }
    Entry entry;
    entry.caller = std::string(parts[0]);
    std::string bytes = absl::HexStringToBytes(hex);
    std::copy(bytes.begin(), bytes.end(), entry.sha256.begin());
    table.entries_.push_back(std::move(entry));
  }
  return table;
}

std::optional<std::string> TokenTable::Authenticate(absl::string_view token) const {
  if (token.empty()) return std::nullopt;
  const std::array<unsigned char, 32> digest = Sha256(token);
  const Entry* match = nullptr;
  for (const Entry& entry : entries_) {
    bool equal = CRYPTO_memcmp(entry.sha256.data(), digest.data(), digest.size()) == 0;
    if (equal && match == nullptr) match = &entry;
  }
  if (match == nullptr) return std::nullopt;
  return match->caller;
}

std::string TokenHashLine(absl::string_view token) {
  std::array<unsigned char, 32> digest = Sha256(token);
  return absl::StrCat("sha256:", absl::BytesToHexString(absl::string_view(
                                     reinterpret_cast<const char*>(digest.data()), digest.size())));
}

}  // namespace centric::security
