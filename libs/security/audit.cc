#include "libs/security/audit.h"

#include <algorithm>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "libs/runtime/errors.h"
#include "libs/runtime/resource.h"

namespace centric::security {
namespace {

std::string Table(const std::string& service) { return service + "_audit"; }

constexpr int kDefaultPageSize = 100;
constexpr int kMaxPageSize = 1000;

// The id after `id` in the order of UlidGenerator's alphabet (which is ASCII order).
std::string Successor(std::string id) {
  static constexpr absl::string_view kAlphabet = "0123456789abcdefghjkmnpqrstvwxyz";
  for (size_t i = id.size(); i-- > 0;) {
    const size_t digit = kAlphabet.find(id[i]);
    if (digit + 1 < kAlphabet.size()) {
      id[i] = kAlphabet[digit + 1];
      return id;
    }
    id[i] = kAlphabet[0];
  }
  return id;
}

}  // namespace

AuditLog::AuditLog(store::Database& db, std::vector<std::string> services, AuditOptions options)
    : db_(db), services_(std::move(services)), options_(options) {
  if (options_.metrics != nullptr) {
    runtime::MetricsRegistry& m = *options_.metrics;
    m.Describe("centric_audit_batch_records", runtime::MetricsRegistry::Type::kHistogram,
               "Audit records committed per batch (one transaction, one INSERT per table).",
               {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024});
    m.Describe("centric_audit_commit_seconds", runtime::MetricsRegistry::Type::kHistogram,
               "Time to write and commit one batch of audit records.",
               {0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1});
    m.Describe("centric_audit_failed_batches_total", runtime::MetricsRegistry::Type::kCounter,
               "Batches of audit records the database refused (their calls failed).");
    m.Describe("centric_audit_queued_records", runtime::MetricsRegistry::Type::kGauge,
               "Audit records left waiting when the writer took its last batch.");
  }
  writer_ = std::thread([this] { WriteLoop(); });
}

AuditLog::~AuditLog() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  writer_.join();
}

bool AuditLog::Hosts(const std::string& service) const {
  return std::find(services_.begin(), services_.end(), service) != services_.end();
}

absl::Status AuditLog::Migrate() {
  for (const std::string& service : services_) {
    const std::string t = Table(service);
    if (absl::Status s = store::Migrate(
            db_, t,
            {{1, "append-only audit records",
              absl::StrCat("CREATE TABLE ", t,
                           " (id TEXT PRIMARY KEY, time_us BIGINT NOT NULL, caller TEXT NOT NULL, "
                           "method TEXT NOT NULL, resource TEXT NOT NULL, outcome TEXT NOT NULL, "
                           "kind BIGINT NOT NULL, redacted BIGINT NOT NULL, request_id TEXT NOT NULL);"
                           "CREATE INDEX ", t, "_resource ON ", t, " (resource, id)")}});
        !s.ok()) {
      return s;
    }
    std::vector<std::string> statements;
    if (db_.backend() == store::Backend::kPostgres) {
      statements = {
          "CREATE OR REPLACE FUNCTION centric_audit_append_only() RETURNS trigger "
          "LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'audit records are append-only'; END $$",
          absl::StrCat("CREATE OR REPLACE TRIGGER ", t, "_append_only BEFORE UPDATE OR DELETE OR "
                       "TRUNCATE ON ", t, " FOR EACH STATEMENT EXECUTE FUNCTION "
                       "centric_audit_append_only()")};
    } else {
      for (const char* op : {"UPDATE", "DELETE"}) {
        statements.push_back(absl::StrCat(
            "CREATE TRIGGER IF NOT EXISTS ", t, "_no_", op, " BEFORE ", op, " ON ", t,
            " BEGIN SELECT RAISE(ABORT, 'audit records are append-only'); END"));
      }
    }
    for (const std::string& sql : statements) {
      // Replicas starting together can race on the same DDL ("tuple concurrently
      // updated"); the statements are idempotent, so try again.
      absl::Status status;
      for (int attempt = 0; attempt < 5; ++attempt) {
        status = db_.Exec(sql).status();
        if (status.ok()) break;
      }
      if (!status.ok()) return status;
    }
  }
  return absl::OkStatus();
}

std::string AuditLog::NextId() {
  // ULIDs are random within a millisecond; records listed newest first and paged by id
  // need ids that increase with every record.
  std::string id = ids_.NewId();
  if (id <= last_id_) id = Successor(last_id_);
  last_id_ = id;
  return id;
}

void AuditLog::RecordAsync(v1::AuditRecord record, Done done) {
  if (!Hosts(record.service())) {
    std::move(done)(
        absl::InternalError(absl::StrCat("no audit table for service ", record.service())));
    return;
  }
  *record.mutable_time() = runtime::ToTimestamp(clock_.Now());
  absl::MutexLock lock(&mu_);
  const size_t limit = static_cast<size_t>(std::max(1, options_.max_queue));
  auto has_room = [this, limit]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return queue_.size() < limit || stopping_;
  };
  mu_.Await(absl::Condition(&has_room));
  if (stopping_) {
    mu_.Unlock();
    std::move(done)(absl::UnavailableError("the audit log is stopping"));
    mu_.Lock();
    return;
  }
  record.set_id(NextId());
  queue_.push_back({std::move(record), std::move(done)});
}

absl::Status AuditLog::Record(v1::AuditRecord record) {
  absl::Notification written;
  absl::Status result;
  RecordAsync(std::move(record), [&](absl::Status status) {
    result = std::move(status);
    written.Notify();
  });
  written.WaitForNotification();
  return result;
}

void AuditLog::WriteLoop() {
  const size_t max_batch = static_cast<size_t>(std::max(1, options_.max_batch));
  std::vector<Pending> batch;
  while (true) {
    batch.clear();
    {
      absl::MutexLock lock(&mu_);
      auto work = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return !queue_.empty() || stopping_;
      };
      mu_.Await(absl::Condition(&work));
      if (queue_.empty()) return;  // stopping, and everything is written
      while (!queue_.empty() && batch.size() < max_batch) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      if (options_.metrics != nullptr) {
        options_.metrics->Set("centric_audit_queued_records", {},
                              static_cast<double>(queue_.size()));
      }
    }
    const absl::Time start = absl::Now();
    absl::Status status = WriteBatch(batch);
    if (options_.metrics != nullptr) {
      options_.metrics->Observe("centric_audit_batch_records", {},
                                static_cast<double>(batch.size()));
      options_.metrics->Observe("centric_audit_commit_seconds", {},
                                absl::ToDoubleSeconds(absl::Now() - start));
      if (!status.ok()) options_.metrics->Add("centric_audit_failed_batches_total", {});
    }
    if (options_.completions == nullptr) {
      for (Pending& p : batch) std::move(p.done)(status);
      continue;
    }
    const size_t slice = static_cast<size_t>(std::max(1, options_.completion_slice));
    for (size_t begin = 0; begin < batch.size(); begin += slice) {
      auto part = std::make_shared<std::vector<Done>>();
      for (size_t i = begin; i < std::min(batch.size(), begin + slice); ++i) {
        part->push_back(std::move(batch[i].done));
      }
      options_.completions->Schedule([part, status] {
        for (Done& done : *part) std::move(done)(status);
      });
    }
  }
}

absl::Status AuditLog::WriteBatch(const std::vector<Pending>& batch) {
  return db_.Transact([&](store::Tx& tx) -> absl::Status {
    for (const std::string& service : services_) {
      std::vector<store::Params> rows;
      for (const Pending& p : batch) {
        const v1::AuditRecord& r = p.record;
        if (r.service() != service) continue;
        rows.push_back({r.id(), absl::ToUnixMicros(runtime::FromTimestamp(r.time())), r.caller(),
                        r.method(), r.resource(), r.outcome(), int64_t{r.kind()},
                        int64_t{r.redacted() ? 1 : 0}, r.request_id()});
      }
      if (rows.empty()) continue;
      auto written = store::InsertMany(
          tx,
          absl::StrCat("INSERT INTO ", Table(service),
                       " (id, time_us, caller, method, resource, outcome, kind, redacted, "
                       "request_id) VALUES"),
          rows);
      if (!written.ok()) return written.status();
    }
    return absl::OkStatus();
  });
}

absl::StatusOr<v1::ListAuditRecordsResponse> AuditLog::List(
    const v1::ListAuditRecordsRequest& request) {
  std::vector<runtime::FieldViolation> violations;
  if (request.page_size() < 0 || request.page_size() > kMaxPageSize) {
    violations.push_back({"page_size", absl::StrCat("must be from 0 to ", kMaxPageSize)});
  }
  if (request.page_token().size() > 64) violations.push_back({"page_token", "is not a page token"});
  if (!request.service().empty() && !Hosts(request.service())) {
    std::string hosted;
    for (const std::string& s : services_) absl::StrAppend(&hosted, hosted.empty() ? "" : ", ", s);
    violations.push_back({"service", absl::StrCat("must be one of this process's services: ", hosted)});
  }
  if (!violations.empty()) return runtime::InvalidArgument(std::move(violations));
  const int page_size = request.page_size() == 0 ? kDefaultPageSize : request.page_size();
  const int64_t start = request.has_start_time()
                            ? absl::ToUnixMicros(runtime::FromTimestamp(request.start_time()))
                            : std::numeric_limits<int64_t>::min();
  const int64_t end = request.has_end_time()
                          ? absl::ToUnixMicros(runtime::FromTimestamp(request.end_time()))
                          : std::numeric_limits<int64_t>::max();
  std::vector<v1::AuditRecord> records;
  for (const std::string& service : services_) {
    if (!request.service().empty() && request.service() != service) continue;
    auto rows = db_.Query(
        absl::StrCat("SELECT id, time_us, caller, method, resource, outcome, kind, redacted, "
                     "request_id FROM ", Table(service),
                     " WHERE ($1 = '' OR caller = $1) AND ($2 = '' OR method = $2) AND "
                     "($3 = '' OR resource = $3) AND time_us >= CAST($4 AS BIGINT) AND "
                     "time_us < CAST($5 AS BIGINT) AND ($6 = '' OR id < $6) "
                     "ORDER BY id DESC LIMIT ", page_size + 1),
        {request.caller(), request.method(), request.resource(), start, end, request.page_token()});
    if (!rows.ok()) return rows.status();
    for (const store::Row& row : *rows) {
      v1::AuditRecord& r = records.emplace_back();
      r.set_id(row.GetString(0));
      r.set_service(service);
      *r.mutable_time() = runtime::ToTimestamp(absl::FromUnixMicros(row.GetInt(1)));
      r.set_caller(row.GetString(2));
      r.set_method(row.GetString(3));
      r.set_resource(row.GetString(4));
      r.set_outcome(row.GetString(5));
      r.set_kind(static_cast<v1::MethodAccess::Kind>(row.GetInt(6)));
      r.set_redacted(row.GetInt(7) != 0);
      r.set_request_id(row.GetString(8));
    }
  }
  std::sort(records.begin(), records.end(),
            [](const v1::AuditRecord& a, const v1::AuditRecord& b) { return a.id() > b.id(); });
  v1::ListAuditRecordsResponse response;
  for (size_t i = 0; i < records.size() && static_cast<int>(i) < page_size; ++i) {
    *response.add_records() = std::move(records[i]);
  }
  if (static_cast<int>(records.size()) > page_size) {
    response.set_next_page_token(response.records(page_size - 1).id());
  }
  return response;
}

grpc::ServerUnaryReactor* AuditGrpcService::ListAuditRecords(
    grpc::CallbackServerContext* context, const v1::ListAuditRecordsRequest* request,
    v1::ListAuditRecordsResponse* response) {
  return runtime::Unary(context, env_, [this, request, response](absl::Time) {
    return runtime::Reply(log_.List(*request), response);
  });
}

}  // namespace centric::security
