#include "services/reporting/experiments/experiments.h"

#include <google/protobuf/descriptor.h>

#include <algorithm>
#include <map>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "libs/events/bus.h"
#include "libs/runtime/errors.h"
#include "libs/runtime/log.h"
#include "libs/runtime/resource.h"
#include "libs/stats/stats.h"

namespace centric::reporting {
namespace {

namespace ev = ::centric::events::v1;
namespace pv1 = ::centric::profiles::v1;
using runtime::CheckBytes;
using runtime::FieldViolation;
using runtime::FromTimestamp;
using runtime::IdOfName;
using runtime::ToTimestamp;

constexpr char kCollection[] = "experiments";

// The fields UpdateExperiment may change: the design. State, salt and times are output
// only.
const std::vector<std::string>& UpdatablePaths() {
  static const auto* paths = new std::vector<std::string>{"display_name",
                                                          "hypothesis",
                                                          "change",
                                                          "variants",
                                                          "target_segment",
                                                          "primary_metric",
                                                          "guardrail_metrics",
                                                          "minimum_detectable_effect",
                                                          "baseline_rate",
                                                          "alpha",
                                                          "power",
                                                          "purpose"};
  return *paths;
}

int64_t Micros(absl::Time t) { return absl::ToUnixMicros(t); }

absl::Duration DurationOf(const google::protobuf::Duration& d) {
  return absl::Seconds(d.seconds()) + absl::Nanoseconds(d.nanos());
}

std::string StateName(v1::ExperimentState state) {
  const std::string& name = v1::ExperimentState_Name(state);
  absl::string_view short_name = name;
  absl::ConsumePrefix(&short_name, "EXPERIMENT_STATE_");
  return std::string(short_name);
}

bool ValidVariantId(const std::string& id) {
  return !id.empty() && id.size() <= kMaxVariantIdBytes &&
         std::all_of(id.begin(), id.end(), [](char c) {
           return absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '_' || c == '-';
         });
}

bool ValidInteractionType(const std::string& type) {
  return !type.empty() && type.size() <= kMaxInteractionTypeBytes &&
         std::all_of(type.begin(), type.end(), [](char c) {
           return absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '_';
         });
}

void CheckMetric(std::vector<FieldViolation>& v, const std::string& field,
                 const v1::ExperimentMetric& metric) {
  if (!ValidInteractionType(metric.interaction_type())) {
    v.push_back({absl::StrCat(field, ".interaction_type"),
                 absl::StrCat("must be 1 to ", kMaxInteractionTypeBytes,
                              " bytes of [a-z0-9_], got \"", metric.interaction_type(), "\"")});
  }
  absl::Duration window = DurationOf(metric.window());
  if (window < kMinMetricWindow || window > kMaxMetricWindow) {
    v.push_back(
        {absl::StrCat(field, ".window"),
         absl::StrCat("must be 1m to 8760h (365 days), got ", absl::FormatDuration(window))});
  }
}

// 0 (the default) or strictly between 0 and 1; NaN is neither.
void CheckFraction(std::vector<FieldViolation>& v, const char* field, double value,
                   double default_value) {
  if (value == 0) return;
  if (!(value > 0 && value < 1)) {
    v.push_back(
        {field, absl::StrCat("must be 0 (meaning ", default_value, ") or in (0, 1), got ", value)});
  }
}

double OrDefault(double value, double default_value) { return value == 0 ? default_value : value; }

// Every violation of the design fields of `e`, whose planning fields may still be 0.
std::vector<FieldViolation> Validate(const v1::Experiment& e) {
  std::vector<FieldViolation> v;
  CheckBytes(v, "experiment.display_name", e.display_name(), 1, kMaxExperimentDisplayNameBytes);
  CheckBytes(v, "experiment.hypothesis", e.hypothesis(), 0, kMaxHypothesisBytes);
  CheckBytes(v, "experiment.change", e.change(), 1, kMaxChangeBytes);
  if (e.variants_size() < kMinExperimentVariants || e.variants_size() > kMaxExperimentVariants) {
    v.push_back({"experiment.variants",
                 absl::StrCat("must hold ", kMinExperimentVariants, " to ", kMaxExperimentVariants,
                              " variants (the first is the control), got ", e.variants_size())});
  }
  absl::flat_hash_map<std::string, int> seen;
  for (int i = 0; i < e.variants_size(); ++i) {
    const v1::Variant& variant = e.variants(i);
    std::string field = absl::StrCat("experiment.variants[", i, "]");
    if (!ValidVariantId(variant.id())) {
      v.push_back({absl::StrCat(field, ".id"),
                   absl::StrCat("must be 1 to ", kMaxVariantIdBytes, " bytes of [a-z0-9_-], got \"",
                                variant.id(), "\"")});
    } else if (auto [it, inserted] = seen.emplace(variant.id(), i); !inserted) {
      v.push_back({absl::StrCat(field, ".id"),
                   absl::StrCat("\"", variant.id(), "\" is already the id of variants[", it->second,
                                "]; ids must be unique")});
    }
    CheckBytes(v, absl::StrCat(field, ".description"), variant.description(), 0,
               kMaxVariantDescriptionBytes);
    if (variant.weight() < 1 || variant.weight() > kMaxVariantWeight) {
      v.push_back({absl::StrCat(field, ".weight"),
                   absl::StrCat("must be 1 to ", kMaxVariantWeight, ", got ", variant.weight())});
    }
  }
  if (!e.target_segment().empty()) {
    if (auto segment = IdOfName("experiment.target_segment", e.target_segment(), "segments");
        !segment.ok()) {
      v.push_back({"experiment.target_segment",
                   absl::StrCat("must be empty (everyone) or \"segments/{segment}\", got \"",
                                e.target_segment(), "\"")});
    }
  }
  if (!pv1::ConsentPurpose_IsValid(e.purpose())) {
    v.push_back({"experiment.purpose", "is not a ConsentPurpose"});
  }
  if (!e.has_primary_metric()) {
    v.push_back({"experiment.primary_metric", "is required"});
  } else {
    CheckMetric(v, "experiment.primary_metric", e.primary_metric());
  }
  if (e.guardrail_metrics_size() > kMaxGuardrailMetrics) {
    v.push_back({"experiment.guardrail_metrics",
                 absl::StrCat("must hold at most ", kMaxGuardrailMetrics, " metrics, got ",
                              e.guardrail_metrics_size())});
  }
  for (int i = 0; i < e.guardrail_metrics_size(); ++i) {
    CheckMetric(v, absl::StrCat("experiment.guardrail_metrics[", i, "]"), e.guardrail_metrics(i));
  }
  size_t before = v.size();
  CheckFraction(v, "experiment.minimum_detectable_effect", e.minimum_detectable_effect(),
                kDefaultMinimumDetectableEffect);
  CheckFraction(v, "experiment.baseline_rate", e.baseline_rate(), kDefaultBaselineRate);
  CheckFraction(v, "experiment.alpha", e.alpha(), kDefaultAlpha);
  CheckFraction(v, "experiment.power", e.power(), kDefaultPower);
  if (v.size() == before) {
    double mde = OrDefault(e.minimum_detectable_effect(), kDefaultMinimumDetectableEffect);
    double baseline = OrDefault(e.baseline_rate(), kDefaultBaselineRate);
    if (baseline + mde >= 1) {
      v.push_back({"experiment.minimum_detectable_effect",
                   absl::StrCat("baseline_rate + minimum_detectable_effect must be below 1, got ",
                                baseline, " + ", mde)});
    } else if (auto n = stats::RequiredSampleSizePerVariant(baseline, mde,
                                                            OrDefault(e.alpha(), kDefaultAlpha),
                                                            OrDefault(e.power(), kDefaultPower));
               !n.ok()) {
      // Only an effect so small that no experiment could detect it gets here.
      v.push_back({"experiment.minimum_detectable_effect",
                   absl::StrCat("is too small to plan for: ", n.status().message())});
    }
  }
  return v;
}

void ResolveDefaults(v1::Experiment& e) {
  e.set_minimum_detectable_effect(
      OrDefault(e.minimum_detectable_effect(), kDefaultMinimumDetectableEffect));
  e.set_baseline_rate(OrDefault(e.baseline_rate(), kDefaultBaselineRate));
  e.set_alpha(OrDefault(e.alpha(), kDefaultAlpha));
  e.set_power(OrDefault(e.power(), kDefaultPower));
}

// The metrics of `e` in stored order: the primary one (0), then the guardrails (1..n).
std::vector<const v1::ExperimentMetric*> MetricsOf(const v1::Experiment& e) {
  std::vector<const v1::ExperimentMetric*> metrics = {&e.primary_metric()};
  for (const v1::ExperimentMetric& m : e.guardrail_metrics()) metrics.push_back(&m);
  return metrics;
}

std::vector<int64_t> WeightsOf(const v1::Experiment& e) {
  std::vector<int64_t> weights;
  for (const v1::Variant& variant : e.variants()) weights.push_back(variant.weight());
  return weights;
}

// Whether `consents` hold GRANTED for `purpose`.
bool Granted(const std::vector<pv1::Consent>& consents, int64_t purpose) {
  return std::any_of(consents.begin(), consents.end(), [&](const pv1::Consent& c) {
    return c.purpose() == purpose && c.status() == pv1::CONSENT_STATUS_GRANTED;
  });
}

// Whether a ProfileChanged may have changed the profile's consents.
bool ChangesConsents(const ev::ProfileChanged& changed) {
  if (changed.created()) return false;  // nobody is exposed before the profile exists
  return std::any_of(changed.changed_paths().begin(), changed.changed_paths().end(),
                     [](const std::string& path) { return path == "consents" || path == "*"; });
}

// Exposures of `profile` to an experiment with a purpose whose withdrawal is not known.
constexpr char kOpenConsentSql[] =
    "SELECT DISTINCT purpose FROM reporting_experiment_exposures "
    "WHERE profile = $1 AND purpose <> 0 AND consent_end_time IS NULL";

absl::Status NotFound(const std::string& id) {
  return runtime::Error(absl::StatusCode::kNotFound, "EXPERIMENT_NOT_FOUND",
                        absl::StrCat(kCollection, "/", id, " does not exist"));
}

struct Stored {
  v1::Experiment experiment;
  int64_t version = 0;
};

Stored FromRow(const store::Row& row) {
  Stored s;
  s.version = row.GetInt(1);
  s.experiment.ParseFromString(row.GetString(2));
  s.experiment.set_etag(runtime::EtagOf(s.version));
  return s;
}

// The experiment `id`; with `for_update`, locked until commit on PostgreSQL (SQLite
// serialises writers anyway). Errors: NOT_FOUND, store errors.
absl::StatusOr<Stored> ReadExperiment(store::Tx& tx, const std::string& id, bool for_update) {
  std::string sql = "SELECT id, version, data FROM reporting_experiment_definitions WHERE id = $1";
  if (for_update && tx.backend() == store::Backend::kPostgres) absl::StrAppend(&sql, " FOR UPDATE");
  auto rows = tx.Query(sql, {id});
  if (!rows.ok()) return rows.status();
  if (rows->empty()) return NotFound(id);
  return FromRow((*rows)[0]);
}

// Writes `e` as version + 1 of the row read at `version`.
absl::Status WriteExperiment(store::Tx& tx, const std::string& id, int64_t version,
                             v1::Experiment e) {
  e.clear_etag();
  auto updated = tx.Exec(
      "UPDATE reporting_experiment_definitions SET version = $1, data = $2 "
      "WHERE id = $3 AND version = $4",
      {version + 1, store::Blob{e.SerializeAsString()}, id, version});
  if (!updated.ok()) return updated.status();
  if (*updated == 0) {
    return runtime::Error(
        absl::StatusCode::kAborted, "CONCURRENT_UPDATE",
        absl::StrCat(kCollection, "/", id, " changed meanwhile; read it and retry"));
  }
  return absl::OkStatus();
}

// The mask an UpdateExperiment without one stands for: every design field the request
// sets.
google::protobuf::FieldMask SetFieldsMask(const v1::Experiment& e) {
  google::protobuf::FieldMask mask;
  std::vector<const google::protobuf::FieldDescriptor*> fields;
  e.GetReflection()->ListFields(e, &fields);
  const auto& updatable = UpdatablePaths();
  for (const google::protobuf::FieldDescriptor* field : fields) {
    if (std::find(updatable.begin(), updatable.end(), field->name()) != updatable.end()) {
      mask.add_paths(field->name());
    }
  }
  return mask;
}

v1::MetricResult BaseResult(const v1::ExperimentMetric& metric, const stats::VariantCounts& c) {
  v1::MetricResult r;
  *r.mutable_metric() = metric;
  r.set_exposures(c.exposures);
  r.set_conversions(c.conversions);
  r.set_rate(c.exposures > 0 ? static_cast<double>(c.conversions) / c.exposures : 0);
  return r;
}

// Adds the comparison with the control when both have exposures.
absl::Status Compare(const stats::VariantCounts& control, const stats::VariantCounts& variant,
                     double alpha, v1::MetricResult& r) {
  if (control.exposures == 0 || variant.exposures == 0) return absl::OkStatus();
  auto comparison = stats::CompareToControl(control, variant, alpha);
  if (!comparison.ok()) return comparison.status();
  r.set_absolute_uplift(comparison->absolute_uplift);
  r.set_absolute_uplift_low(comparison->absolute_uplift_interval.low);
  r.set_absolute_uplift_high(comparison->absolute_uplift_interval.high);
  if (comparison->relative_uplift.has_value()) {
    r.set_relative_uplift(*comparison->relative_uplift);
    r.set_relative_uplift_low(comparison->relative_uplift_interval->low);
    r.set_relative_uplift_high(comparison->relative_uplift_interval->high);
  }
  r.set_p_value(comparison->p_value);
  r.set_significant(comparison->p_value < alpha);
  // The exact sum refuses counts beyond kMaxBayesTerms; the field is then left out
  // rather than failing the whole report.
  if (auto beat = stats::ProbabilityToBeatControl(control, variant); beat.ok()) {
    r.set_probability_to_beat_control(*beat);
  }
  return absl::OkStatus();
}

}  // namespace

// ---- Schema ---------------------------------------------------------------------------

std::vector<store::Migration> Experiments::Migrations() {
  return {
      {1, "experiments, metrics, exposures, conversions, aliases", R"sql(
CREATE TABLE reporting_experiment_definitions (
  id TEXT PRIMARY KEY,
  version BIGINT NOT NULL,
  create_time BIGINT NOT NULL,
  data {{BLOB}} NOT NULL
);
CREATE INDEX reporting_experiment_definitions_by_time
  ON reporting_experiment_definitions (create_time, id);
CREATE TABLE reporting_experiment_metrics (
  experiment TEXT NOT NULL,
  metric BIGINT NOT NULL,
  interaction_type TEXT NOT NULL,
  window_micros BIGINT NOT NULL,
  PRIMARY KEY (experiment, metric)
);
CREATE TABLE reporting_experiment_exposures (
  experiment TEXT NOT NULL,
  profile TEXT NOT NULL,
  variant TEXT NOT NULL,
  exposure_time BIGINT NOT NULL,
  PRIMARY KEY (experiment, profile)
);
CREATE INDEX reporting_experiment_exposures_by_profile
  ON reporting_experiment_exposures (profile);
CREATE TABLE reporting_experiment_conversions (
  experiment TEXT NOT NULL,
  profile TEXT NOT NULL,
  metric BIGINT NOT NULL,
  conversion_time BIGINT NOT NULL,
  PRIMARY KEY (experiment, profile, metric)
);
CREATE INDEX reporting_experiment_conversions_by_profile
  ON reporting_experiment_conversions (profile);
CREATE TABLE reporting_experiment_aliases (
  profile TEXT PRIMARY KEY,
  survivor TEXT NOT NULL
);
CREATE INDEX reporting_experiment_aliases_by_survivor
  ON reporting_experiment_aliases (survivor))sql"},
      {2, "consent purpose and withdrawal time of exposures", R"sql(
ALTER TABLE reporting_experiment_exposures ADD COLUMN purpose BIGINT NOT NULL DEFAULT 0;
ALTER TABLE reporting_experiment_exposures ADD COLUMN consent_end_time BIGINT)sql"},
  };
}

Experiments::Experiments(Deps deps) : deps_(std::move(deps)) {}

// ---- Definitions ----------------------------------------------------------------------

absl::StatusOr<v1::Experiment> Experiments::CreateExperiment(
    const v1::CreateExperimentRequest& request, absl::Time deadline) {
  std::vector<FieldViolation> v = Validate(request.experiment());
  if (!request.experiment_id().empty() && !runtime::ValidId(request.experiment_id())) {
    v.push_back({"experiment_id", absl::StrCat("must be 1 to ", runtime::kMaxIdBytes,
                                               " bytes of [a-z0-9-] starting with a letter, got \"",
                                               request.experiment_id(), "\"")});
  }
  if (!v.empty()) return runtime::InvalidArgument(std::move(v));
  std::string id = request.experiment_id().empty() ? absl::StrCat("e", deps_.ids->NewId())
                                                   : request.experiment_id();
  absl::Time now = deps_.clock->Now();
  v1::Experiment e = request.experiment();
  ResolveDefaults(e);
  e.set_name(absl::StrCat(kCollection, "/", id));
  e.set_state(v1::EXPERIMENT_STATE_DRAFT);
  // The name never changes and is never reused, so neither does the salt.
  e.set_salt(e.name());
  *e.mutable_create_time() = ToTimestamp(now);
  e.clear_start_time();
  e.clear_stop_time();
  e.clear_etag();
  absl::Status status = deps_.db->Transact(
      [&](store::Tx& tx) -> absl::Status {
        auto inserted = tx.Exec(
            "INSERT INTO reporting_experiment_definitions (id, version, create_time, data) "
            "VALUES ($1, 1, $2, $3)",
            {id, Micros(now), store::Blob{e.SerializeAsString()}});
        if (inserted.status().code() == absl::StatusCode::kAlreadyExists) {
          return runtime::WithViolations(
              runtime::Error(absl::StatusCode::kAlreadyExists, "EXPERIMENT_EXISTS",
                             absl::StrCat(e.name(), " already exists")),
              {{"experiment_id", "is taken"}});
        }
        return inserted.status();
      },
      {.deadline = deadline});
  if (!status.ok()) return status;
  e.set_etag(runtime::EtagOf(1));
  return e;
}

absl::StatusOr<v1::Experiment> Experiments::GetExperiment(const v1::GetExperimentRequest& request,
                                                          absl::Time deadline) {
  auto id = IdOfName("name", request.name(), kCollection);
  if (!id.ok()) return id.status();
  Stored stored;
  absl::Status status = deps_.db->Transact(
      [&](store::Tx& tx) -> absl::Status {
        auto read = ReadExperiment(tx, *id, /*for_update=*/false);
        if (!read.ok()) return read.status();
        stored = *std::move(read);
        return absl::OkStatus();
      },
      {.deadline = deadline, .read_only = true});
  if (!status.ok()) return status;
  return stored.experiment;
}

absl::StatusOr<v1::ListExperimentsResponse> Experiments::ListExperiments(
    const v1::ListExperimentsRequest& request, absl::Time deadline) {
  auto size =
      runtime::PageSize(request.page_size(), kDefaultExperimentPageSize, kMaxExperimentPageSize);
  if (!size.ok()) return size.status();
  std::string sql = "SELECT id, version, data, create_time FROM reporting_experiment_definitions";
  store::Params params;
  if (!request.page_token().empty()) {
    auto cursor = runtime::PageCursor(request.page_token(), kCollection);
    if (!cursor.ok()) return cursor.status();
    std::pair<std::string, std::string> parts = absl::StrSplit(*cursor, absl::MaxSplits('|', 1));
    int64_t time = 0;
    if (!absl::SimpleAtoi(parts.first, &time) || parts.second.empty()) {
      return runtime::InvalidField("page_token", "is not a token returned by this method");
    }
    params = {time, parts.second};
    absl::StrAppend(&sql, " WHERE create_time < $1 OR (create_time = $1 AND id < $2)");
  }
  params.push_back(int64_t{*size + 1});
  absl::StrAppend(&sql, " ORDER BY create_time DESC, id DESC LIMIT $", params.size());
  store::Rows rows;
  absl::Status status = deps_.db->Transact(
      [&](store::Tx& tx) -> absl::Status {
        auto read = tx.Query(sql, params);
        if (!read.ok()) return read.status();
        rows = *std::move(read);
        return absl::OkStatus();
      },
      {.deadline = deadline, .read_only = true});
  if (!status.ok()) return status;
  v1::ListExperimentsResponse response;
  for (size_t i = 0; i < rows.size() && static_cast<int>(i) < *size; ++i) {
    *response.add_experiments() = FromRow(rows[i]).experiment;
  }
  if (static_cast<int>(rows.size()) > *size) {
    const store::Row& last = rows[*size - 1];
    response.set_next_page_token(
        runtime::PageToken(kCollection, absl::StrCat(last.GetInt(3), "|", last.GetString(0))));
  }
  return response;
}

absl::StatusOr<v1::Experiment> Experiments::UpdateExperiment(
    const v1::UpdateExperimentRequest& request, absl::Time deadline) {
  auto id = IdOfName("experiment.name", request.experiment().name(), kCollection);
  if (!id.ok()) return id.status();
  google::protobuf::FieldMask mask = request.update_mask().paths().empty()
                                         ? SetFieldsMask(request.experiment())
                                         : request.update_mask();
  v1::Experiment next;
  absl::Status status = deps_.db->Transact(
      [&](store::Tx& tx) -> absl::Status {
        auto current = ReadExperiment(tx, *id, /*for_update=*/true);
        if (!current.ok()) return current.status();
        auto version = runtime::CheckEtag(request.experiment().etag(), current->experiment.etag());
        if (!version.ok()) return version.status();
        if (current->experiment.state() != v1::EXPERIMENT_STATE_DRAFT) {
          return runtime::Error(absl::StatusCode::kFailedPrecondition, "EXPERIMENT_NOT_DRAFT",
                                absl::StrCat(current->experiment.name(), " is ",
                                             StateName(current->experiment.state()),
                                             "; only a DRAFT experiment can change"));
        }
        next = current->experiment;
        if (absl::Status s =
                runtime::ApplyUpdateMask(request.experiment(), mask, UpdatablePaths(), next);
            !s.ok()) {
          return s;
        }
        std::vector<FieldViolation> v = Validate(next);
        if (!v.empty()) return runtime::InvalidArgument(std::move(v));
        ResolveDefaults(next);
        if (absl::Status s = WriteExperiment(tx, *id, current->version, next); !s.ok()) return s;
        next.set_etag(runtime::EtagOf(current->version + 1));
        return absl::OkStatus();
      },
      {.deadline = deadline});
  if (!status.ok()) return status;
  return next;
}

absl::StatusOr<v1::Experiment> Experiments::StartExperiment(
    const v1::StartExperimentRequest& request, absl::Time deadline) {
  return Transition(request.name(), request.etag(), v1::EXPERIMENT_STATE_DRAFT,
                    v1::EXPERIMENT_STATE_RUNNING, deadline);
}

absl::StatusOr<v1::Experiment> Experiments::StopExperiment(const v1::StopExperimentRequest& request,
                                                           absl::Time deadline) {
  return Transition(request.name(), request.etag(), v1::EXPERIMENT_STATE_RUNNING,
                    v1::EXPERIMENT_STATE_STOPPED, deadline);
}

absl::StatusOr<v1::Experiment> Experiments::Transition(const std::string& name,
                                                       const std::string& etag,
                                                       v1::ExperimentState from,
                                                       v1::ExperimentState to,
                                                       absl::Time deadline) {
  auto id = IdOfName("name", name, kCollection);
  if (!id.ok()) return id.status();
  v1::Experiment next;
  absl::Status status = deps_.db->Transact(
      [&](store::Tx& tx) -> absl::Status {
        auto current = ReadExperiment(tx, *id, /*for_update=*/true);
        if (!current.ok()) return current.status();
        auto version = runtime::CheckEtag(etag, current->experiment.etag());
        if (!version.ok()) return version.status();
        if (current->experiment.state() != from) {
          return runtime::Error(
              absl::StatusCode::kFailedPrecondition,
              absl::StrCat("EXPERIMENT_NOT_", StateName(from)),
              absl::StrCat(current->experiment.name(), " is ",
                           StateName(current->experiment.state()), "; only a ", StateName(from),
                           " experiment can become ", StateName(to)));
        }
        next = current->experiment;
        next.set_state(to);
        absl::Time now = deps_.clock->Now();
        if (to == v1::EXPERIMENT_STATE_RUNNING) {
          *next.mutable_start_time() = ToTimestamp(now);
          // The design is frozen from here on: the metrics table serves the event path.
          std::vector<store::Params> metrics;
          std::vector<const v1::ExperimentMetric*> all = MetricsOf(next);
          for (size_t i = 0; i < all.size(); ++i) {
            metrics.push_back({*id, static_cast<int64_t>(i), all[i]->interaction_type(),
                               absl::ToInt64Microseconds(DurationOf(all[i]->window()))});
          }
          auto inserted = store::InsertMany(
              tx,
              "INSERT INTO reporting_experiment_metrics (experiment, metric, interaction_type, "
              "window_micros) VALUES",
              metrics);
          if (!inserted.ok()) return inserted.status();
        } else {
          *next.mutable_stop_time() = ToTimestamp(now);
        }
        if (absl::Status s = WriteExperiment(tx, *id, current->version, next); !s.ok()) return s;
        next.set_etag(runtime::EtagOf(current->version + 1));
        return absl::OkStatus();
      },
      {.deadline = deadline});
  if (!status.ok()) return status;
  return next;
}

// ---- Assignment -----------------------------------------------------------------------

absl::StatusOr<v1::Assignment> Experiments::AssignVariant(const v1::AssignVariantRequest& request,
                                                          absl::Time deadline) {
  std::vector<FieldViolation> v;
  // Each bad name's violations, or its message under the field when it carries none.
  auto add = [&v](const absl::Status& status, const char* field) {
    if (status.ok()) return;
    std::vector<FieldViolation> found = runtime::FieldViolations(status);
    if (found.empty()) found.push_back({field, std::string(status.message())});
    v.insert(v.end(), found.begin(), found.end());
  };
  auto id = IdOfName("experiment", request.experiment(), kCollection);
  add(id.status(), "experiment");
  auto profile_id = IdOfName("profile", request.profile(), "profiles");
  add(profile_id.status(), "profile");
  if (!v.empty()) return runtime::InvalidArgument(std::move(v));

  v1::Assignment assignment;
  assignment.set_experiment(request.experiment());
  assignment.set_profile(request.profile());
  // The consent of an experiment with a purpose is asked between two transactions, so
  // that no transaction waits on the Profiles service: the first finds the purpose, the
  // second assigns knowing the answer. The purpose cannot change in between (only a
  // DRAFT changes, only a RUNNING experiment assigns), so the second never asks again.
  std::optional<bool> granted;
  while (true) {
    pv1::ConsentPurpose ask = pv1::CONSENT_PURPOSE_UNSPECIFIED;
    absl::Status status = deps_.db->Transact(
        [&](store::Tx& tx) -> absl::Status {
          auto current = ReadExperiment(tx, *id, /*for_update=*/false);
          if (!current.ok()) return current.status();
          const v1::Experiment& e = current->experiment;
          if (e.state() != v1::EXPERIMENT_STATE_RUNNING) {
            return runtime::Error(absl::StatusCode::kFailedPrecondition, "EXPERIMENT_NOT_RUNNING",
                                  absl::StrCat(e.name(), " is ", StateName(e.state()),
                                               "; variants are assigned only while it runs"));
          }
          if (e.purpose() != pv1::CONSENT_PURPOSE_UNSPECIFIED) {
            if (!granted.has_value()) {
              ask = e.purpose();
              return absl::OkStatus();
            }
            // Without consent now, nothing is served, whatever was served before.
            if (!*granted) {
              assignment.set_eligible(false);
              return absl::OkStatus();
            }
          }
          // A merged name is the survivor's person: its variant and exposure.
          std::string profile = request.profile();
          std::string hashed_id = *profile_id;
          auto alias = tx.Query(
              "SELECT survivor FROM reporting_experiment_aliases WHERE profile = $1", {profile});
          if (!alias.ok()) return alias.status();
          if (!alias->empty()) {
            profile = (*alias)[0].GetString(0);
            hashed_id = profile.substr(profile.find('/') + 1);
          }
          const char* kExposureSql =
              "SELECT variant, exposure_time FROM reporting_experiment_exposures "
              "WHERE experiment = $1 AND profile = $2";
          auto exposure = tx.Query(kExposureSql, {*id, profile});
          if (!exposure.ok()) return exposure.status();
          if (exposure->empty()) {
            if (!e.target_segment().empty()) {
              auto member = deps_.in_segment(tx, e.target_segment(), profile);
              if (!member.ok()) return member.status();
              if (!*member) {
                assignment.set_eligible(false);
                return absl::OkStatus();
              }
            }
            std::vector<int64_t> weights = WeightsOf(e);
            auto index = stats::AssignVariant(e.salt(), hashed_id, weights);
            if (!index.ok()) return index.status();
            // A concurrent first call may have inserted meanwhile: its row wins, and both
            // calls answer with it.
            auto inserted = tx.Exec(
                "INSERT INTO reporting_experiment_exposures (experiment, profile, variant, "
                "exposure_time, purpose) VALUES ($1, $2, $3, $4, $5) "
                "ON CONFLICT (experiment, profile) DO NOTHING",
                {*id, profile, e.variants(*index).id(), Micros(deps_.clock->Now()),
                 static_cast<int64_t>(e.purpose())});
            if (!inserted.ok()) return inserted.status();
            exposure = tx.Query(kExposureSql, {*id, profile});
            if (!exposure.ok()) return exposure.status();
            if (exposure->empty()) {
              return absl::InternalError("the exposure just recorded cannot be read back");
            }
          }
          assignment.set_eligible(true);
          assignment.set_variant((*exposure)[0].GetString(0));
          *assignment.mutable_exposure_time() =
              ToTimestamp(absl::FromUnixMicros((*exposure)[0].GetInt(1)));
          return absl::OkStatus();
        },
        {.deadline = deadline});
    if (!status.ok()) return status;
    if (ask == pv1::CONSENT_PURPOSE_UNSPECIFIED) return assignment;
    auto consented = ConsentGranted(request.profile(), ask, deadline);
    if (!consented.ok()) return consented.status();
    granted = *consented;
  }
}

absl::StatusOr<bool> Experiments::ConsentGranted(const std::string& profile,
                                                 pv1::ConsentPurpose purpose, absl::Time deadline) {
  if (!deps_.consents) {
    return runtime::Error(
        absl::StatusCode::kFailedPrecondition, "CONSENTS_UNAVAILABLE",
        absl::StrCat("the experiment needs consent ", pv1::ConsentPurpose_Name(purpose),
                     " but this Reporting service cannot read consents: set "
                     "--profiles-target (CENTRIC_PROFILES_TARGET)"));
  }
  auto consents = deps_.consents(profile, deadline);
  if (!consents.ok()) return consents.status();
  return Granted(*consents, purpose);
}

// ---- Results --------------------------------------------------------------------------

absl::StatusOr<v1::ExperimentResults> Experiments::GetExperimentResults(
    const v1::GetExperimentResultsRequest& request, absl::Time deadline) {
  auto id = IdOfName("name", request.name(), kCollection);
  if (!id.ok()) return id.status();
  v1::Experiment e;
  // variant id -> exposures; (variant id, metric) -> conversions.
  std::map<std::string, int64_t> exposures;
  std::map<std::pair<std::string, int64_t>, int64_t> conversions;
  absl::Status status = deps_.db->Transact(
      [&](store::Tx& tx) -> absl::Status {
        auto current = ReadExperiment(tx, *id, /*for_update=*/false);
        if (!current.ok()) return current.status();
        e = std::move(current->experiment);
        // One statement, so exposures and conversions come from one snapshot even at
        // READ COMMITTED (two would let a variant show more conversions than exposures).
        // Metric -1 marks the exposure counts.
        auto counted = tx.Query(
            "SELECT variant, CAST(-1 AS BIGINT), COUNT(*) FROM reporting_experiment_exposures "
            "WHERE experiment = $1 GROUP BY variant "
            "UNION ALL "
            "SELECT e.variant, c.metric, COUNT(*) FROM reporting_experiment_conversions c "
            "JOIN reporting_experiment_exposures e ON e.experiment = c.experiment AND "
            "e.profile = c.profile WHERE c.experiment = $1 GROUP BY e.variant, c.metric",
            {*id});
        if (!counted.ok()) return counted.status();
        for (const store::Row& row : *counted) {
          if (row.GetInt(1) < 0) {
            exposures[row.GetString(0)] = row.GetInt(2);
          } else {
            conversions[{row.GetString(0), row.GetInt(1)}] = row.GetInt(2);
          }
        }
        return absl::OkStatus();
      },
      {.deadline = deadline, .read_only = true});
  if (!status.ok()) return status;

  v1::ExperimentResults results;
  results.set_experiment(e.name());
  results.set_state(e.state());
  *results.mutable_compute_time() = ToTimestamp(deps_.clock->Now());
  std::vector<const v1::ExperimentMetric*> metrics = MetricsOf(e);
  auto counts = [&](const v1::Variant& variant, size_t metric) {
    auto n = exposures.find(variant.id());
    auto k = conversions.find({variant.id(), static_cast<int64_t>(metric)});
    return stats::VariantCounts{n == exposures.end() ? 0 : n->second,
                                k == conversions.end() ? 0 : k->second};
  };
  std::vector<int64_t> exposure_counts;
  for (int i = 0; i < e.variants_size(); ++i) {
    const v1::Variant& variant = e.variants(i);
    v1::VariantResult* out = results.add_variants();
    out->set_variant(variant.id());
    out->set_exposures(counts(variant, 0).exposures);
    exposure_counts.push_back(out->exposures());
    for (size_t m = 0; m < metrics.size(); ++m) {
      stats::VariantCounts own = counts(variant, m);
      v1::MetricResult r = BaseResult(*metrics[m], own);
      if (i > 0) {
        if (absl::Status s = Compare(counts(e.variants(0), m), own, e.alpha(), r); !s.ok()) {
          return s;
        }
      }
      *(m == 0 ? out->mutable_primary() : out->add_guardrails()) = std::move(r);
    }
  }

  auto ratio = stats::CheckSampleRatio(exposure_counts, WeightsOf(e));
  if (!ratio.ok()) return ratio.status();
  v1::SampleRatioCheck* check = results.mutable_sample_ratio();
  check->set_chi_square(ratio->chi_square);
  check->set_degrees_of_freedom(ratio->degrees_of_freedom);
  check->set_p_value(ratio->p_value);
  check->set_mismatch(ratio->mismatch);

  // Plan from the control's observed rate once it has converted someone; the design's
  // baseline (validated to be plannable) before that or when the rate leaves no room
  // for the effect.
  stats::VariantCounts control = counts(e.variants(0), 0);
  double mde = e.minimum_detectable_effect();
  absl::StatusOr<int64_t> required = absl::UnknownError("not computed");
  if (control.conversions >= 1) {
    double rate = static_cast<double>(control.conversions) / control.exposures;
    if (rate + mde < 1)
      required = stats::RequiredSampleSizePerVariant(rate, mde, e.alpha(), e.power());
  }
  if (!required.ok()) {
    required = stats::RequiredSampleSizePerVariant(e.baseline_rate(), mde, e.alpha(), e.power());
  }
  if (!required.ok()) return required.status();
  auto progress = stats::RemainingExposures(*required, exposure_counts);
  if (!progress.ok()) return progress.status();
  results.set_required_exposures_per_variant(progress->required_per_variant);
  results.set_remaining_exposures(*std::max_element(progress->remaining_per_variant.begin(),
                                                    progress->remaining_per_variant.end()));
  return results;
}

// ---- Events ---------------------------------------------------------------------------

absl::StatusOr<Experiments::EventInputs> Experiments::PrepareEvent(const events::v1::Event& event,
                                                                   absl::Time deadline) {
  EventInputs inputs;
  ev::ProfileChanged changed;
  if (!event.payload().Is<ev::ProfileChanged>() || !event.payload().UnpackTo(&changed) ||
      !ChangesConsents(changed)) {
    return inputs;
  }
  // Most consent changes are of profiles in no experiment with a purpose: no call then.
  auto open = deps_.db->Query(kOpenConsentSql, {changed.profile()});
  if (!open.ok()) return open.status();
  if (open->empty()) return inputs;
  if (!deps_.consents) {
    return absl::FailedPreconditionError(
        "an exposed profile's consents changed but this Reporting service cannot read "
        "consents: set --profiles-target (CENTRIC_PROFILES_TARGET)");
  }
  auto consents = deps_.consents(changed.profile(), deadline);
  if (!consents.ok()) return consents.status();
  inputs.consents = std::move(*consents);
  return inputs;
}

absl::Status Experiments::ApplyEvent(store::Tx& tx, const events::v1::Event& event,
                                     const EventInputs& inputs) {
  // A payload that does not decode is poison: no redelivery fixes it, so the bus
  // dead-letters it at once (the same policy as the rollups').
  auto poison = [&] {
    return events::PoisonError(
        absl::StrCat("event ", event.id(), ": payload is not a ", event.type()));
  };
  if (event.payload().Is<ev::InteractionRecorded>()) {
    ev::InteractionRecorded recorded;
    return event.payload().UnpackTo(&recorded) ? ApplyInteractions(tx, recorded) : poison();
  }
  if (event.payload().Is<ev::ProfilesMerged>()) {
    ev::ProfilesMerged merged;
    return event.payload().UnpackTo(&merged) ? ApplyMerge(tx, merged) : poison();
  }
  if (event.payload().Is<ev::ProfileErased>()) {
    ev::ProfileErased erased;
    return event.payload().UnpackTo(&erased) ? ApplyErasure(tx, erased) : poison();
  }
  if (event.payload().Is<ev::ProfileChanged>()) {
    ev::ProfileChanged changed;
    if (!event.payload().UnpackTo(&changed)) return poison();
    if (!ChangesConsents(changed)) return absl::OkStatus();
    return ApplyConsents(tx, event, changed, inputs);
  }
  return absl::OkStatus();
}

absl::Status Experiments::ApplyConsents(store::Tx& tx, const events::v1::Event& event,
                                        const ev::ProfileChanged& changed,
                                        const EventInputs& inputs) {
  const std::string& profile = changed.profile();
  auto open = tx.Query(kOpenConsentSql, {profile});
  if (!open.ok()) return open.status();
  if (open->empty()) return absl::OkStatus();
  if (!inputs.consents.has_value()) {
    return runtime::Error(absl::StatusCode::kAborted, "CONSENTS_NOT_READ",
                          absl::StrCat(profile,
                                       " was exposed to an experiment with a consent purpose "
                                       "after the event was prepared; deliver it again"));
  }
  // Without an answer of its own (never given, or the profile is gone) the withdrawal is
  // dated by the change that removed it.
  const absl::Time changed_at = event.has_time() ? FromTimestamp(event.time()) : deps_.clock->Now();
  for (const store::Row& row : *open) {
    const int64_t purpose = row.GetInt(0);
    if (Granted(*inputs.consents, purpose)) continue;
    absl::Time withdrawn = changed_at;
    for (const pv1::Consent& c : *inputs.consents) {
      if (c.purpose() == purpose && c.has_update_time()) withdrawn = FromTimestamp(c.update_time());
    }
    // An exposure recorded after the dated withdrawal (its consent was read just before)
    // ends at once: none of its conversions count.
    auto ended = tx.Exec(
        "UPDATE reporting_experiment_exposures SET consent_end_time = CASE WHEN "
        "exposure_time > $3 THEN exposure_time ELSE $3 END "
        "WHERE profile = $1 AND purpose = $2 AND consent_end_time IS NULL",
        {profile, purpose, Micros(withdrawn)});
    if (!ended.ok()) return ended.status();
  }
  // Conversions counted before the withdrawal was known but dated at or after it.
  return tx
      .Exec(
          "DELETE FROM reporting_experiment_conversions WHERE profile = $1 AND EXISTS ("
          "SELECT 1 FROM reporting_experiment_exposures e WHERE "
          "e.experiment = reporting_experiment_conversions.experiment AND "
          "e.profile = reporting_experiment_conversions.profile AND "
          "e.consent_end_time IS NOT NULL AND "
          "reporting_experiment_conversions.conversion_time >= e.consent_end_time)",
          {profile})
      .status();
}

absl::Status Experiments::ApplyInteractions(store::Tx& tx,
                                            const ev::InteractionRecorded& recorded) {
  if (recorded.interactions().empty()) return absl::OkStatus();
  // Most profiles are in no experiment: one indexed lookup settles it.
  auto exposed = tx.Query("SELECT 1 FROM reporting_experiment_exposures WHERE profile = $1 LIMIT 1",
                          {recorded.profile()});
  if (!exposed.ok()) return exposed.status();
  if (exposed->empty()) return absl::OkStatus();
  for (const ev::InteractionSummary& interaction : recorded.interactions()) {
    if (!interaction.has_occur_time()) continue;
    int64_t occur = Micros(FromTimestamp(interaction.occur_time()));
    // Each (exposure, metric) converts once; its earliest matching interaction is kept
    // so a later merge can tell whether it falls in the surviving exposure's window.
    auto converted = tx.Exec(
        "INSERT INTO reporting_experiment_conversions (experiment, profile, metric, "
        "conversion_time) SELECT e.experiment, e.profile, m.metric, CAST($3 AS BIGINT) "
        "FROM reporting_experiment_exposures e JOIN reporting_experiment_metrics m "
        "ON m.experiment = e.experiment WHERE e.profile = $1 AND m.interaction_type = $2 "
        "AND e.exposure_time <= $3 AND $3 <= e.exposure_time + m.window_micros "
        "AND (e.consent_end_time IS NULL OR $3 < e.consent_end_time) "
        "ON CONFLICT (experiment, profile, metric) DO UPDATE SET conversion_time = "
        "excluded.conversion_time WHERE excluded.conversion_time < "
        "reporting_experiment_conversions.conversion_time",
        {recorded.profile(), interaction.type(), occur});
    if (!converted.ok()) return converted.status();
  }
  return absl::OkStatus();
}

absl::Status Experiments::ApplyMerge(store::Tx& tx, const ev::ProfilesMerged& merged) {
  const std::string& survivor = merged.survivor();
  for (const std::string& from : merged.merged()) {
    if (from == survivor) continue;
    const store::Params both = {survivor, from};
    const store::Params survivor_only = {survivor};
    const store::Params merged_only = {from};
    const std::pair<const char*, const store::Params*> steps[] = {
        // Later AssignVariant calls with the merged name get the survivor's variant and
        // exposure; chains stay flat.
        {"INSERT INTO reporting_experiment_aliases (profile, survivor) VALUES ($2, $1) "
         "ON CONFLICT (profile) DO UPDATE SET survivor = excluded.survivor",
         &both},
        {"UPDATE reporting_experiment_aliases SET survivor = $1 WHERE survivor = $2", &both},
        // Both exposed: the earliest exposure, with its variant, is the person's; the
        // earliest withdrawal of the experiment's consent by either ends its counting.
        {"INSERT INTO reporting_experiment_exposures (experiment, profile, variant, "
         "exposure_time, purpose, consent_end_time) SELECT experiment, $1, variant, "
         "exposure_time, purpose, consent_end_time "
         "FROM reporting_experiment_exposures WHERE profile = $2 "
         "ON CONFLICT (experiment, profile) DO UPDATE SET "
         "variant = CASE WHEN excluded.exposure_time < "
         "reporting_experiment_exposures.exposure_time THEN excluded.variant "
         "ELSE reporting_experiment_exposures.variant END, "
         "exposure_time = CASE WHEN excluded.exposure_time < "
         "reporting_experiment_exposures.exposure_time THEN excluded.exposure_time "
         "ELSE reporting_experiment_exposures.exposure_time END, "
         "consent_end_time = CASE WHEN excluded.consent_end_time IS NULL THEN "
         "reporting_experiment_exposures.consent_end_time WHEN "
         "reporting_experiment_exposures.consent_end_time IS NULL OR "
         "excluded.consent_end_time < reporting_experiment_exposures.consent_end_time THEN "
         "excluded.consent_end_time ELSE reporting_experiment_exposures.consent_end_time END",
         &both},
        {"INSERT INTO reporting_experiment_conversions (experiment, profile, metric, "
         "conversion_time) SELECT experiment, $1, metric, conversion_time "
         "FROM reporting_experiment_conversions WHERE profile = $2 "
         "ON CONFLICT (experiment, profile, metric) DO UPDATE SET conversion_time = "
         "excluded.conversion_time WHERE excluded.conversion_time < "
         "reporting_experiment_conversions.conversion_time",
         &both},
        // A conversion counts only inside the window of the exposure that remains, and
        // before the consent was withdrawn.
        {"DELETE FROM reporting_experiment_conversions WHERE profile = $1 AND EXISTS ("
         "SELECT 1 FROM reporting_experiment_exposures e JOIN reporting_experiment_metrics m "
         "ON m.experiment = e.experiment WHERE "
         "e.experiment = reporting_experiment_conversions.experiment AND "
         "e.profile = reporting_experiment_conversions.profile AND "
         "m.metric = reporting_experiment_conversions.metric AND "
         "(reporting_experiment_conversions.conversion_time < e.exposure_time OR "
         "reporting_experiment_conversions.conversion_time > "
         "e.exposure_time + m.window_micros OR "
         "reporting_experiment_conversions.conversion_time >= e.consent_end_time))",
         &survivor_only},
        {"DELETE FROM reporting_experiment_conversions WHERE profile = $1", &merged_only},
        {"DELETE FROM reporting_experiment_exposures WHERE profile = $1", &merged_only},
    };
    for (const auto& [sql, params] : steps) {
      if (auto r = tx.Exec(sql, *params); !r.ok()) return r.status();
    }
  }
  return absl::OkStatus();
}

absl::Status Experiments::ApplyErasure(store::Tx& tx, const ev::ProfileErased& erased) {
  const std::string& profile = erased.profile();
  auto experiments = tx.Query(
      "SELECT experiment FROM reporting_experiment_exposures WHERE profile = $1", {profile});
  if (!experiments.ok()) return experiments.status();
  // A fresh anonymous id per experiment: the counts stay, and nothing links the rows of
  // one person across experiments any more.
  for (const store::Row& row : *experiments) {
    store::Params p = {absl::StrCat("erased/", deps_.ids->NewId()), row.GetString(0), profile};
    for (const char* sql :
         {"UPDATE reporting_experiment_exposures SET profile = $1 WHERE experiment = $2 AND "
          "profile = $3",
          "UPDATE reporting_experiment_conversions SET profile = $1 WHERE experiment = $2 AND "
          "profile = $3"}) {
      if (auto r = tx.Exec(sql, p); !r.ok()) return r.status();
    }
  }
  return tx
      .Exec("DELETE FROM reporting_experiment_aliases WHERE profile = $1 OR survivor = $1",
            {profile})
      .status();
}

absl::StatusOr<std::vector<v1::ExperimentExposure>> Experiments::ExposuresOf(
    store::Tx& tx, const std::string& profile) {
  auto exposures = tx.Query(
      "SELECT experiment, variant, exposure_time FROM reporting_experiment_exposures "
      "WHERE profile = $1 ORDER BY experiment",
      {profile});
  if (!exposures.ok()) return exposures.status();
  auto conversions = tx.Query(
      "SELECT c.experiment, m.interaction_type, c.conversion_time "
      "FROM reporting_experiment_conversions c JOIN reporting_experiment_metrics m "
      "ON m.experiment = c.experiment AND m.metric = c.metric "
      "WHERE c.profile = $1 ORDER BY c.experiment, c.metric",
      {profile});
  if (!conversions.ok()) return conversions.status();
  std::vector<v1::ExperimentExposure> out;
  for (const store::Row& row : *exposures) {
    v1::ExperimentExposure& e = out.emplace_back();
    e.set_experiment(absl::StrCat("experiments/", row.GetString(0)));
    e.set_variant(row.GetString(1));
    *e.mutable_exposure_time() = ToTimestamp(absl::FromUnixMicros(row.GetInt(2)));
    for (const store::Row& c : *conversions) {
      if (c.GetString(0) != row.GetString(0)) continue;
      v1::ExperimentConversion* conversion = e.add_conversions();
      conversion->set_interaction_type(c.GetString(1));
      *conversion->mutable_conversion_time() = ToTimestamp(absl::FromUnixMicros(c.GetInt(2)));
    }
  }
  return out;
}

}  // namespace centric::reporting
