#include "libs/testing/servers.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <grp.h>
#include <pwd.h>
#include <sys/prctl.h>
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
#include <mutex>
#include <set>

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
                                                         const std::vector<std::string>& env,
                                                         const std::string& user) {
  if (argv.empty()) return absl::InvalidArgumentError("argv is empty");
  uid_t uid = 0;
  gid_t gid = 0;
  if (!user.empty()) {
    passwd* pw = getpwnam(user.c_str());
    if (pw == nullptr) return absl::NotFoundError("no such user: " + user);
    uid = pw->pw_uid;
    gid = pw->pw_gid;
  }
  pid_t parent = getpid();
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
    if (!user.empty() && geteuid() == 0) {
      if (setgroups(0, nullptr) != 0 || setgid(gid) != 0 || setuid(uid) != 0) _exit(126);
    }
    // Set after the credential change, which would clear it. If the parent already
    // died before this line, exit instead of running as an orphan.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(125);
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

int RunCommand(const std::vector<std::string>& argv, const std::string& log_path,
               const std::string& user) {
  auto process = Process::Start(argv, log_path, {}, user);
  if (!process.ok()) return -1;
  int status = 0;
  waitpid((*process)->pid(), &status, 0);
  // Mark as reaped so the destructor does not signal a recycled pid.
  (*process)->Kill();
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// ---------------------------------------------------------------------------------------
// Servers still alive at exit

namespace {

struct Registry {
  std::mutex mu;
  std::set<RedisServer*> redis;
  std::set<PostgresServer*> postgres;
};

Registry& Live() {
  static Registry* registry = [] {
    auto* r = new Registry();
    std::atexit([] {
      Registry& live = Live();
      std::set<RedisServer*> redis;
      std::set<PostgresServer*> postgres;
      {
        std::lock_guard<std::mutex> lock(live.mu);
        redis = live.redis;
        postgres = live.postgres;
      }
      for (RedisServer* server : redis) server->Shutdown();
      for (PostgresServer* server : postgres) server->Shutdown();
    });
    return r;
  }();
  return *registry;
}

template <typename T>
void Register(std::set<T*> Registry::*set, T* server, bool add) {
  Registry& live = Live();
  std::lock_guard<std::mutex> lock(live.mu);
  if (add) {
    (live.*set).insert(server);
  } else {
    (live.*set).erase(server);
  }
}

}  // namespace

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
    // PONG, or NOAUTH when a password is required: either way the server answers.
    auto* reply = static_cast<redisReply*>(redisCommand(c, "PING"));
    ok = reply != nullptr &&
         (reply->type == REDIS_REPLY_STATUS || reply->type == REDIS_REPLY_ERROR);
    if (reply != nullptr) freeReplyObject(reply);
  }
  redisFree(c);
  return ok;
}

}  // namespace

absl::StatusOr<std::unique_ptr<RedisServer>> RedisServer::Start(const std::string& password) {
  std::unique_ptr<RedisServer> server(new RedisServer());
  server->password_ = password;
  server->dir_ = std::make_unique<TempDir>();
  server->port_ = FreePort();
  if (absl::Status s = server->Launch(); !s.ok()) return s;
  Register(&Registry::redis, server.get(), true);
  return server;
}

absl::Status RedisServer::Launch() {
  std::vector<std::string> argv = {
      "redis-server", "--port", std::to_string(port_), "--bind", "127.0.0.1", "--save", "",
      "--appendonly", "no", "--dir", dir_->path(), "--protected-mode", "yes"};
  if (!password_.empty()) {
    argv.push_back("--requirepass");
    argv.push_back(password_);
  }
  auto process = Process::Start(argv, dir_->path() + "/redis.log");
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

std::string RedisServer::url() const {
  return password_.empty() ? absl::StrCat("redis://127.0.0.1:", port_)
                           : absl::StrCat("redis://:", password_, "@127.0.0.1:", port_);
}

void RedisServer::Stop() {
  if (process_ != nullptr) process_->Kill();
  process_.reset();
}

absl::Status RedisServer::Restart() {
  Stop();
  return Launch();
}

void RedisServer::Shutdown() {
  Stop();
  dir_.reset();
}

RedisServer::~RedisServer() {
  Register(&Registry::redis, this, false);
  Shutdown();
}

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

absl::StatusOr<std::unique_ptr<PostgresServer>> PostgresServer::Start(bool fast) {
  std::unique_ptr<PostgresServer> server(new PostgresServer());
  server->bin_dir_ = PostgresBinDir();
  if (server->bin_dir_.empty()) {
    return absl::UnavailableError("PostgreSQL binaries not found under /usr/lib/postgresql");
  }
  server->dir_ = std::make_unique<TempDir>();
  if (geteuid() == 0) {
    passwd* pw = getpwnam("postgres");
    if (pw == nullptr) return absl::UnavailableError("running as root but no postgres user");
    // The folder must be writable by the postgres user.
    if (chown(server->dir_->path().c_str(), pw->pw_uid, pw->pw_gid) != 0) {
      return absl::InternalError("chown of the test folder failed");
    }
    server->os_user_ = "postgres";
    server->user_ = "postgres";
  } else {
    passwd* pw = getpwuid(geteuid());
    server->user_ = pw != nullptr ? pw->pw_name : "postgres";
  }
  const std::string data = server->dir_->path() + "/data";
  const std::string log = server->dir_->path() + "/initdb.log";
  const std::string server_log = server->dir_->path() + "/server.log";
  if (RunCommand({server->bin_dir_ + "/initdb", "-D", data, "-A", "trust", "-U", server->user_,
                  "--no-sync", "-E", "UTF8", "--locale=C"},
                 log, server->os_user_) != 0) {
    return absl::UnavailableError("initdb failed; see " + log);
  }
  server->port_ = FreePort();
  std::vector<std::string> argv = {server->bin_dir_ + "/postgres", "-D", data, "-p",
                                   std::to_string(server->port_), "-c",
                                   "listen_addresses=127.0.0.1", "-k", server->dir_->path(),
                                   "-c", "max_connections=200", "-c", "shared_buffers=128MB"};
  if (fast) {
    for (const char* setting : {"fsync=off", "synchronous_commit=off", "full_page_writes=off"}) {
      argv.push_back("-c");
      argv.push_back(setting);
    }
  }
  auto process = Process::Start(argv, server_log, {}, server->os_user_);
  if (!process.ok()) return process.status();
  server->process_ = std::move(*process);
  Register(&Registry::postgres, server.get(), true);
  const std::string ping = absl::StrCat("host=127.0.0.1 port=", server->port_,
                                        " dbname=postgres connect_timeout=1 user=", server->user_);
  absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (PQping(ping.c_str()) != PQPING_OK) {
    if (absl::Now() > deadline || !server->process_->Running()) {
      return absl::UnavailableError("postgres did not start; see " + server_log);
    }
    absl::SleepFor(absl::Milliseconds(20));
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

void PostgresServer::Shutdown() {
  // SIGINT is PostgreSQL's fast shutdown: roll back sessions, exit cleanly.
  if (process_ != nullptr) process_->Signal(SIGINT, absl::Seconds(10));
  process_.reset();
  dir_.reset();
}

PostgresServer::~PostgresServer() {
  Register(&Registry::postgres, this, false);
  Shutdown();
}

}  // namespace centric::testing
