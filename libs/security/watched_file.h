// A file parsed once and parsed again when it changes on disk (a rotated Kubernetes
// Secret or ConfigMap swaps a symlink, so the identity of the file is checked, not only
// its time). Checked at most once per interval, on use; a new content that does not
// parse leaves the previous value in force and is logged.
#ifndef CENTRIC_LIBS_SECURITY_WATCHED_FILE_H_
#define CENTRIC_LIBS_SECURITY_WATCHED_FILE_H_

#include <sys/stat.h>

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "libs/runtime/log.h"
#include "libs/security/channels.h"

namespace centric::security {

template <typename T>
class WatchedFile {
 public:
  using Parser = std::function<absl::StatusOr<T>(const std::string& text)>;

  // Reads and parses `path` now. Errors: the file cannot be read or does not parse,
  // prefixed with the path.
  static absl::StatusOr<std::unique_ptr<WatchedFile>> Open(std::string path, Parser parse,
                                                           absl::Duration interval = absl::Seconds(1)) {
    auto file = std::unique_ptr<WatchedFile>(new WatchedFile(std::move(path), std::move(parse), interval));
    auto value = file->Read();
    if (!value.ok()) return value.status();
    file->value_ = std::make_shared<const T>(std::move(*value));
    return file;
  }

  // The current value, reread first when the interval has passed and the file changed.
  std::shared_ptr<const T> Get() {
    absl::MutexLock lock(&mu_);
    absl::Time now = absl::Now();
    if (now - checked_ < interval_) return value_;
    checked_ = now;
    if (Stamp() == stamp_) return value_;
    auto value = Read();
    if (!value.ok()) {
      runtime::LogError("security_file_rejected",
                        {{"path", path_}, {"error", value.status().ToString()},
                         {"detail", "the previous content stays in force"}});
      return value_;
    }
    value_ = std::make_shared<const T>(std::move(*value));
    runtime::LogInfo("security_file_reloaded", {{"path", path_}});
    return value_;
  }

 private:
  WatchedFile(std::string path, Parser parse, absl::Duration interval)
      : path_(std::move(path)), parse_(std::move(parse)), interval_(interval) {}

  std::string Stamp() const {
    struct stat st {};
    if (stat(path_.c_str(), &st) != 0) return "";
    return std::to_string(st.st_ino) + ":" + std::to_string(st.st_size) + ":" +
           std::to_string(st.st_mtim.tv_sec) + "." + std::to_string(st.st_mtim.tv_nsec);
  }

  absl::StatusOr<T> Read() {
    stamp_ = Stamp();
    auto text = ReadFile(path_);
    if (!text.ok()) return text.status();
    auto value = parse_(*text);
    if (!value.ok()) {
      return absl::Status(value.status().code(), path_ + ": " + std::string(value.status().message()));
    }
    return value;
  }

  const std::string path_;
  const Parser parse_;
  const absl::Duration interval_;
  absl::Mutex mu_;
  std::string stamp_;
  absl::Time checked_ = absl::Now();
  std::shared_ptr<const T> value_;
};

}  // namespace centric::security

#endif  // CENTRIC_LIBS_SECURITY_WATCHED_FILE_H_
