// The storage seam of every Centric service: one small SQL interface with two backends,
// SQLite (embedded default) and PostgreSQL (libpq). Services write portable SQL against
// it; the conformance suite in tests/libs/store runs unchanged against both.
//
// Portable SQL rules (both backends accept these):
//   * Parameters are written $1, $2, ... and bound from the `params` vector in order.
//   * Types: BIGINT, DOUBLE PRECISION, TEXT, and {{BLOB}} in migrations (BYTEA on
//     PostgreSQL, BLOB on SQLite); {{AUTOINCREMENT_PK}} for an auto-numbered BIGINT key.
//   * INSERT ... ON CONFLICT ... DO UPDATE/NOTHING, and RETURNING, are supported.
//   * PostgreSQL infers a parameter's type from where it is used, so a parameter whose
//     place does not fix its type must be cast: `SELECT CAST($1 AS BIGINT)`, and in
//     arithmetic `CAST($1 AS BIGINT) + 1` (an uncast $1 + 1 is a 32-bit INTEGER there).
//     An uncast parameter in a select list comes back as TEXT on PostgreSQL. Use
//     CAST(x AS T), not the PostgreSQL-only x::T.
//   * Result columns must be BIGINT/INTEGER/SMALLINT, DOUBLE PRECISION/REAL, TEXT (or
//     VARCHAR), {{BLOB}}, BOOLEAN (read as 0/1) or NUMERIC (SUM(BIGINT) is NUMERIC on
//     PostgreSQL: read as an integer when it has no fractional digits and fits, else as a
//     double). Other PostgreSQL types (timestamps, UUID, ...) are INVALID_ARGUMENT: cast
//     them to TEXT.
//   * TEXT cannot hold NUL bytes on PostgreSQL (INVALID_ARGUMENT); bind such bytes as Blob.
//   * Name the columns you select. Statements are prepared once per connection, and on
//     PostgreSQL a cached `SELECT *` whose columns a migration changed fails once per
//     connection with ABORTED.
//   * PostgreSQL runs transactions at READ COMMITTED, SQLite serialises them: a value read
//     and then written back in one transaction can lose a concurrent update on PostgreSQL.
//     Write the change in one statement (`SET n = n + 1`, a conditional UPDATE on a version
//     column, or INSERT ... ON CONFLICT DO UPDATE) instead.
#ifndef CENTRIC_LIBS_STORE_STORE_H_
#define CENTRIC_LIBS_STORE_STORE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
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
// callback. A failed statement ends the transaction's usefulness on both backends (as
// PostgreSQL does): later statements fail with FAILED_PRECONDITION and Transact rolls back
// and returns the first error even if the callback returns OK. To tolerate a conflict,
// write it into the statement (INSERT ... ON CONFLICT DO NOTHING) instead.
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
//   FAILED_PRECONDITION another constraint (NOT NULL, CHECK, FOREIGN KEY) was violated, or
//                       a statement ran after an earlier one in the transaction failed
//   ABORTED             serialization failure or deadlock: retry the transaction
//   DEADLINE_EXCEEDED   TxOptions::deadline passed
//   UNAVAILABLE         the database cannot be reached: retry later
//   INVALID_ARGUMENT    a statement is malformed, a parameter count is wrong, a value
//                       does not fit its column, or a read-only transaction writes
//   INTERNAL            anything else
class Database {
 public:
  virtual ~Database() = default;
  virtual Backend backend() const = 0;
  // Runs `fn` in a transaction: commits if it returns OK, rolls back otherwise and
  // returns its status. Thread-safe; callers on different threads get different
  // connections (PostgreSQL) or are serialised (SQLite). Waiting longer than
  // OpenOptions::connect_timeout for a connection (or the SQLite write lock) is
  // UNAVAILABLE; a deadline already passed is DEADLINE_EXCEEDED and `fn` is not called.
  // Must not be called again from inside `fn` (it would wait for its own connection).
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
  // How long to wait for a connection before UNAVAILABLE. For SQLite, how long to wait
  // for the write lock another process holds (busy_timeout) and for other threads' turns.
  absl::Duration connect_timeout = absl::Seconds(5);
};

// Opens "sqlite:///abs/path.db", "sqlite://relative/path.db", "sqlite::memory:", or
// "postgresql://user@host:port/db?..." (any libpq URI). For SQLite the parent folder is
// created if missing. PostgreSQL connects one pooled connection here, so a wrong host or
// password fails at startup; the others connect on demand, and connections the server
// dropped are replaced. Errors: INVALID_ARGUMENT (unknown scheme, bad URL), UNAVAILABLE.
absl::StatusOr<std::unique_ptr<Database>> Open(absl::string_view url,
                                               const OpenOptions& options = {});

// One step of a service's schema. Versions increase from 1 without gaps.
struct Migration {
  int64_t version;
  std::string description;
  // May hold several statements separated by ";" (split naively: no ";" inside string
  // literals or comments). Placeholders {{BLOB}} and {{AUTOINCREMENT_PK}} are replaced
  // per backend.
  std::string sql;
};

// Applies, in one transaction each, the migrations of `service` not yet recorded in the
// shared `schema_migrations` table (service TEXT, version BIGINT, description TEXT,
// applied_at BIGINT Unix seconds). Safe to call concurrently from several replicas.
// Errors: FAILED_PRECONDITION if the database is at a newer version than `migrations`
// knows (an old binary against a new schema); INVALID_ARGUMENT if `migrations` is not
// numbered 1, 2, 3, ...; the failing migration's error, prefixed with its version.
absl::Status Migrate(Database& db, absl::string_view service,
                     const std::vector<Migration>& migrations);

// Writes many rows with few statements: `head` is the statement up to VALUES (e.g.
// "INSERT INTO t (a, b) VALUES"), each entry of `rows` holds one row's values (all of
// the same length), `tail` follows the values (e.g. "ON CONFLICT (a) DO NOTHING" or
// "... RETURNING a"). Rows go in chunks of 256 and then powers of two, so a table sees
// at most 9 distinct statements whatever the row count (each is prepared once per
// connection). Returns the rows RETURNING produced, in chunk order. A tail with ON
// CONFLICT DO UPDATE must not meet one key twice in `rows` (PostgreSQL refuses it).
absl::StatusOr<Rows> InsertMany(Tx& tx, absl::string_view head, const std::vector<Params>& rows,
                                absl::string_view tail = "");

// For the rest of the transaction, plans every statement for its actual parameters.
// PostgreSQL otherwise switches a prepared statement to a generic plan after five
// executions and keeps it while the table grows: a "key IN ($2, ..., $257)" lookup
// planned on a small table stayed a sequential scan and took 400-700 ms per call on 40,000
// rows (bench/feedback_bench.cc). Use it in transactions running IN lookups on growing
// tables. No-op on SQLite.
absl::Status PreferCustomPlans(Tx& tx);

// Expands the {{...}} placeholders of a migration for `backend`.
std::string ExpandPortableSql(absl::string_view sql, Backend backend);

}  // namespace centric::store

#endif  // CENTRIC_LIBS_STORE_STORE_H_
