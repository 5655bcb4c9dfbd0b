// What the Profiles benchmarks share: the profile they read and write, and the no-work
// baseline server whose answers have the same serialised size (bench.proto).
#ifndef CENTRIC_BENCH_BASELINE_H_
#define CENTRIC_BENCH_BASELINE_H_

#include <grpcpp/grpcpp.h>

#include <string>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "centric/bench/v1/bench.grpc.pb.h"
#include "centric/profiles/v1/profiles_service.grpc.pb.h"
#include "libs/runtime/handler.h"
#include "libs/runtime/worker_pool.h"

namespace centric::bench {

namespace pv1 = ::centric::profiles::v1;
namespace bv1 = ::centric::bench::v1;

// A realistic PERSON profile: one e-mail identity, ten traits, two consents.
inline pv1::Profile BenchProfile(absl::string_view id, int n) {
  pv1::Profile profile;
  profile.set_kind(pv1::PROFILE_KIND_PERSON);
  profile.set_display_name(absl::StrFormat("Customer %06d", n));
  pv1::Identity* email = profile.add_identities();
  email->set_type(pv1::IDENTITY_TYPE_EMAIL);
  email->set_value(absl::StrCat(id, "@example.com"));
  auto& traits = *profile.mutable_traits();
  traits["plan"].set_string_value(n % 3 == 0 ? "gold" : "silver");
  traits["country"].set_string_value("DE");
  traits["age"].set_number_value(25 + n % 40);
  traits["newsletter"].set_bool_value(n % 2 == 0);
  traits["lifetime_value_band"].set_string_value("b3");
  traits["signup_source"].set_string_value("web");
  traits["locale"].set_string_value("de-DE");
  traits["churn_score"].set_number_value(0.13);
  traits["segment"].set_string_value("returning");
  auto* interests = traits["interests"].mutable_list_value();
  interests->add_values()->set_string_value("running");
  interests->add_values()->set_string_value("cooking");
  pv1::Consent* marketing = profile.add_consents();
  marketing->set_purpose(pv1::CONSENT_PURPOSE_MARKETING_EMAIL);
  marketing->set_status(pv1::CONSENT_STATUS_GRANTED);
  marketing->set_source("web_signup_form");
  pv1::Consent* analytics = profile.add_consents();
  analytics->set_purpose(pv1::CONSENT_PURPOSE_ANALYTICS);
  analytics->set_status(pv1::CONSENT_STATUS_DENIED);
  analytics->set_source("cookie_banner");
  profile.add_preferred_channels(pv1::CHANNEL_EMAIL);
  profile.add_preferred_channels(pv1::CHANNEL_WEB);
  return profile;
}

// Four interactions, so every profile has non-empty aggregates.
inline pv1::RecordInteractionsRequest BenchInteractions(absl::string_view id) {
  pv1::RecordInteractionsRequest request;
  request.set_profile(absl::StrCat("profiles/", id));
  struct Spec {
    pv1::Channel channel;
    const char* type;
    double value;
  };
  const Spec specs[] = {{pv1::CHANNEL_WEB, "page_view", 0},
                        {pv1::CHANNEL_EMAIL, "email_open", 0},
                        {pv1::CHANNEL_WEB, "purchase", 49.90},
                        {pv1::CHANNEL_SUPPORT, "support_ticket_opened", 0}};
  int hours_ago = 4;
  for (const Spec& spec : specs) {
    pv1::Interaction* interaction = request.add_interactions();
    interaction->set_event_id(absl::StrCat(id, ":", spec.type));
    interaction->set_channel(spec.channel);
    interaction->set_type(spec.type);
    interaction->mutable_occur_time()->set_seconds(
        absl::ToUnixSeconds(absl::Now() - absl::Hours(hours_ago--)));
    (*interaction->mutable_properties()->mutable_fields())["path"].set_string_value("/pricing");
    interaction->set_monetary_value(spec.value);
  }
  return request;
}

// A Blob whose serialised size is `size` bytes (or one more, if no length fits exactly).
inline bv1::Blob BlobOfSize(size_t size) {
  bv1::Blob blob;
  for (size_t n = size > 3 ? size - 3 : 0; n <= size; ++n) {
    blob.set_data(std::string(n, 'x'));
    if (blob.ByteSizeLong() >= size) break;
  }
  return blob;
}

// Answers every call with a pre-built Blob; see bench.proto.
class BaselineService final : public bv1::Baseline::CallbackService {
 public:
  explicit BaselineService(runtime::WorkerPool& pool) : env_{&pool, "bench.centric.dev"} {}

  // Call both before any call is served. `profiles` maps names to serialised profiles.
  void SetBlob(bv1::Blob blob) { blob_ = std::move(blob); }
  void SetProfiles(absl::flat_hash_map<std::string, std::string> profiles) {
    profiles_ = std::move(profiles);
  }

  grpc::ServerUnaryReactor* GetBlob(grpc::CallbackServerContext* context,
                                    const bv1::GetBlobRequest*, bv1::Blob* response) override {
    *response = blob_;
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

  grpc::ServerUnaryReactor* GetBlobOnWorkerPool(grpc::CallbackServerContext* context,
                                                const bv1::GetBlobRequest*,
                                                bv1::Blob* response) override {
    return runtime::Unary(context, env_, [this, response](absl::Time) {
      *response = blob_;
      return absl::OkStatus();
    });
  }

  grpc::ServerUnaryReactor* GetProfileFromMemory(grpc::CallbackServerContext* context,
                                                 const bv1::GetBlobRequest* request,
                                                 pv1::Profile* response) override {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    auto it = profiles_.find(request->name());
    if (it == profiles_.end() || !response->ParseFromString(it->second)) {
      reactor->Finish(grpc::Status(grpc::StatusCode::NOT_FOUND, "not in memory"));
    } else {
      reactor->Finish(grpc::Status::OK);
    }
    return reactor;
  }

 private:
  runtime::HandlerEnv env_;
  bv1::Blob blob_;
  absl::flat_hash_map<std::string, std::string> profiles_;
};

}  // namespace centric::bench

#endif  // CENTRIC_BENCH_BASELINE_H_
