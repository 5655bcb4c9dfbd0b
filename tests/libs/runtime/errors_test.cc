#include "libs/runtime/errors.h"

#include "google/rpc/error_details.pb.h"
#include "gtest/gtest.h"
#include "libs/runtime/grpc_status.h"

namespace centric::runtime {
namespace {

TEST(ErrorsTest, InvalidArgumentCarriesEveryViolation) {
  absl::Status status = InvalidArgument({{"a.b", "must be set"}, {"c[2]", "too long"}});
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(), "a.b: must be set; c[2]: too long");
  auto violations = FieldViolations(status);
  ASSERT_EQ(violations.size(), 2u);
  EXPECT_EQ(violations[1].field, "c[2]");
  EXPECT_EQ(Reason(status), "INVALID_ARGUMENT");
}

TEST(GrpcStatusTest, EveryErrorHasErrorInfoWithDomainAndReason) {
  grpc::Status plain = ToGrpcStatus(absl::UnavailableError("db down"), "x.centric.dev");
  EXPECT_EQ(plain.error_code(), grpc::StatusCode::UNAVAILABLE);
  google::rpc::Status rich = RichStatus(plain);
  EXPECT_EQ(rich.code(), static_cast<int>(grpc::StatusCode::UNAVAILABLE));
  ASSERT_EQ(rich.details_size(), 1);
  google::rpc::ErrorInfo info;
  ASSERT_TRUE(rich.details(0).UnpackTo(&info));
  EXPECT_EQ(info.domain(), "x.centric.dev");
  EXPECT_EQ(info.reason(), "UNAVAILABLE");

  grpc::Status reasoned = ToGrpcStatus(
      Error(absl::StatusCode::kNotFound, "PROFILE_NOT_FOUND", "no such profile"), "x");
  ASSERT_TRUE(RichStatus(reasoned).details(0).UnpackTo(&info));
  EXPECT_EQ(info.reason(), "PROFILE_NOT_FOUND");
}

TEST(GrpcStatusTest, BadRequestSurvivesTheRoundTrip) {
  absl::Status original = WithViolations(
      Error(absl::StatusCode::kAlreadyExists, "TAKEN", "taken"), {{"profile.identities[0]", "x"}});
  grpc::Status wire = ToGrpcStatus(original, "d");
  EXPECT_EQ(wire.error_code(), grpc::StatusCode::ALREADY_EXISTS);
  absl::Status back = FromGrpcStatus(wire);
  EXPECT_EQ(back.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(Reason(back), "TAKEN");
  ASSERT_EQ(FieldViolations(back).size(), 1u);
  EXPECT_EQ(FieldViolations(back)[0].field, "profile.identities[0]");
  EXPECT_TRUE(ToGrpcStatus(absl::OkStatus(), "d").ok());
}

}  // namespace
}  // namespace centric::runtime
