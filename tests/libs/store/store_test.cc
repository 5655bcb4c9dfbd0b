// The store conformance suite: every TEST_P runs unchanged against SQLite (a temp file)
// and PostgreSQL (a database of its own on one server per test process).

#include "libs/store/store.h"

#include <atomic>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "libs/testing/servers.h"

namespace centric::store {
namespace {

using ::centric::testing::PostgresServer;
using ::centric::testing::TempDir;

absl::Status StatusOf(const absl::Status& status) { return status; }
template <typename T>
absl::Status StatusOf(const absl::StatusOr<T>& status_or) {
  return status_or.status();
}

template <typename T>
::testing::AssertionResult HasCode(const T& result, absl::StatusCode expected) {
  const absl::Status status = StatusOf(result);
  if (status.code() == expected) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "got " << status << ", want " << absl::StatusCodeToString(expected);
}

#define ASSERT_OK(expr) ASSERT_TRUE(HasCode((expr), absl::StatusCode::kOk)) << #expr
#define EXPECT_CODE(expr, code) EXPECT_TRUE(HasCode((expr), (code))) << #expr

// One server for the whole test process, since starting PostgreSQL costs seconds; it is
// stopped when the process exits.
PostgresServer* SharedPostgres() {
  static const std::unique_ptr<PostgresServer> server = []() -> std::unique_ptr<PostgresServer> {
    absl::StatusOr<std::unique_ptr<PostgresServer>> started = PostgresServer::Start();
    if (started.ok()) return *std::move(started);
    ADD_FAILURE() << "cannot start PostgreSQL: " << started.status();
    return nullptr;
  }();
  return server.get();
}

::testing::AssertionResult IsInt(const Value& value, int64_t expected) {
  const auto* i = std::get_if<int64_t>(&value);
  if (i == nullptr)
    return ::testing::AssertionFailure() << "not an integer, index " << value.index();
  if (*i != expected) return ::testing::AssertionFailure() << *i << " != " << expected;
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult IsDouble(const Value& value, double expected) {
  const auto* d = std::get_if<double>(&value);
  if (d == nullptr) return ::testing::AssertionFailure() << "not a double, index " << value.index();
  if (*d != expected) return ::testing::AssertionFailure() << *d << " != " << expected;
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult IsText(const Value& value, absl::string_view expected) {
  const auto* s = std::get_if<std::string>(&value);
  if (s == nullptr) return ::testing::AssertionFailure() << "not text, index " << value.index();
  if (*s != expected)
    return ::testing::AssertionFailure() << "\"" << *s << "\" != \"" << expected << "\"";
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult IsBlob(const Value& value, absl::string_view expected) {
  const auto* b = std::get_if<Blob>(&value);
  if (b == nullptr) return ::testing::AssertionFailure() << "not a blob, index " << value.index();
  if (b->data != expected) {
    return ::testing::AssertionFailure() << "blob of " << b->data.size() << " bytes differs from "
                                         << expected.size() << " expected bytes";
  }
  return ::testing::AssertionSuccess();
}

class StoreTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    absl::StatusOr<std::string> url = NewUrl();
    ASSERT_TRUE(url.ok()) << url.status();
    url_ = *url;
    absl::StatusOr<std::unique_ptr<Database>> db = Open(url_);
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = *std::move(db);
    ASSERT_EQ(db_->backend(), GetParam());
  }

  // A fresh, empty database.
  absl::StatusOr<std::string> NewUrl() {
    static std::atomic<int> counter{0};
    const int n = counter++;
    if (GetParam() == Backend::kSqlite) {
      // A missing parent folder: Open must create it.
      return absl::StrCat("sqlite://", dir_.path(), "/nested/folder/db", n, ".sqlite");
    }
    PostgresServer* server = SharedPostgres();
    if (server == nullptr) return absl::UnavailableError("no PostgreSQL server");
    return server->CreateDatabase(absl::StrCat("store_test_", n));
  }

  std::string Sql(absl::string_view sql) const { return ExpandPortableSql(sql, GetParam()); }

  void CreateValuesTable() {
    ASSERT_OK(
        db_->Exec(Sql("CREATE TABLE vals (id BIGINT PRIMARY KEY, i BIGINT, "
                      "d DOUBLE PRECISION, s TEXT, b {{BLOB}})")));
  }

  int64_t Count(absl::string_view table) {
    absl::StatusOr<Rows> rows = db_->Query(absl::StrCat("SELECT COUNT(*) FROM ", table));
    EXPECT_TRUE(rows.ok()) << rows.status();
    if (!rows.ok() || rows->size() != 1) return -1;
    return (*rows)[0].GetInt(0);
  }

  TempDir dir_;
  std::string url_;
  std::unique_ptr<Database> db_;
};

TEST_P(StoreTest, RoundTripsEveryValueType) {
  CreateValuesTable();
  const std::string unicode = "h\xC3\xA9llo \xE2\x9C\x93 \xE6\x97\xA5\xE6\x9C\xAC \xF0\x9F\x98\x80";
  const std::string nul_bytes("a\0b\0\xff", 5);
  std::string every_byte;
  for (int i = 0; i < 256; ++i) every_byte.push_back(static_cast<char>(i));
  const std::string quotes = "O'Reilly \"quoted\" \\ backslash \\x00 %s $1";
  const char* insert = "INSERT INTO vals (id, i, d, s, b) VALUES ($1, $2, $3, $4, $5)";

  ASSERT_OK(db_->Exec(
      insert, {int64_t{1}, std::numeric_limits<int64_t>::max(), 0.1, unicode, Blob{nul_bytes}}));
  ASSERT_OK(db_->Exec(
      insert, {int64_t{2}, std::numeric_limits<int64_t>::min(), -1e300, std::string(), Blob{""}}));
  ASSERT_OK(db_->Exec(insert, {int64_t{3}, std::monostate(), std::monostate(), std::monostate(),
                               std::monostate()}));
  ASSERT_OK(db_->Exec(insert, {int64_t{4}, int64_t{0}, 1.0 / 3, quotes, Blob{every_byte}}));

  absl::StatusOr<Rows> rows = db_->Query("SELECT id, i, d, s, b FROM vals ORDER BY id");
  ASSERT_TRUE(rows.ok()) << rows.status();
  ASSERT_EQ(rows->size(), 4u);
  const Rows& r = *rows;
  EXPECT_TRUE(IsInt(r[0].Get(1), std::numeric_limits<int64_t>::max()));
  EXPECT_TRUE(IsDouble(r[0].Get(2), 0.1));
  EXPECT_TRUE(IsText(r[0].Get(3), unicode));
  EXPECT_TRUE(IsBlob(r[0].Get(4), nul_bytes));

  EXPECT_TRUE(IsInt(r[1].Get(1), std::numeric_limits<int64_t>::min()));
  EXPECT_TRUE(IsDouble(r[1].Get(2), -1e300));
  EXPECT_TRUE(IsText(r[1].Get(3), ""));
  EXPECT_TRUE(IsBlob(r[1].Get(4), "")) << "an empty blob is not NULL";

  for (size_t c = 1; c < 5; ++c) {
    EXPECT_TRUE(r[2].IsNull(c)) << "column " << c;
    EXPECT_EQ(r[2].GetInt(c), 0);
    EXPECT_EQ(r[2].GetString(c), "");
  }
  EXPECT_FALSE(r[1].IsNull(3));

  EXPECT_TRUE(IsInt(r[3].Get(1), 0));
  EXPECT_TRUE(IsDouble(r[3].Get(2), 1.0 / 3));
  EXPECT_TRUE(IsText(r[3].Get(3), quotes));
  EXPECT_TRUE(IsBlob(r[3].Get(4), every_byte));
  EXPECT_EQ(r[3].GetString(4), every_byte);
}

TEST_P(StoreTest, RoundTripsLargeBlob) {
  CreateValuesTable();
  std::string big(1 << 20, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>((i * 7919) % 251);
  ASSERT_OK(db_->Exec("INSERT INTO vals (id, b) VALUES ($1, $2)", {int64_t{1}, Blob{big}}));
  absl::StatusOr<Rows> rows = db_->Query("SELECT b FROM vals WHERE id = $1", {int64_t{1}});
  ASSERT_TRUE(rows.ok()) << rows.status();
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_TRUE(IsBlob((*rows)[0].Get(0), big));
}

TEST_P(StoreTest, TextWithNulMustBeBoundAsBlob) {
  CreateValuesTable();
  const std::string with_nul("a\0b", 3);
  if (GetParam() == Backend::kPostgres) {
    EXPECT_CODE(db_->Exec("INSERT INTO vals (id, s) VALUES (1, $1)", {with_nul}),
                absl::StatusCode::kInvalidArgument);
  }
  ASSERT_OK(db_->Exec("INSERT INTO vals (id, b) VALUES (2, $1)", {Blob{with_nul}}));
  absl::StatusOr<Rows> rows = db_->Query("SELECT b FROM vals WHERE id = 2");
  ASSERT_TRUE(rows.ok()) << rows.status();
  EXPECT_EQ((*rows)[0].GetString(0), with_nul);

  // Text bound to a BYTEA/BLOB column arrives intact on both (no escape processing).
  const std::string backslashes = "\\x41 \\000 \\";
  ASSERT_OK(db_->Exec("INSERT INTO vals (id, b) VALUES (3, $1)", {backslashes}));
  rows = db_->Query("SELECT b FROM vals WHERE id = 3");
  ASSERT_TRUE(rows.ok()) << rows.status();
  EXPECT_EQ((*rows)[0].GetString(0), backslashes);
}

TEST_P(StoreTest, ParametersMayRepeatAndComeOutOfOrder) {
  CreateValuesTable();
  ASSERT_OK(db_->Exec("INSERT INTO vals (id, i, s) VALUES ($2, $2, $1)",
                      {std::string("seven"), int64_t{7}}));
  absl::StatusOr<Rows> rows =
      db_->Query("SELECT s, i FROM vals WHERE id = $1 AND i = $1", {int64_t{7}});
  ASSERT_TRUE(rows.ok()) << rows.status();
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_TRUE(IsText((*rows)[0].Get(0), "seven"));
  EXPECT_TRUE(IsInt((*rows)[0].Get(1), 7));

  rows = db_->Query("SELECT id FROM vals WHERE s = $2 AND id = $1",
                    {int64_t{7}, std::string("seven")});
  ASSERT_TRUE(rows.ok()) << rows.status();
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].GetInt(0), 7);
}

TEST_P(StoreTest, CastParametersInSelectListAndArithmetic) {
  absl::StatusOr<Rows> rows = db_->Query(
      "SELECT CAST($1 AS BIGINT) + 1, CAST($2 AS DOUBLE PRECISION) * 2, CAST($3 AS TEXT)",
      {int64_t{5'000'000'000}, 1.25, std::string("x")});
  ASSERT_TRUE(rows.ok()) << rows.status();
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_TRUE(IsInt((*rows)[0].Get(0), 5'000'000'001));
  EXPECT_TRUE(IsDouble((*rows)[0].Get(1), 2.5));
  EXPECT_TRUE(IsText((*rows)[0].Get(2), "x"));
}

TEST_P(StoreTest, AggregatesReadAsNumbers) {
  CreateValuesTable();
  for (int64_t i = 1; i <= 4; ++i) {
    ASSERT_OK(db_->Exec("INSERT INTO vals (id, i, d) VALUES ($1, $1, $2)",
                        {i, static_cast<double>(i) / 2}));
  }
  absl::StatusOr<Rows> rows =
      db_->Query("SELECT COUNT(*), SUM(i), AVG(i), SUM(d), MAX(i), MIN(s) FROM vals");
  ASSERT_TRUE(rows.ok()) << rows.status();
  const Row& row = (*rows)[0];
  EXPECT_TRUE(IsInt(row.Get(0), 4));
  EXPECT_TRUE(IsInt(row.Get(1), 10)) << "SUM(BIGINT) is NUMERIC on PostgreSQL";
  EXPECT_TRUE(IsDouble(row.Get(2), 2.5));
  EXPECT_TRUE(IsDouble(row.Get(3), 5.0));
  EXPECT_TRUE(IsInt(row.Get(4), 4));
  EXPECT_TRUE(row.IsNull(5));
}

TEST_P(StoreTest, BadStatementsAreInvalidArgument) {
  CreateValuesTable();
  EXPECT_CODE(db_->Query("SELECT id FROM vals WHERE id = $1"), absl::StatusCode::kInvalidArgument);
  EXPECT_CODE(db_->Query("SELECT id FROM vals WHERE id = $1", {int64_t{1}, int64_t{2}}),
              absl::StatusCode::kInvalidArgument);
  EXPECT_CODE(db_->Query("SELEC 1"), absl::StatusCode::kInvalidArgument);
  EXPECT_CODE(db_->Query("SELECT * FROM no_such_table"), absl::StatusCode::kInvalidArgument);
  EXPECT_CODE(db_->Exec("DELETE FROM vals; DELETE FROM vals"), absl::StatusCode::kInvalidArgument);
  EXPECT_CODE(db_->Exec("INSERT INTO vals (id, i) VALUES (1, $1)", {std::string("not a number")}),
              GetParam() == Backend::kPostgres ? absl::StatusCode::kInvalidArgument
                                               : absl::StatusCode::kOk);
}

TEST_P(StoreTest, CommitsOnOkAndRollsBackEverythingOnError) {
  CreateValuesTable();
  ASSERT_OK(db_->Transact([this](Tx& tx) -> absl::Status {
    EXPECT_EQ(tx.backend(), GetParam());
    for (int64_t id : {1, 2}) {
      absl::StatusOr<int64_t> changed = tx.Exec("INSERT INTO vals (id, i) VALUES ($1, 0)", {id});
      if (!changed.ok()) return changed.status();
      EXPECT_EQ(*changed, 1);
    }
    return absl::OkStatus();
  }));
  EXPECT_EQ(Count("vals"), 2);

  const absl::Status status = db_->Transact([](Tx& tx) -> absl::Status {
    EXPECT_TRUE(tx.Exec("INSERT INTO vals (id, i) VALUES (3, 0)").ok());
    EXPECT_TRUE(tx.Exec("UPDATE vals SET i = 99").ok());
    absl::StatusOr<Rows> inside = tx.Query("SELECT COUNT(*) FROM vals WHERE i = 99");
    EXPECT_TRUE(inside.ok() && (*inside)[0].GetInt(0) == 3) << "own writes are visible";
    return absl::NotFoundError("the callback's own error");
  });
  EXPECT_EQ(status, absl::NotFoundError("the callback's own error"));
  EXPECT_EQ(Count("vals"), 2);
  absl::StatusOr<Rows> rows = db_->Query("SELECT COUNT(*) FROM vals WHERE i = 99");
  ASSERT_TRUE(rows.ok()) << rows.status();
  EXPECT_EQ((*rows)[0].GetInt(0), 0);
}

TEST_P(StoreTest, FailedStatementEndsTheTransaction) {
  CreateValuesTable();
  const absl::Status status = db_->Transact([](Tx& tx) -> absl::Status {
    EXPECT_TRUE(tx.Exec("INSERT INTO vals (id) VALUES (1)").ok());
    EXPECT_EQ(tx.Exec("INSERT INTO vals (id) VALUES (1)").status().code(),
              absl::StatusCode::kAlreadyExists);
    EXPECT_EQ(tx.Exec("INSERT INTO vals (id) VALUES (2)").status().code(),
              absl::StatusCode::kFailedPrecondition);
    return absl::OkStatus();  // ignoring the failure does not make it commit
  });
  EXPECT_EQ(status.code(), absl::StatusCode::kAlreadyExists) << status;
  EXPECT_EQ(Count("vals"), 0);
}

TEST_P(StoreTest, ConstraintViolations) {
  ASSERT_OK(
      db_->Exec("CREATE TABLE users (id BIGINT PRIMARY KEY, email TEXT NOT NULL UNIQUE, "
                "age BIGINT CHECK (age >= 0))"));
  const char* insert = "INSERT INTO users (id, email, age) VALUES ($1, $2, $3)";
  ASSERT_OK(db_->Exec(insert, {int64_t{1}, std::string("a@x"), int64_t{30}}));
  EXPECT_CODE(db_->Exec(insert, {int64_t{1}, std::string("b@x"), int64_t{30}}),
              absl::StatusCode::kAlreadyExists);
  EXPECT_CODE(db_->Exec(insert, {int64_t{2}, std::string("a@x"), int64_t{30}}),
              absl::StatusCode::kAlreadyExists);
  EXPECT_CODE(db_->Exec(insert, {int64_t{3}, std::monostate(), int64_t{30}}),
              absl::StatusCode::kFailedPrecondition);
  EXPECT_CODE(db_->Exec(insert, {int64_t{4}, std::string("d@x"), int64_t{-1}}),
              absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Count("users"), 1);

  // The message names what clashed, and on PostgreSQL carries the SQLSTATE.
  const absl::Status status =
      db_->Exec(insert, {int64_t{1}, std::string("b@x"), int64_t{30}}).status();
  EXPECT_TRUE(absl::StrContains(status.message(), "users")) << status;
  if (GetParam() == Backend::kPostgres) {
    EXPECT_TRUE(absl::StrContains(status.message(), "SQLSTATE 23505")) << status;
  }
}

TEST_P(StoreTest, ExecCountsChangedRowsOnly) {
  CreateValuesTable();
  absl::StatusOr<int64_t> changed = db_->Exec("INSERT INTO vals (id) VALUES (1), (2), (3)");
  ASSERT_TRUE(changed.ok()) << changed.status();
  EXPECT_EQ(*changed, 3);
  changed = db_->Exec("CREATE TABLE other (x BIGINT)");
  ASSERT_TRUE(changed.ok()) << changed.status();
  EXPECT_EQ(*changed, 0);
  changed = db_->Exec("UPDATE vals SET i = 1 WHERE id > 1");
  ASSERT_TRUE(changed.ok()) << changed.status();
  EXPECT_EQ(*changed, 2);
  changed = db_->Exec("DELETE FROM vals WHERE id > 100");
  ASSERT_TRUE(changed.ok()) << changed.status();
  EXPECT_EQ(*changed, 0);
}

TEST_P(StoreTest, ManyDistinctStatementsOverflowTheCache) {
  for (int k = 0; k < 300; ++k) {
    absl::StatusOr<Rows> rows =
        db_->Query(absl::StrCat("SELECT CAST($1 AS BIGINT) + ", k), {int64_t{1}});
    ASSERT_TRUE(rows.ok()) << rows.status();
    ASSERT_EQ((*rows)[0].GetInt(0), k + 1);
  }
  absl::StatusOr<Rows> rows = db_->Query("SELECT CAST($1 AS BIGINT) + 0", {int64_t{7}});
  ASSERT_TRUE(rows.ok()) << rows.status();
  EXPECT_EQ((*rows)[0].GetInt(0), 7);
}

TEST_P(StoreTest, SelectStarAfterAddColumnRecoversAfterOneRetry) {
  ASSERT_OK(db_->Exec("CREATE TABLE t (a BIGINT)"));
  ASSERT_OK(db_->Exec("INSERT INTO t (a) VALUES (1)"));
  ASSERT_OK(db_->Query("SELECT * FROM t"));
  ASSERT_OK(db_->Exec("ALTER TABLE t ADD COLUMN b BIGINT"));
  absl::StatusOr<Rows> rows = db_->Query("SELECT * FROM t");
  if (GetParam() == Backend::kPostgres) {
    EXPECT_TRUE(HasCode(rows, absl::StatusCode::kAborted));
    rows = db_->Query("SELECT * FROM t");
  }
  ASSERT_TRUE(rows.ok()) << rows.status();
  EXPECT_EQ((*rows)[0].size(), 2u);
}

TEST_P(StoreTest, UpsertAndReturning) {
  ASSERT_OK(db_->Exec("CREATE TABLE counters (name TEXT PRIMARY KEY, n BIGINT NOT NULL)"));
  const char* upsert =
      "INSERT INTO counters (name, n) VALUES ($1, $2) "
      "ON CONFLICT (name) DO UPDATE SET n = counters.n + excluded.n RETURNING n";
  for (int64_t expected : {5, 10, 15}) {
    absl::StatusOr<Rows> rows = db_->Query(upsert, {std::string("a"), int64_t{5}});
    ASSERT_TRUE(rows.ok()) << rows.status();
    ASSERT_EQ(rows->size(), 1u);
    EXPECT_TRUE(IsInt((*rows)[0].Get(0), expected));
  }
  absl::StatusOr<int64_t> changed =
      db_->Exec("INSERT INTO counters (name, n) VALUES ($1, 1) ON CONFLICT (name) DO NOTHING",
                {std::string("a")});
  ASSERT_TRUE(changed.ok()) << changed.status();
  EXPECT_EQ(*changed, 0);
  changed = db_->Exec("UPDATE counters SET n = 0 WHERE name = $1", {std::string("a")});
  ASSERT_TRUE(changed.ok()) << changed.status();
  EXPECT_EQ(*changed, 1);

  ASSERT_OK(db_->Exec(Sql("CREATE TABLE notes (id {{AUTOINCREMENT_PK}}, body TEXT)")));
  for (int64_t expected : {1, 2}) {
    absl::StatusOr<Rows> rows =
        db_->Query("INSERT INTO notes (body) VALUES ($1) RETURNING id, body", {std::string("b")});
    ASSERT_TRUE(rows.ok()) << rows.status();
    ASSERT_EQ(rows->size(), 1u);
    EXPECT_TRUE(IsInt((*rows)[0].Get(0), expected));
    EXPECT_TRUE(IsText((*rows)[0].Get(1), "b"));
  }
  absl::StatusOr<Rows> deleted = db_->Query("DELETE FROM notes RETURNING id");
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_EQ(deleted->size(), 2u);
}

TEST_P(StoreTest, DeadlineInThePastRunsNothing) {
  bool called = false;
  const absl::Status status = db_->Transact(
      [&](Tx&) {
        called = true;
        return absl::OkStatus();
      },
      {.deadline = absl::Now() - absl::Seconds(1)});
  EXPECT_EQ(status.code(), absl::StatusCode::kDeadlineExceeded) << status;
  EXPECT_FALSE(called);
}

TEST_P(StoreTest, SlowStatementIsCancelledAtDeadline) {
  // Counting to a billion takes minutes on either backend.
  const char* slow =
      "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1000000000) "
      "SELECT COUNT(*) FROM c";
  const absl::Time start = absl::Now();
  const absl::Status status = db_->Transact([&](Tx& tx) { return tx.Query(slow).status(); },
                                            {.deadline = absl::Now() + absl::Milliseconds(200)});
  EXPECT_EQ(status.code(), absl::StatusCode::kDeadlineExceeded) << status;
  EXPECT_LT(absl::Now() - start, absl::Seconds(30));
  ASSERT_OK(db_->Ping());
  ASSERT_OK(db_->Query("SELECT 1"));
}

TEST_P(StoreTest, DeadlinePassingBetweenStatements) {
  const absl::Status status = db_->Transact(
      [&](Tx& tx) -> absl::Status {
        if (absl::Status s = tx.Query("SELECT 1").status(); !s.ok()) return s;
        absl::SleepFor(absl::Milliseconds(300));
        return tx.Query("SELECT 2").status();
      },
      {.deadline = absl::Now() + absl::Milliseconds(100)});
  EXPECT_EQ(status.code(), absl::StatusCode::kDeadlineExceeded) << status;
}

TEST_P(StoreTest, ConcurrentTransactionsGiveExactTotal) {
  ASSERT_OK(db_->Exec("CREATE TABLE counters (name TEXT PRIMARY KEY, n BIGINT NOT NULL)"));
  ASSERT_OK(db_->Exec("INSERT INTO counters (name, n) VALUES ('c', 0)"));
  constexpr int kThreads = 8;
  constexpr int kIncrements = 25;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kIncrements; ++i) {
        absl::Status status;
        do {
          status = db_->Transact([](Tx& tx) -> absl::Status {
            absl::StatusOr<Rows> rows = tx.Query(
                "UPDATE counters SET n = n + 1 WHERE name = $1 RETURNING n", {std::string("c")});
            if (!rows.ok()) return rows.status();
            return rows->size() == 1 ? absl::OkStatus() : absl::InternalError("no row");
          });
        } while (status.code() == absl::StatusCode::kAborted);
        if (!status.ok()) {
          ADD_FAILURE() << status;
          ++failures;
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(failures, 0);
  absl::StatusOr<Rows> rows = db_->Query("SELECT n FROM counters WHERE name = 'c'");
  ASSERT_TRUE(rows.ok()) << rows.status();
  EXPECT_EQ((*rows)[0].GetInt(0), kThreads * kIncrements);
}

TEST_P(StoreTest, ReadOnlyTransactionRejectsWrites) {
  CreateValuesTable();
  const TxOptions read_only{.read_only = true};
  EXPECT_CODE(
      db_->Transact([](Tx& tx) { return tx.Exec("INSERT INTO vals (id) VALUES (1)").status(); },
                    read_only),
      absl::StatusCode::kInvalidArgument);
  ASSERT_OK(db_->Transact([](Tx& tx) { return tx.Query("SELECT COUNT(*) FROM vals").status(); },
                          read_only));
  EXPECT_EQ(Count("vals"), 0);
}

TEST_P(StoreTest, WaitingTooLongForAConnectionIsUnavailable) {
  absl::StatusOr<std::unique_ptr<Database>> small =
      Open(url_, {.pool_size = 1, .connect_timeout = absl::Milliseconds(300)});
  ASSERT_TRUE(small.ok()) << small.status();
  absl::Notification inside, release;
  std::thread holder([&] {
    EXPECT_TRUE((*small)
                    ->Transact([&](Tx& tx) {
                      inside.Notify();
                      release.WaitForNotification();
                      return tx.Query("SELECT 1").status();
                    })
                    .ok());
  });
  inside.WaitForNotification();
  EXPECT_CODE((*small)->Query("SELECT 1"), absl::StatusCode::kUnavailable);
  release.Notify();
  holder.join();
  ASSERT_OK((*small)->Query("SELECT 1"));
}

std::vector<Migration> ItemMigrations() {
  return {
      {1, "create items",
       "CREATE TABLE items (id {{AUTOINCREMENT_PK}}, name TEXT NOT NULL, data {{BLOB}});\n"
       "CREATE INDEX items_name ON items (name);"},
      {2, "add price and a seed row",
       "ALTER TABLE items ADD COLUMN price BIGINT;\n"
       "INSERT INTO items (name, price) VALUES ('seed', 1)"},
  };
}

TEST_P(StoreTest, MigrateAppliesOnceAndIsIdempotent) {
  ASSERT_OK(Migrate(*db_, "catalog", ItemMigrations()));
  EXPECT_EQ(Count("items"), 1);
  ASSERT_OK(Migrate(*db_, "catalog", ItemMigrations()));
  EXPECT_EQ(Count("items"), 1) << "a re-run must not apply anything again";

  absl::StatusOr<Rows> rows = db_->Query(
      "SELECT version, description, applied_at FROM schema_migrations WHERE service = $1 "
      "ORDER BY version",
      {std::string("catalog")});
  ASSERT_TRUE(rows.ok()) << rows.status();
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_TRUE(IsInt((*rows)[0].Get(0), 1));
  EXPECT_TRUE(IsText((*rows)[1].Get(1), "add price and a seed row"));
  EXPECT_GT((*rows)[1].GetInt(2), 1'600'000'000);

  // Another service shares schema_migrations without interfering.
  ASSERT_OK(Migrate(*db_, "other", {{1, "t", "CREATE TABLE other_t (id BIGINT PRIMARY KEY)"}}));
  ASSERT_OK(Migrate(*db_, "catalog", ItemMigrations()));

  // A later binary adds a migration; an older one then refuses to run.
  std::vector<Migration> newer = ItemMigrations();
  newer.push_back({3, "add tags", "ALTER TABLE items ADD COLUMN tags TEXT"});
  ASSERT_OK(Migrate(*db_, "catalog", newer));
  ASSERT_OK(db_->Exec("UPDATE items SET tags = 'x'"));
  EXPECT_CODE(Migrate(*db_, "catalog", ItemMigrations()), absl::StatusCode::kFailedPrecondition);
}

TEST_P(StoreTest, FailedMigrationLeavesNothingBehind) {
  ASSERT_OK(Migrate(*db_, "catalog", ItemMigrations()));
  std::vector<Migration> broken = ItemMigrations();
  broken.push_back({3, "half good", "CREATE TABLE half (id BIGINT); CREATE TABLEX oops"});
  EXPECT_CODE(Migrate(*db_, "catalog", broken), absl::StatusCode::kInvalidArgument);
  EXPECT_CODE(db_->Query("SELECT * FROM half"), absl::StatusCode::kInvalidArgument);
  absl::StatusOr<Rows> rows =
      db_->Query("SELECT MAX(version) FROM schema_migrations WHERE service = 'catalog'");
  ASSERT_TRUE(rows.ok()) << rows.status();
  EXPECT_EQ((*rows)[0].GetInt(0), 2);

  EXPECT_CODE(Migrate(*db_, "catalog", {{2, "gap", "SELECT 1"}}),
              absl::StatusCode::kInvalidArgument);
}

TEST_P(StoreTest, ConcurrentMigrateFromReplicas) {
  absl::StatusOr<std::string> url = NewUrl();
  ASSERT_TRUE(url.ok()) << url.status();
  std::vector<std::unique_ptr<Database>> replicas;
  for (int i = 0; i < 3; ++i) {
    absl::StatusOr<std::unique_ptr<Database>> db = Open(*url);
    ASSERT_TRUE(db.ok()) << db.status();
    replicas.push_back(*std::move(db));
  }
  std::vector<std::thread> threads;
  for (int i = 0; i < 6; ++i) {
    threads.emplace_back([&, i] {
      const absl::Status status =
          Migrate(*replicas[i % replicas.size()], "catalog", ItemMigrations());
      EXPECT_TRUE(status.ok()) << status;
    });
  }
  for (std::thread& thread : threads) thread.join();
  absl::StatusOr<Rows> rows = replicas[0]->Query(
      "SELECT COUNT(*), MAX(version) FROM schema_migrations WHERE service = 'catalog'");
  ASSERT_TRUE(rows.ok()) << rows.status();
  EXPECT_EQ((*rows)[0].GetInt(0), 2);
  EXPECT_EQ((*rows)[0].GetInt(1), 2);
  rows = replicas[0]->Query("SELECT COUNT(*) FROM items");
  ASSERT_TRUE(rows.ok()) << rows.status();
  EXPECT_EQ((*rows)[0].GetInt(0), 1);
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreTest,
                         ::testing::Values(Backend::kSqlite, Backend::kPostgres),
                         [](const ::testing::TestParamInfo<Backend>& info) {
                           return info.param == Backend::kSqlite ? "Sqlite" : "Postgres";
                         });

TEST(OpenTest, RejectsUnknownSchemes) {
  for (const char* url : {"", "mysql://localhost/db", "sqlite:", "sqlite://", "redis://x",
                          "postgresql://host:5432/db?nonsense_option=1"}) {
    EXPECT_CODE(Open(url), absl::StatusCode::kInvalidArgument) << url;
  }
}

TEST(OpenTest, UnreachablePostgresIsUnavailable) {
  const absl::Time start = absl::Now();
  const std::string url =
      absl::StrCat("postgresql://postgres@127.0.0.1:", centric::testing::FreePort(), "/none");
  EXPECT_CODE(Open(url, {.connect_timeout = absl::Seconds(1)}), absl::StatusCode::kUnavailable);
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
}

TEST(OpenTest, SqliteInMemory) {
  absl::StatusOr<std::unique_ptr<Database>> db = Open("sqlite::memory:");
  ASSERT_TRUE(db.ok()) << db.status();
  ASSERT_OK((*db)->Ping());
  ASSERT_OK((*db)->Exec("CREATE TABLE t (x BIGINT)"));
  ASSERT_OK((*db)->Exec("INSERT INTO t VALUES (1)"));
  absl::StatusOr<Rows> rows = (*db)->Query("SELECT x FROM t");
  ASSERT_TRUE(rows.ok()) << rows.status();
  EXPECT_EQ((*rows)[0].GetInt(0), 1);
}

// PostgreSQL only: pooled connections the server dropped are replaced, not reported.
TEST(PostgresPoolTest, DroppedConnectionsAreReplaced) {
  PostgresServer* server = SharedPostgres();
  ASSERT_NE(server, nullptr);
  static int runs = 0;  // --gtest_repeat runs this again on the same server
  absl::StatusOr<std::string> url = server->CreateDatabase(absl::StrCat("pool_test_", runs++));
  ASSERT_TRUE(url.ok()) << url.status();
  absl::StatusOr<std::unique_ptr<Database>> db = Open(*url, {.pool_size = 2});
  ASSERT_TRUE(db.ok()) << db.status();
  ASSERT_OK((*db)->Query("SELECT 1"));

  absl::StatusOr<std::unique_ptr<Database>> admin = Open(*url, {.pool_size = 1});
  ASSERT_TRUE(admin.ok()) << admin.status();
  absl::StatusOr<Rows> killed = (*admin)->Query(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
      "WHERE datname = current_database() AND pid <> pg_backend_pid()");
  ASSERT_TRUE(killed.ok()) << killed.status();
  ASSERT_GE(killed->size(), 1u);
  absl::SleepFor(absl::Milliseconds(100));

  ASSERT_OK((*db)->Query("SELECT 1"));
  ASSERT_OK((*db)->Ping());
}

TEST(RowTest, ConvertsBetweenCompatibleTypes) {
  Row row({std::monostate(), int64_t{42}, 2.75, std::string("17"), Blob{std::string("b\0c", 3)},
           std::string("not a number"), 1e30});
  EXPECT_TRUE(row.IsNull(0));
  EXPECT_EQ(row.GetInt(0), 0);
  EXPECT_EQ(row.GetDouble(0), 0);
  EXPECT_EQ(row.GetString(0), "");
  EXPECT_EQ(row.GetDouble(1), 42.0);
  EXPECT_EQ(row.GetString(1), "42");
  EXPECT_EQ(row.GetInt(2), 2);
  EXPECT_EQ(row.GetString(2), "2.75");
  EXPECT_EQ(row.GetInt(3), 17);
  EXPECT_EQ(row.GetDouble(3), 17.0);
  EXPECT_EQ(row.GetString(4), std::string("b\0c", 3));
  EXPECT_EQ(row.GetInt(5), 0);
  EXPECT_EQ(row.GetInt(6), std::numeric_limits<int64_t>::max());
  EXPECT_EQ(row.size(), 7u);
}

TEST(ExpandPortableSqlTest, ReplacesPlaceholdersPerBackend) {
  const char* sql = "CREATE TABLE t (id {{AUTOINCREMENT_PK}}, b {{BLOB}}, c {{BLOB}})";
  EXPECT_EQ(ExpandPortableSql(sql, Backend::kPostgres),
            "CREATE TABLE t (id BIGSERIAL PRIMARY KEY, b BYTEA, c BYTEA)");
  EXPECT_EQ(ExpandPortableSql(sql, Backend::kSqlite),
            "CREATE TABLE t (id INTEGER PRIMARY KEY AUTOINCREMENT, b BLOB, c BLOB)");
}

}  // namespace
}  // namespace centric::store
