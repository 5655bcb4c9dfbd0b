// The audit log: one append-only table `<service>_audit` per service, written to the
// service's own database (never through the cache or the bus, so neither can lose a
// record), read through centric.security.v1.AuditLog.
//
// Group commit: records of concurrent calls are queued and written together by one
// writer thread, one multi-row INSERT per table and one transaction per batch. A record
// is written as soon as the writer is free (no added wait when the log is idle); under
// load the batches grow up to `max_batch`. A caller learns that its record is durable
// (or that it failed) through its callback, after the commit; the guard answers only
// then. When `max_queue` records wait, Record blocks its caller (back-pressure). One
// writer keeps records committed in id order, so paging newest-first never skips a
// record committed late.
#ifndef CENTRIC_LIBS_SECURITY_AUDIT_H_
#define CENTRIC_LIBS_SECURITY_AUDIT_H_

#include <deque>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/functional/any_invocable.h"

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "centric/security/v1/audit.grpc.pb.h"
#include "libs/runtime/clock.h"
#include "libs/runtime/handler.h"
#include "libs/runtime/metrics.h"
#include "libs/runtime/worker_pool.h"
#include "libs/store/store.h"

namespace centric::security {

struct AuditOptions {
  // Records written by one INSERT at most.
  int max_batch = 512;
  // Records queued at most; Record waits for room beyond it.
  int max_queue = 8192;
  // Batch sizes (centric_audit_batch_records), commit times
  // (centric_audit_commit_seconds) and failed batches (centric_audit_failed_batches_total).
  runtime::MetricsRegistry* metrics = nullptr;
  // Where the callbacks of a committed batch run, in slices of completion_slice records
  // (they finish the RPCs: serialising and sending answers). Unset: on the writer thread,
  // which then sends every answer itself before it can start the next commit.
  runtime::WorkerPool* completions = nullptr;
  int completion_slice = 16;
};

class AuditLog {
 public:
  // `services`: the lower-case service names this process hosts ("profiles", ...).
  // `db`: ideally a connection pool of its own (the writer holds one connection).
  AuditLog(store::Database& db, std::vector<std::string> services, AuditOptions options = {});
  // Writes what is queued, then stops the writer.
  ~AuditLog();

  // Creates each service's table, refusing UPDATE, DELETE (and TRUNCATE on PostgreSQL)
  // with a trigger. Safe to run from several replicas at once.
  absl::Status Migrate();

  // Whether this process keeps `service`'s records.
  bool Hosts(const std::string& service) const;

  // Appends `record` (id and time are set here) to its service's table; `done` runs on
  // the completions pool (or the writer thread) once the record is committed, or with the error: the database's,
  // INTERNAL for a service this log does not keep (the caller fails the RPC rather than
  // answer unaudited). Blocks only while the queue is full.
  using Done = absl::AnyInvocable<void(absl::Status) &&>;
  void RecordAsync(v1::AuditRecord record, Done done);
  // The same, waiting for the commit.
  absl::Status Record(v1::AuditRecord record);

  // Errors: INVALID_ARGUMENT naming the field.
  absl::StatusOr<v1::ListAuditRecordsResponse> List(const v1::ListAuditRecordsRequest& request);

 private:
  // A new record id, greater than every id this log made before.
  std::string NextId() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  struct Pending {
    v1::AuditRecord record;  // with id and time
    Done done;
  };
  void WriteLoop();
  absl::Status WriteBatch(const std::vector<Pending>& batch);

  store::Database& db_;
  const std::vector<std::string> services_;
  const AuditOptions options_;
  runtime::SystemClock clock_;
  runtime::UlidGenerator ids_{clock_};

  absl::Mutex mu_;
  // Ids are made under mu_ in queue order, so the writer commits them in id order.
  std::string last_id_ ABSL_GUARDED_BY(mu_);
  std::deque<Pending> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread writer_;
};

// centric.security.v1.AuditLog over an AuditLog.
class AuditGrpcService final : public v1::AuditLog::CallbackService {
 public:
  AuditGrpcService(AuditLog& log, runtime::WorkerPool& pool)
      : log_(log), env_{&pool, "security.centric.dev"} {}
  grpc::ServerUnaryReactor* ListAuditRecords(grpc::CallbackServerContext* context,
                                             const v1::ListAuditRecordsRequest* request,
                                             v1::ListAuditRecordsResponse* response) override;

 private:
  AuditLog& log_;
  runtime::HandlerEnv env_;
};

}  // namespace centric::security

#endif  // CENTRIC_LIBS_SECURITY_AUDIT_H_
