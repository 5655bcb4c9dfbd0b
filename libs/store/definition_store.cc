#include "libs/store/definition_store.h"

#include "absl/strings/str_replace.h"

#include "absl/strings/str_cat.h"
#include "libs/runtime/errors.h"
#include "libs/runtime/resource.h"

namespace centric::store {
namespace {

StoredDefinition FromRow(const Row& row) {
  return {row.GetString(0), row.GetInt(1), row.GetString(2)};
}

}  // namespace

Migration DefinitionMigration(int64_t version, const std::string& service) {
  return {version, "definitions and idempotency keys", absl::StrReplaceAll(R"sql(
CREATE TABLE {{S}}_definitions (
  kind TEXT NOT NULL,
  id TEXT NOT NULL,
  version BIGINT NOT NULL,
  data {{BLOB}} NOT NULL,
  PRIMARY KEY (kind, id)
);
CREATE TABLE {{S}}_requests (
  kind TEXT NOT NULL,
  request_id TEXT NOT NULL,
  id TEXT NOT NULL,
  create_time BIGINT NOT NULL,
  PRIMARY KEY (kind, request_id)
))sql", {{"{{S}}", service}})};
}

DefinitionStore::DefinitionStore(Database& db, const std::string& service)
    : db_(db),
      definitions_(absl::StrCat(service, "_definitions")),
      requests_(absl::StrCat(service, "_requests")) {}

absl::StatusOr<std::string> DefinitionStore::Insert(const DefinitionKind& kind,
                                                    const std::string& id,
                                                    const std::string& data,
                                                    const std::string& request_id,
                                                    absl::Time now) {
  std::string result = id;
  absl::Status status = db_.Transact([&](Tx& tx) -> absl::Status {
    if (!request_id.empty()) {
      auto seen = tx.Query(absl::StrCat("SELECT id FROM ", requests_, " WHERE kind = $1 AND request_id = $2"),
                           {std::string(kind.kind), request_id});
      if (!seen.ok()) return seen.status();
      if (!seen->empty()) {
        result = (*seen)[0].GetString(0);
        return absl::OkStatus();
      }
    }
    auto count = tx.Query(absl::StrCat("SELECT COUNT(*) FROM ", definitions_, " WHERE kind = $1"),
                          {std::string(kind.kind)});
    if (!count.ok()) return count.status();
    if ((*count)[0].GetInt(0) >= kind.limit) {
      return runtime::Error(absl::StatusCode::kResourceExhausted, absl::StrCat(kind.reason, "_LIMIT"),
                            absl::StrCat("at most ", kind.limit, " ", kind.collection,
                                         "; delete one first"));
    }
    auto inserted = tx.Exec(
        absl::StrCat("INSERT INTO ", definitions_, " (kind, id, version, data) VALUES ($1, $2, 1, $3)"),
        {std::string(kind.kind), id, Blob{data}});
    if (!inserted.ok()) {
      if (inserted.status().code() != absl::StatusCode::kAlreadyExists) return inserted.status();
      return runtime::WithViolations(
          runtime::Error(absl::StatusCode::kAlreadyExists, absl::StrCat(kind.reason, "_EXISTS"),
                         absl::StrCat(kind.collection, "/", id, " already exists")),
          {{kind.id_field, "is taken"}});
    }
    if (request_id.empty()) return absl::OkStatus();
    return tx
        .Exec(absl::StrCat("INSERT INTO ", requests_, " (kind, request_id, id, create_time) "
              "VALUES ($1, $2, $3, $4)"),
              {std::string(kind.kind), request_id, id, absl::ToUnixSeconds(now)})
        .status();
  });
  if (!status.ok()) return status;
  return result;
}

absl::StatusOr<StoredDefinition> DefinitionStore::Read(const DefinitionKind& kind,
                                                       const std::string& id) {
  auto rows = db_.Query(
      absl::StrCat("SELECT id, version, data FROM ", definitions_, " WHERE kind = $1 AND id = $2"),
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
      absl::StrCat("SELECT id, version, data FROM ", definitions_, " WHERE kind = $1 AND id > $2 "
      "ORDER BY id LIMIT $3"),
      {std::string(kind.kind), after, int64_t{limit}});
  if (!rows.ok()) return rows.status();
  std::vector<StoredDefinition> out;
  for (const Row& row : *rows) out.push_back(FromRow(row));
  return out;
}

absl::StatusOr<std::vector<StoredDefinition>> DefinitionStore::All(const DefinitionKind& kind) {
  return Page(kind, "", kind.limit);
}

absl::StatusOr<std::string> DefinitionStore::ListPage(
    const DefinitionKind& kind, int32_t page_size, const std::string& page_token,
    int default_size, int max_size, const std::function<void(const StoredDefinition&)>& add) {
  auto size = runtime::PageSize(page_size, default_size, max_size);
  if (!size.ok()) return size.status();
  std::string after;
  if (!page_token.empty()) {
    auto cursor = runtime::PageCursor(page_token, kind.collection);
    if (!cursor.ok()) return cursor.status();
    after = *cursor;
  }
  auto page = Page(kind, after, *size + 1);
  if (!page.ok()) return page.status();
  for (size_t i = 0; i < page->size() && static_cast<int>(i) < *size; ++i) add((*page)[i]);
  if (static_cast<int>(page->size()) <= *size) return std::string();
  return runtime::PageToken(kind.collection, (*page)[*size - 1].id);
}

absl::Status DefinitionStore::Replace(const DefinitionKind& kind, const std::string& id,
                                      int64_t version, const std::string& data) {
  auto updated = db_.Exec(
      absl::StrCat("UPDATE ", definitions_, " SET version = $1, data = $2 WHERE kind = $3 AND id = $4 "
      "AND version = $5"),
      {version + 1, Blob{data}, std::string(kind.kind), id, version});
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
      .Exec(absl::StrCat("DELETE FROM ", definitions_, " WHERE kind = $1 AND id = $2"),
            {std::string(kind.kind), id})
      .status();
}

}  // namespace centric::store
