#include "services/segmentation/definition_store.h"

#include "absl/strings/str_cat.h"
#include "libs/runtime/errors.h"

namespace centric::segmentation {
namespace {

StoredDefinition FromRow(const store::Row& row) {
  return {row.GetString(0), row.GetInt(1), row.GetString(2)};
}

}  // namespace

std::vector<store::Migration> DefinitionMigrations() {
  return {{1, "segment and persona definitions, idempotency keys", R"sql(
CREATE TABLE segmentation_definitions (
  kind TEXT NOT NULL,
  id TEXT NOT NULL,
  version BIGINT NOT NULL,
  data {{BLOB}} NOT NULL,
  PRIMARY KEY (kind, id)
);
CREATE TABLE segmentation_requests (
  kind TEXT NOT NULL,
  request_id TEXT NOT NULL,
  id TEXT NOT NULL,
  create_time BIGINT NOT NULL,
  PRIMARY KEY (kind, request_id)
))sql"}};
}

absl::StatusOr<std::string> DefinitionStore::Insert(const DefinitionKind& kind,
                                                    const std::string& id,
                                                    const std::string& data,
                                                    const std::string& request_id,
                                                    absl::Time now) {
  std::string result = id;
  absl::Status status = db_.Transact([&](store::Tx& tx) -> absl::Status {
    if (!request_id.empty()) {
      auto seen = tx.Query("SELECT id FROM segmentation_requests WHERE kind = $1 AND request_id = $2",
                           {std::string(kind.kind), request_id});
      if (!seen.ok()) return seen.status();
      if (!seen->empty()) {
        result = (*seen)[0].GetString(0);
        return absl::OkStatus();
      }
    }
    auto count = tx.Query("SELECT COUNT(*) FROM segmentation_definitions WHERE kind = $1",
                          {std::string(kind.kind)});
    if (!count.ok()) return count.status();
    if ((*count)[0].GetInt(0) >= kind.limit) {
      return runtime::Error(absl::StatusCode::kResourceExhausted, absl::StrCat(kind.reason, "_LIMIT"),
                            absl::StrCat("at most ", kind.limit, " ", kind.collection,
                                         "; delete one first"));
    }
    auto inserted = tx.Exec(
        "INSERT INTO segmentation_definitions (kind, id, version, data) VALUES ($1, $2, 1, $3)",
        {std::string(kind.kind), id, store::Blob{data}});
    if (!inserted.ok()) {
      if (inserted.status().code() != absl::StatusCode::kAlreadyExists) return inserted.status();
      return runtime::WithViolations(
          runtime::Error(absl::StatusCode::kAlreadyExists, absl::StrCat(kind.reason, "_EXISTS"),
                         absl::StrCat(kind.collection, "/", id, " already exists")),
          {{kind.id_field, "is taken"}});
    }
    if (request_id.empty()) return absl::OkStatus();
    return tx
        .Exec("INSERT INTO segmentation_requests (kind, request_id, id, create_time) "
              "VALUES ($1, $2, $3, $4)",
              {std::string(kind.kind), request_id, id, absl::ToUnixSeconds(now)})
        .status();
  });
  if (!status.ok()) return status;
  return result;
}

absl::StatusOr<StoredDefinition> DefinitionStore::Read(const DefinitionKind& kind,
                                                       const std::string& id) {
  auto rows = db_.Query(
      "SELECT id, version, data FROM segmentation_definitions WHERE kind = $1 AND id = $2",
      {std::string(kind.kind), id});
  if (!rows.ok()) return rows.status();
  if (rows->empty()) {
    return runtime::Error(absl::StatusCode::kNotFound, absl::StrCat(kind.reason, "_NOT_FOUND"),
                          absl::StrCat(kind.collection, "/", id, " does not exist"));
  }
  return FromRow((*rows)[0]);
}

absl::StatusOr<std::vector<StoredDefinition>> DefinitionStore::Page(const DefinitionKind& kind,
                                                                    const std::string& after,
                                                                    int limit) {
  auto rows = db_.Query(
      "SELECT id, version, data FROM segmentation_definitions WHERE kind = $1 AND id > $2 "
      "ORDER BY id LIMIT $3",
      {std::string(kind.kind), after, int64_t{limit}});
  if (!rows.ok()) return rows.status();
  std::vector<StoredDefinition> out;
  for (const store::Row& row : *rows) out.push_back(FromRow(row));
  return out;
}

absl::StatusOr<std::vector<StoredDefinition>> DefinitionStore::All(const DefinitionKind& kind) {
  return Page(kind, "", kind.limit);
}

absl::Status DefinitionStore::Replace(const DefinitionKind& kind, const std::string& id,
                                      int64_t version, const std::string& data) {
  auto updated = db_.Exec(
      "UPDATE segmentation_definitions SET version = $1, data = $2 WHERE kind = $3 AND id = $4 "
      "AND version = $5",
      {version + 1, store::Blob{data}, std::string(kind.kind), id, version});
  if (!updated.ok()) return updated.status();
  if (*updated == 0) {
    return runtime::Error(absl::StatusCode::kAborted, "CONCURRENT_UPDATE",
                          absl::StrCat(kind.collection, "/", id,
                                       " changed meanwhile; read it and retry"));
  }
  return absl::OkStatus();
}

absl::Status DefinitionStore::Delete(const DefinitionKind& kind, const std::string& id) {
  return db_
      .Exec("DELETE FROM segmentation_definitions WHERE kind = $1 AND id = $2",
            {std::string(kind.kind), id})
      .status();
}

}  // namespace centric::segmentation
