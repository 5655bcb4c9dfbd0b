// The Segmentation domain service: every RPC of centric.segmentation.v1 as a plain method
// (no gRPC here). Segment and persona definitions live in the store; membership lives in
// the Engine; every membership change is published as a MembershipChanged event through
// the service's outbox and to WatchMembership streams.
#ifndef CENTRIC_SERVICES_SEGMENTATION_SEGMENTATION_SERVICE_H_
#define CENTRIC_SERVICES_SEGMENTATION_SEGMENTATION_SERVICE_H_

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "centric/segmentation/v1/segmentation_service.pb.h"
#include "libs/runtime/clock.h"
#include "libs/store/store.h"
#include "libs/store/definition_store.h"
#include "services/segmentation/engine.h"

namespace centric::segmentation {

// Documented limits (also in the proto comments and docs/SEGMENTATION.md).
inline constexpr int kMaxSegments = 1000;
inline constexpr int kMaxPersonas = 100;
inline constexpr size_t kMaxDisplayNameBytes = 256;
inline constexpr size_t kMaxTextBytes = 4096;
inline constexpr size_t kMaxListEntries = 20;
inline constexpr size_t kMaxOwnerTeamBytes = 64;
inline constexpr size_t kMaxRequestIdBytes = 128;
inline constexpr int kMaxPriority = 1000;
inline constexpr int kDefaultPageSize = 100;
inline constexpr int kMaxPageSize = 1000;
inline constexpr int kMaxSampleSize = 100;
inline constexpr int kDefaultChunkSize = 1000;
inline constexpr int kMaxChunkSize = 10000;
inline constexpr int kMinOverlapSegments = 2;
inline constexpr int kMaxOverlapSegments = 10;

std::vector<store::Migration> SegmentationMigrations();

using store::DefinitionKind;
using store::DefinitionStore;
using store::StoredDefinition;

class SegmentationService {
 public:
  struct Deps {
    store::Database* db = nullptr;
    Engine* engine = nullptr;
    runtime::Clock* clock = nullptr;
    runtime::IdGenerator* ids = nullptr;
    // Called after a commit that wrote outbox events (wakes the relay).
    std::function<void()> after_commit;
    // Receives primary persona changes to write back to the profiles.
    std::function<void(std::vector<PersonaDelta>)> persona_sink;
  };
  explicit SegmentationService(Deps deps);

  // Loads every stored segment and persona into the engine (at start, before profiles).
  absl::Status Load();

  absl::StatusOr<v1::Segment> CreateSegment(const v1::CreateSegmentRequest& request);
  absl::StatusOr<v1::Segment> GetSegment(const v1::GetSegmentRequest& request);
  absl::StatusOr<v1::ListSegmentsResponse> ListSegments(const v1::ListSegmentsRequest& request);
  absl::StatusOr<v1::Segment> UpdateSegment(const v1::UpdateSegmentRequest& request);
  absl::Status DeleteSegment(const v1::DeleteSegmentRequest& request);
  absl::StatusOr<v1::PreviewSegmentResponse> PreviewSegment(
      const v1::PreviewSegmentRequest& request);
  // One chunk of ListSegmentMembers; an empty resume_token in the response means the
  // last chunk.
  absl::StatusOr<v1::ListSegmentMembersResponse> ListSegmentMembersChunk(
      const v1::ListSegmentMembersRequest& request);
  absl::StatusOr<v1::CheckMembershipResponse> CheckMembership(
      const v1::CheckMembershipRequest& request);
  absl::StatusOr<v1::GetSegmentOverlapResponse> GetSegmentOverlap(
      const v1::GetSegmentOverlapRequest& request);
  // Memberships of the named profiles the engine holds. Errors: INVALID_ARGUMENT,
  // UNAVAILABLE while the engine is still loading profiles.
  absl::StatusOr<v1::ExportProfileDataResponse> ExportProfileData(
      const v1::ExportProfileDataRequest& request);

  absl::StatusOr<v1::Persona> CreatePersona(const v1::CreatePersonaRequest& request);
  absl::StatusOr<v1::Persona> GetPersona(const v1::GetPersonaRequest& request);
  absl::StatusOr<v1::ListPersonasResponse> ListPersonas(const v1::ListPersonasRequest& request);
  absl::StatusOr<v1::Persona> UpdatePersona(const v1::UpdatePersonaRequest& request);
  absl::Status DeletePersona(const v1::DeletePersonaRequest& request);

  // Validates a WatchMembership request (segments must exist).
  absl::Status ValidateWatch(const v1::WatchMembershipRequest& request);
  // Registers a watcher receiving changes of the given segments (all when empty).
  using Watcher = std::function<void(const std::vector<v1::MembershipChange>&)>;
  int64_t AddWatcher(std::vector<std::string> segments, Watcher watcher);
  void RemoveWatcher(int64_t id);

  // Publishes engine changes: MembershipChanged to the outbox and watchers, persona
  // changes to the persona sink. Errors: the store's (the deltas are not retried; the
  // membership itself is current).
  absl::Status Publish(EngineChanges changes);

 private:
  absl::StatusOr<v1::Segment> ReadSegment(const std::string& id);
  absl::StatusOr<v1::Persona> ReadPersona(const std::string& id);
  void FillSegmentOutput(v1::Segment& segment);
  void FillPersonaOutput(v1::Persona& persona);
  // One page of definitions passed to `add`; returns the next page token ("" at the end).
  absl::StatusOr<std::string> ListPage(const DefinitionKind& kind, int32_t page_size,
                                       const std::string& page_token,
                                       const std::function<void(const StoredDefinition&)>& add);
  // The current version when `etag` is empty or matches `current`. Errors: INVALID_ARGUMENT
  // (not an etag of ours), ABORTED (stale).
  absl::StatusOr<int64_t> CheckEtag(const std::string& etag, const std::string& current);

  Deps deps_;
  DefinitionStore store_;
  absl::Mutex watchers_mu_;
  int64_t next_watcher_ ABSL_GUARDED_BY(watchers_mu_) = 1;
  std::map<int64_t, std::pair<std::vector<std::string>, Watcher>> watchers_
      ABSL_GUARDED_BY(watchers_mu_);
  // Serialises definition writes, so the engine applies them in commit order.
  absl::Mutex write_mu_;
};

}  // namespace centric::segmentation

#endif  // CENTRIC_SERVICES_SEGMENTATION_SEGMENTATION_SERVICE_H_
