// Storage of a service's definitions (segments, personas, surveys, policies, ...): one
// table `<service>_definitions` of serialised resources keyed by (kind, id) with a
// version for etags, plus idempotency keys for creates in `<service>_requests`. Every
// kind shares every statement; only the kind differs.
#ifndef CENTRIC_LIBS_STORE_DEFINITION_STORE_H_
#define CENTRIC_LIBS_STORE_DEFINITION_STORE_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "libs/store/store.h"

namespace centric::store {

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

// The migration creating `<service>_definitions` and `<service>_requests`; `service`
// is a lower-case identifier ([a-z0-9_]).
Migration DefinitionMigration(int64_t version, const std::string& service);

class DefinitionStore {
 public:
  DefinitionStore(Database& db, const std::string& service);

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
  // One page of a List method: page_size 0 means `default_size`, more than `max_size` is
  // capped; each definition is passed to `add`. Returns the next page token ("" at the
  // end). Errors: INVALID_ARGUMENT on page_size or page_token, store errors.
  absl::StatusOr<std::string> ListPage(const DefinitionKind& kind, int32_t page_size,
                                       const std::string& page_token, int default_size,
                                       int max_size,
                                       const std::function<void(const StoredDefinition&)>& add);
  // Writes `data` as version + 1 if the stored version is still `version`.
  // Errors: ABORTED (changed meanwhile).
  absl::Status Replace(const DefinitionKind& kind, const std::string& id, int64_t version,
                       const std::string& data);
  absl::Status Delete(const DefinitionKind& kind, const std::string& id);

 private:
  Database& db_;
  std::string definitions_;  // table names
  std::string requests_;
};

}  // namespace centric::store

#endif  // CENTRIC_LIBS_STORE_DEFINITION_STORE_H_
