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

  // Cache hit → the cached value. Miss → one loader call per key at a time (callers that
  // arrive while it runs wait for its result), then SetIfNewer.
  absl::StatusOr<CachedValue> GetOrLoad(absl::string_view key, const Loader& loader);

  VersionedCache& cache() { return cache_; }
  // Loader runs so far.
  int64_t loads() const;

 private:
  struct Flight;
  VersionedCache& cache_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::shared_ptr<Flight>> flights_ ABSL_GUARDED_BY(mu_);
  int64_t loads_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace centric::cache

#endif  // CENTRIC_LIBS_CACHE_READ_THROUGH_H_
