// One libpq connection for the SQL baselines of the benchmarks: plain PQexec, text
// results, errors as absl::Status naming the statement.
#ifndef CENTRIC_BENCH_PG_CONNECTION_H_
#define CENTRIC_BENCH_PG_CONNECTION_H_

#include <libpq-fe.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace centric::bench {

class PgConnection {
 public:
  ~PgConnection() {
    if (connection_ != nullptr) PQfinish(connection_);
  }
  absl::Status Connect(const std::string& url) {
    connection_ = PQconnectdb(url.c_str());
    if (PQstatus(connection_) != CONNECTION_OK) {
      return absl::UnavailableError(absl::StrCat("libpq: ", PQerrorMessage(connection_)));
    }
    return absl::OkStatus();
  }
  PGconn* get() const { return connection_; }

  absl::Status Exec(const std::string& sql) {
    PGresult* result = PQexec(connection_, sql.c_str());
    const ExecStatusType status = PQresultStatus(result);
    PQclear(result);
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
      return absl::InternalError(absl::StrCat(sql, ": ", PQerrorMessage(connection_)));
    }
    return absl::OkStatus();
  }

  // Every row's first column.
  absl::StatusOr<std::vector<std::string>> Column(const std::string& sql) {
    PGresult* result = PQexec(connection_, sql.c_str());
    if (PQresultStatus(result) != PGRES_TUPLES_OK) {
      PQclear(result);
      return absl::InternalError(absl::StrCat(sql, ": ", PQerrorMessage(connection_)));
    }
    std::vector<std::string> values;
    values.reserve(PQntuples(result));
    for (int i = 0; i < PQntuples(result); ++i) values.emplace_back(PQgetvalue(result, i, 0));
    PQclear(result);
    return values;
  }

  // Runs `sql` and returns the number of rows it returned, or the value of its single
  // COUNT(*) cell; the whole result is received either way.
  absl::StatusOr<int64_t> Count(const std::string& sql, bool counting) {
    PGresult* result = PQexec(connection_, sql.c_str());
    if (PQresultStatus(result) != PGRES_TUPLES_OK) {
      PQclear(result);
      return absl::InternalError(absl::StrCat(sql, ": ", PQerrorMessage(connection_)));
    }
    int64_t n = PQntuples(result);
    if (counting && (n != 1 || !absl::SimpleAtoi(PQgetvalue(result, 0, 0), &n))) {
      PQclear(result);
      return absl::InternalError(absl::StrCat(sql, ": not one count"));
    }
    PQclear(result);
    return n;
  }

  // Every row as text cells.
  absl::StatusOr<std::vector<std::vector<std::string>>> Rows(const std::string& sql) {
    PGresult* result = PQexec(connection_, sql.c_str());
    if (PQresultStatus(result) != PGRES_TUPLES_OK) {
      PQclear(result);
      return absl::InternalError(absl::StrCat(sql, ": ", PQerrorMessage(connection_)));
    }
    std::vector<std::vector<std::string>> rows(PQntuples(result));
    for (int i = 0; i < PQntuples(result); ++i) {
      for (int c = 0; c < PQnfields(result); ++c) rows[i].emplace_back(PQgetvalue(result, i, c));
    }
    PQclear(result);
    return rows;
  }
  absl::StatusOr<std::string> Value(const std::string& sql) {
    auto rows = Rows(sql);
    if (!rows.ok()) return rows.status();
    if (rows->empty() || rows->front().empty()) return absl::InternalError(sql + ": no value");
    return rows->front().front();
  }

 private:
  PGconn* connection_ = nullptr;
};

}  // namespace centric::bench

#endif  // CENTRIC_BENCH_PG_CONNECTION_H_
