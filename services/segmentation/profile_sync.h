// Keeps the engine current with the Profiles service: loads every profile at start
// (ListProfiles), applies profile events as they arrive (fetching the changed profile with
// GetProfile), writes primary personas back (UpdateProfile of `persona`), and refreshes
// what time changes (rules reading `now`, RFM boundaries) at an interval.
#ifndef CENTRIC_SERVICES_SEGMENTATION_PROFILE_SYNC_H_
#define CENTRIC_SERVICES_SEGMENTATION_PROFILE_SYNC_H_

#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "centric/profiles/v1/profiles_service.grpc.pb.h"
#include "libs/events/bus.h"
#include "services/segmentation/segmentation_service.h"

namespace centric::segmentation {

struct ProfileSyncOptions {
  absl::Duration refresh_interval = absl::Seconds(60);
  absl::Duration rpc_timeout = absl::Seconds(10);
  int bootstrap_page_size = 1000;
};

class ProfileSync {
 public:
  ProfileSync(Engine& engine, SegmentationService& service,
              std::unique_ptr<profiles::v1::Profiles::StubInterface> profiles,
              ProfileSyncOptions options = {});
  ~ProfileSync();

  // The bus handler for the "profiles" topic. Errors (the Profiles service unreachable)
  // leave the event unacknowledged, so it is delivered again.
  absl::Status HandleEvent(const events::Event& event);
  // Loads every profile, then marks the engine ready. Retries until it succeeds or Stop().
  void Bootstrap();
  // Starts Bootstrap, the persona writer and the refresh loop on background threads.
  void Start();
  void Stop();

  // Queues persona write-backs (latest wins per profile).
  void QueuePersonas(std::vector<PersonaDelta> deltas);
  // Writes every queued persona now; returns how many are still queued (failures).
  size_t FlushPersonas();

 private:
  absl::Status Apply(const std::string& profile);
  void PersonaLoop();
  void RefreshLoop();

  Engine& engine_;
  SegmentationService& service_;
  std::unique_ptr<profiles::v1::Profiles::StubInterface> profiles_;
  ProfileSyncOptions options_;
  absl::Notification stopping_;
  std::vector<std::thread> threads_;
  absl::Mutex mu_;
  absl::CondVar queued_;
  std::map<std::string, std::string> personas_ ABSL_GUARDED_BY(mu_);
};

}  // namespace centric::segmentation

#endif  // CENTRIC_SERVICES_SEGMENTATION_PROFILE_SYNC_H_
