// Private to libs/store: the two backends behind Open(), and what they share.
#ifndef CENTRIC_LIBS_STORE_BACKENDS_H_
#define CENTRIC_LIBS_STORE_BACKENDS_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "libs/store/store.h"

namespace centric::store::internal {

// `path` is a file path or ":memory:".
absl::StatusOr<std::unique_ptr<Database>> OpenSqlite(const std::string& path,
                                                     const OpenOptions& options);

// `url` is any libpq connection URI or keyword/value string.
absl::StatusOr<std::unique_ptr<Database>> OpenPostgres(const std::string& url,
                                                       const OpenOptions& options);

// Both backends end a transaction's usefulness at its first failed statement, as
// PostgreSQL does by itself; this keeps the first error and answers later statements.
class FirstError {
 public:
  bool failed() const { return !status_.ok(); }
  const absl::Status& status() const { return status_; }
  // Records `status` if it is the first error; returns it unchanged.
  absl::Status Record(absl::Status status) {
    if (!status.ok() && status_.ok()) status_ = status;
    return status;
  }
  // What a statement issued after the failure gets.
  absl::Status AfterFailure() const {
    return absl::FailedPreconditionError(
        absl::StrCat("an earlier statement in this transaction failed: ", status_.message()));
  }

 private:
  absl::Status status_;
};

}  // namespace centric::store::internal

#endif  // CENTRIC_LIBS_STORE_BACKENDS_H_
