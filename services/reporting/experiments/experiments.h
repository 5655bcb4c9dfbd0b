// A/B experiments of the Reporting service: the experiment RPCs of centric.reporting.v1 as
// plain methods (no gRPC here), and the effect of the events that turn exposures into
// conversions. The statistics come from libs/stats; this class stores and counts.
//
// Tables (migrations of service "reporting_experiments"):
//   reporting_experiment_definitions  one row per experiment: the Experiment message
//                                     (without name and etag), its version and creation
//                                     time (newest-first listing).
//   reporting_experiment_metrics      the metrics of started experiments (0 = primary,
//                                     1..n = guardrails), so an interaction finds the
//                                     experiments it converts in with one statement.
//   reporting_experiment_exposures    (experiment, profile): the variant and the time of
//                                     the first exposure.
//   reporting_experiment_conversions  (experiment, profile, metric): the earliest
//                                     interaction of the metric's type in the window.
//   reporting_experiment_aliases      merged profile name -> survivor, so a merged name
//                                     keeps its survivor's variant and exposure.
#ifndef CENTRIC_SERVICES_REPORTING_EXPERIMENTS_EXPERIMENTS_H_
#define CENTRIC_SERVICES_REPORTING_EXPERIMENTS_EXPERIMENTS_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "centric/events/v1/events.pb.h"
#include "centric/reporting/v1/reporting_service.pb.h"
#include "libs/runtime/clock.h"
#include "libs/store/store.h"

namespace centric::reporting {

// Documented limits (reporting.proto states them; docs/REPORTING.md repeats them).
inline constexpr size_t kMaxExperimentDisplayNameBytes = 200;
inline constexpr size_t kMaxHypothesisBytes = 2000;
inline constexpr size_t kMaxChangeBytes = 500;
inline constexpr size_t kMaxVariantDescriptionBytes = 2000;
inline constexpr int kMinExperimentVariants = 2;
inline constexpr int kMaxExperimentVariants = 10;
inline constexpr size_t kMaxVariantIdBytes = 63;
inline constexpr int64_t kMaxVariantWeight = 10000;
inline constexpr size_t kMaxInteractionTypeBytes = 64;
inline constexpr absl::Duration kMinMetricWindow = absl::Minutes(1);
inline constexpr absl::Duration kMaxMetricWindow = absl::Hours(24 * 365);
inline constexpr int kMaxGuardrailMetrics = 5;
inline constexpr int kDefaultExperimentPageSize = 100;
inline constexpr int kMaxExperimentPageSize = 1000;

// What a 0 in the experiment's planning fields stands for.
inline constexpr double kDefaultMinimumDetectableEffect = 0.01;
inline constexpr double kDefaultBaselineRate = 0.1;
inline constexpr double kDefaultAlpha = 0.05;
inline constexpr double kDefaultPower = 0.8;

class Experiments {
 public:
  struct Deps {
    store::Database* db = nullptr;
    runtime::Clock* clock = nullptr;
    runtime::IdGenerator* ids = nullptr;
    // Whether `profile` ("profiles/{id}") is in `segment` ("segments/{id}") now, read in
    // the caller's transaction (reporting::IsMember in production).
    std::function<absl::StatusOr<bool>(store::Tx&, const std::string& segment,
                                       const std::string& profile)>
        in_segment;
  };

  // The migrations of service "reporting_experiments":
  //   store::Migrate(db, "reporting_experiments", Experiments::Migrations()).
  static std::vector<store::Migration> Migrations();

  // Every dependency must be set and outlive this object; the migrations must have run.
  explicit Experiments(Deps deps);

  // Stores a DRAFT experiment. A 0 in minimum_detectable_effect, baseline_rate, alpha or
  // power is stored as its default; output-only fields of the request are ignored.
  // Errors: INVALID_ARGUMENT (every violation, with the field and the limit),
  // ALREADY_EXISTS (experiment_id taken).
  absl::StatusOr<v1::Experiment> CreateExperiment(const v1::CreateExperimentRequest& request,
                                                  absl::Time deadline);
  // Errors: INVALID_ARGUMENT (name), NOT_FOUND.
  absl::StatusOr<v1::Experiment> GetExperiment(const v1::GetExperimentRequest& request,
                                               absl::Time deadline);
  // Newest first (creation time, then id). Errors: INVALID_ARGUMENT (page size or token).
  absl::StatusOr<v1::ListExperimentsResponse> ListExperiments(
      const v1::ListExperimentsRequest& request, absl::Time deadline);
  // Changes a DRAFT experiment's design fields (update_mask paths, or every design field
  // the request sets when the mask is empty). Errors: INVALID_ARGUMENT, NOT_FOUND,
  // ABORTED (etag stale, or changed meanwhile), FAILED_PRECONDITION (not DRAFT).
  absl::StatusOr<v1::Experiment> UpdateExperiment(const v1::UpdateExperimentRequest& request,
                                                  absl::Time deadline);
  // DRAFT -> RUNNING, start_time = now. Errors: INVALID_ARGUMENT, NOT_FOUND, ABORTED,
  // FAILED_PRECONDITION.
  absl::StatusOr<v1::Experiment> StartExperiment(const v1::StartExperimentRequest& request,
                                                 absl::Time deadline);
  // RUNNING -> STOPPED, stop_time = now. Errors: as StartExperiment.
  absl::StatusOr<v1::Experiment> StopExperiment(const v1::StopExperimentRequest& request,
                                                absl::Time deadline);
  // The profile's variant, and its first exposure (recorded by the first call; concurrent
  // calls record one). A profile already exposed keeps its variant and exposure time even
  // if it has left the target segment since. Errors: INVALID_ARGUMENT (experiment or
  // profile name), NOT_FOUND, FAILED_PRECONDITION (not RUNNING), store errors.
  absl::StatusOr<v1::Assignment> AssignVariant(const v1::AssignVariantRequest& request,
                                               absl::Time deadline);
  // Exposures and conversions per variant with the comparisons against the control, the
  // sample ratio check and the sample size figures, from a fixed number of queries.
  // Errors: INVALID_ARGUMENT (name), NOT_FOUND.
  absl::StatusOr<v1::ExperimentResults> GetExperimentResults(
      const v1::GetExperimentResultsRequest& request, absl::Time deadline);

  // The effect of one consumed event, inside the consumer's transaction:
  // InteractionRecorded converts the profile's exposures whose metric it matches in time,
  // ProfilesMerged moves exposures to the survivor (the earliest exposure wins),
  // ProfileErased replaces the profile by an anonymous id in every experiment. Other
  // event types change nothing. Errors: store errors only (malformed payloads are
  // logged and ignored, since redelivery cannot fix them).
  absl::Status ApplyEvent(store::Tx& tx, const events::v1::Event& event);

 private:
  absl::StatusOr<v1::Experiment> Transition(const std::string& name, const std::string& etag,
                                            v1::ExperimentState from, v1::ExperimentState to,
                                            absl::Time deadline);
  absl::Status ApplyInteractions(store::Tx& tx, const events::v1::InteractionRecorded& recorded);
  absl::Status ApplyMerge(store::Tx& tx, const events::v1::ProfilesMerged& merged);
  absl::Status ApplyErasure(store::Tx& tx, const events::v1::ProfileErased& erased);

  Deps deps_;
};

}  // namespace centric::reporting

#endif  // CENTRIC_SERVICES_REPORTING_EXPERIMENTS_EXPERIMENTS_H_
