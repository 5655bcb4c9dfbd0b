// Trace propagation over real gRPC: a client calls a front server, whose handler (run by
// runtime::Unary) logs and calls a second server. The caller's trace must reach the
// front handler's log lines and the second server's metadata.
#include <grpcpp/grpcpp.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "libs/runtime/grpc_status.h"
#include "libs/runtime/handler.h"
#include "libs/runtime/log.h"
#include "libs/runtime/server.h"
#include "libs/runtime/trace.h"
#include "libs/runtime/worker_pool.h"
#include "tests/libs/runtime/trace_test.grpc.pb.h"

namespace centric::runtime {
namespace {

constexpr char kTraceId[] = "4bf92f3577b34da6a3ce929d0e0e4736";
constexpr char kParentId[] = "00f067aa0ba902b7";
constexpr char kHeader[] = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

// Logs "hop_called", then calls request.next (when set) with the handler's deadline
// and trace; the last hop reports the traceparent it received and its current trace.
class HopService final : public test::Hop::CallbackService {
 public:
  explicit HopService(WorkerPool& pool) : env_{&pool, "test.centric.dev"} {}

  grpc::ServerUnaryReactor* Call(grpc::CallbackServerContext* context,
                                 const test::CallRequest* request,
                                 test::CallResponse* response) override {
    return Unary(context, env_, [context, request, response](absl::Time) -> absl::Status {
      LogInfo("hop_called", {{"next", request->next()}});
      if (request->next().empty()) {
        const auto& metadata = context->client_metadata();
        if (auto it = metadata.find("traceparent"); it != metadata.end()) {
          response->set_received_traceparent(std::string(it->second.data(), it->second.size()));
        }
        response->set_handler_trace_id(CurrentTrace().trace_id);
        return absl::OkStatus();
      }
      auto stub = test::Hop::NewStub(
          grpc::CreateChannel(request->next(), grpc::InsecureChannelCredentials()));
      grpc::ClientContext outgoing;
      PropagateDeadline(*context, outgoing);
      PropagateTrace(outgoing);
      return FromGrpcStatus(stub->Call(&outgoing, test::CallRequest(), response));
    });
  }

 private:
  HandlerEnv env_;
};

// The value of `"key":"..."` in a JSON log line, or "" when absent.
std::string Field(const std::string& line, absl::string_view key) {
  const std::string prefix = absl::StrCat("\"", key, "\":\"");
  size_t start = line.find(prefix);
  if (start == std::string::npos) return "";
  start += prefix.size();
  return line.substr(start, line.find('"', start) - start);
}

class TracePropagationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SetLogSink([this](absl::string_view line) {
      absl::MutexLock lock(&mu_);
      lines_.emplace_back(line);
    });
    for (auto* server : {&front_, &last_}) {
      *server = std::make_unique<Server>(
          ServerOptions{.listen = "127.0.0.1:0", .drain_timeout = absl::Seconds(2)});
    }
    front_->AddService(&front_service_, "centric.runtime.test.Hop");
    last_->AddService(&last_service_, "centric.runtime.test.Hop");
    ASSERT_TRUE(front_->Start().ok());
    ASSERT_TRUE(last_->Start().ok());
    stub_ = test::Hop::NewStub(
        grpc::CreateChannel(front_->address(), grpc::InsecureChannelCredentials()));
  }

  void TearDown() override {
    front_->Shutdown();
    last_->Shutdown();
    SetLogSink(nullptr);
  }

  // Calls front → last with `traceparent` (none when nullopt); returns the last hop's view.
  test::CallResponse CallThroughFront(std::optional<std::string> traceparent) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    if (traceparent.has_value()) context.AddMetadata("traceparent", *traceparent);
    test::CallRequest request;
    request.set_next(last_->address());
    test::CallResponse response;
    grpc::Status status = stub_->Call(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response;
  }

  // The "hop_called" line of the front server (next set) or of the last hop.
  std::string HopLine(bool front) {
    absl::MutexLock lock(&mu_);
    std::string found;
    for (const std::string& line : lines_) {
      if (!absl::StrContains(line, "\"event\":\"hop_called\"")) continue;
      if (absl::StrContains(line, "\"next\":\"\"") != front) {
        EXPECT_EQ(found, "") << "two lines for one hop";
        found = line;
      }
    }
    return found;
  }

  WorkerPool pool_{4};
  HopService front_service_{pool_};
  HopService last_service_{pool_};
  std::unique_ptr<Server> front_;
  std::unique_ptr<Server> last_;
  std::unique_ptr<test::Hop::Stub> stub_;
  absl::Mutex mu_;
  std::vector<std::string> lines_ ABSL_GUARDED_BY(mu_);
};

TEST_F(TracePropagationTest, CallersTraceReachesLogLinesAndTheNextCall) {
  test::CallResponse response = CallThroughFront(kHeader);

  const std::string front_line = HopLine(true);
  EXPECT_EQ(Field(front_line, "trace_id"), kTraceId) << front_line;
  // The front handler is a span of its own, child of the caller's.
  const std::string front_span = Field(front_line, "span_id");
  EXPECT_EQ(front_span.size(), 16u) << front_line;
  EXPECT_NE(front_span, kParentId);

  std::optional<TraceContext> sent = ParseTraceparent(response.received_traceparent());
  ASSERT_TRUE(sent.has_value()) << "'" << response.received_traceparent() << "'";
  EXPECT_EQ(sent->trace_id, kTraceId);
  EXPECT_NE(sent->span_id, kParentId);
  EXPECT_EQ(sent->flags, 1);
  EXPECT_EQ(response.handler_trace_id(), kTraceId);

  const std::string last_line = HopLine(false);
  EXPECT_EQ(Field(last_line, "trace_id"), kTraceId) << last_line;
  EXPECT_NE(Field(last_line, "span_id"), front_span);
}

TEST_F(TracePropagationTest, CallWithoutTraceparentStartsATraceTheNextCallContinues) {
  test::CallResponse response = CallThroughFront(std::nullopt);

  const std::string trace_id = Field(HopLine(true), "trace_id");
  EXPECT_EQ(trace_id.size(), 32u) << HopLine(true);
  std::optional<TraceContext> sent = ParseTraceparent(response.received_traceparent());
  ASSERT_TRUE(sent.has_value()) << "'" << response.received_traceparent() << "'";
  EXPECT_EQ(sent->trace_id, trace_id);
  EXPECT_EQ(response.handler_trace_id(), trace_id);
  EXPECT_EQ(Field(HopLine(false), "trace_id"), trace_id);
}

TEST_F(TracePropagationTest, InvalidTraceparentIsReplacedByANewTrace) {
  test::CallResponse response =
      CallThroughFront("00-00000000000000000000000000000000-00f067aa0ba902b7-01");

  const std::string trace_id = Field(HopLine(true), "trace_id");
  EXPECT_EQ(trace_id.size(), 32u) << HopLine(true);
  EXPECT_NE(trace_id, "00000000000000000000000000000000");
  std::optional<TraceContext> sent = ParseTraceparent(response.received_traceparent());
  ASSERT_TRUE(sent.has_value()) << "'" << response.received_traceparent() << "'";
  EXPECT_EQ(sent->trace_id, trace_id);
}

}  // namespace
}  // namespace centric::runtime
