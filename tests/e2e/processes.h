// Starting the real binaries for end-to-end tests: each gets --listen=127.0.0.1:0 and a
// log file; the bound addresses are read from the log's {"event":...,"address":...} lines.
#ifndef CENTRIC_TESTS_E2E_PROCESSES_H_
#define CENTRIC_TESTS_E2E_PROCESSES_H_

#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <sys/wait.h>

#include <fstream>
#include <functional>
#include <memory>
#include <regex>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "libs/testing/servers.h"

namespace centric::e2e {

struct Running {
  std::unique_ptr<testing::Process> process;
  std::string address;
  std::string log;
};

// The address of the first log line with `"event":"<event>","address":"..."`, or "".
inline std::string FromLog(const std::string& log_path, const std::string& event) {
  std::regex pattern(absl::StrCat("\"event\":\"", event, "\",\"address\":\"([0-9.:]+)\""));
  std::ifstream in(log_path);
  std::string line;
  while (std::getline(in, line)) {
    std::smatch match;
    if (std::regex_search(line, match, pattern)) return match[1];
  }
  return "";
}

// Starts bin/<binary> with --listen=127.0.0.1:0 (and --insecure unless `extra_args`
// configure TLS with --tls-cert) and waits (up to 20 s) for its "listening" line;
// `address` stays empty when none came.
inline Running Start(const std::string& binary, const std::vector<std::string>& extra_args,
                     const std::vector<std::string>& env, const std::string& dir) {
  Running running;
  running.log = absl::StrCat(dir, "/", binary, ".log");
  std::vector<std::string> argv = {absl::StrCat(CENTRIC_BIN_DIR, "/", binary),
                                   "--listen=127.0.0.1:0", "--drain-timeout=2s"};
  bool tls = false;
  for (const std::string& arg : extra_args) tls = tls || arg.rfind("--tls-cert=", 0) == 0;
  if (!tls) argv.push_back("--insecure");
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  auto process = testing::Process::Start(argv, running.log, env);
  EXPECT_TRUE(process.ok());
  if (!process.ok()) return running;
  running.process = std::move(*process);
  absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (absl::Now() < deadline && running.address.empty() && running.process->Running()) {
    running.address = FromLog(running.log, "listening");
    if (running.address.empty()) absl::SleepFor(absl::Milliseconds(50));
  }
  return running;
}

// Whether grpc.health.v1 answers SERVING within 10 s.
inline bool WaitServing(const std::string& address) {
  auto health = grpc::health::v1::Health::NewStub(
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (absl::Now() < deadline) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(1));
    grpc::health::v1::HealthCheckResponse response;
    if (health->Check(&context, {}, &response).ok() &&
        response.status() == grpc::health::v1::HealthCheckResponse::SERVING) {
      return true;
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
  return false;
}

// SIGTERM, then expects a clean exit 0 within 10 s.
inline void StopGracefully(Running& running) {
  int status = running.process->Signal(SIGTERM, absl::Seconds(10));
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << "exit status " << status << "; see " << running.log;
}

// Polls `condition` until it holds or `limit` passes; returns its last value.
inline bool Eventually(const std::function<bool()>& condition,
                       absl::Duration limit = absl::Seconds(20)) {
  absl::Time deadline = absl::Now() + limit;
  while (absl::Now() < deadline) {
    if (condition()) return true;
    absl::SleepFor(absl::Milliseconds(50));
  }
  return condition();
}

}  // namespace centric::e2e

#endif  // CENTRIC_TESTS_E2E_PROCESSES_H_
