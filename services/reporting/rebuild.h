// Rebuilding the rollups from the source services: what Profiles, Segmentation and
// Feedback hold now, read through their RPCs and replayed as the events they would have
// published, into emptied tables in one transaction (readers see the old numbers until
// it commits).
#ifndef CENTRIC_SERVICES_REPORTING_REBUILD_H_
#define CENTRIC_SERVICES_REPORTING_REBUILD_H_

#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "centric/events/v1/events.pb.h"
#include "centric/feedback/v1/feedback_service.grpc.pb.h"
#include "centric/profiles/v1/profiles_service.grpc.pb.h"
#include "centric/reporting/v1/reporting_service.pb.h"
#include "centric/segmentation/v1/segmentation_service.grpc.pb.h"
#include "libs/store/store.h"

namespace centric::reporting {

// The source services' current state as events, in the order a rebuild applies them:
// memberships and personas first, then interactions, responses, and follow-up changes in
// time order.
struct SourceEvents {
  std::vector<events::v1::Event> events;
  v1::RebuildRollupsResponse counts;
};

class RollupSource {
 public:
  virtual ~RollupSource() = default;
  // Errors: the source services' (UNAVAILABLE, DEADLINE_EXCEEDED, ...).
  virtual absl::StatusOr<SourceEvents> Read(absl::Time deadline) = 0;
};

// Reads the three services over gRPC.
std::unique_ptr<RollupSource> NewGrpcRollupSource(
    std::unique_ptr<profiles::v1::Profiles::StubInterface> profiles,
    std::unique_ptr<segmentation::v1::Segmentation::StubInterface> segmentation,
    std::unique_ptr<feedback::v1::Feedback::StubInterface> feedback);

// Empties the rollups and applies `source`'s events, in one transaction.
absl::StatusOr<v1::RebuildRollupsResponse> RebuildRollups(store::Database& db,
                                                          RollupSource& source,
                                                          absl::Time deadline);

}  // namespace centric::reporting

#endif  // CENTRIC_SERVICES_REPORTING_REBUILD_H_
