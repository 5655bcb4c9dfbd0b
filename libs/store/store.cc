#include "libs/store/store.h"

#include <charconv>
#include <cmath>
#include <limits>
#include <string>
#include <system_error>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "libs/runtime/config.h"
#include "libs/store/backends.h"

namespace centric::store {
namespace {

// Truncates toward zero like CAST(x AS INTEGER), saturating instead of overflowing.
int64_t DoubleToInt(double d) {
  if (std::isnan(d)) return 0;
  if (d >= 9223372036854775807.0) return std::numeric_limits<int64_t>::max();
  if (d <= -9223372036854775808.0) return std::numeric_limits<int64_t>::min();
  return static_cast<int64_t>(d);
}

int64_t TextToInt(absl::string_view text) {
  int64_t i = 0;
  if (absl::SimpleAtoi(text, &i)) return i;
  double d = 0;
  if (absl::SimpleAtod(text, &d)) return DoubleToInt(d);
  return 0;
}

double TextToDouble(absl::string_view text) {
  double d = 0;
  return absl::SimpleAtod(text, &d) ? d : 0;
}

// Shortest text that parses back to the same double.
std::string DoubleToText(double d) {
  char buffer[64];
  std::to_chars_result result = std::to_chars(buffer, buffer + sizeof(buffer), d);
  if (result.ec != std::errc()) return "";
  return std::string(buffer, result.ptr);
}

}  // namespace

bool Row::IsNull(size_t column) const {
  return std::holds_alternative<std::monostate>(Get(column));
}

int64_t Row::GetInt(size_t column) const {
  const Value& value = Get(column);
  if (const auto* i = std::get_if<int64_t>(&value)) return *i;
  if (const auto* d = std::get_if<double>(&value)) return DoubleToInt(*d);
  if (const auto* s = std::get_if<std::string>(&value)) return TextToInt(*s);
  if (const auto* b = std::get_if<Blob>(&value)) return TextToInt(b->data);
  return 0;
}

double Row::GetDouble(size_t column) const {
  const Value& value = Get(column);
  if (const auto* d = std::get_if<double>(&value)) return *d;
  if (const auto* i = std::get_if<int64_t>(&value)) return static_cast<double>(*i);
  if (const auto* s = std::get_if<std::string>(&value)) return TextToDouble(*s);
  if (const auto* b = std::get_if<Blob>(&value)) return TextToDouble(b->data);
  return 0;
}

std::string Row::GetString(size_t column) const {
  const Value& value = Get(column);
  if (const auto* s = std::get_if<std::string>(&value)) return *s;
  if (const auto* b = std::get_if<Blob>(&value)) return b->data;
  if (const auto* i = std::get_if<int64_t>(&value)) return absl::StrCat(*i);
  if (const auto* d = std::get_if<double>(&value)) return DoubleToText(*d);
  return "";
}

absl::StatusOr<Rows> Database::Query(absl::string_view sql, const Params& params) {
  Rows rows;
  absl::Status status = Transact([&](Tx& tx) -> absl::Status {
    absl::StatusOr<Rows> result = tx.Query(sql, params);
    if (!result.ok()) return result.status();
    rows = *std::move(result);
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return rows;
}

absl::StatusOr<int64_t> Database::Exec(absl::string_view sql, const Params& params) {
  int64_t changed = 0;
  absl::Status status = Transact([&](Tx& tx) -> absl::Status {
    absl::StatusOr<int64_t> result = tx.Exec(sql, params);
    if (!result.ok()) return result.status();
    changed = *result;
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return changed;
}

absl::StatusOr<std::unique_ptr<Database>> Open(absl::string_view url, const OpenOptions& options) {
  if (url == "sqlite::memory:") return internal::OpenSqlite(":memory:", options);
  if (absl::ConsumePrefix(&url, "sqlite://")) {
    if (url.empty()) return absl::InvalidArgumentError("sqlite URL has no file path");
    return internal::OpenSqlite(std::string(url), options);
  }
  if (absl::StartsWith(url, "postgresql://") || absl::StartsWith(url, "postgres://")) {
    return internal::OpenPostgres(std::string(url), options);
  }
  return absl::InvalidArgumentError(
      absl::StrCat("database URL \"", runtime::RedactUrlPassword(url),
                   "\" must start with sqlite://, sqlite::memory: or postgresql://"));
}

std::string ExpandPortableSql(absl::string_view sql, Backend backend) {
  const bool postgres = backend == Backend::kPostgres;
  return absl::StrReplaceAll(
      sql, {{"{{BLOB}}", postgres ? "BYTEA" : "BLOB"},
            {"{{AUTOINCREMENT_PK}}",
             postgres ? "BIGSERIAL PRIMARY KEY" : "INTEGER PRIMARY KEY AUTOINCREMENT"}});
}

namespace {

constexpr absl::string_view kCreateMigrationsTable =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    "service TEXT NOT NULL, version BIGINT NOT NULL, description TEXT NOT NULL, "
    "applied_at BIGINT NOT NULL, PRIMARY KEY (service, version))";

constexpr absl::string_view kCurrentVersion =
    "SELECT COALESCE(MAX(version), 0) FROM schema_migrations WHERE service = $1";

// On PostgreSQL, replicas starting together would race on CREATE TABLE and on applying
// the same migration; a transaction-scoped advisory lock queues them instead. SQLite
// needs nothing: BEGIN IMMEDIATE already admits one writer at a time.
absl::Status LockForMigration(Tx& tx, absl::string_view key) {
  if (tx.backend() != Backend::kPostgres) return absl::OkStatus();
  return tx.Query("SELECT pg_advisory_xact_lock(hashtext($1))", {std::string(key)}).status();
}

absl::StatusOr<int64_t> CurrentVersion(Tx& tx, absl::string_view service) {
  absl::StatusOr<Rows> rows = tx.Query(kCurrentVersion, {std::string(service)});
  if (!rows.ok()) return rows.status();
  if (rows->size() != 1) return absl::InternalError("MAX(version) returned no row");
  return (*rows)[0].GetInt(0);
}

absl::Status NewerThanKnown(absl::string_view service, int64_t current, int64_t known) {
  return absl::FailedPreconditionError(
      absl::StrCat("database schema of service \"", service, "\" is at version ", current,
                   " but this binary knows only up to version ", known));
}

}  // namespace

absl::Status Migrate(Database& db, absl::string_view service,
                     const std::vector<Migration>& migrations) {
  if (service.empty()) return absl::InvalidArgumentError("Migrate: service name is empty");
  for (size_t i = 0; i < migrations.size(); ++i) {
    if (migrations[i].version != static_cast<int64_t>(i) + 1) {
      return absl::InvalidArgumentError(absl::StrCat("Migrate(", service, "): migrations[", i,
                                                     "] has version ", migrations[i].version,
                                                     "; versions must be 1, 2, 3, ... in order"));
    }
  }
  const auto known = static_cast<int64_t>(migrations.size());
  const std::string lock_key = absl::StrCat("centric_migrate:", service);

  int64_t current = 0;
  absl::Status status = db.Transact([&](Tx& tx) -> absl::Status {
    if (absl::Status s = LockForMigration(tx, "centric_migrate:schema_migrations"); !s.ok()) {
      return s;
    }
    if (absl::Status s = tx.Exec(kCreateMigrationsTable).status(); !s.ok()) return s;
    absl::StatusOr<int64_t> version = CurrentVersion(tx, service);
    if (!version.ok()) return version.status();
    current = *version;
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  if (current > known) return NewerThanKnown(service, current, known);

  for (const Migration& migration : migrations) {
    if (migration.version <= current) continue;
    status = db.Transact([&](Tx& tx) -> absl::Status {
      if (absl::Status s = LockForMigration(tx, lock_key); !s.ok()) return s;
      // Another replica may have applied it while we waited for the lock.
      absl::StatusOr<int64_t> version = CurrentVersion(tx, service);
      if (!version.ok()) return version.status();
      if (*version > known) return NewerThanKnown(service, *version, known);
      if (*version >= migration.version) return absl::OkStatus();
      const std::string sql = ExpandPortableSql(migration.sql, tx.backend());
      for (absl::string_view statement : absl::StrSplit(sql, ';', absl::SkipWhitespace())) {
        if (absl::Status s = tx.Exec(absl::StripAsciiWhitespace(statement)).status(); !s.ok()) {
          return s;
        }
      }
      return tx
          .Exec(
              "INSERT INTO schema_migrations (service, version, description, applied_at) "
              "VALUES ($1, $2, $3, $4)",
              {std::string(service), migration.version, migration.description,
               absl::ToUnixSeconds(absl::Now())})
          .status();
    });
    if (!status.ok()) {
      return absl::Status(status.code(),
                          absl::StrCat("migration ", migration.version, " (", migration.description,
                                       ") of ", service, ": ", status.message()));
    }
  }
  return absl::OkStatus();
}

absl::Status PreferCustomPlans(Tx& tx) {
  if (tx.backend() != Backend::kPostgres) return absl::OkStatus();
  return tx.Exec("SET LOCAL plan_cache_mode = force_custom_plan").status();
}

absl::StatusOr<Rows> InsertMany(Tx& tx, absl::string_view head, const std::vector<Params>& rows,
                                absl::string_view tail) {
  Rows out;
  if (rows.empty()) return out;
  const size_t width = rows[0].size();
  const bool returning = absl::StrContains(tail, "RETURNING");
  size_t next = 0;
  while (next < rows.size()) {
    size_t left = rows.size() - next;
    size_t chunk = 256;
    while (chunk > left) chunk /= 2;
    std::string sql(head);
    Params params;
    params.reserve(chunk * width);
    for (size_t r = 0; r < chunk; ++r) {
      const Params& row = rows[next + r];
      if (row.size() != width) {
        return absl::InvalidArgumentError(absl::StrCat("InsertMany: row ", next + r, " has ",
                                                       row.size(), " values, row 0 has ", width));
      }
      absl::StrAppend(&sql, r == 0 ? " (" : ", (");
      for (size_t c = 0; c < width; ++c) {
        absl::StrAppend(&sql, c == 0 ? "$" : ", $", params.size() + 1);
        params.push_back(row[c]);
      }
      absl::StrAppend(&sql, ")");
    }
    if (!tail.empty()) absl::StrAppend(&sql, " ", tail);
    if (returning) {
      auto result = tx.Query(sql, params);
      if (!result.ok()) return result.status();
      for (Row& row : *result) out.push_back(std::move(row));
    } else if (auto result = tx.Exec(sql, params); !result.ok()) {
      return result.status();
    }
    next += chunk;
  }
  return out;
}

}  // namespace centric::store
