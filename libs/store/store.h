// The storage seam of every Centric service: one small SQL interface with two backends,
// SQLite (embedded default) and PostgreSQL (libpq). Services write portable SQL against
// it; the conformance suite in tests/libs/store runs unchanged against both.
//
// Portable SQL rules (both backends accept these):
//   * Parameters are written $1, $2, ... and bound from the `params` vector in order.
//   * Types: BIGINT, DOUBLE PRECISION, TEXT, and {{BLOB}} in migrations (BYTEA on
//     PostgreSQL, BLOB on SQLite); {{AUTOINCREMENT_PK}} for an auto-numbered BIGINT key.
//   * INSERT ... ON CONFLICT ... DO UPDATE/NOTHING, and RETURNING, are supported.
#ifndef CENTRIC_LIBS_STORE_STORE_H_
#define CENTRIC_LIBS_STORE_STORE_H_

#include <cstdint>
#include <memory>
#include <string>
#include "absl/strings/string_view.h"
#include <variant>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace centric::store {

enum class Backend { kSqlite, kPostgres };

// Bytes that must be bound and returned as a BLOB/BYTEA rather than TEXT.
struct Blob {
  std::string data;
};

// A parameter or column value. std::monostate is SQL NULL.
using Value = std::variant<std::monostate, int64_t, double, std::string, Blob>;

// One result row. Accessors convert between compatible types (an integer column read
// with GetDouble, a TEXT column read with GetBytes); reading NULL gives 0 / "".
class Row {
 public:
  explicit Row(std::vector<Value> values) : values_(std::move(values)) {}
  size_t size() const { return values_.size(); }
  bool IsNull(size_t column) const;
  int64_t GetInt(size_t column) const;
  double GetDouble(size_t column) const;
  // TEXT or BLOB content as bytes.
  std::string GetString(size_t column) const;
  const Value& Get(size_t column) const { return values_.at(column); }

 private:
  std::vector<Value> values_;
};

using Rows = std::vector<Row>;
using Params = std::vector<Value>;

// Statements inside one transaction. Not thread-safe; valid only inside Transact's
// callback.
class Tx {
 public:
  virtual ~Tx() = default;
  // Runs a statement that returns rows (SELECT, or anything with RETURNING).
  virtual absl::StatusOr<Rows> Query(absl::string_view sql, const Params& params = {}) = 0;
  // Runs a statement and returns the number of rows it changed.
  virtual absl::StatusOr<int64_t> Exec(absl::string_view sql, const Params& params = {}) = 0;
  virtual Backend backend() const = 0;
};

struct TxOptions {
  // Statements still running at this time are cancelled (DEADLINE_EXCEEDED).
  absl::Time deadline = absl::InfiniteFuture();
  // Read-only transactions may run on a replica / concurrently with writers.
  bool read_only = false;
};

// Error codes returned by every method (the conformance suite checks them):
//   ALREADY_EXISTS      unique or primary key violation
//   ABORTED             serialization failure or deadlock: retry the transaction
//   DEADLINE_EXCEEDED   TxOptions::deadline passed
//   UNAVAILABLE         the database cannot be reached: retry later
//   INVALID_ARGUMENT    a statement is malformed or a parameter count is wrong
//   INTERNAL            anything else
class Database {
 public:
  virtual ~Database() = default;
  virtual Backend backend() const = 0;
  // Runs `fn` in a transaction: commits if it returns OK, rolls back otherwise and
  // returns its status. Thread-safe; callers on different threads get different
  // connections (PostgreSQL) or are serialised (SQLite).
  virtual absl::Status Transact(absl::FunctionRef<absl::Status(Tx&)> fn,
                                const TxOptions& options = {}) = 0;
  // One statement in its own transaction.
  virtual absl::StatusOr<Rows> Query(absl::string_view sql, const Params& params = {});
  virtual absl::StatusOr<int64_t> Exec(absl::string_view sql, const Params& params = {});
  // OK when the database answers a trivial query.
  virtual absl::Status Ping() = 0;
};

struct OpenOptions {
  // PostgreSQL: connections kept in the pool (each Transact borrows one).
  int pool_size = 8;
  // How long to wait for a connection before UNAVAILABLE.
  absl::Duration connect_timeout = absl::Seconds(5);
};

// Opens "sqlite:///abs/path.db", "sqlite://relative/path.db", "sqlite::memory:", or
// "postgresql://user@host:port/db?..." (any libpq URI). For SQLite the parent folder is
// created if missing. Errors: INVALID_ARGUMENT (unknown scheme), UNAVAILABLE.
absl::StatusOr<std::unique_ptr<Database>> Open(absl::string_view url,
                                               const OpenOptions& options = {});

// One step of a service's schema. Versions increase from 1 without gaps.
struct Migration {
  int64_t version;
  std::string description;
  // May hold several statements separated by ";". Placeholders {{BLOB}} and
  // {{AUTOINCREMENT_PK}} are replaced per backend.
  std::string sql;
};

// Applies, in one transaction each, the migrations of `service` not yet recorded in the
// shared `schema_migrations` table. Safe to call concurrently from several replicas.
// Errors: FAILED_PRECONDITION if the database is at a newer version than `migrations`
// knows (an old binary against a new schema).
absl::Status Migrate(Database& db, absl::string_view service,
                     const std::vector<Migration>& migrations);

// Expands the {{...}} placeholders of a migration for `backend`.
std::string ExpandPortableSql(absl::string_view sql, Backend backend);

}  // namespace centric::store

#endif  // CENTRIC_LIBS_STORE_STORE_H_
