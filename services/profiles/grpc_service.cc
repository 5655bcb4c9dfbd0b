#include "services/profiles/grpc_service.h"

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "libs/runtime/admission.h"
#include "libs/runtime/grpc_status.h"

namespace centric::profiles {
// Each handler: one domain call on the worker pool, result moved into the response.
#define CENTRIC_PROFILES_UNARY(Method, Request, Response)                                 \
  grpc::ServerUnaryReactor* ProfilesGrpcService::Method(                                  \
      grpc::CallbackServerContext* context, const Request* request, Response* response) { \
    return runtime::Unary(context, env_, [this, request, response](absl::Time deadline) { \
      return runtime::Reply(service_.Method(*request, deadline), response);                        \
    });                                                                                   \
  }

CENTRIC_PROFILES_UNARY(CreateProfile, v1::CreateProfileRequest, v1::Profile)
CENTRIC_PROFILES_UNARY(LookupProfile, v1::LookupProfileRequest, v1::Profile)
CENTRIC_PROFILES_UNARY(UpdateProfile, v1::UpdateProfileRequest, v1::Profile)
CENTRIC_PROFILES_UNARY(ListProfiles, v1::ListProfilesRequest, v1::ListProfilesResponse)
CENTRIC_PROFILES_UNARY(MergeProfiles, v1::MergeProfilesRequest, v1::Profile)
CENTRIC_PROFILES_UNARY(RecordInteractions, v1::RecordInteractionsRequest,
                       v1::RecordInteractionsResponse)
CENTRIC_PROFILES_UNARY(ListInteractions, v1::ListInteractionsRequest, v1::ListInteractionsResponse)
CENTRIC_PROFILES_UNARY(ExportProfile, v1::ExportProfileRequest, v1::ExportProfileResponse)
CENTRIC_PROFILES_UNARY(EraseProfile, v1::EraseProfileRequest, v1::EraseProfileResponse)

#undef CENTRIC_PROFILES_UNARY

ProfilesGrpcService::ProfilesGrpcService(ProfileService& service, runtime::WorkerPool& pool)
    : service_(service), env_{&pool, kProfilesErrorDomain} {
  runtime::MarkRawMethod(absl::StrCat("/", kProfilesServiceName, "/GetProfile"));
  runtime::MarkRawMethod(absl::StrCat("/", kProfilesServiceName, "/BatchGetProfiles"));
}

namespace {

// Parses the call's bytes as its request message.
bool ParseRequest(const grpc::ByteBuffer& buffer, google::protobuf::Message& request) {
  std::vector<grpc::Slice> slices;
  if (!buffer.Dump(&slices).ok()) return false;
  std::string bytes;
  for (const grpc::Slice& slice : slices) {
    bytes.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
  }
  return request.ParseFromString(bytes);
}

void SetBytes(std::string bytes, grpc::ByteBuffer* response) {
  grpc::Slice slice(std::move(bytes));
  *response = grpc::ByteBuffer(&slice, 1);
}

}  // namespace

grpc::ServerUnaryReactor* ProfilesGrpcService::GetProfile(grpc::CallbackServerContext* context,
                                                          const grpc::ByteBuffer* request_bytes,
                                                          grpc::ByteBuffer* response) {
  auto request = std::make_shared<v1::GetProfileRequest>();
  if (!ParseRequest(*request_bytes, *request)) {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(runtime::ToGrpcStatus(
        absl::InvalidArgumentError("the request is not a GetProfileRequest"), env_.error_domain));
    return reactor;
  }
  // A near-cache hit needs no worker: admitted, in time, answered from memory here.
  if (runtime::AdmissionOf(context).ok() && !context->IsCancelled() &&
      absl::Now() < runtime::DeadlineOf(*context)) {
    if (std::optional<std::string> bytes = service_.PeekProfileBytes(*request)) {
      SetBytes(std::move(*bytes), response);
      grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
      reactor->Finish(grpc::Status::OK);
      return reactor;
    }
  }
  return runtime::Unary(context, env_, [this, request, response](absl::Time deadline) {
    absl::StatusOr<std::string> bytes = service_.GetProfileBytes(*request, deadline);
    if (!bytes.ok()) return bytes.status();
    SetBytes(std::move(*bytes), response);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* ProfilesGrpcService::BatchGetProfiles(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request_bytes,
    grpc::ByteBuffer* response) {
  auto request = std::make_shared<v1::BatchGetProfilesRequest>();
  if (!ParseRequest(*request_bytes, *request)) {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(runtime::ToGrpcStatus(
        absl::InvalidArgumentError("the request is not a BatchGetProfilesRequest"),
        env_.error_domain));
    return reactor;
  }
  return runtime::Unary(context, env_, [this, request, response](absl::Time deadline) {
    absl::StatusOr<std::string> bytes = service_.BatchGetProfilesBytes(*request, deadline);
    if (!bytes.ok()) return bytes.status();
    SetBytes(std::move(*bytes), response);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* ProfilesGrpcService::DeleteProfile(grpc::CallbackServerContext* context,
                                                             const v1::DeleteProfileRequest* request,
                                                             v1::DeleteProfileResponse*) {
  return runtime::Unary(context, env_, [this, request](absl::Time deadline) {
    return service_.DeleteProfile(*request, deadline);
  });
}

}  // namespace centric::profiles
