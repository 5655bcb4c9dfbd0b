// The Profiles domain service: every RPC of centric.profiles.v1 as a plain method that
// takes the request message and returns the response or an absl::Status. No gRPC here;
// the store, cache, clock and id generator are injected.
#ifndef CENTRIC_SERVICES_PROFILES_PROFILE_SERVICE_H_
#define CENTRIC_SERVICES_PROFILES_PROFILE_SERVICE_H_

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "centric/events/v1/events.pb.h"
#include "centric/profiles/v1/profiles_service.pb.h"
#include "google/protobuf/any.pb.h"
#include "libs/cache/cache.h"
#include "libs/cache/read_through.h"
#include "libs/events/bus.h"
#include "libs/runtime/clock.h"
#include "libs/store/store.h"
#include "services/profiles/profile_store.h"

namespace centric::profiles {

// What the other services hold about a person, for ExportProfile: their ExportProfileData
// (export_sources.h calls them over gRPC).
class ExportSources {
 public:
  // Each service's ExportProfileDataResponse, packed.
  struct Parts {
    google::protobuf::Any segmentation;
    google::protobuf::Any feedback;
    google::protobuf::Any reporting;
  };
  virtual ~ExportSources() = default;
  // Every service's part about `profile` ("profiles/{id}") and the names merged into it,
  // within `deadline`: all of them or an error. Errors: UNAVAILABLE (reason
  // EXPORT_INCOMPLETE) naming each service that did not answer or failed,
  // FAILED_PRECONDITION when a service's address is not configured.
  virtual absl::StatusOr<Parts> Export(const std::string& profile,
                                       const std::vector<std::string>& merged_profiles,
                                       absl::Time deadline) = 0;
};

class ProfileService {
 public:
  struct Deps {
    store::Database* db = nullptr;
    cache::VersionedCache* cache = nullptr;
    runtime::Clock* clock = nullptr;
    runtime::IdGenerator* ids = nullptr;
    // Called after every commit that wrote an outbox event (wakes the relay).
    std::function<void()> after_commit;
    // The other services' parts of ExportProfile; without it ExportProfile fails
    // FAILED_PRECONDITION.
    ExportSources* export_sources = nullptr;
  };

  explicit ProfileService(Deps deps);

  // Each method implements the RPC of the same name; see profiles_service.proto for the
  // contract and the errors. `deadline` bounds the store work.
  absl::StatusOr<v1::Profile> CreateProfile(const v1::CreateProfileRequest& request,
                                            absl::Time deadline = absl::InfiniteFuture());
  absl::StatusOr<v1::Profile> GetProfile(const v1::GetProfileRequest& request,
                                         absl::Time deadline = absl::InfiniteFuture());
  // GetProfile's answer as a serialised Profile: a cached profile's bytes as they are,
  // with the etag appended (no parse, no re-serialisation).
  absl::StatusOr<std::string> GetProfileBytes(const v1::GetProfileRequest& request,
                                              absl::Time deadline = absl::InfiniteFuture());
  // The same from the near cache's memory only, never blocking: nullopt when the answer
  // needs Redis or the store (or is an error), so the caller takes GetProfileBytes.
  std::optional<std::string> PeekProfileBytes(const v1::GetProfileRequest& request);
  absl::StatusOr<v1::BatchGetProfilesResponse> BatchGetProfiles(
      const v1::BatchGetProfilesRequest& request, absl::Time deadline = absl::InfiniteFuture());
  // BatchGetProfiles' answer as a serialised BatchGetProfilesResponse, cached profiles'
  // bytes as they are (what the gRPC layer sends).
  absl::StatusOr<std::string> BatchGetProfilesBytes(const v1::BatchGetProfilesRequest& request,
                                                    absl::Time deadline = absl::InfiniteFuture());
  absl::StatusOr<v1::Profile> LookupProfile(const v1::LookupProfileRequest& request,
                                            absl::Time deadline = absl::InfiniteFuture());
  absl::StatusOr<v1::Profile> UpdateProfile(const v1::UpdateProfileRequest& request,
                                            absl::Time deadline = absl::InfiniteFuture());
  absl::Status DeleteProfile(const v1::DeleteProfileRequest& request,
                             absl::Time deadline = absl::InfiniteFuture());
  absl::StatusOr<v1::ListProfilesResponse> ListProfiles(
      const v1::ListProfilesRequest& request, absl::Time deadline = absl::InfiniteFuture());
  absl::StatusOr<v1::Profile> MergeProfiles(const v1::MergeProfilesRequest& request,
                                            absl::Time deadline = absl::InfiniteFuture());
  absl::StatusOr<v1::RecordInteractionsResponse> RecordInteractions(
      const v1::RecordInteractionsRequest& request, absl::Time deadline = absl::InfiniteFuture());
  absl::StatusOr<v1::ListInteractionsResponse> ListInteractions(
      const v1::ListInteractionsRequest& request, absl::Time deadline = absl::InfiniteFuture());
  absl::StatusOr<v1::ExportProfileResponse> ExportProfile(
      const v1::ExportProfileRequest& request, absl::Time deadline = absl::InfiniteFuture());
  absl::StatusOr<v1::EraseProfileResponse> EraseProfile(
      const v1::EraseProfileRequest& request, absl::Time deadline = absl::InfiniteFuture());

  // Consumes one event of the Feedback service (topic "feedback"; the module subscribes
  // with group "profiles"). ResponseReceived and FollowUpChanged carry the FeedbackSummary
  // of their profile name: it is stored if its version is higher than the one stored for
  // that name, and the feedback figures of the profile's aggregates (of the survivor, for
  // a merged name) are set from it and the summaries of the names merged into the same
  // profile (SetFeedback in aggregates.h). When a figure changes that is a profile change:
  // version + 1, update_time, ProfileChanged with changed_paths ["aggregates"] through the
  // outbox, cache invalidated. Each event id applies once (events::IdempotentHandler).
  // Other event types, unknown and erased profiles are acknowledged with OK; a malformed
  // event is events::PoisonError (the bus dead-letters it at once: no redelivery can
  // change it). Errors: store errors (the bus delivers the event again).
  absl::Status HandleFeedbackEvent(const events::Event& event);

  // Forgets request ids older than 24 hours. Called periodically by the binary.
  absl::StatusOr<int64_t> PurgeExpiredRequests();

  // The cache key of a profile id ("profiles:{id}", a Redis Cluster hash tag per profile).
  static std::string CacheKey(absl::string_view id);

 private:
  // What a transaction leaves to do after it commits.
  struct AfterCommit {
    std::vector<std::pair<std::string, int64_t>> invalidations;  // (id, new version)
    bool wrote_events = false;
  };
  using TxWork = std::function<absl::Status(store::Tx&, AfterCommit&)>;

  // Runs `work` in a transaction, retrying ABORTED up to `attempts` times, then applies
  // the AfterCommit actions.
  absl::Status Write(const TxWork& work, absl::Time deadline, int attempts = 5);
  // The same for any `transaction` (one store transaction that fills the AfterCommit).
  absl::Status Retry(const std::function<absl::Status(AfterCommit&)>& transaction,
                     int attempts = 5);
  absl::Status Emit(store::Tx& tx, AfterCommit& after, absl::string_view subject,
                    const google::protobuf::Message& payload);

  // The active profile behind `id`, following merges, through the cache.
  absl::StatusOr<v1::Profile> Resolve(const std::string& id, absl::Time deadline);
  // The same as its cache value: kActiveTag + the serialised profile, and its version.
  absl::StatusOr<cache::CachedValue> ResolvePayload(const std::string& id, absl::Time deadline);
  // The same inside a transaction (no cache): the active row behind `id`.
  absl::StatusOr<StoredProfile> ResolveInTx(store::Tx& tx, std::string id,
                                            RowLock lock = RowLock::kForUpdate);

  absl::Status CheckAccounts(store::Tx& tx, const v1::Profile& profile);
  // Idempotency of create and merge: the profile a request id already produced, if any,
  // and the record of a new one (ABORTED when a concurrent call with the same id won).
  absl::StatusOr<std::optional<v1::Profile>> EarlierResult(store::Tx& tx,
                                                           const std::string& request_id);
  absl::Status RememberRequest(store::Tx& tx, const std::string& request_id,
                               const std::string& id);
  absl::Status EraseInTx(store::Tx& tx, AfterCommit& after, const std::string& id,
                         absl::string_view reason, bool is_delete, int64_t expected_version);
  absl::StatusOr<std::vector<v1::Interaction>> WholeTimeline(store::Tx& tx,
                                                             const std::string& id);
  // Stores `summary` for profile `id` and sets the feedback figures of the profile it
  // resolves to (see HandleFeedbackEvent).
  absl::Status ApplyFeedbackInTx(store::Tx& tx, AfterCommit& after, const std::string& id,
                                 const events::v1::FeedbackSummary& summary);
  google::protobuf::Timestamp NowProto();

  Deps deps_;
  cache::ReadThrough read_through_;
};

}  // namespace centric::profiles

#endif  // CENTRIC_SERVICES_PROFILES_PROFILE_SERVICE_H_
