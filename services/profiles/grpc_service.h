// centric.profiles.v1.Profiles over gRPC's callback API. Each handler hands the request
// to ProfileService on the worker pool and maps the result; nothing else.
#ifndef CENTRIC_SERVICES_PROFILES_GRPC_SERVICE_H_
#define CENTRIC_SERVICES_PROFILES_GRPC_SERVICE_H_

#include "centric/profiles/v1/profiles_service.grpc.pb.h"
#include "libs/runtime/handler.h"
#include "services/profiles/profile_service.h"

namespace centric::profiles {

inline constexpr char kProfilesServiceName[] = "centric.profiles.v1.Profiles";
inline constexpr char kProfilesErrorDomain[] = "profiles.centric.dev";

// GetProfile and BatchGetProfiles are served as bytes (WithRawCallbackMethod_*): cached
// profiles go out as their cached serialisation, never parsed and re-serialised; a
// GetProfile found in the near cache is answered on gRPC's callback thread, any other
// call on the worker pool as usual.
class ProfilesGrpcService final
    : public v1::Profiles::WithRawCallbackMethod_GetProfile<
          v1::Profiles::WithRawCallbackMethod_BatchGetProfiles<v1::Profiles::CallbackService>> {
 public:
  ProfilesGrpcService(ProfileService& service, runtime::WorkerPool& pool);

  grpc::ServerUnaryReactor* CreateProfile(grpc::CallbackServerContext* context,
                                          const v1::CreateProfileRequest* request,
                                          v1::Profile* response) override;
  grpc::ServerUnaryReactor* GetProfile(grpc::CallbackServerContext* context,
                                       const grpc::ByteBuffer* request,
                                       grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* BatchGetProfiles(grpc::CallbackServerContext* context,
                                             const grpc::ByteBuffer* request,
                                             grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* LookupProfile(grpc::CallbackServerContext* context,
                                          const v1::LookupProfileRequest* request,
                                          v1::Profile* response) override;
  grpc::ServerUnaryReactor* UpdateProfile(grpc::CallbackServerContext* context,
                                          const v1::UpdateProfileRequest* request,
                                          v1::Profile* response) override;
  grpc::ServerUnaryReactor* DeleteProfile(grpc::CallbackServerContext* context,
                                          const v1::DeleteProfileRequest* request,
                                          v1::DeleteProfileResponse* response) override;
  grpc::ServerUnaryReactor* ListProfiles(grpc::CallbackServerContext* context,
                                         const v1::ListProfilesRequest* request,
                                         v1::ListProfilesResponse* response) override;
  grpc::ServerUnaryReactor* MergeProfiles(grpc::CallbackServerContext* context,
                                          const v1::MergeProfilesRequest* request,
                                          v1::Profile* response) override;
  grpc::ServerUnaryReactor* RecordInteractions(grpc::CallbackServerContext* context,
                                               const v1::RecordInteractionsRequest* request,
                                               v1::RecordInteractionsResponse* response) override;
  grpc::ServerUnaryReactor* ListInteractions(grpc::CallbackServerContext* context,
                                             const v1::ListInteractionsRequest* request,
                                             v1::ListInteractionsResponse* response) override;
  grpc::ServerUnaryReactor* ExportProfile(grpc::CallbackServerContext* context,
                                          const v1::ExportProfileRequest* request,
                                          v1::ExportProfileResponse* response) override;
  grpc::ServerUnaryReactor* EraseProfile(grpc::CallbackServerContext* context,
                                         const v1::EraseProfileRequest* request,
                                         v1::EraseProfileResponse* response) override;

 private:
  ProfileService& service_;
  runtime::HandlerEnv env_;
};

}  // namespace centric::profiles

#endif  // CENTRIC_SERVICES_PROFILES_GRPC_SERVICE_H_
