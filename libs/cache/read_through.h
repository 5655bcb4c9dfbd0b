// Cache-aside reads with single-flight: concurrent misses on one key within this
// process run the loader once and share its result.
#ifndef CENTRIC_LIBS_CACHE_READ_THROUGH_H_
#define CENTRIC_LIBS_CACHE_READ_THROUGH_H_

#include <functional>
#include <memory>
#include <string>
#include "absl/strings/string_view.h"

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "libs/cache/cache.h"

namespace centric::cache {

class ReadThrough {
 public:
  // Loads the current version of a record from the store. NOT_FOUND and other errors
  // are passed to the caller and never cached.
  using Loader = std::function<absl::StatusOr<CachedValue>()>;

  explicit ReadThrough(VersionedCache& cache) : cache_(cache) {}

  // Cache hit → the cached value. Miss → one loader call per key at a time, then
  // SetIfNewer. Callers that arrive while a load runs wait for it to finish and then share
  // the NEXT load (which first re-reads the cache), never the running one: that load may
  // have read the store before the caller's own call began, and handing it out could
  // return a version older than one committed and invalidated before that call. Callers
  // sharing a load share its result, errors included; errors are never cached.
  absl::StatusOr<CachedValue> GetOrLoad(absl::string_view key, const Loader& loader);

  VersionedCache& cache() { return cache_; }
  // Loader runs so far.
  int64_t loads() const;
  // Callers of GetOrLoad(key) now waiting for another caller's load. For tests and metrics.
  int64_t WaitingCallers(absl::string_view key) const;

 private:
  struct Flight;
  VersionedCache& cache_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::shared_ptr<Flight>> flights_ ABSL_GUARDED_BY(mu_);
  int64_t loads_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace centric::cache

#endif  // CENTRIC_LIBS_CACHE_READ_THROUGH_H_
