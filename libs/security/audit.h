// The audit log: one append-only table `<service>_audit` per service, written
// synchronously to the service's own database (never through the cache or the bus, so
// neither can lose a record), read through centric.security.v1.AuditLog.
#ifndef CENTRIC_LIBS_SECURITY_AUDIT_H_
#define CENTRIC_LIBS_SECURITY_AUDIT_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "centric/security/v1/audit.grpc.pb.h"
#include "libs/runtime/clock.h"
#include "libs/runtime/handler.h"
#include "libs/store/store.h"

namespace centric::security {

class AuditLog {
 public:
  // `services`: the lower-case service names this process hosts ("profiles", ...).
  AuditLog(store::Database& db, std::vector<std::string> services);

  // Creates each service's table, refusing UPDATE, DELETE (and TRUNCATE on PostgreSQL)
  // with a trigger. Safe to run from several replicas at once.
  absl::Status Migrate();

  // Whether this process keeps `service`'s records.
  bool Hosts(const std::string& service) const;

  // Appends `record` (id and time are set here) to its service's table. Errors: the
  // database's (the caller fails the RPC rather than answer unaudited).
  absl::Status Record(v1::AuditRecord record);

  // Errors: INVALID_ARGUMENT naming the field.
  absl::StatusOr<v1::ListAuditRecordsResponse> List(const v1::ListAuditRecordsRequest& request);

 private:
  // A new record id, greater than every id this log made before.
  std::string NextId();

  store::Database& db_;
  const std::vector<std::string> services_;
  runtime::SystemClock clock_;
  runtime::UlidGenerator ids_{clock_};
  absl::Mutex ids_mu_;
  std::string last_id_ ABSL_GUARDED_BY(ids_mu_);
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
