#include "libs/testing/servers.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

extern char** environ;

namespace centric::testing {
namespace fs = std::filesystem;

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  int port = ntohs(addr.sin_port);
  close(fd);
  return port;
}

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = absl::StrCat(base != nullptr ? base : "/tmp", "/centric-test-XXXXXX");
  char* made = mkdtemp(tmpl.data());
  path_ = made != nullptr ? made : tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

absl::StatusOr<std::unique_ptr<Process>> Process::Start(const std::vector<std::string>& argv,
                                                         const std::string& log_path,
                                                         const std::vector<std::string>& env) {
  if (argv.empty()) return absl::InvalidArgumentError("argv is empty");
  pid_t pid = fork();
  if (pid < 0) return absl::InternalError(absl::StrCat("fork: ", std::strerror(errno)));
  if (pid == 0) {
    // New process group so the test can signal the whole tree.
    setpgid(0, 0);
    if (!log_path.empty()) {
      int fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      if (fd >= 0) {
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
        close(fd);
      }
    }
    for (const std::string& kv : env) putenv(const_cast<char*>(kv.c_str()));
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execvp(args[0], args.data());
    _exit(127);
  }
  return std::unique_ptr<Process>(new Process(pid));
}

bool Process::Running() {
  if (reaped_) return false;
  pid_t r = waitpid(pid_, &status_, WNOHANG);
  if (r == pid_) reaped_ = true;
  return !reaped_;
}

int Process::Signal(int signal, absl::Duration timeout) {
  if (!Running()) return status_;
  kill(pid_, signal);
  absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    if (!Running()) return status_;
    absl::SleepFor(absl::Milliseconds(10));
  }
  Kill();
  return status_;
}

void Process::Kill() {
  if (reaped_) return;
  kill(pid_, SIGKILL);
  waitpid(pid_, &status_, 0);
  reaped_ = true;
}

Process::~Process() {
  if (Running()) Signal(SIGTERM);
}

int RunCommand(const std::vector<std::string>& argv, const std::string& log_path) {
  auto process = Process::Start(argv, log_path);
  if (!process.ok()) return -1;
  int status = 0;
  waitpid((*process)->pid(), &status, 0);
  // Mark as reaped so the destructor does not signal a recycled pid.
  (*process)->Kill();
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// ---------------------------------------------------------------------------------------
// Redis

namespace {

bool RedisAnswers(int port) {
  timeval tv{0, 200000};
  redisContext* c = redisConnectWithTimeout("127.0.0.1", port, tv);
  if (c == nullptr) return false;
  bool ok = false;
  if (c->err == 0) {
    redisSetTimeout(c, tv);
    auto* reply = static_cast<redisReply*>(redisCommand(c, "PING"));
    ok = reply != nullptr && reply->type == REDIS_REPLY_STATUS;
    if (reply != nullptr) freeReplyObject(reply);
  }
  redisFree(c);
  return ok;
}

}  // namespace

absl::StatusOr<std::unique_ptr<RedisServer>> RedisServer::Start() {
  std::unique_ptr<RedisServer> server(new RedisServer());
  server->dir_ = std::make_unique<TempDir>();
  server->port_ = FreePort();
  if (absl::Status s = server->Launch(); !s.ok()) return s;
  return server;
}

absl::Status RedisServer::Launch() {
  auto process = Process::Start(
      {"redis-server", "--port", std::to_string(port_), "--bind", "127.0.0.1", "--save", "",
       "--appendonly", "no", "--dir", dir_->path(), "--protected-mode", "yes"},
      dir_->path() + "/redis.log");
  if (!process.ok()) return process.status();
  process_ = std::move(*process);
  absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (absl::Now() < deadline) {
    if (RedisAnswers(port_)) return absl::OkStatus();
    if (!process_->Running()) break;
    absl::SleepFor(absl::Milliseconds(20));
  }
  return absl::UnavailableError(
      absl::StrCat("redis-server did not start on port ", port_, "; see ", dir_->path()));
}

std::string RedisServer::url() const { return absl::StrCat("redis://127.0.0.1:", port_); }

void RedisServer::Stop() {
  if (process_ != nullptr) process_->Kill();
  process_.reset();
}

absl::Status RedisServer::Restart() {
  Stop();
  return Launch();
}

RedisServer::~RedisServer() { Stop(); }

// ---------------------------------------------------------------------------------------
// PostgreSQL

std::string PostgresBinDir() {
  if (const char* env = std::getenv("CENTRIC_PG_BINDIR")) return env;
  std::error_code ec;
  std::string best;
  for (const auto& entry : fs::directory_iterator("/usr/lib/postgresql", ec)) {
    fs::path bin = entry.path() / "bin";
    if (fs::exists(bin / "initdb") && bin.string() > best) best = bin.string();
  }
  return best;
}

namespace {

std::vector<std::string> AsUser(bool as_postgres, std::vector<std::string> argv) {
  if (!as_postgres) return argv;
  std::vector<std::string> wrapped = {"runuser", "-u", "postgres", "--"};
  wrapped.insert(wrapped.end(), argv.begin(), argv.end());
  return wrapped;
}

}  // namespace

absl::StatusOr<std::unique_ptr<PostgresServer>> PostgresServer::Start(bool fast) {
  std::unique_ptr<PostgresServer> server(new PostgresServer());
  server->bin_dir_ = PostgresBinDir();
  if (server->bin_dir_.empty()) {
    return absl::UnavailableError("PostgreSQL binaries not found under /usr/lib/postgresql");
  }
  server->dir_ = std::make_unique<TempDir>();
  server->as_postgres_user_ = geteuid() == 0;
  if (server->as_postgres_user_) {
    passwd* pw = getpwnam("postgres");
    if (pw == nullptr) return absl::UnavailableError("running as root but no postgres user");
    // The folder and its parents must be reachable by the postgres user.
    chmod(server->dir_->path().c_str(), 0777);
    server->user_ = "postgres";
  } else {
    passwd* pw = getpwuid(geteuid());
    server->user_ = pw != nullptr ? pw->pw_name : "postgres";
  }
  const std::string data = server->dir_->path() + "/data";
  // initdb's output is written by this process; the server's own log by the server, so
  // they are different files (the postgres user cannot append to a root-owned file).
  const std::string log = server->dir_->path() + "/initdb.log";
  const std::string server_log = server->dir_->path() + "/server.log";
  if (RunCommand(AsUser(server->as_postgres_user_,
                        {server->bin_dir_ + "/initdb", "-D", data, "-A", "trust", "-U",
                         server->user_, "--no-sync", "-E", "UTF8", "--locale=C"}),
                 log) != 0) {
    return absl::UnavailableError("initdb failed; see " + log);
  }
  server->port_ = FreePort();
  std::string options = absl::StrCat("-p ", server->port_,
                                     " -c listen_addresses=127.0.0.1 -k ", server->dir_->path(),
                                     " -c max_connections=200 -c shared_buffers=128MB");
  if (fast) absl::StrAppend(&options, " -c fsync=off -c synchronous_commit=off -c full_page_writes=off");
  if (RunCommand(AsUser(server->as_postgres_user_, {server->bin_dir_ + "/pg_ctl", "-D", data,
                                                    "-l", server_log, "-o", options, "-w", "-t", "30",
                                                    "start"}),
                 server->dir_->path() + "/pg_ctl.log") != 0) {
    return absl::UnavailableError("pg_ctl start failed; see " + server_log);
  }
  absl::StatusOr<std::string> db = server->CreateDatabase("centric");
  if (!db.ok()) return db.status();
  return server;
}

absl::StatusOr<std::string> PostgresServer::CreateDatabase(const std::string& name) {
  std::string admin = absl::StrCat("postgresql://", user_, "@127.0.0.1:", port_, "/postgres");
  PGconn* conn = PQconnectdb(admin.c_str());
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string err = PQerrorMessage(conn);
    PQfinish(conn);
    return absl::UnavailableError("connect to test PostgreSQL: " + err);
  }
  PGresult* res = PQexec(conn, absl::StrCat("CREATE DATABASE \"", name, "\"").c_str());
  bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
  std::string err = PQresultErrorMessage(res);
  PQclear(res);
  PQfinish(conn);
  if (!ok) return absl::InternalError("CREATE DATABASE " + name + ": " + err);
  return absl::StrCat("postgresql://", user_, "@127.0.0.1:", port_, "/", name);
}

std::string PostgresServer::url() const {
  return absl::StrCat("postgresql://", user_, "@127.0.0.1:", port_, "/centric");
}

PostgresServer::~PostgresServer() {
  if (port_ != 0) {
    RunCommand(AsUser(as_postgres_user_, {bin_dir_ + "/pg_ctl", "-D", dir_->path() + "/data",
                                          "-m", "immediate", "-w", "stop"}),
               dir_->path() + "/pg_ctl.log");
  }
}

}  // namespace centric::testing
