#include "services/profiles/grpc_service.h"

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
CENTRIC_PROFILES_UNARY(GetProfile, v1::GetProfileRequest, v1::Profile)
CENTRIC_PROFILES_UNARY(BatchGetProfiles, v1::BatchGetProfilesRequest, v1::BatchGetProfilesResponse)
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

grpc::ServerUnaryReactor* ProfilesGrpcService::DeleteProfile(grpc::CallbackServerContext* context,
                                                             const v1::DeleteProfileRequest* request,
                                                             v1::DeleteProfileResponse*) {
  return runtime::Unary(context, env_, [this, request](absl::Time deadline) {
    return service_.DeleteProfile(*request, deadline);
  });
}

}  // namespace centric::profiles
