// centric.segmentation.v1.Segmentation over gRPC's callback API: unary handlers hand the
// request to SegmentationService on the worker pool; the two server streams write chunks
// (ListSegmentMembers) and membership changes as they happen (WatchMembership).
#ifndef CENTRIC_SERVICES_SEGMENTATION_GRPC_SERVICE_H_
#define CENTRIC_SERVICES_SEGMENTATION_GRPC_SERVICE_H_

#include "centric/segmentation/v1/segmentation_service.grpc.pb.h"
#include "libs/runtime/handler.h"
#include "services/segmentation/segmentation_service.h"

namespace centric::segmentation {

inline constexpr char kSegmentationServiceName[] = "centric.segmentation.v1.Segmentation";
inline constexpr char kSegmentationErrorDomain[] = "segmentation.centric.dev";
// Changes queued for a WatchMembership stream that reads too slowly; past this the stream
// ends with RESOURCE_EXHAUSTED (the caller reconnects and re-reads members).
inline constexpr size_t kMaxWatchBacklog = 100000;

class SegmentationGrpcService final : public v1::Segmentation::CallbackService {
 public:
  SegmentationGrpcService(SegmentationService& service, runtime::WorkerPool& pool)
      : service_(service), env_{&pool, kSegmentationErrorDomain} {}

#define CENTRIC_SEGMENTATION_UNARY_DECL(Method, Request, Response)                          \
  grpc::ServerUnaryReactor* Method(grpc::CallbackServerContext* context, const Request* request, \
                                   Response* response) override;
  CENTRIC_SEGMENTATION_UNARY_DECL(CreateSegment, v1::CreateSegmentRequest, v1::Segment)
  CENTRIC_SEGMENTATION_UNARY_DECL(GetSegment, v1::GetSegmentRequest, v1::Segment)
  CENTRIC_SEGMENTATION_UNARY_DECL(ListSegments, v1::ListSegmentsRequest, v1::ListSegmentsResponse)
  CENTRIC_SEGMENTATION_UNARY_DECL(UpdateSegment, v1::UpdateSegmentRequest, v1::Segment)
  CENTRIC_SEGMENTATION_UNARY_DECL(DeleteSegment, v1::DeleteSegmentRequest, v1::DeleteSegmentResponse)
  CENTRIC_SEGMENTATION_UNARY_DECL(PreviewSegment, v1::PreviewSegmentRequest,
                                  v1::PreviewSegmentResponse)
  CENTRIC_SEGMENTATION_UNARY_DECL(CheckMembership, v1::CheckMembershipRequest,
                                  v1::CheckMembershipResponse)
  CENTRIC_SEGMENTATION_UNARY_DECL(GetSegmentOverlap, v1::GetSegmentOverlapRequest,
                                  v1::GetSegmentOverlapResponse)
  CENTRIC_SEGMENTATION_UNARY_DECL(ExportProfileData, v1::ExportProfileDataRequest,
                                  v1::ExportProfileDataResponse)
  CENTRIC_SEGMENTATION_UNARY_DECL(CreatePersona, v1::CreatePersonaRequest, v1::Persona)
  CENTRIC_SEGMENTATION_UNARY_DECL(GetPersona, v1::GetPersonaRequest, v1::Persona)
  CENTRIC_SEGMENTATION_UNARY_DECL(ListPersonas, v1::ListPersonasRequest, v1::ListPersonasResponse)
  CENTRIC_SEGMENTATION_UNARY_DECL(UpdatePersona, v1::UpdatePersonaRequest, v1::Persona)
  CENTRIC_SEGMENTATION_UNARY_DECL(DeletePersona, v1::DeletePersonaRequest, v1::DeletePersonaResponse)
#undef CENTRIC_SEGMENTATION_UNARY_DECL

  grpc::ServerWriteReactor<v1::ListSegmentMembersResponse>* ListSegmentMembers(
      grpc::CallbackServerContext* context, const v1::ListSegmentMembersRequest* request) override;
  grpc::ServerWriteReactor<v1::MembershipChange>* WatchMembership(
      grpc::CallbackServerContext* context, const v1::WatchMembershipRequest* request) override;

 private:
  SegmentationService& service_;
  runtime::HandlerEnv env_;
};

}  // namespace centric::segmentation

#endif  // CENTRIC_SERVICES_SEGMENTATION_GRPC_SERVICE_H_
