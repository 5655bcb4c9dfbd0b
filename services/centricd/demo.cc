#include "services/centricd/demo.h"

#include <google/protobuf/util/json_util.h>
#include <grpcpp/grpcpp.h>

#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "centric/profiles/v1/profiles_service.grpc.pb.h"
#include "libs/runtime/grpc_status.h"

namespace centric::demo {
namespace {

namespace v1 = ::centric::profiles::v1;

struct DemoCustomer {
  const char* id;
  const char* name;
  const char* email;
  const char* country;
  double order_value;
  int orders;
};

}  // namespace

absl::Status RunProfilesDemo(const std::string& address) {
  auto stub = v1::Profiles::NewStub(grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  const DemoCustomer customers[] = {
      {"ada", "Ada Lovelace", "ada@example.com", "GB", 120.0, 3},
      {"grace", "Grace Hopper", "grace@example.com", "US", 80.5, 1},
      {"katherine", "Katherine Johnson", "katherine@example.com", "US", 42.0, 5},
  };
  const int64_t now = absl::ToUnixSeconds(absl::Now());
  for (const DemoCustomer& c : customers) {
    v1::CreateProfileRequest create;
    create.set_request_id(absl::StrCat("demo-", c.id));
    create.set_profile_id(c.id);
    v1::Profile* p = create.mutable_profile();
    p->set_kind(v1::PROFILE_KIND_PERSON);
    p->set_display_name(c.name);
    auto* identity = p->add_identities();
    identity->set_type(v1::IDENTITY_TYPE_EMAIL);
    identity->set_value(c.email);
    (*p->mutable_traits())["country"].set_string_value(c.country);
    auto* consent = p->add_consents();
    consent->set_purpose(v1::CONSENT_PURPOSE_MARKETING_EMAIL);
    consent->set_status(v1::CONSENT_STATUS_GRANTED);
    consent->set_source("demo");
    p->add_preferred_channels(v1::CHANNEL_EMAIL);
    v1::Profile created;
    grpc::ClientContext create_context;
    create_context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    grpc::Status status = stub->CreateProfile(&create_context, create, &created);
    if (!status.ok()) return runtime::FromGrpcStatus(status);

    v1::RecordInteractionsRequest record;
    record.set_profile(created.name());
    for (int i = 0; i < c.orders; ++i) {
      v1::Interaction* interaction = record.add_interactions();
      interaction->set_event_id(absl::StrCat("demo-", c.id, "-order-", i));
      interaction->set_channel(i % 2 == 0 ? v1::CHANNEL_WEB : v1::CHANNEL_BRANCH);
      interaction->set_type("purchase");
      interaction->mutable_occur_time()->set_seconds(now - 86400 * (30 * (i + 1)));
      interaction->set_monetary_value(c.order_value);
      interaction->set_currency_code("EUR");
    }
    v1::RecordInteractionsResponse recorded;
    grpc::ClientContext record_context;
    record_context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    status = stub->RecordInteractions(&record_context, record, &recorded);
    if (!status.ok()) return runtime::FromGrpcStatus(status);

    std::string json;
    google::protobuf::util::JsonPrintOptions options;
    options.add_whitespace = true;
    (void)google::protobuf::util::MessageToJsonString(recorded.profile(), &json, options);
    std::printf("%s\n", json.c_str());
  }
  std::printf("demo: 3 profiles in centricd at %s (try: grpcurl -plaintext %s list)\n",
              address.c_str(), address.c_str());
  std::fflush(stdout);
  return absl::OkStatus();
}

}  // namespace centric::demo
