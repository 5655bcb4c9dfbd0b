// PostgreSQL backend over libpq: a pool of connections, each with its own cache of
// server-side prepared statements, results in binary format decoded by column type.

#include <libpq-fe.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "libs/store/backends.h"
#include "libs/store/store.h"

namespace centric::store::internal {
namespace {

// Type OIDs from the PostgreSQL catalog (pg_type.dat); they are fixed across versions.
constexpr Oid kBoolOid = 16;
constexpr Oid kByteaOid = 17;
constexpr Oid kNameOid = 19;
constexpr Oid kInt8Oid = 20;
constexpr Oid kInt2Oid = 21;
constexpr Oid kInt4Oid = 23;
constexpr Oid kTextOid = 25;
constexpr Oid kOidOid = 26;
constexpr Oid kJsonOid = 114;
constexpr Oid kFloat4Oid = 700;
constexpr Oid kFloat8Oid = 701;
constexpr Oid kUnknownOid = 705;
constexpr Oid kBpcharOid = 1042;
constexpr Oid kVarcharOid = 1043;
constexpr Oid kNumericOid = 1700;
constexpr Oid kVoidOid = 2278;
constexpr Oid kJsonbOid = 3802;

// Dynamic SQL must not grow a connection's prepared statements without bound.
constexpr size_t kMaxPreparedStatements = 256;
// statement_timeout is set at BEGIN to the time left; a statement starting this much
// later than the last setting gets a fresh one, so no statement outlives the deadline by
// more than this.
constexpr absl::Duration kTimeoutRefresh = absl::Milliseconds(20);

struct ClearResult {
  void operator()(PGresult* result) const { PQclear(result); }
};
using Result = std::unique_ptr<PGresult, ClearResult>;

struct PreparedStatement {
  std::string name;
  std::vector<Oid> param_types;
};

struct Connection {
  explicit Connection(PGconn* pg) : pg(pg) {}
  ~Connection() { PQfinish(pg); }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  PGconn* const pg;
  absl::flat_hash_map<std::string, PreparedStatement> statements;
  int64_t statements_created = 0;
  // Came from the pool rather than a fresh connect, so it may have gone stale.
  bool reused = false;
  // A statement's result type changed under its cached plan (a migration altered a
  // table); the prepared statements are dropped before the connection is reused.
  bool drop_statements = false;
};

absl::StatusCode CodeForSqlState(absl::string_view state) {
  if (state == "23505") return absl::StatusCode::kAlreadyExists;
  if (absl::StartsWith(state, "23")) return absl::StatusCode::kFailedPrecondition;
  if (state == "40001" || state == "40P01" || state == "55P03") {
    return absl::StatusCode::kAborted;
  }
  if (state == "57014") return absl::StatusCode::kDeadlineExceeded;
  if (absl::StartsWith(state, "08") || absl::StartsWith(state, "57P") || state == "53300") {
    return absl::StatusCode::kUnavailable;
  }
  if (absl::StartsWith(state, "42") || absl::StartsWith(state, "22") ||
      absl::StartsWith(state, "0A") || state == "25006") {
    return absl::StatusCode::kInvalidArgument;
  }
  return absl::StatusCode::kInternal;
}

// The error of a failed libpq call, with the SQLSTATE and the server's words.
absl::Status PgError(PGconn* pg, const PGresult* result, absl::string_view what) {
  const char* state = result != nullptr ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  const bool broken = PQstatus(pg) == CONNECTION_BAD;
  if (state == nullptr) {
    // libpq's own error: the connection failed or the protocol did.
    const char* message = result != nullptr ? PQresultErrorMessage(result) : PQerrorMessage(pg);
    return absl::Status(
        broken ? absl::StatusCode::kUnavailable : absl::StatusCode::kInternal,
        absl::StrCat("postgresql ", what, ": ", absl::StripTrailingAsciiWhitespace(message)));
  }
  const char* primary = PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY);
  const char* detail = PQresultErrorField(result, PG_DIAG_MESSAGE_DETAIL);
  std::string message = absl::StrCat("postgresql ", what, ": SQLSTATE ", state, ": ",
                                     primary != nullptr ? primary : "(no message)");
  if (detail != nullptr) absl::StrAppend(&message, " (", detail, ")");
  return absl::Status(broken ? absl::StatusCode::kUnavailable : CodeForSqlState(state), message);
}

bool Succeeded(const PGresult* result) {
  switch (PQresultStatus(result)) {
    case PGRES_COMMAND_OK:
    case PGRES_TUPLES_OK:
    case PGRES_EMPTY_QUERY:
      return true;
    default:
      return false;
  }
}

// Runs a simple-protocol command (which may hold several statements).
absl::Status Command(PGconn* pg, const std::string& sql, absl::string_view what) {
  Result result(PQexec(pg, sql.c_str()));
  if (!Succeeded(result.get())) return PgError(pg, result.get(), what);
  return absl::OkStatus();
}

uint64_t ReadBigEndian(const char* data, int bytes) {
  uint64_t value = 0;
  for (int i = 0; i < bytes; ++i) value = (value << 8) | static_cast<unsigned char>(data[i]);
  return value;
}

// NUMERIC's binary form: int16 ndigits, int16 weight, uint16 sign, int16 dscale, then
// ndigits base-10000 digits, the first worth 10000^weight. Read through decimal text so
// the double is correctly rounded.
absl::StatusOr<Value> DecodeNumeric(const char* data, int length) {
  if (length < 8) return absl::InternalError("NUMERIC value shorter than its header");
  const auto ndigits = static_cast<int16_t>(ReadBigEndian(data, 2));
  const auto weight = static_cast<int16_t>(ReadBigEndian(data + 2, 2));
  const auto sign = static_cast<uint16_t>(ReadBigEndian(data + 4, 2));
  const auto dscale = static_cast<int16_t>(ReadBigEndian(data + 6, 2));
  if (ndigits < 0 || length < 8 + 2 * ndigits) {
    return absl::InternalError("NUMERIC value shorter than its digits");
  }
  switch (sign) {
    case 0xC000:
      return std::numeric_limits<double>::quiet_NaN();
    case 0xD000:
      return std::numeric_limits<double>::infinity();
    case 0xF000:
      return -std::numeric_limits<double>::infinity();
    default:
      break;
  }
  auto digit = [&](int index) -> int {
    if (index < 0 || index >= ndigits) return 0;
    return static_cast<int>(ReadBigEndian(data + 8 + 2 * index, 2));
  };
  std::string text = sign == 0x4000 ? "-" : "";
  if (weight < 0) {
    text += "0";
  } else {
    absl::StrAppend(&text, digit(0));
    for (int i = 1; i <= weight; ++i) absl::StrAppend(&text, absl::Dec(digit(i), absl::kZeroPad4));
  }
  if (dscale > 0) {
    std::string fraction;
    for (int i = weight + 1; static_cast<int>(fraction.size()) < dscale; ++i) {
      absl::StrAppend(&fraction, absl::Dec(digit(i), absl::kZeroPad4));
    }
    fraction.resize(dscale);
    absl::StrAppend(&text, ".", fraction);
  } else {
    int64_t integer = 0;
    if (absl::SimpleAtoi(text, &integer)) return integer;
  }
  double real = 0;
  if (!absl::SimpleAtod(text, &real)) return absl::InternalError("unreadable NUMERIC " + text);
  return real;
}

absl::StatusOr<Value> Decode(Oid type, const char* data, int length) {
  auto need = [&](int bytes) -> absl::Status {
    if (length == bytes) return absl::OkStatus();
    return absl::InternalError(
        absl::StrCat("column of type OID ", type, " has ", length, " bytes, not ", bytes));
  };
  switch (type) {
    case kBoolOid:
      if (absl::Status s = need(1); !s.ok()) return s;
      return static_cast<int64_t>(data[0] != 0);
    case kInt2Oid:
      if (absl::Status s = need(2); !s.ok()) return s;
      return static_cast<int64_t>(static_cast<int16_t>(ReadBigEndian(data, 2)));
    case kInt4Oid:
      if (absl::Status s = need(4); !s.ok()) return s;
      return static_cast<int64_t>(static_cast<int32_t>(ReadBigEndian(data, 4)));
    case kOidOid:
      if (absl::Status s = need(4); !s.ok()) return s;
      return static_cast<int64_t>(ReadBigEndian(data, 4));
    case kInt8Oid:
      if (absl::Status s = need(8); !s.ok()) return s;
      return static_cast<int64_t>(ReadBigEndian(data, 8));
    case kFloat4Oid: {
      if (absl::Status s = need(4); !s.ok()) return s;
      const auto bits = static_cast<uint32_t>(ReadBigEndian(data, 4));
      float f;
      std::memcpy(&f, &bits, sizeof(f));
      return static_cast<double>(f);
    }
    case kFloat8Oid: {
      if (absl::Status s = need(8); !s.ok()) return s;
      const uint64_t bits = ReadBigEndian(data, 8);
      double d;
      std::memcpy(&d, &bits, sizeof(d));
      return d;
    }
    case kNumericOid:
      return DecodeNumeric(data, length);
    case kByteaOid:
      return Blob{std::string(data, length)};
    case kTextOid:
    case kVarcharOid:
    case kBpcharOid:
    case kNameOid:
    case kUnknownOid:
    case kJsonOid:
      return std::string(data, length);
    case kJsonbOid:
      // A version byte (1) precedes the JSON text.
      if (length < 1) return absl::InternalError("empty JSONB value");
      return std::string(data + 1, length - 1);
    case kVoidOid:
      return std::monostate();
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("result column has PostgreSQL type OID ", type,
                       ", which the store cannot read; cast it to BIGINT, DOUBLE PRECISION, "
                       "TEXT or BYTEA"));
  }
}

absl::StatusOr<Rows> DecodeRows(const PGresult* result) {
  const int columns = PQnfields(result);
  const int count = PQntuples(result);
  Rows rows;
  rows.reserve(count);
  for (int r = 0; r < count; ++r) {
    std::vector<Value> values;
    values.reserve(columns);
    for (int c = 0; c < columns; ++c) {
      if (PQgetisnull(result, r, c)) {
        values.emplace_back(std::monostate());
        continue;
      }
      absl::StatusOr<Value> value =
          Decode(PQftype(result, c), PQgetvalue(result, r, c), PQgetlength(result, r, c));
      if (!value.ok()) {
        return absl::Status(value.status().code(), absl::StrCat("column \"", PQfname(result, c),
                                                                "\": ", value.status().message()));
      }
      values.push_back(*std::move(value));
    }
    rows.emplace_back(std::move(values));
  }
  return rows;
}

// Parameters travel untyped in text form, so the server reads them as whatever type the
// statement gives them; bytes go in binary form so they need no escaping and may hold NUL.
class EncodedParams {
 public:
  absl::Status Encode(const Params& params, const std::vector<Oid>& types) {
    const size_t n = params.size();
    text_.resize(n);
    values_.assign(n, nullptr);
    lengths_.assign(n, 0);
    formats_.assign(n, 0);
    for (size_t i = 0; i < n; ++i) {
      const Value& value = params[i];
      if (const auto* integer = std::get_if<int64_t>(&value)) {
        text_[i] = absl::StrCat(*integer);
        values_[i] = text_[i].c_str();
      } else if (const auto* real = std::get_if<double>(&value)) {
        if (std::isnan(*real)) {
          text_[i] = "NaN";
        } else if (std::isinf(*real)) {
          text_[i] = *real > 0 ? "Infinity" : "-Infinity";
        } else {
          text_[i] = absl::StrFormat("%.17g", *real);
        }
        values_[i] = text_[i].c_str();
      } else if (const auto* text = std::get_if<std::string>(&value)) {
        if (types[i] == kByteaOid) {
          Binary(i, *text);
        } else if (text->find('\0') != std::string::npos) {
          return absl::InvalidArgumentError(
              absl::StrCat("parameter $", i + 1,
                           " is text holding a NUL byte, which "
                           "PostgreSQL TEXT cannot store; bind it as a Blob"));
        } else {
          values_[i] = text->c_str();
        }
      } else if (const auto* blob = std::get_if<Blob>(&value)) {
        Binary(i, blob->data);
      }
    }
    return absl::OkStatus();
  }
  int size() const { return static_cast<int>(values_.size()); }
  const char* const* values() const { return values_.data(); }
  const int* lengths() const { return lengths_.data(); }
  const int* formats() const { return formats_.data(); }

 private:
  void Binary(size_t i, const std::string& bytes) {
    // data() is never null, so an empty value is empty bytes, not NULL.
    values_[i] = bytes.data();
    lengths_[i] = static_cast<int>(bytes.size());
    formats_[i] = 1;
  }
  std::vector<std::string> text_;
  std::vector<const char*> values_;
  std::vector<int> lengths_;
  std::vector<int> formats_;
};

class PostgresTx : public Tx {
 public:
  PostgresTx(Connection& conn, absl::Time deadline, absl::Time timeout_set_at)
      : conn_(conn), deadline_(deadline), timeout_set_at_(timeout_set_at) {}
  absl::StatusOr<Rows> Query(absl::string_view sql, const Params& params) override;
  absl::StatusOr<int64_t> Exec(absl::string_view sql, const Params& params) override;
  Backend backend() const override { return Backend::kPostgres; }
  const FirstError& first_error() const { return first_error_; }

 private:
  absl::StatusOr<Result> Run(absl::string_view sql, const Params& params);
  absl::StatusOr<const PreparedStatement*> Prepare(absl::string_view sql);
  absl::Status CheckDeadline();

  Connection& conn_;
  const absl::Time deadline_;
  absl::Time timeout_set_at_;
  FirstError first_error_;
};

std::string StatementTimeoutSql(absl::Time deadline, absl::Time now) {
  // 0 would mean "no timeout", and the setting is a 32-bit count of milliseconds.
  const int64_t ms = std::clamp<int64_t>(absl::ToInt64Milliseconds(deadline - now), 1,
                                         std::numeric_limits<int32_t>::max());
  return absl::StrCat("SET LOCAL statement_timeout = ", ms);
}

absl::Status PostgresTx::CheckDeadline() {
  if (deadline_ == absl::InfiniteFuture()) return absl::OkStatus();
  const absl::Time now = absl::Now();
  if (now >= deadline_) return absl::DeadlineExceededError("transaction deadline passed");
  if (now - timeout_set_at_ < kTimeoutRefresh) return absl::OkStatus();
  timeout_set_at_ = now;
  return Command(conn_.pg, StatementTimeoutSql(deadline_, now), "set statement_timeout");
}

absl::StatusOr<const PreparedStatement*> PostgresTx::Prepare(absl::string_view sql) {
  if (auto it = conn_.statements.find(sql); it != conn_.statements.end()) return &it->second;
  if (conn_.statements.size() >= kMaxPreparedStatements) {
    conn_.statements.clear();
    if (absl::Status s = Command(conn_.pg, "DEALLOCATE ALL", "deallocate"); !s.ok()) return s;
  }
  PreparedStatement prepared;
  prepared.name = absl::StrCat("s", ++conn_.statements_created);
  const std::string text(sql);
  Result result(PQprepare(conn_.pg, prepared.name.c_str(), text.c_str(), 0, nullptr));
  if (!Succeeded(result.get())) return PgError(conn_.pg, result.get(), "prepare");
  // The server inferred each parameter's type; knowing it lets text reach a BYTEA
  // parameter intact (in binary form) and a wrong parameter count be named plainly.
  result.reset(PQdescribePrepared(conn_.pg, prepared.name.c_str()));
  if (!Succeeded(result.get())) return PgError(conn_.pg, result.get(), "describe");
  const int count = PQnparams(result.get());
  prepared.param_types.reserve(count);
  for (int i = 0; i < count; ++i) prepared.param_types.push_back(PQparamtype(result.get(), i));
  return &conn_.statements.emplace(text, std::move(prepared)).first->second;
}

absl::StatusOr<Result> PostgresTx::Run(absl::string_view sql, const Params& params) {
  if (first_error_.failed()) return first_error_.AfterFailure();
  if (absl::Status s = CheckDeadline(); !s.ok()) return first_error_.Record(s);
  absl::StatusOr<const PreparedStatement*> prepared = Prepare(sql);
  if (!prepared.ok()) return first_error_.Record(prepared.status());
  const std::vector<Oid>& types = (*prepared)->param_types;
  if (types.size() != params.size()) {
    return first_error_.Record(
        absl::InvalidArgumentError(absl::StrCat("statement uses parameters up to $", types.size(),
                                                " but ", params.size(), " were given: ", sql)));
  }
  EncodedParams encoded;
  if (absl::Status s = encoded.Encode(params, types); !s.ok()) return first_error_.Record(s);
  Result result(PQexecPrepared(conn_.pg, (*prepared)->name.c_str(), encoded.size(),
                               encoded.values(), encoded.lengths(), encoded.formats(),
                               /*resultFormat=*/1));
  if (!Succeeded(result.get())) {
    absl::Status status = PgError(conn_.pg, result.get(), "statement");
    if (absl::StrContains(status.message(), "cached plan must not change result type")) {
      conn_.drop_statements = true;
      status = absl::AbortedError(status.message());
    }
    return first_error_.Record(status);
  }
  return result;
}

absl::StatusOr<Rows> PostgresTx::Query(absl::string_view sql, const Params& params) {
  absl::StatusOr<Result> result = Run(sql, params);
  if (!result.ok()) return result.status();
  absl::StatusOr<Rows> rows = DecodeRows(result->get());
  if (!rows.ok()) return first_error_.Record(rows.status());
  return rows;
}

absl::StatusOr<int64_t> PostgresTx::Exec(absl::string_view sql, const Params& params) {
  absl::StatusOr<Result> result = Run(sql, params);
  if (!result.ok()) return result.status();
  int64_t changed = 0;
  // Empty for statements that change no rows by nature (DDL).
  if (!absl::SimpleAtoi(PQcmdTuples(result->get()), &changed)) changed = 0;
  return changed;
}

class PostgresDatabase : public Database {
 public:
  PostgresDatabase(std::string url, const OpenOptions& options)
      : url_(std::move(url)), options_(options) {}

  Backend backend() const override { return Backend::kPostgres; }
  absl::Status Transact(absl::FunctionRef<absl::Status(Tx&)> fn, const TxOptions& options) override;
  absl::Status Ping() override;

 private:
  absl::StatusOr<std::unique_ptr<Connection>> Acquire(absl::Time deadline);
  void Release(std::unique_ptr<Connection> conn);
  absl::StatusOr<std::unique_ptr<Connection>> Connect();
  // Borrows a connection and runs `sql` on it. A pooled connection the server has
  // dropped (restart, idle timeout) fails here before any work was done, so it is
  // discarded and the next one tried, rather than failing the caller.
  absl::StatusOr<std::unique_ptr<Connection>> AcquireAndRun(const std::string& sql,
                                                            absl::Time deadline,
                                                            absl::string_view what);

  const std::string url_;
  const OpenOptions options_;

  absl::Mutex mu_;
  std::vector<std::unique_ptr<Connection>> idle_ ABSL_GUARDED_BY(mu_);
  // Idle, borrowed, and being connected.
  int open_ ABSL_GUARDED_BY(mu_) = 0;
};

absl::StatusOr<std::unique_ptr<Connection>> PostgresDatabase::Connect() {
  // Keywords before "dbname" are defaults the URL may override.
  const std::string timeout = absl::StrCat(std::max<int64_t>(
      1, absl::ToInt64Seconds(absl::Ceil(options_.connect_timeout, absl::Seconds(1)))));
  const char* const keywords[] = {"connect_timeout", "client_encoding", "dbname", nullptr};
  const char* const values[] = {timeout.c_str(), "UTF8", url_.c_str(), nullptr};
  PGconn* pg = PQconnectdbParams(keywords, values, /*expand_dbname=*/1);
  if (pg == nullptr) return absl::UnavailableError("postgresql connect: out of memory");
  auto conn = std::make_unique<Connection>(pg);
  if (PQstatus(pg) != CONNECTION_OK) {
    return absl::UnavailableError(absl::StrCat(
        "postgresql connect: ", absl::StripTrailingAsciiWhitespace(PQerrorMessage(pg))));
  }
  // libpq prints NOTICEs ("relation ... already exists, skipping") to stderr, where they
  // would interleave with the service's JSON logs; they carry nothing a caller acts on.
  PQsetNoticeProcessor(
      pg, [](void*, const char*) {}, nullptr);
  return conn;
}

absl::StatusOr<std::unique_ptr<Connection>> PostgresDatabase::Acquire(absl::Time deadline) {
  {
    absl::MutexLock lock(&mu_);
    const absl::Time give_up = std::min(absl::Now() + options_.connect_timeout, deadline);
    auto available = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
      return !idle_.empty() || open_ < options_.pool_size;
    };
    if (!mu_.AwaitWithDeadline(absl::Condition(&available), give_up)) {
      if (give_up == deadline) {
        return absl::DeadlineExceededError(
            "transaction deadline passed waiting for a PostgreSQL connection");
      }
      return absl::UnavailableError(absl::StrCat("all ", options_.pool_size,
                                                 " PostgreSQL connections stayed busy for ",
                                                 absl::FormatDuration(options_.connect_timeout)));
    }
    if (!idle_.empty()) {
      std::unique_ptr<Connection> conn = std::move(idle_.back());
      idle_.pop_back();
      conn->reused = true;
      return conn;
    }
    ++open_;
  }
  absl::StatusOr<std::unique_ptr<Connection>> conn = Connect();
  if (!conn.ok()) {
    absl::MutexLock lock(&mu_);
    --open_;
  }
  return conn;
}

void PostgresDatabase::Release(std::unique_ptr<Connection> conn) {
  bool keep = PQstatus(conn->pg) == CONNECTION_OK && PQtransactionStatus(conn->pg) == PQTRANS_IDLE;
  if (keep && conn->drop_statements) {
    conn->statements.clear();
    conn->drop_statements = false;
    keep = Command(conn->pg, "DEALLOCATE ALL", "deallocate").ok();
  }
  absl::MutexLock lock(&mu_);
  if (keep) {
    idle_.push_back(std::move(conn));
  } else {
    --open_;
    // `conn` closes after the lock is released.
  }
}

absl::StatusOr<std::unique_ptr<Connection>> PostgresDatabase::AcquireAndRun(
    const std::string& sql, absl::Time deadline, absl::string_view what) {
  for (int attempt = 0;; ++attempt) {
    absl::StatusOr<std::unique_ptr<Connection>> conn = Acquire(deadline);
    if (!conn.ok()) return conn.status();
    absl::Status status = Command((*conn)->pg, sql, what);
    if (status.ok()) return conn;
    const bool stale = (*conn)->reused && PQstatus((*conn)->pg) == CONNECTION_BAD;
    Release(*std::move(conn));
    if (!stale || attempt >= options_.pool_size) return status;
  }
}

absl::Status PostgresDatabase::Ping() {
  absl::StatusOr<std::unique_ptr<Connection>> conn =
      AcquireAndRun("SELECT 1", absl::InfiniteFuture(), "ping");
  if (!conn.ok()) return conn.status();
  Release(*std::move(conn));
  return absl::OkStatus();
}

absl::Status PostgresDatabase::Transact(absl::FunctionRef<absl::Status(Tx&)> fn,
                                        const TxOptions& options) {
  const absl::Time begin_time = absl::Now();
  if (begin_time >= options.deadline) {
    return absl::DeadlineExceededError("transaction deadline passed before it began");
  }
  std::string begin = options.read_only ? "BEGIN READ ONLY" : "BEGIN";
  // Sent with BEGIN in one round trip, so the server itself stops statements at the
  // deadline.
  if (options.deadline != absl::InfiniteFuture()) {
    absl::StrAppend(&begin, "; ", StatementTimeoutSql(options.deadline, begin_time));
  }
  absl::StatusOr<std::unique_ptr<Connection>> conn =
      AcquireAndRun(begin, options.deadline, "begin");
  if (!conn.ok()) return conn.status();
  PGconn* pg = (*conn)->pg;

  PostgresTx tx(**conn, options.deadline, begin_time);
  absl::Status status = fn(tx);
  if (status.ok() && tx.first_error().failed()) status = tx.first_error().status();
  if (status.ok()) {
    Result result(PQexec(pg, "COMMIT"));
    if (!Succeeded(result.get())) {
      // If the connection broke, whether the commit happened is unknown; UNAVAILABLE
      // tells the caller to retry, which must then be idempotent.
      status = PgError(pg, result.get(), "commit");
    } else if (std::strcmp(PQcmdStatus(result.get()), "COMMIT") != 0) {
      status = absl::AbortedError("postgresql commit: the server rolled the transaction back");
    }
  }
  if (PQtransactionStatus(pg) != PQTRANS_IDLE) PQclear(PQexec(pg, "ROLLBACK"));
  Release(*std::move(conn));
  return status;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Database>> OpenPostgres(const std::string& url,
                                                       const OpenOptions& options) {
  if (options.pool_size < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("OpenOptions.pool_size must be at least 1, got ", options.pool_size));
  }
  char* error = nullptr;
  PQconninfoOption* parsed = PQconninfoParse(url.c_str(), &error);
  if (parsed == nullptr) {
    absl::Status status = absl::InvalidArgumentError(absl::StrCat(
        "bad PostgreSQL URL: ",
        error != nullptr ? absl::StripTrailingAsciiWhitespace(error) : "out of memory"));
    PQfreemem(error);
    return status;
  }
  PQconninfoFree(parsed);
  auto db = std::make_unique<PostgresDatabase>(url, options);
  // One connection now, so a wrong host or password shows at startup; the rest of the
  // pool connects when load needs it.
  if (absl::Status status = db->Ping(); !status.ok()) return status;
  return db;
}

}  // namespace centric::store::internal
