#include "services/centricctl/errors.h"

#include <grpcpp/grpcpp.h>

#include "absl/status/status.h"
#include "gtest/gtest.h"
#include "libs/runtime/errors.h"
#include "libs/runtime/grpc_status.h"

namespace centric::ctl {
namespace {

TEST(ExitCodeTest, EachClassOfFailureHasItsCode) {
  EXPECT_EQ(ExitCode(grpc::StatusCode::OK), 0);
  EXPECT_EQ(ExitCode(grpc::StatusCode::NOT_FOUND), 3);
  EXPECT_EQ(ExitCode(grpc::StatusCode::INVALID_ARGUMENT), 4);
  EXPECT_EQ(ExitCode(grpc::StatusCode::FAILED_PRECONDITION), 4);
  EXPECT_EQ(ExitCode(grpc::StatusCode::UNAVAILABLE), 5);
  EXPECT_EQ(ExitCode(grpc::StatusCode::DEADLINE_EXCEEDED), 5);
  EXPECT_EQ(ExitCode(grpc::StatusCode::PERMISSION_DENIED), 1);
  EXPECT_EQ(ExitCode(grpc::StatusCode::INTERNAL), 1);
}

TEST(DescribeTest, FieldViolationsOneLineEach) {
  grpc::Status status = runtime::ToGrpcStatus(
      runtime::InvalidArgument({{"survey_id", "must be 1 to 63 bytes of [a-z0-9-]"},
                                {"survey.question", "is required"}}),
      "centric.feedback");
  EXPECT_EQ(Describe(status, "feedback", "h:1"),
            "invalid_argument:\n"
            "  survey_id: must be 1 to 63 bytes of [a-z0-9-]\n"
            "  survey.question: is required");
}

TEST(DescribeTest, ReasonIsShownWhenItAddsToTheMessage) {
  grpc::Status status = runtime::ToGrpcStatus(
      runtime::Error(absl::StatusCode::kFailedPrecondition, "SURVEY_CLOSED",
                     "survey surveys/nps closed on 2026-01-01"),
      "centric.feedback");
  EXPECT_EQ(Describe(status, "feedback", "h:1"),
            "survey surveys/nps closed on 2026-01-01 [SURVEY_CLOSED]");
}

TEST(DescribeTest, UnreachableNamesTheServiceTargetAndFlag) {
  grpc::Status status(grpc::StatusCode::UNAVAILABLE, "failed to connect to all addresses");
  EXPECT_EQ(Describe(status, "reporting", "10.0.0.7:50051"),
            "could not reach the reporting service at 10.0.0.7:50051: failed to connect to all "
            "addresses (check --target or --reporting-target)");
}

TEST(DescribeTest, PlainErrorsAreTheirMessage) {
  grpc::Status status(grpc::StatusCode::PERMISSION_DENIED, "caller crm may not call X");
  EXPECT_EQ(Describe(status, "profiles", "h:1"), "caller crm may not call X");
}

}  // namespace
}  // namespace centric::ctl
