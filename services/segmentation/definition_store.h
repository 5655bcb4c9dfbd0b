// Storage of segment and persona definitions: one table of serialised resources keyed by
// (kind, id) with a version for etags, plus idempotency keys for creates. Segments and
// personas share every statement; only the kind differs.
#ifndef CENTRIC_SERVICES_SEGMENTATION_DEFINITION_STORE_H_
#define CENTRIC_SERVICES_SEGMENTATION_DEFINITION_STORE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "libs/store/store.h"

namespace centric::segmentation {

struct DefinitionKind {
  const char* kind;        // "segment"
  const char* collection;  // "segments", the resource name prefix
  const char* reason;      // "SEGMENT", prefix of error reasons
  const char* id_field;    // "segment_id"
  int limit;               // most definitions of this kind
};

struct StoredDefinition {
  std::string id;
  int64_t version = 0;
  std::string data;
};

std::vector<store::Migration> DefinitionMigrations();

class DefinitionStore {
 public:
  explicit DefinitionStore(store::Database& db) : db_(db) {}

  // Inserts at version 1. With a request id seen before, inserts nothing and returns the
  // id created then; otherwise returns `id`. Errors: ALREADY_EXISTS naming id_field,
  // RESOURCE_EXHAUSTED past the kind's limit, store errors.
  absl::StatusOr<std::string> Insert(const DefinitionKind& kind, const std::string& id,
                                     const std::string& data, const std::string& request_id,
                                     absl::Time now);
  // Errors: NOT_FOUND with reason <REASON>_NOT_FOUND.
  absl::StatusOr<StoredDefinition> Read(const DefinitionKind& kind, const std::string& id);
  // Definitions with id > after, in id order, at most limit.
  absl::StatusOr<std::vector<StoredDefinition>> Page(const DefinitionKind& kind,
                                                     const std::string& after, int limit);
  absl::StatusOr<std::vector<StoredDefinition>> All(const DefinitionKind& kind);
  // Writes `data` as version + 1 if the stored version is still `version`.
  // Errors: ABORTED (changed meanwhile).
  absl::Status Replace(const DefinitionKind& kind, const std::string& id, int64_t version,
                       const std::string& data);
  absl::Status Delete(const DefinitionKind& kind, const std::string& id);

 private:
  store::Database& db_;
};

}  // namespace centric::segmentation

#endif  // CENTRIC_SERVICES_SEGMENTATION_DEFINITION_STORE_H_
