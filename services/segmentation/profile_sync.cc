#include "services/segmentation/profile_sync.h"

#include <utility>

#include "centric/events/v1/events.pb.h"
#include "libs/runtime/grpc_status.h"
#include "libs/runtime/handler.h"
#include "libs/runtime/log.h"

namespace centric::segmentation {
namespace {

namespace pv1 = profiles::v1;
namespace ev = events::v1;

// Deadline and trace (of the event being handled, if any) of an outgoing call.
void Prepare(grpc::ClientContext& context, absl::Duration timeout) {
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::milliseconds(absl::ToInt64Milliseconds(timeout)));
  runtime::PropagateTrace(context);
}

absl::Status FromGrpc(const grpc::Status& status) {
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
}

}  // namespace

ProfileSync::ProfileSync(Engine& engine, SegmentationService& service,
                         std::unique_ptr<pv1::Profiles::StubInterface> profiles,
                         ProfileSyncOptions options)
    : engine_(engine), service_(service), profiles_(std::move(profiles)), options_(options) {}

ProfileSync::~ProfileSync() { Stop(); }

absl::Status ProfileSync::Apply(const std::string& profile) {
  grpc::ClientContext context;
  Prepare(context, options_.rpc_timeout);
  pv1::GetProfileRequest request;
  request.set_name(profile);
  pv1::Profile p;
  grpc::Status status = profiles_->GetProfile(&context, request, &p);
  if (status.error_code() == grpc::StatusCode::NOT_FOUND) {
    return service_.Publish(engine_.RemoveProfile(profile));
  }
  if (!status.ok()) return FromGrpc(status);
  // A merged name resolves to its survivor: the merged profile itself is gone.
  if (p.name() != profile) {
    if (absl::Status s = service_.Publish(engine_.RemoveProfile(profile)); !s.ok()) return s;
  }
  return service_.Publish(engine_.ApplyProfile(p));
}

absl::Status ProfileSync::HandleEvent(const events::Event& event) {
  const auto& payload = event.payload();
  if (payload.Is<ev::ProfileChanged>()) {
    ev::ProfileChanged e;
    payload.UnpackTo(&e);
    return Apply(e.profile());
  }
  if (payload.Is<ev::InteractionRecorded>()) {
    ev::InteractionRecorded e;
    payload.UnpackTo(&e);
    return Apply(e.profile());
  }
  if (payload.Is<ev::ProfilesMerged>()) {
    ev::ProfilesMerged e;
    payload.UnpackTo(&e);
    for (const std::string& merged : e.merged()) {
      if (absl::Status s = service_.Publish(engine_.RemoveProfile(merged)); !s.ok()) return s;
    }
    return Apply(e.survivor());
  }
  if (payload.Is<ev::ProfileErased>()) {
    ev::ProfileErased e;
    payload.UnpackTo(&e);
    return service_.Publish(engine_.RemoveProfile(e.profile()));
  }
  return absl::OkStatus();  // not an event segmentation uses
}

void ProfileSync::Bootstrap() {
  absl::Time started = absl::Now();
  int64_t loaded = 0;
  std::string token;
  while (!stopping_.HasBeenNotified()) {
    grpc::ClientContext context;
    Prepare(context, options_.rpc_timeout);
    pv1::ListProfilesRequest request;
    request.set_page_size(options_.bootstrap_page_size);
    request.set_page_token(token);
    pv1::ListProfilesResponse response;
    grpc::Status status = profiles_->ListProfiles(&context, request, &response);
    if (!status.ok()) {
      runtime::LogWarning("bootstrap_retry", {{"error", status.error_message()}});
      stopping_.WaitForNotificationWithTimeout(absl::Seconds(1));
      continue;
    }
    for (const pv1::Profile& p : response.profiles()) engine_.ApplyProfile(p);
    loaded += response.profiles_size();
    token = response.next_page_token();
    if (token.empty()) break;
  }
  if (stopping_.HasBeenNotified()) return;
  engine_.Ready();
  // Personas computed at start may differ from what the profiles hold (rules changed
  // while the service was down): write back the differences.
  QueuePersonas(engine_.PersonaDrift());
  runtime::LogInfo("segmentation_ready",
                   {{"profiles", loaded},
                    {"seconds", absl::ToDoubleSeconds(absl::Now() - started)},
                    {"memory_bytes", static_cast<int64_t>(engine_.MemoryBytes())}});
}

void ProfileSync::QueuePersonas(std::vector<PersonaDelta> deltas) {
  if (deltas.empty()) return;
  absl::MutexLock lock(&mu_);
  for (PersonaDelta& d : deltas) personas_[d.profile] = std::move(d.persona);
  queued_.Signal();
}

size_t ProfileSync::FlushPersonas() {
  std::map<std::string, std::string> batch;
  {
    absl::MutexLock lock(&mu_);
    batch.swap(personas_);
  }
  std::map<std::string, std::string> failed;
  for (const auto& [profile, persona] : batch) {
    grpc::ClientContext context;
    Prepare(context, options_.rpc_timeout);
    pv1::UpdateProfileRequest request;
    request.mutable_profile()->set_name(profile);
    request.mutable_profile()->set_persona(persona);
    request.mutable_update_mask()->add_paths("persona");
    pv1::Profile updated;
    grpc::Status status = profiles_->UpdateProfile(&context, request, &updated);
    if (!status.ok() && status.error_code() != grpc::StatusCode::NOT_FOUND) {
      failed[profile] = persona;
    }
  }
  absl::MutexLock lock(&mu_);
  // Newer values queued meanwhile win over retries of failed ones.
  for (auto& [profile, persona] : failed) personas_.try_emplace(profile, persona);
  return personas_.size();
}

void ProfileSync::PersonaLoop() {
  while (!stopping_.HasBeenNotified()) {
    {
      absl::MutexLock lock(&mu_);
      if (personas_.empty()) queued_.WaitWithTimeout(&mu_, absl::Seconds(1));
      if (personas_.empty()) continue;
    }
    if (FlushPersonas() > 0) stopping_.WaitForNotificationWithTimeout(absl::Seconds(1));
  }
}

void ProfileSync::RefreshLoop() {
  while (!stopping_.WaitForNotificationWithTimeout(options_.refresh_interval)) {
    if (absl::Status s = service_.Publish(engine_.Refresh()); !s.ok()) {
      runtime::LogWarning("refresh_publish_failed", {{"error", s.ToString()}});
    }
  }
}

void ProfileSync::Start() {
  threads_.emplace_back([this] { Bootstrap(); });
  threads_.emplace_back([this] { PersonaLoop(); });
  threads_.emplace_back([this] { RefreshLoop(); });
}

void ProfileSync::Stop() {
  if (!stopping_.HasBeenNotified()) stopping_.Notify();
  {
    absl::MutexLock lock(&mu_);
    queued_.SignalAll();
  }
  for (std::thread& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
}

}  // namespace centric::segmentation
