// What the API declares (centric/security/v1/annotations.proto), read from the
// generated descriptors: each method's access, and which fields hold personal data.
#ifndef CENTRIC_LIBS_SECURITY_ACCESS_H_
#define CENTRIC_LIBS_SECURITY_ACCESS_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "centric/security/v1/annotations.pb.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"

namespace centric::security {

struct MethodFacts {
  // False for methods not in the generated pool (e.g. grpc.reflection).
  bool known = false;
  // The method's declared access; kind KIND_UNSPECIFIED when it declares none.
  v1::MethodAccess access;
  const google::protobuf::Descriptor* request = nullptr;
  const google::protobuf::Descriptor* response = nullptr;
  // The response type has a personal_data field somewhere inside.
  bool response_has_personal_data = false;
  // "profiles" for "centric.profiles.v1.Profiles/..."; empty outside centric.*.v1.
  std::string service;
};

// `method` as gRPC names it: "/package.Service/Method" (the leading slash optional).
// Cached; thread-safe.
const MethodFacts& FactsOf(absl::string_view method);

// Whether a message of this type can carry a personal_data field.
bool HasPersonalData(const google::protobuf::Descriptor* type);

// Replaces personal data in `message` (recursively): strings become "[redacted]",
// other fields and messages are cleared. Returns whether anything was there.
bool RedactPersonalData(google::protobuf::Message& message);

// Every personal_data value in `message` as text (strings as they are, messages in
// text format), for the erasure checks.
std::vector<std::string> PersonalDataOf(const google::protobuf::Message& message);

// The resource a request names: the field the method declares, else the first
// non-empty of "name", "profile", "parent"; "" when none.
std::string ResourceOf(const google::protobuf::Message& request, const v1::MethodAccess& access);

// "[redacted]".
inline constexpr absl::string_view kRedacted = "[redacted]";

}  // namespace centric::security

#endif  // CENTRIC_LIBS_SECURITY_ACCESS_H_
