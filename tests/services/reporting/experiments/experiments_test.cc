// Reporting's experiments on SQLite and on PostgreSQL: definitions and their state
// machine, sticky assignment with exposures, conversions from consumed events (also
// across merges and erasures), and results checked against hand-computed figures.
// Time is a FakeClock; segment membership is the real reporting_memberships table;
// consents come from a fake of the Profiles service's answer.
#include "services/reporting/experiments/experiments.h"

#include <cmath>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"
#include "libs/runtime/errors.h"
#include "libs/runtime/resource.h"
#include "libs/stats/stats.h"
#include "libs/testing/servers.h"
#include "libs/testing/shared_servers.h"
#include "services/reporting/schema.h"

namespace centric::reporting {
namespace {

namespace ev = events::v1;
namespace pv1 = profiles::v1;
using runtime::FromTimestamp;
using runtime::ToTimestamp;
using testing::SharedPostgres;

const absl::Time kStart = absl::FromUnixSeconds(1790000000);
const absl::Time kNever = absl::InfiniteFuture();

struct Backend {
  std::string name;
  bool postgres;
};

// field -> description of every violation `status` carries.
std::map<std::string, std::string> Violations(const absl::Status& status) {
  std::map<std::string, std::string> out;
  for (const auto& v : runtime::FieldViolations(status)) out[v.field] = v.description;
  return out;
}

google::protobuf::Duration Window(absl::Duration d) {
  google::protobuf::Duration out;
  out.set_seconds(absl::ToInt64Seconds(d));
  return out;
}

// A valid design: control and treatment 50/50, primary "purchase" within 1 hour,
// guardrail "unsubscribe" within 1 day.
v1::Experiment Design(std::vector<std::pair<std::string, int64_t>> variants = {{"control", 50},
                                                                               {"treatment", 50}}) {
  v1::Experiment e;
  e.set_display_name("Green checkout button");
  e.set_hypothesis("A green button is easier to find, so more visitors buy.");
  e.set_change("Checkout button colour: green instead of blue");
  for (const auto& [id, weight] : variants) {
    v1::Variant* v = e.add_variants();
    v->set_id(id);
    v->set_weight(weight);
  }
  e.mutable_primary_metric()->set_interaction_type("purchase");
  *e.mutable_primary_metric()->mutable_window() = Window(absl::Hours(1));
  v1::ExperimentMetric* guardrail = e.add_guardrail_metrics();
  guardrail->set_interaction_type("unsubscribe");
  *guardrail->mutable_window() = Window(absl::Hours(24));
  return e;
}

class ExperimentsTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    if (GetParam().postgres) {
      ASSERT_NE(SharedPostgres(), nullptr);
      auto url = SharedPostgres()->CreateDatabase(testing::UniqueTestName());
      ASSERT_TRUE(url.ok()) << url.status();
      url_ = *url;
    } else {
      url_ = absl::StrCat("sqlite://", dir_.path(), "/reporting.db");
    }
    auto db = store::Open(url_);
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = std::move(*db);
    ASSERT_TRUE(store::Migrate(*db_, "reporting", ReportingMigrations()).ok());
    ASSERT_TRUE(store::Migrate(*db_, "reporting_experiments", Experiments::Migrations()).ok());
    experiments_ = NewExperiments(*db_);
  }

  std::unique_ptr<Experiments> NewExperiments(store::Database& db) {
    return std::make_unique<Experiments>(Experiments::Deps{
        .db = &db,
        .clock = &clock_,
        .ids = &ids_,
        .in_segment = [](store::Tx& tx, const std::string& segment,
                         const std::string& profile) { return IsMember(tx, profile, segment); },
        .consents = [this](const std::string& profile,
                           absl::Time) -> absl::StatusOr<std::vector<pv1::Consent>> {
          absl::MutexLock lock(&consents_mu_);
          ++consent_calls_;
          if (!consents_error_.ok()) return consents_error_;
          return consents_[profile];
        }});
  }

  // What the fake Profiles service answers for `profile`'s consent to marketing e-mail.
  void SetEmailConsent(const std::string& profile, pv1::ConsentStatus status,
                       absl::Time update_time) {
    pv1::Consent c;
    c.set_purpose(pv1::CONSENT_PURPOSE_MARKETING_EMAIL);
    c.set_status(status);
    *c.mutable_update_time() = ToTimestamp(update_time);
    absl::MutexLock lock(&consents_mu_);
    consents_[profile] = {c};
  }

  int ConsentCalls() {
    absl::MutexLock lock(&consents_mu_);
    return consent_calls_;
  }

  Experiments& ex() { return *experiments_; }

  v1::Experiment Create(const std::string& id, const v1::Experiment& design) {
    v1::CreateExperimentRequest request;
    request.set_experiment_id(id);
    *request.mutable_experiment() = design;
    auto created = ex().CreateExperiment(request, kNever);
    EXPECT_TRUE(created.ok()) << created.status();
    return created.ok() ? *created : v1::Experiment();
  }

  v1::Experiment CreateAndStart(const std::string& id, const v1::Experiment& design = Design()) {
    Create(id, design);
    v1::StartExperimentRequest start;
    start.set_name(absl::StrCat("experiments/", id));
    auto started = ex().StartExperiment(start, kNever);
    EXPECT_TRUE(started.ok()) << started.status();
    return started.ok() ? *started : v1::Experiment();
  }

  absl::StatusOr<v1::Experiment> Stop(const std::string& name, const std::string& etag = "") {
    v1::StopExperimentRequest stop;
    stop.set_name(name);
    stop.set_etag(etag);
    return ex().StopExperiment(stop, kNever);
  }

  absl::StatusOr<v1::Assignment> Assign(const v1::Experiment& e, const std::string& profile,
                                        Experiments* via = nullptr) {
    v1::AssignVariantRequest request;
    request.set_experiment(e.name());
    request.set_profile(profile);
    return (via != nullptr ? via : experiments_.get())->AssignVariant(request, kNever);
  }

  // The variant of an assignment that must succeed and be eligible.
  std::string MustAssign(const v1::Experiment& e, const std::string& profile) {
    auto a = Assign(e, profile);
    EXPECT_TRUE(a.ok()) << a.status();
    EXPECT_TRUE(a.ok() && a->eligible()) << profile;
    return a.ok() ? a->variant() : "";
  }

  v1::ExperimentResults Results(const v1::Experiment& e) {
    v1::GetExperimentResultsRequest request;
    request.set_name(e.name());
    auto results = ex().GetExperimentResults(request, kNever);
    EXPECT_TRUE(results.ok()) << results.status();
    return results.ok() ? *results : v1::ExperimentResults();
  }

  absl::Status Apply(const google::protobuf::Message& payload) {
    ev::Event event;
    event.set_id(ids_.NewId());
    event.set_type(payload.GetDescriptor()->full_name());
    event.set_source("profiles");
    *event.mutable_time() = ToTimestamp(clock_.Now());
    event.mutable_payload()->PackFrom(payload);
    auto inputs = ex().PrepareEvent(event, kNever);
    if (!inputs.ok()) return inputs.status();
    return db_->Transact([&](store::Tx& tx) { return ex().ApplyEvent(tx, event, *inputs); });
  }

  // A ProfileChanged of `profile`'s consents, as the module applies it.
  absl::Status ConsentsChanged(const std::string& profile) {
    ev::ProfileChanged changed;
    changed.set_profile(profile);
    changed.add_changed_paths("consents");
    return Apply(changed);
  }

  // An InteractionRecorded of `profile` with one interaction per (type, time).
  void Interact(const std::string& profile,
                const std::vector<std::pair<std::string, absl::Time>>& interactions) {
    ev::InteractionRecorded recorded;
    recorded.set_profile(profile);
    for (const auto& [type, at] : interactions) {
      ev::InteractionSummary* i = recorded.add_interactions();
      i->set_event_id(ids_.NewId());
      i->set_channel("web");
      i->set_type(type);
      *i->mutable_occur_time() = ToTimestamp(at);
      recorded.add_event_ids(i->event_id());
      recorded.add_types(type);
    }
    ASSERT_TRUE(Apply(recorded).ok());
  }

  // `count` profile names ("profiles/<prefix><n>") that the documented hash puts into
  // variant `index` of `e`, so tests can build exact splits through AssignVariant.
  std::vector<std::string> ProfilesIn(const v1::Experiment& e, int index, int count,
                                      const std::string& prefix) {
    std::vector<int64_t> weights;
    for (const auto& v : e.variants()) weights.push_back(v.weight());
    std::vector<std::string> out;
    for (int n = 0; static_cast<int>(out.size()) < count; ++n) {
      std::string id = absl::StrCat(prefix, n);
      auto variant = stats::AssignVariant(e.salt(), id, weights);
      EXPECT_TRUE(variant.ok());
      if (*variant == index) out.push_back(absl::StrCat("profiles/", id));
    }
    return out;
  }

  int64_t CountRows(const std::string& sql, const store::Params& params) {
    auto rows = db_->Query(sql, params);
    EXPECT_TRUE(rows.ok()) << rows.status();
    return rows.ok() ? (*rows)[0].GetInt(0) : -1;
  }

  testing::TempDir dir_;
  std::string url_;
  std::unique_ptr<store::Database> db_;
  runtime::FakeClock clock_{kStart};
  runtime::SequentialIdGenerator ids_{"x"};
  absl::Mutex consents_mu_;
  std::map<std::string, std::vector<pv1::Consent>> consents_ ABSL_GUARDED_BY(consents_mu_);
  absl::Status consents_error_ ABSL_GUARDED_BY(consents_mu_);
  int consent_calls_ ABSL_GUARDED_BY(consents_mu_) = 0;
  std::unique_ptr<Experiments> experiments_;
};

const v1::VariantResult& VariantOf(const v1::ExperimentResults& r, const std::string& id) {
  for (const auto& v : r.variants()) {
    if (v.variant() == id) return v;
  }
  ADD_FAILURE() << "no variant " << id;
  return v1::VariantResult::default_instance();
}

// ---- Definitions ----------------------------------------------------------------------

TEST_P(ExperimentsTest, CreateRefusesEveryBadFieldNamingItAndTheLimit) {
  v1::Experiment e = Design({{"control", 0}, {"control", 50}, {"Bad!", 10001}});
  e.set_display_name("");
  e.set_hypothesis(std::string(2001, 'h'));
  e.set_change(std::string(501, 'c'));
  e.set_target_segment("seg/vip");
  *e.mutable_primary_metric()->mutable_window() = Window(absl::Seconds(30));
  e.mutable_primary_metric()->set_interaction_type("Purchase");
  for (int i = 0; i < 5; ++i) *e.add_guardrail_metrics() = e.guardrail_metrics(0);
  (*e.mutable_guardrail_metrics())[2].mutable_window()->set_seconds(366 * 86400);
  e.set_alpha(1.5);
  e.set_power(-0.2);
  e.set_baseline_rate(std::nan(""));
  e.set_purpose(static_cast<pv1::ConsentPurpose>(42));
  v1::CreateExperimentRequest request;
  request.set_experiment_id("9-starts-with-a-digit");
  *request.mutable_experiment() = e;
  auto created = ex().CreateExperiment(request, kNever);
  ASSERT_EQ(created.status().code(), absl::StatusCode::kInvalidArgument);
  auto v = Violations(created.status());
  EXPECT_EQ(v["experiment.display_name"], "must be 1 to 200 bytes, got 0");
  EXPECT_EQ(v["experiment.hypothesis"], "must be at most 2000 bytes, got 2001");
  EXPECT_EQ(v["experiment.change"], "must be 1 to 500 bytes, got 501");
  EXPECT_EQ(v["experiment.variants[0].weight"], "must be 1 to 10000, got 0");
  EXPECT_EQ(v["experiment.variants[1].id"],
            "\"control\" is already the id of variants[0]; ids must be unique");
  EXPECT_EQ(v["experiment.variants[2].id"], "must be 1 to 63 bytes of [a-z0-9_-], got \"Bad!\"");
  EXPECT_EQ(v["experiment.variants[2].weight"], "must be 1 to 10000, got 10001");
  EXPECT_EQ(v["experiment.target_segment"],
            "must be empty (everyone) or \"segments/{segment}\", got \"seg/vip\"");
  EXPECT_EQ(v["experiment.primary_metric.interaction_type"],
            "must be 1 to 64 bytes of [a-z0-9_], got \"Purchase\"");
  EXPECT_EQ(v["experiment.primary_metric.window"], "must be 1m to 8760h (365 days), got 30s");
  EXPECT_EQ(v["experiment.guardrail_metrics"], "must hold at most 5 metrics, got 6");
  EXPECT_EQ(v["experiment.guardrail_metrics[2].window"],
            "must be 1m to 8760h (365 days), got 8784h");
  EXPECT_EQ(v["experiment.alpha"], "must be 0 (meaning 0.05) or in (0, 1), got 1.5");
  EXPECT_EQ(v["experiment.power"], "must be 0 (meaning 0.8) or in (0, 1), got -0.2");
  EXPECT_EQ(v["experiment.baseline_rate"], "must be 0 (meaning 0.1) or in (0, 1), got nan");
  EXPECT_EQ(v["experiment.purpose"], "is not a ConsentPurpose");
  EXPECT_EQ(v["experiment_id"],
            "must be 1 to 63 bytes of [a-z0-9-] starting with a letter, got "
            "\"9-starts-with-a-digit\"");
  EXPECT_EQ(v.size(), 17u);

  // One violation at a time for the rules the case above cannot show together.
  v1::Experiment one = Design({{"control", 1}});
  request.set_experiment_id("");
  *request.mutable_experiment() = one;
  EXPECT_EQ(Violations(ex().CreateExperiment(request, kNever).status())["experiment.variants"],
            "must hold 2 to 10 variants (the first is the control), got 1");
  v1::Experiment eleven = Design({});
  for (int i = 0; i < 11; ++i) {
    v1::Variant* variant = eleven.add_variants();
    variant->set_id(absl::StrCat("v", i));
    variant->set_weight(1);
  }
  *request.mutable_experiment() = eleven;
  EXPECT_EQ(Violations(ex().CreateExperiment(request, kNever).status())["experiment.variants"],
            "must hold 2 to 10 variants (the first is the control), got 11");
  v1::Experiment no_metric = Design();
  no_metric.clear_primary_metric();
  *request.mutable_experiment() = no_metric;
  EXPECT_EQ(
      Violations(ex().CreateExperiment(request, kNever).status())["experiment.primary_metric"],
      "is required");
  v1::Experiment too_high = Design();
  too_high.set_baseline_rate(0.95);
  too_high.set_minimum_detectable_effect(0.05);
  *request.mutable_experiment() = too_high;
  EXPECT_EQ(
      Violations(
          ex().CreateExperiment(request, kNever).status())["experiment.minimum_detectable_effect"],
      "baseline_rate + minimum_detectable_effect must be below 1, got 0.95 + 0.05");
  v1::Experiment tiny = Design();
  tiny.set_minimum_detectable_effect(1e-9);
  *request.mutable_experiment() = tiny;
  EXPECT_EQ(ex().CreateExperiment(request, kNever).status().code(),
            absl::StatusCode::kInvalidArgument);
  // Nothing half-written.
  EXPECT_EQ(CountRows("SELECT COUNT(*) FROM reporting_experiment_definitions", {}), 0);
}

TEST_P(ExperimentsTest, CreateFillsDefaultsSaltAndOutputOnlyFields) {
  v1::Experiment design = Design();
  design.set_state(v1::EXPERIMENT_STATE_RUNNING);  // output only: ignored
  design.set_salt("chosen");
  design.set_alpha(0.01);
  v1::Experiment e = Create("green-button", design);
  EXPECT_EQ(e.name(), "experiments/green-button");
  EXPECT_EQ(e.state(), v1::EXPERIMENT_STATE_DRAFT);
  EXPECT_EQ(e.salt(), "experiments/green-button");
  EXPECT_EQ(FromTimestamp(e.create_time()), kStart);
  EXPECT_FALSE(e.has_start_time());
  EXPECT_EQ(e.etag(), "\"v1\"");
  EXPECT_DOUBLE_EQ(e.minimum_detectable_effect(), 0.01);
  EXPECT_DOUBLE_EQ(e.baseline_rate(), 0.1);
  EXPECT_DOUBLE_EQ(e.alpha(), 0.01);
  EXPECT_DOUBLE_EQ(e.power(), 0.8);

  v1::GetExperimentRequest get;
  get.set_name(e.name());
  auto read = ex().GetExperiment(get, kNever);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->SerializeAsString(), e.SerializeAsString());

  v1::CreateExperimentRequest again;
  again.set_experiment_id("green-button");
  *again.mutable_experiment() = Design();
  auto taken = ex().CreateExperiment(again, kNever);
  EXPECT_EQ(taken.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(Violations(taken.status())["experiment_id"], "is taken");

  v1::CreateExperimentRequest generated;
  *generated.mutable_experiment() = Design();
  auto made = ex().CreateExperiment(generated, kNever);
  ASSERT_TRUE(made.ok()) << made.status();
  EXPECT_TRUE(runtime::IdOfName("name", made->name(), "experiments").ok()) << made->name();

  get.set_name("experiments/missing");
  EXPECT_EQ(ex().GetExperiment(get, kNever).status().code(), absl::StatusCode::kNotFound);
  get.set_name("experiment/x");
  EXPECT_EQ(Violations(ex().GetExperiment(get, kNever).status()).count("name"), 1u);
}

TEST_P(ExperimentsTest, ListIsNewestFirstInPages) {
  for (const char* id : {"a-first", "c-second", "b-third"}) {
    Create(id, Design());
    clock_.Advance(absl::Minutes(1));
  }
  v1::ListExperimentsRequest request;
  request.set_page_size(2);
  auto page = ex().ListExperiments(request, kNever);
  ASSERT_TRUE(page.ok()) << page.status();
  ASSERT_EQ(page->experiments_size(), 2);
  EXPECT_EQ(page->experiments(0).name(), "experiments/b-third");
  EXPECT_EQ(page->experiments(1).name(), "experiments/c-second");
  EXPECT_EQ(page->experiments(0).etag(), "\"v1\"");
  ASSERT_FALSE(page->next_page_token().empty());
  request.set_page_token(page->next_page_token());
  page = ex().ListExperiments(request, kNever);
  ASSERT_TRUE(page.ok()) << page.status();
  ASSERT_EQ(page->experiments_size(), 1);
  EXPECT_EQ(page->experiments(0).name(), "experiments/a-first");
  EXPECT_TRUE(page->next_page_token().empty());

  request.set_page_token("not-a-token");
  EXPECT_EQ(Violations(ex().ListExperiments(request, kNever).status()).count("page_token"), 1u);
  request.set_page_token("");
  request.set_page_size(-1);
  EXPECT_EQ(Violations(ex().ListExperiments(request, kNever).status()).count("page_size"), 1u);
}

TEST_P(ExperimentsTest, OnlyDraftsChangeAndStatesMoveForwardOnce) {
  v1::Experiment e = Create("flow", Design());

  // Masked update.
  v1::UpdateExperimentRequest update;
  update.mutable_experiment()->set_name(e.name());
  update.mutable_experiment()->set_display_name("Green button, take two");
  update.mutable_experiment()->set_change("ignored: not in the mask");
  update.mutable_update_mask()->add_paths("display_name");
  update.mutable_experiment()->set_etag(e.etag());
  auto updated = ex().UpdateExperiment(update, kNever);
  ASSERT_TRUE(updated.ok()) << updated.status();
  EXPECT_EQ(updated->display_name(), "Green button, take two");
  EXPECT_EQ(updated->change(), e.change());
  EXPECT_EQ(updated->etag(), "\"v2\"");

  // The old etag is stale.
  EXPECT_EQ(ex().UpdateExperiment(update, kNever).status().code(), absl::StatusCode::kAborted);

  // Without a mask, every design field the request sets; a 0 becomes the default again.
  v1::UpdateExperimentRequest unmasked;
  unmasked.mutable_experiment()->set_name(e.name());
  unmasked.mutable_experiment()->set_hypothesis("Shorter.");
  unmasked.mutable_experiment()->set_salt("output only, not updatable");
  updated = ex().UpdateExperiment(unmasked, kNever);
  ASSERT_TRUE(updated.ok()) << updated.status();
  EXPECT_EQ(updated->hypothesis(), "Shorter.");
  EXPECT_EQ(updated->display_name(), "Green button, take two");
  EXPECT_EQ(updated->salt(), "experiments/flow");
  unmasked.mutable_experiment()->set_alpha(0.2);
  ASSERT_TRUE(ex().UpdateExperiment(unmasked, kNever).ok());
  v1::UpdateExperimentRequest reset;
  reset.mutable_experiment()->set_name(e.name());
  reset.mutable_update_mask()->add_paths("alpha");
  updated = ex().UpdateExperiment(reset, kNever);
  ASSERT_TRUE(updated.ok()) << updated.status();
  EXPECT_DOUBLE_EQ(updated->alpha(), 0.05);

  // Bad paths and bad values are refused.
  v1::UpdateExperimentRequest bad = reset;
  bad.mutable_update_mask()->set_paths(0, "state");
  EXPECT_EQ(Violations(ex().UpdateExperiment(bad, kNever).status()).count("update_mask"), 1u);
  bad.mutable_update_mask()->set_paths(0, "variants");
  EXPECT_EQ(Violations(ex().UpdateExperiment(bad, kNever).status())["experiment.variants"],
            "must hold 2 to 10 variants (the first is the control), got 0");

  // Assignment needs RUNNING.
  EXPECT_EQ(Assign(e, "profiles/p1").status().code(), absl::StatusCode::kFailedPrecondition);

  v1::StartExperimentRequest start;
  start.set_name(e.name());
  start.set_etag("\"v1\"");
  EXPECT_EQ(ex().StartExperiment(start, kNever).status().code(), absl::StatusCode::kAborted);
  start.set_etag("");
  clock_.Advance(absl::Hours(1));
  auto started = ex().StartExperiment(start, kNever);
  ASSERT_TRUE(started.ok()) << started.status();
  EXPECT_EQ(started->state(), v1::EXPERIMENT_STATE_RUNNING);
  EXPECT_EQ(FromTimestamp(started->start_time()), kStart + absl::Hours(1));
  auto again = ex().StartExperiment(start, kNever);
  EXPECT_EQ(again.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(runtime::Reason(again.status()), "EXPERIMENT_NOT_DRAFT");

  update.mutable_experiment()->set_etag("");
  auto frozen = ex().UpdateExperiment(update, kNever);
  EXPECT_EQ(frozen.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(runtime::Reason(frozen.status()), "EXPERIMENT_NOT_DRAFT");

  EXPECT_TRUE(Assign(e, "profiles/p1").ok());

  clock_.Advance(absl::Hours(1));
  auto stopped = Stop(e.name(), started->etag());
  ASSERT_TRUE(stopped.ok()) << stopped.status();
  EXPECT_EQ(stopped->state(), v1::EXPERIMENT_STATE_STOPPED);
  EXPECT_EQ(FromTimestamp(stopped->stop_time()), kStart + absl::Hours(2));
  EXPECT_EQ(FromTimestamp(stopped->start_time()), kStart + absl::Hours(1));
  EXPECT_EQ(Stop(e.name()).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(ex().StartExperiment(start, kNever).status().code(),
            absl::StatusCode::kFailedPrecondition);
  auto refused = Assign(e, "profiles/p1");
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(runtime::Reason(refused.status()), "EXPERIMENT_NOT_RUNNING");

  // A draft cannot be stopped; unknown experiments are NOT_FOUND.
  v1::Experiment draft = Create("draft", Design());
  EXPECT_EQ(Stop(draft.name()).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Stop("experiments/nope").status().code(), absl::StatusCode::kNotFound);
  update.mutable_experiment()->set_name("experiments/nope");
  EXPECT_EQ(ex().UpdateExperiment(update, kNever).status().code(), absl::StatusCode::kNotFound);
}

// ---- Assignment -----------------------------------------------------------------------

TEST_P(ExperimentsTest, AssignmentIsStickyAcrossInstancesAndFollowsTheWeights) {
  v1::Experiment e = CreateAndStart("split", Design({{"a", 50}, {"b", 30}, {"c", 20}}));

  // A second service instance with its own connection to the same database.
  auto other_db = store::Open(url_);
  ASSERT_TRUE(other_db.ok()) << other_db.status();
  std::unique_ptr<Experiments> other = NewExperiments(**other_db);
  auto first = Assign(e, "profiles/alice");
  ASSERT_TRUE(first.ok()) << first.status();
  clock_.Advance(absl::Hours(3));
  auto second = Assign(e, "profiles/alice", other.get());
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_TRUE(second->eligible());
  EXPECT_EQ(second->variant(), first->variant());
  EXPECT_EQ(FromTimestamp(second->exposure_time()), kStart);
  EXPECT_EQ(second->experiment(), e.name());
  EXPECT_EQ(second->profile(), "profiles/alice");
  // The variant is the documented function of salt, profile id and weights.
  auto expected = stats::AssignVariant("experiments/split", "alice", {50, 30, 20});
  ASSERT_TRUE(expected.ok());
  EXPECT_EQ(first->variant(), e.variants(*expected).id());

  std::map<std::string, int> split;
  for (int i = 0; i < 10000; ++i) ++split[MustAssign(e, absl::StrCat("profiles/p", i))];
  ++split[first->variant()];  // alice
  EXPECT_NEAR(split["a"] / 10001.0, 0.5, 0.02);
  EXPECT_NEAR(split["b"] / 10001.0, 0.3, 0.02);
  EXPECT_NEAR(split["c"] / 10001.0, 0.2, 0.02);
  v1::ExperimentResults r = Results(e);
  EXPECT_EQ(VariantOf(r, "a").exposures(), split["a"]);
  EXPECT_EQ(VariantOf(r, "b").exposures(), split["b"]);
  EXPECT_EQ(VariantOf(r, "c").exposures(), split["c"]);
  EXPECT_FALSE(r.sample_ratio().mismatch());
  EXPECT_EQ(r.sample_ratio().degrees_of_freedom(), 2);

  // Names are checked.
  auto bad = Assign(e, "alice");
  EXPECT_EQ(Violations(bad.status()).count("profile"), 1u);
  v1::Experiment missing;
  missing.set_name("experiments/missing");
  EXPECT_EQ(Assign(missing, "profiles/alice").status().code(), absl::StatusCode::kNotFound);
  missing.set_name("missing");
  EXPECT_EQ(Violations(Assign(missing, "profiles/alice").status()).count("experiment"), 1u);
}

TEST_P(ExperimentsTest, ConcurrentFirstAssignmentsRecordOneExposure) {
  v1::Experiment e = CreateAndStart("race");
  constexpr int kThreads = 8;
  std::vector<absl::StatusOr<v1::Assignment>> answers(kThreads, absl::UnknownError(""));
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      // Distinct times: whichever call records the exposure, all must answer with it.
      answers[t] = Assign(e, "profiles/racer");
    });
    clock_.Advance(absl::Milliseconds(1));
  }
  for (auto& thread : threads) thread.join();
  ASSERT_TRUE(answers[0].ok()) << answers[0].status();
  for (const auto& a : answers) {
    ASSERT_TRUE(a.ok()) << a.status();
    EXPECT_EQ(a->variant(), answers[0]->variant());
    EXPECT_EQ(FromTimestamp(a->exposure_time()), FromTimestamp(answers[0]->exposure_time()));
  }
  v1::ExperimentResults r = Results(e);
  EXPECT_EQ(r.variants(0).exposures() + r.variants(1).exposures(), 1);
}

TEST_P(ExperimentsTest, TargetSegmentGatesTheFirstExposureOnly) {
  v1::Experiment design = Design();
  design.set_target_segment("segments/vip");
  v1::Experiment e = CreateAndStart("vip-only", design);

  auto outside = Assign(e, "profiles/carol");
  ASSERT_TRUE(outside.ok()) << outside.status();
  EXPECT_FALSE(outside->eligible());
  EXPECT_EQ(outside->variant(), "");
  EXPECT_FALSE(outside->has_exposure_time());
  // Membership of another segment does not count.
  ASSERT_TRUE(db_->Exec("INSERT INTO reporting_memberships (profile, grp) VALUES ($1, $2)",
                        {std::string("profiles/carol"), std::string("segments/other")})
                  .ok());
  EXPECT_FALSE(Assign(e, "profiles/carol")->eligible());
  v1::ExperimentResults r = Results(e);
  EXPECT_EQ(r.variants(0).exposures() + r.variants(1).exposures(), 0);

  ASSERT_TRUE(db_->Exec("INSERT INTO reporting_memberships (profile, grp) VALUES ($1, $2)",
                        {std::string("profiles/carol"), std::string("segments/vip")})
                  .ok());
  clock_.Advance(absl::Minutes(5));
  auto inside = Assign(e, "profiles/carol");
  ASSERT_TRUE(inside.ok()) << inside.status();
  EXPECT_TRUE(inside->eligible());
  EXPECT_NE(inside->variant(), "");
  EXPECT_EQ(FromTimestamp(inside->exposure_time()), kStart + absl::Minutes(5));

  // Once exposed, the profile stays in its variant after leaving the segment.
  ASSERT_TRUE(db_->Exec("DELETE FROM reporting_memberships WHERE profile = $1",
                        {std::string("profiles/carol")})
                  .ok());
  auto after = Assign(e, "profiles/carol");
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_TRUE(after->eligible());
  EXPECT_EQ(after->variant(), inside->variant());
  r = Results(e);
  EXPECT_EQ(r.variants(0).exposures() + r.variants(1).exposures(), 1);
}

// ---- Consent --------------------------------------------------------------------------

int64_t TotalExposures(const v1::ExperimentResults& r) {
  int64_t n = 0;
  for (const auto& v : r.variants()) n += v.exposures();
  return n;
}

int64_t TotalConversions(const v1::ExperimentResults& r) {
  int64_t n = 0;
  for (const auto& v : r.variants()) n += v.primary().conversions();
  return n;
}

TEST_P(ExperimentsTest, PurposeGatesEveryAssignmentByTheConsentAtTheTimeOfTheCall) {
  v1::Experiment design = Design();
  design.set_purpose(pv1::CONSENT_PURPOSE_MARKETING_EMAIL);
  v1::Experiment e = CreateAndStart("mail-subject", design);
  EXPECT_EQ(e.purpose(), pv1::CONSENT_PURPOSE_MARKETING_EMAIL);
  SetEmailConsent("profiles/ana", pv1::CONSENT_STATUS_GRANTED, kStart - absl::Hours(1));
  SetEmailConsent("profiles/carl", pv1::CONSENT_STATUS_DENIED, kStart - absl::Hours(1));

  auto granted = Assign(e, "profiles/ana");
  ASSERT_TRUE(granted.ok()) << granted.status();
  EXPECT_TRUE(granted->eligible());
  EXPECT_NE(granted->variant(), "");
  for (const char* profile : {"profiles/bob", "profiles/carl"}) {  // no answer; DENIED
    auto refused = Assign(e, profile);
    ASSERT_TRUE(refused.ok()) << refused.status();
    EXPECT_FALSE(refused->eligible()) << profile;
    EXPECT_EQ(refused->variant(), "");
    EXPECT_FALSE(refused->has_exposure_time());
  }
  EXPECT_EQ(TotalExposures(Results(e)), 1);

  // Revoked: nothing is served any more, the exposure stays in the results.
  clock_.Advance(absl::Minutes(5));
  SetEmailConsent("profiles/ana", pv1::CONSENT_STATUS_REVOKED, clock_.Now());
  auto revoked = Assign(e, "profiles/ana");
  ASSERT_TRUE(revoked.ok()) << revoked.status();
  EXPECT_FALSE(revoked->eligible());
  EXPECT_EQ(revoked->variant(), "");
  EXPECT_FALSE(revoked->has_exposure_time());
  EXPECT_EQ(TotalExposures(Results(e)), 1);

  // Granted again: the same variant and first exposure.
  SetEmailConsent("profiles/ana", pv1::CONSENT_STATUS_GRANTED, clock_.Now());
  auto again = Assign(e, "profiles/ana");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->eligible());
  EXPECT_EQ(again->variant(), granted->variant());
  EXPECT_EQ(FromTimestamp(again->exposure_time()), kStart);

  // Profiles cannot be asked: the call fails (retry), nothing is recorded.
  {
    absl::MutexLock lock(&consents_mu_);
    consents_error_ = absl::UnavailableError("profiles is down");
  }
  EXPECT_EQ(Assign(e, "profiles/dora").status().code(), absl::StatusCode::kUnavailable);
  {
    absl::MutexLock lock(&consents_mu_);
    consents_error_ = absl::OkStatus();
  }
  EXPECT_EQ(TotalExposures(Results(e)), 1);

  // An experiment without a purpose never asks.
  v1::Experiment plain = CreateAndStart("plain");
  int calls = ConsentCalls();
  EXPECT_TRUE(Assign(plain, "profiles/carl")->eligible());
  EXPECT_EQ(ConsentCalls(), calls);

  // A Reporting that cannot read consents refuses experiments with a purpose only.
  Experiments blind(Experiments::Deps{
      .db = db_.get(),
      .clock = &clock_,
      .ids = &ids_,
      .in_segment = [](store::Tx&, const std::string&, const std::string&) { return true; },
      .consents = nullptr});
  auto no_source = Assign(e, "profiles/ana", &blind);
  EXPECT_EQ(no_source.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(runtime::Reason(no_source.status()), "CONSENTS_UNAVAILABLE");
  EXPECT_NE(no_source.status().message().find("--profiles-target"), std::string::npos);
  EXPECT_TRUE(Assign(plain, "profiles/ana", &blind)->eligible());
}

TEST_P(ExperimentsTest, PurposeIsADesignFieldFrozenByStart) {
  v1::Experiment e = Create("later", Design());
  v1::UpdateExperimentRequest update;
  update.mutable_experiment()->set_name(e.name());
  update.mutable_experiment()->set_purpose(pv1::CONSENT_PURPOSE_PERSONALIZATION);
  update.mutable_update_mask()->add_paths("purpose");
  auto updated = ex().UpdateExperiment(update, kNever);
  ASSERT_TRUE(updated.ok()) << updated.status();
  EXPECT_EQ(updated->purpose(), pv1::CONSENT_PURPOSE_PERSONALIZATION);
  update.mutable_experiment()->set_purpose(static_cast<pv1::ConsentPurpose>(-1));
  EXPECT_EQ(Violations(ex().UpdateExperiment(update, kNever).status())["experiment.purpose"],
            "is not a ConsentPurpose");
  v1::StartExperimentRequest start;
  start.set_name(e.name());
  ASSERT_TRUE(ex().StartExperiment(start, kNever).ok());
  update.mutable_experiment()->set_purpose(pv1::CONSENT_PURPOSE_UNSPECIFIED);
  EXPECT_EQ(ex().UpdateExperiment(update, kNever).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

// Exposures made with consent stay; conversions count only before the withdrawal, also
// when the interaction was counted before the withdrawal reached Reporting.
TEST_P(ExperimentsTest, WithdrawalEndsTheCountingOfConversionsButKeepsTheExposure) {
  v1::Experiment design = Design();
  design.set_purpose(pv1::CONSENT_PURPOSE_MARKETING_EMAIL);
  v1::Experiment e = CreateAndStart("mail-offer", design);
  for (const char* p : {"profiles/ana", "profiles/bob", "profiles/carl"}) {
    SetEmailConsent(p, pv1::CONSENT_STATUS_GRANTED, kStart - absl::Hours(1));
    EXPECT_NE(MustAssign(e, p), "");
  }
  const absl::Time withdrawn = kStart + absl::Minutes(20);
  clock_.Advance(absl::Minutes(40));

  // ana keeps consent and converts.
  Interact("profiles/ana", {{"purchase", kStart + absl::Minutes(30)}});
  // carl's purchase after the withdrawal is counted before Reporting learns of it...
  Interact("profiles/carl", {{"purchase", kStart + absl::Minutes(30)}});
  EXPECT_EQ(TotalConversions(Results(e)), 2);
  // ...and dropped when it does; bob withdrew at the same time.
  SetEmailConsent("profiles/carl", pv1::CONSENT_STATUS_REVOKED, withdrawn);
  SetEmailConsent("profiles/bob", pv1::CONSENT_STATUS_REVOKED, withdrawn);
  int calls = ConsentCalls();
  ASSERT_TRUE(ConsentsChanged("profiles/carl").ok());
  ASSERT_TRUE(ConsentsChanged("profiles/bob").ok());
  EXPECT_EQ(ConsentCalls(), calls + 2);
  EXPECT_EQ(TotalConversions(Results(e)), 1);
  // bob: after the withdrawal nothing counts; an older purchase recorded late does.
  Interact("profiles/bob", {{"purchase", kStart + absl::Minutes(25)}});
  EXPECT_EQ(TotalConversions(Results(e)), 1);
  Interact("profiles/bob", {{"purchase", kStart + absl::Minutes(10)}});
  EXPECT_EQ(TotalConversions(Results(e)), 2);
  // Granting again does not reopen the window.
  SetEmailConsent("profiles/carl", pv1::CONSENT_STATUS_GRANTED, clock_.Now());
  ASSERT_TRUE(ConsentsChanged("profiles/carl").ok());
  Interact("profiles/carl", {{"purchase", kStart + absl::Minutes(45)}});
  v1::ExperimentResults r = Results(e);
  EXPECT_EQ(TotalConversions(r), 2);
  EXPECT_EQ(TotalExposures(r), 3);

  // Once every withdrawal is known, consent changes of these profiles cost no call, nor
  // do those of profiles without an exposure to an experiment with a purpose.
  calls = ConsentCalls();
  ASSERT_TRUE(ConsentsChanged("profiles/bob").ok());
  ASSERT_TRUE(ConsentsChanged("profiles/nobody").ok());
  EXPECT_EQ(ConsentCalls(), calls);
}

// Merged profiles are one person: the earliest withdrawal of either ends the counting,
// whichever exposure survives.
TEST_P(ExperimentsTest, MergeKeepsTheEarliestWithdrawal) {
  v1::Experiment design = Design();
  design.set_purpose(pv1::CONSENT_PURPOSE_MARKETING_EMAIL);
  v1::Experiment e = CreateAndStart("merged-mail", design);
  SetEmailConsent("profiles/old", pv1::CONSENT_STATUS_GRANTED, kStart);
  SetEmailConsent("profiles/new", pv1::CONSENT_STATUS_GRANTED, kStart);
  MustAssign(e, "profiles/old");
  clock_.Advance(absl::Minutes(1));
  MustAssign(e, "profiles/new");
  SetEmailConsent("profiles/new", pv1::CONSENT_STATUS_REVOKED, kStart + absl::Minutes(10));
  ASSERT_TRUE(ConsentsChanged("profiles/new").ok());
  ev::ProfilesMerged merged;
  merged.set_survivor("profiles/new");
  merged.add_merged("profiles/old");
  ASSERT_TRUE(Apply(merged).ok());
  Interact("profiles/new", {{"purchase", kStart + absl::Minutes(15)}});
  EXPECT_EQ(TotalConversions(Results(e)), 0);
  Interact("profiles/new", {{"purchase", kStart + absl::Minutes(5)}});
  v1::ExperimentResults r = Results(e);
  EXPECT_EQ(TotalConversions(r), 1);
  EXPECT_EQ(TotalExposures(r), 1);
}

TEST_P(ExperimentsTest, ConsentChangeWithoutPreparedConsentsIsDeliveredAgain) {
  v1::Experiment design = Design();
  design.set_purpose(pv1::CONSENT_PURPOSE_MARKETING_EMAIL);
  v1::Experiment e = CreateAndStart("race", design);
  SetEmailConsent("profiles/ana", pv1::CONSENT_STATUS_GRANTED, kStart);
  MustAssign(e, "profiles/ana");
  // As if the exposure was recorded after PrepareEvent looked.
  ev::ProfileChanged changed;
  changed.set_profile("profiles/ana");
  changed.add_changed_paths("consents");
  ev::Event event;
  event.set_id("race-1");
  event.mutable_payload()->PackFrom(changed);
  absl::Status status =
      db_->Transact([&](store::Tx& tx) { return ex().ApplyEvent(tx, event, {}); });
  EXPECT_EQ(status.code(), absl::StatusCode::kAborted);
  EXPECT_EQ(runtime::Reason(status), "CONSENTS_NOT_READ");
}

// ---- Conversions ----------------------------------------------------------------------

TEST_P(ExperimentsTest, ConversionsCountOncePerMetricInsideTheWindowAfterExposure) {
  v1::Experiment e = CreateAndStart("window");
  const absl::Time t = kStart;
  std::map<std::string, std::string> variant;
  for (const char* p : {"profiles/a", "profiles/b", "profiles/d", "profiles/e"}) {
    variant[p] = MustAssign(e, p);
  }
  // a: two purchases inside the hour count once.
  Interact("profiles/a",
           {{"purchase", t + absl::Minutes(30)}, {"purchase", t + absl::Minutes(40)}});
  Interact("profiles/a", {{"purchase", t + absl::Minutes(50)}});
  // b: a purchase after the window, and one of another type inside it.
  Interact("profiles/b", {{"purchase", t + absl::Hours(2)}, {"browse", t + absl::Minutes(1)}});
  // d: the guardrail within its day, not the primary metric.
  Interact("profiles/d", {{"unsubscribe", t + absl::Hours(5)}});
  // e: exactly at the end of the window counts (the window is closed).
  Interact("profiles/e", {{"purchase", t + absl::Hours(1)}});
  // c: purchases before its exposure never count, even when they arrive after it.
  Interact("profiles/c", {{"purchase", t + absl::Minutes(5)}});
  clock_.Advance(absl::Minutes(10));
  variant["profiles/c"] = MustAssign(e, "profiles/c");
  Interact("profiles/c", {{"purchase", t + absl::Minutes(9)}});
  // Stopping ends assignments, not the windows of those exposed.
  ASSERT_TRUE(Stop(e.name()).ok());
  Interact("profiles/c", {{"unsubscribe", t + absl::Minutes(30)}});

  std::map<std::string, int64_t> primary, guardrail, exposed;
  for (const char* p : {"profiles/a", "profiles/e"}) ++primary[variant[p]];
  for (const char* p : {"profiles/d", "profiles/c"}) ++guardrail[variant[p]];
  for (const auto& [p, v] : variant) ++exposed[v];
  v1::ExperimentResults r = Results(e);
  EXPECT_EQ(r.state(), v1::EXPERIMENT_STATE_STOPPED);
  for (const char* v : {"control", "treatment"}) {
    const v1::VariantResult& result = VariantOf(r, v);
    EXPECT_EQ(result.exposures(), exposed[v]) << v;
    EXPECT_EQ(result.primary().exposures(), exposed[v]) << v;
    EXPECT_EQ(result.primary().conversions(), primary[v]) << v;
    ASSERT_EQ(result.guardrails_size(), 1);
    EXPECT_EQ(result.guardrails(0).metric().interaction_type(), "unsubscribe");
    EXPECT_EQ(result.guardrails(0).conversions(), guardrail[v]) << v;
  }
  // Other events change nothing.
  ev::ProfileChanged changed;
  changed.set_profile("profiles/a");
  EXPECT_TRUE(Apply(changed).ok());
  EXPECT_EQ(Results(e).SerializeAsString(), r.SerializeAsString());
}

// Four merges, primary window 1 hour; "early" is t, "late" is t + 90 min:
//   m1 early (purchase at +10m) into s1 late (purchase at +100m): m1's exposure and
//      variant survive, with one conversion;
//   m2 late (unsubscribe at +95m) into s2, never exposed: m2's exposure moves as it is;
//   m3 early (nothing) into s3 late (purchase at +100m): the purchase is outside the hour
//      after the surviving exposure and stops counting;
//   m4 late (purchase at +100m) into s4 early: s4's exposure survives, m4's purchase is
//      outside its hour.
TEST_P(ExperimentsTest, MergeMovesExposuresToTheSurvivorKeepingTheEarliest) {
  v1::Experiment e = CreateAndStart("merge");
  const absl::Time t = kStart;
  std::map<std::string, std::string> variant;
  for (const char* p : {"profiles/m1", "profiles/m3", "profiles/s4"}) variant[p] = MustAssign(e, p);
  clock_.Advance(absl::Minutes(90));
  for (const char* p : {"profiles/s1", "profiles/m2", "profiles/s3", "profiles/m4"}) {
    variant[p] = MustAssign(e, p);
  }
  Interact("profiles/m1", {{"purchase", t + absl::Minutes(10)}});
  Interact("profiles/s1", {{"purchase", t + absl::Minutes(100)}});
  Interact("profiles/m2", {{"unsubscribe", t + absl::Minutes(95)}});
  Interact("profiles/s3", {{"purchase", t + absl::Minutes(100)}});
  Interact("profiles/m4", {{"purchase", t + absl::Minutes(100)}});
  v1::ExperimentResults before = Results(e);
  EXPECT_EQ(before.variants(0).primary().conversions() + before.variants(1).primary().conversions(),
            4);

  for (int i = 1; i <= 4; ++i) {
    ev::ProfilesMerged merged;
    merged.set_survivor(absl::StrCat("profiles/s", i));
    merged.add_merged(absl::StrCat("profiles/m", i));
    ASSERT_TRUE(Apply(merged).ok());
  }

  // Survivors and merged names answer with the exposure that survived.
  clock_.Advance(absl::Hours(1));
  const std::map<std::string, std::pair<std::string, absl::Time>> kept = {
      {"profiles/s1", {variant["profiles/m1"], t}},
      {"profiles/m1", {variant["profiles/m1"], t}},
      {"profiles/s2", {variant["profiles/m2"], t + absl::Minutes(90)}},
      {"profiles/s3", {variant["profiles/m3"], t}},
      {"profiles/s4", {variant["profiles/s4"], t}},
      {"profiles/m4", {variant["profiles/s4"], t}}};
  for (const auto& [name, expected] : kept) {
    auto a = Assign(e, name);
    ASSERT_TRUE(a.ok()) << a.status();
    EXPECT_EQ(a->variant(), expected.first) << name;
    EXPECT_EQ(FromTimestamp(a->exposure_time()), expected.second) << name;
  }
  for (const char* table : {"reporting_experiment_exposures", "reporting_experiment_conversions"}) {
    EXPECT_EQ(CountRows(absl::StrCat("SELECT COUNT(*) FROM ", table, " WHERE profile LIKE $1"),
                        {std::string("profiles/m%")}),
              0)
        << table;
  }

  // Four people: conversions only for s1 (m1's purchase) and s2 (m2's unsubscribe).
  std::map<std::string, int64_t> exposed, primary, guardrail;
  for (const char* p : {"profiles/m1", "profiles/m2", "profiles/m3", "profiles/s4"}) {
    ++exposed[variant[p]];
  }
  ++primary[variant["profiles/m1"]];
  ++guardrail[variant["profiles/m2"]];
  v1::ExperimentResults r = Results(e);
  for (const char* v : {"control", "treatment"}) {
    const v1::VariantResult& result = VariantOf(r, v);
    EXPECT_EQ(result.exposures(), exposed[v]) << v;
    EXPECT_EQ(result.primary().conversions(), primary[v]) << v;
    EXPECT_EQ(result.guardrails(0).conversions(), guardrail[v]) << v;
  }

  // From now on the surviving windows apply: s3 converts inside the hour after t, and
  // s1's second purchase is the same conversion, not another.
  Interact("profiles/s3", {{"purchase", t + absl::Minutes(30)}});
  Interact("profiles/s1", {{"purchase", t + absl::Minutes(20)}});
  ++primary[variant["profiles/m3"]];
  r = Results(e);
  for (const char* v : {"control", "treatment"}) {
    EXPECT_EQ(VariantOf(r, v).primary().conversions(), primary[v]) << v;
  }
}

TEST_P(ExperimentsTest, ErasureKeepsTheCountsButNotTheProfile) {
  v1::Experiment e = CreateAndStart("erase");
  v1::Experiment other = CreateAndStart("erase-too");
  std::string variant = MustAssign(e, "profiles/gone");
  MustAssign(other, "profiles/gone");
  MustAssign(e, "profiles/stays");
  Interact("profiles/gone", {{"purchase", kStart + absl::Minutes(1)}});
  ev::ProfilesMerged merged;
  merged.set_survivor("profiles/gone");
  merged.add_merged("profiles/old-name");
  ASSERT_TRUE(Apply(merged).ok());
  v1::ExperimentResults before = Results(e);

  ev::ProfileErased erased;
  erased.set_profile("profiles/gone");
  ASSERT_TRUE(Apply(erased).ok());

  v1::ExperimentResults after = Results(e);
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(after.variants(i).exposures(), before.variants(i).exposures());
    EXPECT_EQ(after.variants(i).primary().conversions(),
              before.variants(i).primary().conversions());
  }
  EXPECT_EQ(VariantOf(after, variant).primary().conversions(), 1);
  for (const char* table : {"reporting_experiment_exposures", "reporting_experiment_conversions"}) {
    EXPECT_EQ(CountRows(absl::StrCat("SELECT COUNT(*) FROM ", table, " WHERE profile = $1"),
                        {std::string("profiles/gone")}),
              0)
        << table;
  }
  EXPECT_EQ(CountRows("SELECT COUNT(*) FROM reporting_experiment_aliases WHERE profile = $1 OR "
                      "survivor = $1",
                      {std::string("profiles/gone")}),
            0);
  // Each experiment got its own anonymous id: nothing links the rows of one person.
  EXPECT_EQ(CountRows("SELECT COUNT(DISTINCT profile) FROM reporting_experiment_exposures "
                      "WHERE profile LIKE 'erased/%'",
                      {}),
            2);
  // The purchase converted in both experiments; the conversions follow their exposures.
  EXPECT_EQ(CountRows("SELECT COUNT(*) FROM reporting_experiment_conversions c JOIN "
                      "reporting_experiment_exposures e ON e.experiment = c.experiment AND "
                      "e.profile = c.profile WHERE c.profile LIKE 'erased/%'",
                      {}),
            2);
}

// ---- Results --------------------------------------------------------------------------

// Control 1000 exposures / 100 conversions against treatment 1000 / 130, alpha 0.05.
//   rates 0.1 and 0.13; absolute uplift d = 0.03.
//   Wald SE = √(0.1·0.9/1000 + 0.13·0.87/1000) = √0.0002031 = 0.0142513;
//   z_{0.975} = 1.959964, so d ± 0.0279321 = [0.0020679, 0.0579321].
//   Relative uplift 0.13/0.1 − 1 = 0.3; delta method
//   Var = (0.13·0.87/1000)/0.1² + 0.13²·(0.1·0.9/1000)/0.1⁴ = 0.01131 + 0.01521 = 0.02652,
//   SE 0.1628496, 0.3 ± 0.3191794 = [−0.0191794, 0.6191794].
//   Pooled p̄ = 230/2000 = 0.115, SE0 = √(0.115·0.885·(2/1000)) = 0.0142671,
//   z = 0.03/0.0142671 = 2.102741, p = 2·(1 − Φ(2.102741)) = 0.0354885 < 0.05: significant.
//   P(treatment beats control), Beta(131, 871) vs Beta(101, 901): 0.98216507
//   (docs/STATISTICS.md, tested in libs/stats against a numerical integral).
//   Sample size from the control's rate 0.1 with δ = 0.02 (not the baseline 0.3):
//   p2 = 0.12, p̄ = 0.11, (1.959964·√(2·0.11·0.89) + 0.841621·√(0.09 + 0.1056))² / 0.02²
//   = (0.867270 + 0.372221)²·2500 = 3840.85 → 3841; remaining 3841 − 1000 = 2841.
//   (From the baseline 0.3 it would be 8394.)
TEST_P(ExperimentsTest, ResultsMatchHandComputedReferenceValues) {
  v1::Experiment design = Design();
  design.set_minimum_detectable_effect(0.02);
  design.set_baseline_rate(0.3);
  v1::Experiment e = CreateAndStart("reference", design);
  std::vector<std::string> control = ProfilesIn(e, 0, 1000, "c");
  std::vector<std::string> treatment = ProfilesIn(e, 1, 1000, "t");
  for (const auto& p : control) ASSERT_EQ(MustAssign(e, p), "control");
  for (const auto& p : treatment) ASSERT_EQ(MustAssign(e, p), "treatment");
  const absl::Time soon = kStart + absl::Minutes(10);
  for (int i = 0; i < 100; ++i) Interact(control[i], {{"purchase", soon}});
  for (int i = 0; i < 130; ++i) Interact(treatment[i], {{"purchase", soon}});
  // Guardrail: 20 unsubscribes in each.
  for (int i = 0; i < 20; ++i) {
    Interact(control[999 - i], {{"unsubscribe", soon}});
    Interact(treatment[999 - i], {{"unsubscribe", soon}});
  }
  clock_.Advance(absl::Hours(2));

  v1::ExperimentResults r = Results(e);
  EXPECT_EQ(r.experiment(), "experiments/reference");
  EXPECT_EQ(r.state(), v1::EXPERIMENT_STATE_RUNNING);
  EXPECT_EQ(FromTimestamp(r.compute_time()), kStart + absl::Hours(2));
  ASSERT_EQ(r.variants_size(), 2);
  const v1::MetricResult& c = r.variants(0).primary();
  EXPECT_EQ(r.variants(0).variant(), "control");
  EXPECT_EQ(c.metric().interaction_type(), "purchase");
  EXPECT_EQ(c.exposures(), 1000);
  EXPECT_EQ(c.conversions(), 100);
  EXPECT_NEAR(c.rate(), 0.1, 1e-12);
  EXPECT_FALSE(c.has_absolute_uplift());
  EXPECT_FALSE(c.has_p_value());
  EXPECT_FALSE(c.has_probability_to_beat_control());
  EXPECT_FALSE(c.significant());

  const v1::MetricResult& t = r.variants(1).primary();
  EXPECT_EQ(t.exposures(), 1000);
  EXPECT_EQ(t.conversions(), 130);
  EXPECT_NEAR(t.rate(), 0.13, 1e-12);
  EXPECT_NEAR(t.absolute_uplift(), 0.03, 1e-9);
  EXPECT_NEAR(t.absolute_uplift_low(), 0.0020679, 1e-6);
  EXPECT_NEAR(t.absolute_uplift_high(), 0.0579321, 1e-6);
  EXPECT_NEAR(t.relative_uplift(), 0.3, 1e-9);
  EXPECT_NEAR(t.relative_uplift_low(), -0.0191794, 1e-6);
  EXPECT_NEAR(t.relative_uplift_high(), 0.6191794, 1e-6);
  EXPECT_NEAR(t.p_value(), 0.0354885, 1e-6);
  EXPECT_NEAR(t.probability_to_beat_control(), 0.98216507, 1e-6);
  EXPECT_TRUE(t.significant());

  // Guardrail 20/1000 against 20/1000: no difference, p = 1, P(beat) = 0.5.
  ASSERT_EQ(r.variants(1).guardrails_size(), 1);
  const v1::MetricResult& g = r.variants(1).guardrails(0);
  EXPECT_EQ(g.conversions(), 20);
  EXPECT_NEAR(g.absolute_uplift(), 0, 1e-12);
  EXPECT_NEAR(g.relative_uplift(), 0, 1e-12);
  EXPECT_NEAR(g.p_value(), 1, 1e-9);
  EXPECT_NEAR(g.probability_to_beat_control(), 0.5, 1e-9);
  EXPECT_FALSE(g.significant());

  EXPECT_EQ(r.required_exposures_per_variant(), 3841);
  EXPECT_EQ(r.remaining_exposures(), 2841);
  EXPECT_FALSE(r.sample_ratio().mismatch());
  EXPECT_NEAR(r.sample_ratio().chi_square(), 0, 1e-12);
  EXPECT_NEAR(r.sample_ratio().p_value(), 1, 1e-9);
}

// R's power.prop.test(p1 = .50, p2 = .75, power = .90) = 76.7: 77 per variant from the
// baseline while the control has no conversion, and again when the control's rate
// leaves no room for the effect (rate + δ ≥ 1). A control at 1/5 = 0.2 plans from 0.2:
//   p2 = 0.45, p̄ = 0.325, z_{0.975} = 1.959964, z_{0.9} = 1.281552,
//   (1.959964·√(2·0.325·0.675) + 1.281552·√(0.2·0.8 + 0.45·0.55))² / 0.25²
//   = (1.298245 + 0.818088)² / 0.0625 = 71.66 → 72.
TEST_P(ExperimentsTest, SampleSizeComesFromTheBaselineUntilTheControlConverts) {
  v1::Experiment design = Design();
  design.set_baseline_rate(0.5);
  design.set_minimum_detectable_effect(0.25);
  design.set_power(0.9);
  v1::Experiment e = CreateAndStart("planning", design);
  v1::ExperimentResults r = Results(e);
  EXPECT_EQ(r.required_exposures_per_variant(), 77);
  EXPECT_EQ(r.remaining_exposures(), 77);
  EXPECT_EQ(r.variants(0).primary().rate(), 0);
  EXPECT_FALSE(r.variants(1).primary().has_p_value());

  std::vector<std::string> control = ProfilesIn(e, 0, 5, "c");
  std::vector<std::string> treatment = ProfilesIn(e, 1, 3, "t");
  for (const auto& p : control) MustAssign(e, p);
  for (const auto& p : treatment) MustAssign(e, p);
  r = Results(e);
  EXPECT_EQ(r.required_exposures_per_variant(), 77);
  EXPECT_EQ(r.remaining_exposures(), 77 - 3);

  Interact(control[0], {{"purchase", kStart}});
  r = Results(e);
  EXPECT_EQ(r.required_exposures_per_variant(), 72);
  EXPECT_EQ(r.remaining_exposures(), 72 - 3);

  for (const auto& p : control) Interact(p, {{"purchase", kStart}});
  r = Results(e);  // control rate 1: back to the baseline
  EXPECT_EQ(r.required_exposures_per_variant(), 77);
}

// 50/50 weights. 5000 against 4000: expected 4500 each,
// χ² = 2·500²/4500 = 111.11 with 1 degree of freedom, p = erfc(√(111.11/2)) = 5.6e-26 <
// 0.001: mismatch. 5000 against 5020: expected 5010, χ² = 2·10²/5010 = 0.03992,
// p = erfc(√(0.03992/2)) = 0.84164: no mismatch.
TEST_P(ExperimentsTest, SampleRatioMismatchIsFlaggedOnlyForABrokenSplit) {
  v1::Experiment broken = CreateAndStart("broken");
  for (const auto& p : ProfilesIn(broken, 0, 5000, "c")) MustAssign(broken, p);
  for (const auto& p : ProfilesIn(broken, 1, 4000, "t")) MustAssign(broken, p);
  v1::ExperimentResults r = Results(broken);
  EXPECT_NEAR(r.sample_ratio().chi_square(), 111.1111, 1e-3);
  EXPECT_EQ(r.sample_ratio().degrees_of_freedom(), 1);
  EXPECT_LT(r.sample_ratio().p_value(), 1e-20);
  EXPECT_TRUE(r.sample_ratio().mismatch());
  // No conversions: planned from the default baseline 0.1 with δ = 0.01, p̄ = 0.105:
  // (1.959964·√(2·0.105·0.895) + 0.841621·√(0.1·0.9 + 0.11·0.89))² / 0.01²
  // = (0.849707 + 0.364821)²·10⁴ = 14750.79 → 14751; the smaller variant has 4000.
  EXPECT_EQ(r.required_exposures_per_variant(), 14751);
  EXPECT_EQ(r.remaining_exposures(), 14751 - 4000);

  v1::Experiment healthy = CreateAndStart("healthy");
  for (const auto& p : ProfilesIn(healthy, 0, 5000, "c")) MustAssign(healthy, p);
  for (const auto& p : ProfilesIn(healthy, 1, 5020, "t")) MustAssign(healthy, p);
  r = Results(healthy);
  EXPECT_NEAR(r.sample_ratio().chi_square(), 0.0399202, 1e-6);
  EXPECT_NEAR(r.sample_ratio().p_value(), 0.8416368, 1e-6);
  EXPECT_FALSE(r.sample_ratio().mismatch());
}

INSTANTIATE_TEST_SUITE_P(Backends, ExperimentsTest,
                         ::testing::Values(Backend{"sqlite", false}, Backend{"postgres", true}),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace centric::reporting
