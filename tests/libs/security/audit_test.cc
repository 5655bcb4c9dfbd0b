// The audit log on both backends (SQLite in a temp file, PostgreSQL in a database of its
// own): migrations, what List returns and in which order, its errors, and that the
// records cannot be changed or removed through SQL.
#include "libs/security/audit.h"

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/runtime/errors.h"
#include "libs/runtime/metrics.h"
#include "libs/runtime/resource.h"
#include "libs/testing/shared_servers.h"

namespace centric::security {
namespace {

using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

enum class Backend { kSqlite, kPostgres };

class AuditLogTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    std::string url = absl::StrCat("sqlite://", dir_.path(), "/audit.db");
    if (GetParam() == Backend::kPostgres) {
      testing::PostgresServer* postgres = testing::SharedPostgres();
      ASSERT_NE(postgres, nullptr);
      auto created = postgres->CreateDatabase(testing::UniqueTestName());
      ASSERT_TRUE(created.ok()) << created.status();
      url = *created;
    }
    auto db = store::Open(url);
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = std::move(*db);
    log_ = std::make_unique<AuditLog>(*db_, std::vector<std::string>{"profiles", "feedback"});
    absl::Status migrated = log_->Migrate();
    ASSERT_TRUE(migrated.ok()) << migrated;
  }

  static v1::AuditRecord Make(const std::string& service, const std::string& caller,
                              const std::string& method, const std::string& resource) {
    v1::AuditRecord record;
    record.set_service(service);
    record.set_caller(caller);
    record.set_method(method);
    record.set_resource(resource);
    record.set_outcome("OK");
    record.set_kind(v1::MethodAccess::WRITE);
    return record;
  }

  void Record(const v1::AuditRecord& record) {
    absl::Status status = log_->Record(record);
    ASSERT_TRUE(status.ok()) << status;
  }

  // Records a profiles record per caller, in order.
  void RecordCallers(const std::vector<std::string>& callers) {
    for (const std::string& caller : callers) {
      Record(Make("profiles", caller, "centric.profiles.v1.Profiles/GetProfile", "profiles/a"));
    }
  }

  std::vector<v1::AuditRecord> List(const v1::ListAuditRecordsRequest& request) {
    auto response = log_->List(request);
    EXPECT_TRUE(response.ok()) << response.status();
    if (!response.ok()) return {};
    return {response->records().begin(), response->records().end()};
  }

  std::vector<std::string> CallersOf(const v1::ListAuditRecordsRequest& request) {
    std::vector<std::string> callers;
    for (const v1::AuditRecord& record : List(request)) callers.push_back(record.caller());
    return callers;
  }

  testing::TempDir dir_;
  std::unique_ptr<store::Database> db_;
  std::unique_ptr<AuditLog> log_;
};

INSTANTIATE_TEST_SUITE_P(Backends, AuditLogTest,
                         ::testing::Values(Backend::kSqlite, Backend::kPostgres),
                         [](const auto& info) {
                           return info.param == Backend::kSqlite ? "Sqlite" : "Postgres";
                         });

TEST_P(AuditLogTest, MigrateAgainKeepsTheRecords) {
  RecordCallers({"before"});
  ASSERT_TRUE(log_->Migrate().ok());
  // Another replica (or the next start) migrating the same database.
  AuditLog again(*db_, {"profiles", "feedback"});
  absl::Status migrated = again.Migrate();
  ASSERT_TRUE(migrated.ok()) << migrated;
  EXPECT_THAT(CallersOf({}), ElementsAre("before"));
}

TEST_P(AuditLogTest, RecordKeepsEveryFieldAndSetsIdAndTime) {
  v1::AuditRecord record =
      Make("profiles", "crm", "centric.profiles.v1.Profiles/GetProfile", "profiles/ada");
  record.set_id("chosen-by-caller");
  record.set_outcome("PERMISSION_DENIED");
  record.set_kind(v1::MethodAccess::READ);
  record.set_redacted(true);
  record.set_request_id("req-1");
  const absl::Time before = absl::Now();
  Record(record);
  const absl::Time after = absl::Now();
  std::vector<v1::AuditRecord> listed = List({});
  ASSERT_EQ(listed.size(), 1u);
  const v1::AuditRecord& got = listed[0];
  EXPECT_NE(got.id(), "chosen-by-caller");
  EXPECT_FALSE(got.id().empty());
  EXPECT_EQ(got.service(), "profiles");
  EXPECT_EQ(got.caller(), "crm");
  EXPECT_EQ(got.method(), "centric.profiles.v1.Profiles/GetProfile");
  EXPECT_EQ(got.resource(), "profiles/ada");
  EXPECT_EQ(got.outcome(), "PERMISSION_DENIED");
  EXPECT_EQ(got.kind(), v1::MethodAccess::READ);
  EXPECT_TRUE(got.redacted());
  EXPECT_EQ(got.request_id(), "req-1");
  const absl::Time time = runtime::FromTimestamp(got.time());
  EXPECT_GE(time, absl::FromUnixMicros(absl::ToUnixMicros(before)));
  EXPECT_LE(time, after);
}

TEST_P(AuditLogTest, RecordForAServiceThisProcessDoesNotHostFails) {
  absl::Status status = log_->Record(Make("reporting", "crm", "m", ""));
  EXPECT_FALSE(status.ok());
  EXPECT_THAT(status.message(), HasSubstr("reporting"));
  EXPECT_THAT(CallersOf({}), IsEmpty());
}

TEST_P(AuditLogTest, ListsNewestFirstAcrossServices) {
  std::vector<std::string> callers;
  for (int i = 0; i < 30; ++i) {
    callers.push_back(absl::StrCat("caller-", i));
    // Made faster than the clock ticks: many share a millisecond.
    Record(Make(i % 3 == 0 ? "feedback" : "profiles", callers.back(), "m", "r"));
  }
  std::vector<std::string> newest_first(callers.rbegin(), callers.rend());
  EXPECT_THAT(CallersOf({}), ElementsAreArray(newest_first));
}

TEST_P(AuditLogTest, FiltersByServiceCallerMethodAndResource) {
  Record(Make("profiles", "crm", "centric.profiles.v1.Profiles/GetProfile", "profiles/ada"));
  Record(Make("profiles", "dpo", "centric.profiles.v1.Profiles/EraseProfile", "profiles/ada"));
  Record(Make("profiles", "crm", "centric.profiles.v1.Profiles/GetProfile", "profiles/bob"));
  Record(Make("feedback", "crm", "centric.feedback.v1.Feedback/ListResponses", "profiles/ada"));

  v1::ListAuditRecordsRequest by_caller;
  by_caller.set_caller("dpo");
  EXPECT_THAT(CallersOf(by_caller), ElementsAre("dpo"));

  v1::ListAuditRecordsRequest by_method;
  by_method.set_method("centric.profiles.v1.Profiles/GetProfile");
  std::vector<v1::AuditRecord> gets = List(by_method);
  ASSERT_EQ(gets.size(), 2u);
  EXPECT_EQ(gets[0].resource(), "profiles/bob");
  EXPECT_EQ(gets[1].resource(), "profiles/ada");

  v1::ListAuditRecordsRequest by_resource;
  by_resource.set_resource("profiles/ada");
  std::vector<v1::AuditRecord> ada = List(by_resource);
  ASSERT_EQ(ada.size(), 3u);
  EXPECT_EQ(ada[0].service(), "feedback");
  EXPECT_EQ(ada[0].method(), "centric.feedback.v1.Feedback/ListResponses");
  EXPECT_EQ(ada[1].caller(), "dpo");

  v1::ListAuditRecordsRequest by_service;
  by_service.set_service("feedback");
  EXPECT_EQ(List(by_service).size(), 1u);

  v1::ListAuditRecordsRequest combined;
  combined.set_caller("crm");
  combined.set_resource("profiles/ada");
  combined.set_service("profiles");
  std::vector<v1::AuditRecord> one = List(combined);
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0].method(), "centric.profiles.v1.Profiles/GetProfile");

  v1::ListAuditRecordsRequest nobody;
  nobody.set_caller("cr");
  EXPECT_THAT(CallersOf(nobody), IsEmpty());
}

TEST_P(AuditLogTest, FiltersByHalfOpenTimeRange) {
  // Apart by more than the stored microsecond, so each has a time of its own.
  for (const char* caller : {"first", "second", "third"}) {
    RecordCallers({caller});
    absl::SleepFor(absl::Milliseconds(2));
  }
  std::vector<v1::AuditRecord> all = List({});
  ASSERT_EQ(all.size(), 3u);
  const google::protobuf::Timestamp second = all[1].time();
  const google::protobuf::Timestamp third = all[0].time();

  v1::ListAuditRecordsRequest from_second;
  *from_second.mutable_start_time() = second;
  EXPECT_THAT(CallersOf(from_second), ElementsAre("third", "second"));

  v1::ListAuditRecordsRequest before_third;
  *before_third.mutable_end_time() = third;
  EXPECT_THAT(CallersOf(before_third), ElementsAre("second", "first"));

  v1::ListAuditRecordsRequest only_second;
  *only_second.mutable_start_time() = second;
  *only_second.mutable_end_time() = third;
  EXPECT_THAT(CallersOf(only_second), ElementsAre("second"));
}

TEST_P(AuditLogTest, PagesWithPageToken) {
  std::vector<std::string> callers;
  for (int i = 0; i < 7; ++i) callers.push_back(absl::StrCat("c", i));
  RecordCallers(callers);
  // A record of another caller in between must not disturb the filtered pages.
  Record(Make("feedback", "other", "m", "r"));

  v1::ListAuditRecordsRequest request;
  request.set_page_size(3);
  request.set_resource("profiles/a");
  std::vector<std::string> seen;
  std::vector<int> page_sizes;
  for (int page = 0; page < 10; ++page) {
    auto response = log_->List(request);
    ASSERT_TRUE(response.ok()) << response.status();
    page_sizes.push_back(response->records_size());
    for (const v1::AuditRecord& record : response->records()) seen.push_back(record.caller());
    if (response->next_page_token().empty()) break;
    request.set_page_token(response->next_page_token());
  }
  EXPECT_THAT(page_sizes, ElementsAre(3, 3, 1));
  EXPECT_THAT(seen, ElementsAre("c6", "c5", "c4", "c3", "c2", "c1", "c0"));
}

TEST_P(AuditLogTest, ExactlyFullLastPageHasNoNextToken) {
  RecordCallers({"a", "b", "c", "d"});
  v1::ListAuditRecordsRequest request;
  request.set_page_size(2);
  auto first = log_->List(request);
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_FALSE(first->next_page_token().empty());
  request.set_page_token(first->next_page_token());
  auto second = log_->List(request);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(second->records_size(), 2);
  EXPECT_EQ(second->next_page_token(), "");
}

TEST_P(AuditLogTest, PageSizeZeroMeansOneHundred) {
  std::vector<std::string> callers;
  for (int i = 0; i < 101; ++i) callers.push_back(absl::StrCat("c", i));
  RecordCallers(callers);
  auto response = log_->List({});
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->records_size(), 100);
  EXPECT_FALSE(response->next_page_token().empty());
  v1::ListAuditRecordsRequest max;
  max.set_page_size(1000);
  auto all = log_->List(max);
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(all->records_size(), 101);
  EXPECT_EQ(all->next_page_token(), "");
}

std::vector<std::string> ViolatedFields(const absl::Status& status) {
  std::vector<std::string> fields;
  for (const runtime::FieldViolation& v : runtime::FieldViolations(status)) {
    fields.push_back(v.field);
  }
  return fields;
}

TEST_P(AuditLogTest, BadRequestsNameTheField) {
  for (int page_size : {-1, 1001}) {
    v1::ListAuditRecordsRequest request;
    request.set_page_size(page_size);
    auto response = log_->List(request);
    ASSERT_FALSE(response.ok()) << page_size;
    EXPECT_EQ(response.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(ViolatedFields(response.status()), ElementsAre("page_size")) << page_size;
    EXPECT_THAT(response.status().message(), HasSubstr("page_size: must be from 0 to 1000"));
  }
  v1::ListAuditRecordsRequest token;
  token.set_page_token(std::string(65, 'z'));
  EXPECT_THAT(ViolatedFields(log_->List(token).status()), ElementsAre("page_token"));

  v1::ListAuditRecordsRequest service;
  service.set_service("reporting");
  auto unknown = log_->List(service);
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(ViolatedFields(unknown.status()), ElementsAre("service"));
  EXPECT_THAT(unknown.status().message(), HasSubstr("profiles, feedback"));
}

TEST_P(AuditLogTest, RecordsCannotBeUpdatedOrDeleted) {
  RecordCallers({"crm", "dpo"});
  for (const char* sql :
       {"UPDATE profiles_audit SET caller = 'nobody'",
        "UPDATE profiles_audit SET outcome = 'OK' WHERE caller = 'dpo'",
        "DELETE FROM profiles_audit", "DELETE FROM profiles_audit WHERE caller = 'crm'"}) {
    auto changed = db_->Exec(sql);
    EXPECT_FALSE(changed.ok()) << sql;
    EXPECT_THAT(changed.status().message(), HasSubstr("append-only")) << sql;
  }
  EXPECT_THAT(CallersOf({}), ElementsAre("dpo", "crm"));
  // Each service's table is protected.
  Record(Make("feedback", "fb", "m", "r"));
  EXPECT_FALSE(db_->Exec("DELETE FROM feedback_audit").ok());
  EXPECT_THAT(CallersOf({}), ElementsAre("fb", "dpo", "crm"));
}

// SQLite has no TRUNCATE.
class PostgresAuditLogTest : public AuditLogTest {};

INSTANTIATE_TEST_SUITE_P(Backends, PostgresAuditLogTest, ::testing::Values(Backend::kPostgres),
                         [](const auto&) { return "Postgres"; });

TEST_P(PostgresAuditLogTest, RefusesTruncate) {
  RecordCallers({"crm"});
  auto truncated = db_->Exec("TRUNCATE profiles_audit");
  EXPECT_FALSE(truncated.ok());
  EXPECT_THAT(truncated.status().message(), HasSubstr("append-only"));
  EXPECT_THAT(CallersOf({}), ElementsAre("crm"));
}

TEST_P(AuditLogTest, RecordFailsWhenTheTableIsGone) {
  ASSERT_TRUE(db_->Exec("DROP TABLE profiles_audit").ok());
  EXPECT_FALSE(log_->Record(Make("profiles", "crm", "m", "r")).ok());
}

// The value of the unlabelled sample `name` in a Prometheus text rendering (-1 if absent).
double Sample(const std::string& text, const std::string& name) {
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (absl::ConsumePrefix(&line, name + " ")) {
      double value = 0;
      if (absl::SimpleAtod(line, &value)) return value;
    }
  }
  return -1;
}

// Calls arriving together share commits: every record is durable when its callback runs,
// none is lost or written twice, and there are far fewer batches than records.
TEST_P(AuditLogTest, ConcurrentRecordsShareCommits) {
  runtime::MetricsRegistry metrics;
  log_.reset();
  log_ = std::make_unique<AuditLog>(*db_, std::vector<std::string>{"profiles", "feedback"},
                                    AuditOptions{.metrics = &metrics});
  const int kRecords = 300;
  std::atomic<int> committed{0};
  std::atomic<int> failed{0};
  for (int i = 0; i < kRecords; ++i) {
    log_->RecordAsync(Make(i % 3 == 0 ? "feedback" : "profiles", absl::StrCat("c", i), "m", "r"),
                      [&](absl::Status status) { (status.ok() ? committed : failed)++; });
  }
  ASSERT_TRUE(log_->Record(Make("profiles", "last", "m", "r")).ok());
  EXPECT_EQ(committed.load(), kRecords);
  EXPECT_EQ(failed.load(), 0);
  auto rows = db_->Query("SELECT COUNT(*), COUNT(DISTINCT caller) FROM profiles_audit");
  ASSERT_TRUE(rows.ok()) << rows.status();
  auto feedback = db_->Query("SELECT COUNT(*) FROM feedback_audit");
  ASSERT_TRUE(feedback.ok()) << feedback.status();
  EXPECT_EQ((*rows)[0].GetInt(0) + (*feedback)[0].GetInt(0), kRecords + 1);
  EXPECT_EQ((*rows)[0].GetInt(0), (*rows)[0].GetInt(1));
  const std::string text = metrics.Render();
  const double batches = Sample(text, "centric_audit_batch_records_count");
  EXPECT_EQ(Sample(text, "centric_audit_batch_records_sum"), kRecords + 1);
  EXPECT_GE(batches, 1);
  EXPECT_LT(batches, kRecords / 4) << text;
}

// A full queue makes callers wait rather than drop records; stopping the log writes
// what was queued.
TEST_P(AuditLogTest, AFullQueueHoldsCallersBackAndStoppingWritesTheRest) {
  log_.reset();
  log_ = std::make_unique<AuditLog>(*db_, std::vector<std::string>{"profiles", "feedback"},
                                    AuditOptions{.max_batch = 3, .max_queue = 4});
  std::atomic<int> committed{0};
  std::vector<std::thread> callers;
  for (int t = 0; t < 4; ++t) {
    callers.emplace_back([&, t] {
      for (int i = 0; i < 25; ++i) {
        log_->RecordAsync(Make("profiles", absl::StrCat("t", t, "-", i), "m", "r"),
                          [&](absl::Status status) {
                            if (status.ok()) committed++;
                          });
      }
    });
  }
  for (std::thread& t : callers) t.join();
  log_.reset();  // drains the queue
  EXPECT_EQ(committed.load(), 100);
  auto rows = db_->Query("SELECT COUNT(DISTINCT caller) FROM profiles_audit");
  ASSERT_TRUE(rows.ok()) << rows.status();
  EXPECT_EQ((*rows)[0].GetInt(0), 100);
}

// A batch the database refuses fails every call in it, and the next batch is written.
TEST_P(AuditLogTest, ARefusedBatchFailsItsCallsOnly) {
  ASSERT_TRUE(db_->Exec("ALTER TABLE feedback_audit RENAME TO feedback_audit_away").ok());
  EXPECT_FALSE(log_->Record(Make("feedback", "crm", "m", "r")).ok());
  ASSERT_TRUE(db_->Exec("ALTER TABLE feedback_audit_away RENAME TO feedback_audit").ok());
  EXPECT_TRUE(log_->Record(Make("feedback", "crm", "m", "r")).ok());
  EXPECT_THAT(CallersOf({}), ElementsAre("crm"));
}

}  // namespace
}  // namespace centric::security
