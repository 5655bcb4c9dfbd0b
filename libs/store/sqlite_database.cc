// SQLite backend: one connection per Database, used by one transaction at a time.
// SQLite admits a single writer anyway, so a pool would only add lock contention.

#include <sqlite3.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "libs/store/backends.h"
#include "libs/store/store.h"

namespace centric::store::internal {
namespace {

// Dynamic SQL (IN lists of varying length) must not grow the cache without bound.
constexpr size_t kMaxCachedStatements = 256;
// VM instructions between deadline checks: frequent enough to stop within a
// millisecond or so, rare enough that reading the clock costs nothing measurable.
constexpr int kProgressInterval = 1000;

absl::StatusCode CodeFor(int extended_code, bool in_read_only_tx) {
  switch (extended_code) {
    case SQLITE_CONSTRAINT_UNIQUE:
    case SQLITE_CONSTRAINT_PRIMARYKEY:
    case SQLITE_CONSTRAINT_ROWID:
      return absl::StatusCode::kAlreadyExists;
    default:
      break;
  }
  switch (extended_code & 0xff) {
    case SQLITE_CONSTRAINT:
      return absl::StatusCode::kFailedPrecondition;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return absl::StatusCode::kAborted;
    case SQLITE_INTERRUPT:
      return absl::StatusCode::kDeadlineExceeded;
    case SQLITE_ERROR:
    case SQLITE_RANGE:
    case SQLITE_MISMATCH:
    case SQLITE_TOOBIG:
      return absl::StatusCode::kInvalidArgument;
    case SQLITE_READONLY:
      return in_read_only_tx ? absl::StatusCode::kInvalidArgument : absl::StatusCode::kInternal;
    case SQLITE_CANTOPEN:
      return absl::StatusCode::kUnavailable;
    default:
      return absl::StatusCode::kInternal;
  }
}

absl::Status Error(sqlite3* db, absl::string_view what, bool in_read_only_tx = false) {
  const int code = sqlite3_extended_errcode(db);
  return absl::Status(CodeFor(code, in_read_only_tx),
                      absl::StrCat("sqlite ", what, ": ", sqlite3_errmsg(db), " (",
                                   sqlite3_errstr(code), ", code ", code, ")"));
}

struct FinalizeStatement {
  void operator()(sqlite3_stmt* stmt) const { sqlite3_finalize(stmt); }
};
using Statement = std::unique_ptr<sqlite3_stmt, FinalizeStatement>;

// One cached statement, with the parameter number each of its SQLite parameters stands
// for (SQLite numbers distinct names in order of first appearance, so "$2 ... $1" has
// index 1 for $2).
struct Prepared {
  Statement stmt;
  int max_param = 0;
};

class SqliteDatabase;

class SqliteTx : public Tx {
 public:
  SqliteTx(SqliteDatabase& db, bool read_only) : db_(db), read_only_(read_only) {}
  absl::StatusOr<Rows> Query(absl::string_view sql, const Params& params) override;
  absl::StatusOr<int64_t> Exec(absl::string_view sql, const Params& params) override;
  Backend backend() const override { return Backend::kSqlite; }
  const FirstError& first_error() const { return first_error_; }

 private:
  absl::StatusOr<int64_t> Run(absl::string_view sql, const Params& params, Rows* rows);

  SqliteDatabase& db_;
  bool read_only_;
  FirstError first_error_;
};

class SqliteDatabase : public Database {
 public:
  SqliteDatabase(sqlite3* db, const OpenOptions& options)
      : db_(db), connect_timeout_(options.connect_timeout) {}
  ~SqliteDatabase() override {
    cache_.clear();  // statements must be finalized before the connection closes
    sqlite3_close(db_);
  }

  Backend backend() const override { return Backend::kSqlite; }
  absl::Status Transact(absl::FunctionRef<absl::Status(Tx&)> fn, const TxOptions& options) override;
  absl::Status Ping() override { return Query("SELECT 1").status(); }

  // For SqliteTx, which runs only while this thread holds the connection.
  sqlite3* handle() { return db_; }
  absl::StatusOr<Prepared*> Prepare(absl::string_view sql);
  absl::Time deadline() const { return deadline_; }

 private:
  static int OnProgress(void* self) {
    return absl::Now() >= static_cast<SqliteDatabase*>(self)->deadline_ ? 1 : 0;
  }
  absl::Status Acquire(absl::Time deadline);
  void Release();
  absl::Status Run(const char* sql, absl::string_view what);
  absl::Status Finish(absl::Status status, bool read_only);

  sqlite3* const db_;
  const absl::Duration connect_timeout_;

  absl::Mutex mu_;
  bool in_use_ ABSL_GUARDED_BY(mu_) = false;

  // Owned by the thread that set in_use_.
  absl::flat_hash_map<std::string, Prepared> cache_;
  absl::Time deadline_ = absl::InfiniteFuture();
};

absl::Status SqliteDatabase::Acquire(absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  const absl::Time give_up = std::min(absl::Now() + connect_timeout_, deadline);
  auto free = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return !in_use_; };
  if (!mu_.AwaitWithDeadline(absl::Condition(&free), give_up)) {
    if (give_up == deadline) {
      return absl::DeadlineExceededError("transaction deadline passed waiting for SQLite");
    }
    return absl::UnavailableError(
        absl::StrCat("SQLite connection busy with other transactions for ",
                     absl::FormatDuration(connect_timeout_)));
  }
  in_use_ = true;
  return absl::OkStatus();
}

void SqliteDatabase::Release() {
  absl::MutexLock lock(&mu_);
  in_use_ = false;
}

absl::Status SqliteDatabase::Run(const char* sql, absl::string_view what) {
  if (sqlite3_exec(db_, sql, nullptr, nullptr, nullptr) != SQLITE_OK) return Error(db_, what);
  return absl::OkStatus();
}

absl::StatusOr<Prepared*> SqliteDatabase::Prepare(absl::string_view sql) {
  if (auto it = cache_.find(sql); it != cache_.end()) return &it->second;

  sqlite3_stmt* raw = nullptr;
  const char* tail = nullptr;
  if (sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT,
                         &raw, &tail) != SQLITE_OK) {
    return Error(db_, "prepare");
  }
  Prepared prepared{Statement(raw), 0};
  // SQLite would silently ignore everything after the first statement; PostgreSQL
  // refuses it, so refuse it here too (a trailing comment is fine).
  const char* end = sql.data() + sql.size();
  if (tail != nullptr && tail < end) {
    sqlite3_stmt* rest = nullptr;
    sqlite3_prepare_v2(db_, tail, static_cast<int>(end - tail), &rest, nullptr);
    const bool more = rest != nullptr;
    sqlite3_finalize(rest);
    if (more) {
      return absl::InvalidArgumentError(absl::StrCat("one statement per call, got more in: ", sql));
    }
  }
  if (raw != nullptr) {
    const int count = sqlite3_bind_parameter_count(raw);
    for (int i = 1; i <= count; ++i) {
      const char* name = sqlite3_bind_parameter_name(raw, i);
      int number = 0;
      if (name == nullptr || name[0] != '$' || !absl::SimpleAtoi(name + 1, &number) || number < 1) {
        return absl::InvalidArgumentError(
            absl::StrCat("parameter ", name == nullptr ? "?" : name,
                         " is not of the portable form $1, $2, ...: ", sql));
      }
      prepared.max_param = std::max(prepared.max_param, number);
    }
  }
  if (cache_.size() >= kMaxCachedStatements) cache_.clear();
  return &cache_.emplace(std::string(sql), std::move(prepared)).first->second;
}

absl::StatusOr<Rows> SqliteTx::Query(absl::string_view sql, const Params& params) {
  Rows rows;
  absl::StatusOr<int64_t> changed = Run(sql, params, &rows);
  if (!changed.ok()) return changed.status();
  return rows;
}

absl::StatusOr<int64_t> SqliteTx::Exec(absl::string_view sql, const Params& params) {
  return Run(sql, params, nullptr);
}

absl::Status Bind(sqlite3* db, sqlite3_stmt* stmt, int index, const Value& value) {
  int rc = SQLITE_OK;
  // SQLITE_STATIC: `params` outlives the statement's execution, and bindings are cleared
  // before Run returns.
  if (std::holds_alternative<std::monostate>(value)) {
    rc = sqlite3_bind_null(stmt, index);
  } else if (const auto* i = std::get_if<int64_t>(&value)) {
    rc = sqlite3_bind_int64(stmt, index, *i);
  } else if (const auto* d = std::get_if<double>(&value)) {
    rc = sqlite3_bind_double(stmt, index, *d);
  } else if (const auto* s = std::get_if<std::string>(&value)) {
    rc = sqlite3_bind_text64(stmt, index, s->data(), s->size(), SQLITE_STATIC, SQLITE_UTF8);
  } else if (const auto* b = std::get_if<Blob>(&value)) {
    // data() is never null, so an empty Blob binds as a zero-length BLOB, not NULL.
    rc = sqlite3_bind_blob64(stmt, index, b->data.data(), b->data.size(), SQLITE_STATIC);
  }
  if (rc != SQLITE_OK) return Error(db, "bind");
  return absl::OkStatus();
}

Value ColumnValue(sqlite3_stmt* stmt, int column) {
  switch (sqlite3_column_type(stmt, column)) {
    case SQLITE_INTEGER:
      return static_cast<int64_t>(sqlite3_column_int64(stmt, column));
    case SQLITE_FLOAT:
      return sqlite3_column_double(stmt, column);
    case SQLITE_TEXT: {
      const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt, column));
      const int size = sqlite3_column_bytes(stmt, column);
      return std::string(text == nullptr ? "" : text, text == nullptr ? 0 : size);
    }
    case SQLITE_BLOB: {
      const auto* data = static_cast<const char*>(sqlite3_column_blob(stmt, column));
      const int size = sqlite3_column_bytes(stmt, column);
      return Blob{std::string(data == nullptr ? "" : data, data == nullptr ? 0 : size)};
    }
    default:
      return std::monostate();
  }
}

absl::StatusOr<int64_t> SqliteTx::Run(absl::string_view sql, const Params& params, Rows* rows) {
  if (first_error_.failed()) return first_error_.AfterFailure();
  if (absl::Now() >= db_.deadline()) {
    return first_error_.Record(absl::DeadlineExceededError("transaction deadline passed"));
  }
  sqlite3* db = db_.handle();
  absl::StatusOr<Prepared*> prepared = db_.Prepare(sql);
  if (!prepared.ok()) return first_error_.Record(prepared.status());
  sqlite3_stmt* stmt = (*prepared)->stmt.get();
  if (stmt == nullptr) return 0;  // only whitespace or comments
  if (static_cast<size_t>((*prepared)->max_param) != params.size()) {
    return first_error_.Record(absl::InvalidArgumentError(
        absl::StrCat("statement uses parameters up to $", (*prepared)->max_param, " but ",
                     params.size(), " were given: ", sql)));
  }
  if (read_only_ && !sqlite3_stmt_readonly(stmt)) {
    return first_error_.Record(
        absl::InvalidArgumentError(absl::StrCat("read-only transaction cannot run: ", sql)));
  }

  for (size_t i = 0; i < params.size(); ++i) {
    const std::string name = absl::StrCat("$", i + 1);
    const int index = sqlite3_bind_parameter_index(stmt, name.c_str());
    if (index == 0) continue;  // a gap: $1 and $3 used, $2 not
    if (absl::Status s = Bind(db, stmt, index, params[i]); !s.ok()) {
      sqlite3_clear_bindings(stmt);
      return first_error_.Record(s);
    }
  }

  absl::Status status;
  const int64_t total_changes_before = sqlite3_total_changes64(db);
  for (;;) {
    const int rc = sqlite3_step(stmt);
    if (rc == SQLITE_DONE) break;
    if (rc != SQLITE_ROW) {
      status = Error(db, "step", read_only_);
      break;
    }
    if (rows == nullptr) continue;
    // Read per row, not before the first step: a statement re-prepared by that step after
    // a schema change (SELECT * after ADD COLUMN) may have gained columns.
    const int columns = sqlite3_column_count(stmt);
    std::vector<Value> values;
    values.reserve(columns);
    for (int c = 0; c < columns; ++c) values.push_back(ColumnValue(stmt, c));
    rows->emplace_back(std::move(values));
  }
  sqlite3_reset(stmt);
  sqlite3_clear_bindings(stmt);
  if (!status.ok()) return first_error_.Record(status);
  // sqlite3_changes64 still holds the count of the last INSERT/UPDATE/DELETE after a
  // statement (DDL, SELECT) that changed nothing.
  return sqlite3_total_changes64(db) == total_changes_before ? 0 : sqlite3_changes64(db);
}

absl::Status SqliteDatabase::Transact(absl::FunctionRef<absl::Status(Tx&)> fn,
                                      const TxOptions& options) {
  if (absl::Now() >= options.deadline) {
    return absl::DeadlineExceededError("transaction deadline passed before it began");
  }
  if (absl::Status s = Acquire(options.deadline); !s.ok()) return s;
  deadline_ = options.deadline;
  if (deadline_ != absl::InfiniteFuture()) {
    sqlite3_progress_handler(db_, kProgressInterval, &SqliteDatabase::OnProgress, this);
  }

  absl::Status status;
  // IMMEDIATE takes the write lock up front, so two writers queue on busy_timeout rather
  // than both reading and then failing to upgrade.
  if (sqlite3_exec(db_, options.read_only ? "BEGIN" : "BEGIN IMMEDIATE", nullptr, nullptr,
                   nullptr) != SQLITE_OK) {
    status = Error(db_, "begin");
    // Another process held the write lock past busy_timeout: the database is, for now,
    // unavailable to us rather than in conflict with this transaction.
    if (status.code() == absl::StatusCode::kAborted)
      status = absl::UnavailableError(status.message());
  } else {
    SqliteTx tx(*this, options.read_only);
    status = fn(tx);
    if (status.ok() && tx.first_error().failed()) status = tx.first_error().status();
    if (status.ok()) {
      status = Run("COMMIT", "commit");
    }
    // An interrupted statement may already have rolled the transaction back.
    if (!sqlite3_get_autocommit(db_)) {
      sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    }
  }

  if (deadline_ != absl::InfiniteFuture()) sqlite3_progress_handler(db_, 0, nullptr, nullptr);
  deadline_ = absl::InfiniteFuture();
  Release();
  return status;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Database>> OpenSqlite(const std::string& path,
                                                     const OpenOptions& options) {
  const bool in_memory = path == ":memory:";
  if (!in_memory) {
    const std::filesystem::path parent = std::filesystem::path(path).parent_path();
    std::error_code error;
    if (!parent.empty()) std::filesystem::create_directories(parent, error);
    if (error) {
      return absl::UnavailableError(
          absl::StrCat("cannot create folder ", parent.string(), ": ", error.message()));
    }
  }
  sqlite3* raw = nullptr;
  // NOMUTEX: SqliteDatabase already lets one thread at a time use the connection.
  const int rc =
      sqlite3_open_v2(path.c_str(), &raw,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    absl::Status status = absl::UnavailableError(
        absl::StrCat("cannot open SQLite database ", path, ": ",
                     raw != nullptr ? sqlite3_errmsg(raw) : sqlite3_errstr(rc)));
    sqlite3_close(raw);
    return status;
  }
  auto db = std::make_unique<SqliteDatabase>(raw, options);
  sqlite3_extended_result_codes(raw, 1);
  sqlite3_busy_timeout(raw, static_cast<int>(absl::ToInt64Milliseconds(options.connect_timeout)));
  // WAL lets readers in other processes run alongside the writer; NORMAL syncs at
  // checkpoints only, which in WAL mode still never corrupts, only may lose the last
  // commits on power loss.
  const char* setup = in_memory ? "PRAGMA foreign_keys = ON"
                                : "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; "
                                  "PRAGMA foreign_keys = ON";
  if (sqlite3_exec(raw, setup, nullptr, nullptr, nullptr) != SQLITE_OK) {
    absl::Status status = Error(raw, "setup");
    return absl::UnavailableError(status.message());
  }
  return db;
}

}  // namespace centric::store::internal
