// Real servers for integration tests and benchmarks: each starts a Debian-packaged
// redis-server or PostgreSQL on a free 127.0.0.1 port with a throwaway data folder, and
// stops it (and removes the folder) when destroyed.
#ifndef CENTRIC_LIBS_TESTING_SERVERS_H_
#define CENTRIC_LIBS_TESTING_SERVERS_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace centric::testing {

// A port on 127.0.0.1 that was free a moment ago.
int FreePort();

// A fresh folder under $TMPDIR (or /tmp), removed with its contents by the destructor.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A child process. The destructor sends SIGTERM, waits up to 10 s, then SIGKILL. The
// child is also killed by the kernel if the thread that started it dies
// (PR_SET_PDEATHSIG), so a crashed or leaked test never leaves servers behind.
class Process {
 public:
  // Starts argv[0] (searched on PATH) with stdout and stderr appended to `log_path`
  // ("" keeps the parent's). `env` entries "K=V" are added to the environment. With
  // `user` set (and running as root) the child switches to that user before exec.
  static absl::StatusOr<std::unique_ptr<Process>> Start(const std::vector<std::string>& argv,
                                                        const std::string& log_path = "",
                                                        const std::vector<std::string>& env = {},
                                                        const std::string& user = "");
  ~Process();
  pid_t pid() const { return pid_; }
  // Sends `signal` and waits for exit; returns the exit status as from waitpid.
  int Signal(int signal, absl::Duration timeout = absl::Seconds(10));
  // SIGKILL, no cleanup: simulates a crash.
  void Kill();
  bool Running();

 private:
  explicit Process(pid_t pid) : pid_(pid) {}
  pid_t pid_;
  bool reaped_ = false;
  int status_ = 0;
};

// Runs a command to completion (as `user`, see Process::Start); returns its exit code.
// Output goes to `log_path`.
int RunCommand(const std::vector<std::string>& argv, const std::string& log_path = "",
               const std::string& user = "");

// Servers still running when the test binary exits (for example a shared server kept
// in a leaked static) are stopped by an atexit hook, so their data folders go too.
class RedisServer {
 public:
  // Starts redis-server without persistence; with a `password`, clients must AUTH with
  // it (requirepass). Errors: UNAVAILABLE (not installed or did not answer PING within
  // 10 s).
  static absl::StatusOr<std::unique_ptr<RedisServer>> Start(const std::string& password = "");
  ~RedisServer();
  int port() const { return port_; }
  // "redis://127.0.0.1:<port>", or "redis://:<password>@127.0.0.1:<port>".
  std::string url() const;
  // Stops the server, keeping the port, to simulate an outage; Restart brings it back
  // (empty).
  void Stop();
  absl::Status Restart();
  // Stops the server for good and removes its folder. Idempotent.
  void Shutdown();

 private:
  RedisServer() = default;
  absl::Status Launch();
  std::unique_ptr<TempDir> dir_;
  std::unique_ptr<Process> process_;
  int port_ = 0;
  std::string password_;
};

class PostgresServer {
 public:
  // initdb into a throwaway folder and start postgres, as a direct child process, on a
  // free port (as the `postgres` user when running as root, since PostgreSQL refuses to
  // run as root). Creates database "centric". With `fast`, fsync and synchronous commit
  // are off (tests); without, the defaults stay (benchmarks).
  static absl::StatusOr<std::unique_ptr<PostgresServer>> Start(bool fast = true);
  ~PostgresServer();
  // Fast shutdown and removal of the data folder. Idempotent.
  void Shutdown();
  int port() const { return port_; }
  // "postgresql://<user>@127.0.0.1:<port>/centric"
  std::string url() const;
  // Creates a fresh empty database and returns its URL, so tests can isolate state.
  absl::StatusOr<std::string> CreateDatabase(const std::string& name);

 private:
  PostgresServer() = default;
  std::unique_ptr<TempDir> dir_;
  std::unique_ptr<Process> process_;
  std::string bin_dir_;
  std::string user_;
  // The OS user postgres runs as ("" = this process's user).
  std::string os_user_;
  int port_ = 0;
};

// Directory holding initdb/pg_ctl/postgres (e.g. /usr/lib/postgresql/15/bin), or "".
std::string PostgresBinDir();

}  // namespace centric::testing

#endif  // CENTRIC_LIBS_TESTING_SERVERS_H_
