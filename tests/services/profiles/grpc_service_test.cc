// The Profiles gRPC adapter and the server runtime over a real socket: health,
// error details, deadlines, graceful drain.
#include "services/profiles/grpc_service.h"

#include <grpcpp/grpcpp.h>

#include "gtest/gtest.h"
#include "google/rpc/error_details.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "libs/runtime/errors.h"
#include "libs/runtime/grpc_status.h"
#include "libs/runtime/server.h"
#include "libs/testing/servers.h"
#include "services/profiles/profile_store.h"

namespace centric::profiles {
namespace {

class ProfilesGrpcTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = store::Open(absl::StrCat("sqlite://", dir_.path(), "/p.db"));
    ASSERT_TRUE(db.ok());
    db_ = std::move(*db);
    ASSERT_TRUE(store::Migrate(*db_, "profiles", ProfilesMigrations()).ok());
    service_ = std::make_unique<ProfileService>(
        ProfileService::Deps{db_.get(), &cache_, &clock_, &ids_, nullptr});
    grpc_ = std::make_unique<ProfilesGrpcService>(*service_, pool_);
    server_ = std::make_unique<runtime::Server>(
        runtime::ServerOptions{.listen = "127.0.0.1:0", .drain_timeout = absl::Seconds(5)});
    server_->AddService(grpc_.get(), kProfilesServiceName);
    ASSERT_TRUE(server_->Start().ok());
    channel_ = grpc::CreateChannel(server_->address(), grpc::InsecureChannelCredentials());
    stub_ = v1::Profiles::NewStub(channel_);
    health_ = grpc::health::v1::Health::NewStub(channel_);
  }

  grpc::health::v1::HealthCheckResponse::ServingStatus Health(const std::string& service) {
    grpc::ClientContext context;
    grpc::health::v1::HealthCheckRequest request;
    request.set_service(service);
    grpc::health::v1::HealthCheckResponse response;
    grpc::Status status = health_->Check(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response.status();
  }

  testing::TempDir dir_;
  runtime::FakeClock clock_;
  runtime::UlidGenerator ids_{clock_};
  cache::NullCache cache_;
  runtime::WorkerPool pool_{4};
  std::unique_ptr<store::Database> db_;
  std::unique_ptr<ProfileService> service_;
  std::unique_ptr<ProfilesGrpcService> grpc_;
  std::unique_ptr<runtime::Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Profiles::Stub> stub_;
  std::unique_ptr<grpc::health::v1::Health::Stub> health_;
};

TEST_F(ProfilesGrpcTest, HealthIsNotServingUntilReady) {
  using grpc::health::v1::HealthCheckResponse;
  EXPECT_EQ(Health(""), HealthCheckResponse::NOT_SERVING);
  EXPECT_EQ(Health(kProfilesServiceName), HealthCheckResponse::NOT_SERVING);
  server_->SetServing(true);
  EXPECT_EQ(Health(""), HealthCheckResponse::SERVING);
  EXPECT_EQ(Health(kProfilesServiceName), HealthCheckResponse::SERVING);
}

TEST_F(ProfilesGrpcTest, CreateAndGetOverTheWire) {
  grpc::ClientContext create_context;
  v1::CreateProfileRequest request;
  request.set_profile_id("wire");
  request.mutable_profile()->set_kind(v1::PROFILE_KIND_PERSON);
  v1::Profile created;
  ASSERT_TRUE(stub_->CreateProfile(&create_context, request, &created).ok());
  grpc::ClientContext get_context;
  v1::GetProfileRequest get;
  get.set_name("profiles/wire");
  v1::Profile got;
  grpc::Status status = stub_->GetProfile(&get_context, get, &got);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(got.etag(), created.etag());
}

TEST_F(ProfilesGrpcTest, ValidationErrorsCarryErrorInfoAndBadRequest) {
  grpc::ClientContext context;
  v1::CreateProfileRequest request;
  request.mutable_profile()->set_display_name("No Kind");  // kind missing
  v1::Profile created;
  grpc::Status status = stub_->CreateProfile(&context, request, &created);
  ASSERT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  google::rpc::Status rich = runtime::RichStatus(status);
  ASSERT_EQ(rich.details_size(), 2);
  google::rpc::ErrorInfo info;
  ASSERT_TRUE(rich.details(0).UnpackTo(&info));
  EXPECT_EQ(info.domain(), kProfilesErrorDomain);
  EXPECT_EQ(info.reason(), "INVALID_ARGUMENT");
  google::rpc::BadRequest bad_request;
  ASSERT_TRUE(rich.details(1).UnpackTo(&bad_request));
  EXPECT_EQ(bad_request.field_violations(0).field(), "profile.kind");

  grpc::ClientContext get_context;
  v1::GetProfileRequest get;
  get.set_name("profiles/absent");
  v1::Profile got;
  grpc::Status missing = stub_->GetProfile(&get_context, get, &got);
  EXPECT_EQ(missing.error_code(), grpc::StatusCode::NOT_FOUND);
  ASSERT_TRUE(runtime::RichStatus(missing).details(0).UnpackTo(&info));
  EXPECT_EQ(info.reason(), "PROFILE_NOT_FOUND");
  // The client-side reverse mapping restores the reason.
  EXPECT_EQ(runtime::Reason(runtime::FromGrpcStatus(missing)), "PROFILE_NOT_FOUND");
}

TEST_F(ProfilesGrpcTest, ExpiredDeadlineIsDeadlineExceeded) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() - std::chrono::seconds(1));
  v1::GetProfileRequest get;
  get.set_name("profiles/x");
  v1::Profile got;
  EXPECT_EQ(stub_->GetProfile(&context, get, &got).error_code(),
            grpc::StatusCode::DEADLINE_EXCEEDED);
}

TEST_F(ProfilesGrpcTest, ShutdownFlipsHealthAndRefusesNewCalls) {
  server_->SetServing(true);
  server_->Shutdown();
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
  v1::GetProfileRequest get;
  get.set_name("profiles/x");
  v1::Profile got;
  grpc::Status status = stub_->GetProfile(&context, get, &got);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
}

}  // namespace
}  // namespace centric::profiles
