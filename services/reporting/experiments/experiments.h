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
//                                     the first exposure; for an experiment with a consent
//                                     purpose, the purpose and when the profile withdrew
//                                     that consent (NULL while it has not).
//   reporting_experiment_conversions  (experiment, profile, metric): the earliest
//                                     interaction of the metric's type in the window.
//   reporting_experiment_aliases      merged profile name -> survivor, so a merged name
//                                     keeps its survivor's variant and exposure.
#ifndef CENTRIC_SERVICES_REPORTING_EXPERIMENTS_EXPERIMENTS_H_
#define CENTRIC_SERVICES_REPORTING_EXPERIMENTS_EXPERIMENTS_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "centric/events/v1/events.pb.h"
#include "centric/profiles/v1/profiles.pb.h"
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
    // The consents `profile` ("profiles/{id}") holds now in the Profiles service: the
    // survivor's for a merged name, none for an unknown or erased profile. Called outside
    // any store transaction, and only for experiments with a purpose. Errors:
    // UNAVAILABLE, DEADLINE_EXCEEDED, FAILED_PRECONDITION (no Profiles service
    // configured). May be empty when no experiment has a purpose: AssignVariant of one
    // then answers FAILED_PRECONDITION.
    std::function<absl::StatusOr<std::vector<profiles::v1::Consent>>(const std::string& profile,
                                                                     absl::Time deadline)>
        consents;
  };

  // What ApplyEvent needs besides the store, read by PrepareEvent before the event's
  // transaction so that no transaction waits on another service.
  struct EventInputs {
    // For a ProfileChanged of the consents of a profile exposed to an experiment with a
    // purpose whose withdrawal is not known yet: the profile's consents now.
    std::optional<std::vector<profiles::v1::Consent>> consents;
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
  // if it has left the target segment since. For an experiment with a purpose, the
  // profile's consent is read (Deps::consents) on every call: anything but GRANTED is
  // "not eligible", exposed or not, and records nothing. Errors: INVALID_ARGUMENT
  // (experiment or profile name), NOT_FOUND, FAILED_PRECONDITION (not RUNNING; a purpose
  // without Deps::consents), the errors of Deps::consents, store errors.
  absl::StatusOr<v1::Assignment> AssignVariant(const v1::AssignVariantRequest& request,
                                               absl::Time deadline);
  // Exposures and conversions per variant with the comparisons against the control, the
  // sample ratio check and the sample size figures, from a fixed number of queries.
  // Errors: INVALID_ARGUMENT (name), NOT_FOUND.
  absl::StatusOr<v1::ExperimentResults> GetExperimentResults(
      const v1::GetExperimentResultsRequest& request, absl::Time deadline);

  // What ApplyEvent will need for `event` from other services, read outside any store
  // transaction: the consents of the profile of a ProfileChanged of "consents" when it has
  // an exposure whose experiment has a purpose and whose withdrawal is not known yet
  // (nothing otherwise, so most events cost one indexed lookup at most). Errors: those
  // of Deps::consents, store errors (the event is then delivered again).
  absl::StatusOr<EventInputs> PrepareEvent(const events::v1::Event& event, absl::Time deadline);

  // The effect of one consumed event, inside the consumer's transaction:
  // InteractionRecorded converts the profile's exposures whose metric it matches in time
  // (and, for an experiment with a purpose, before the consent was withdrawn),
  // ProfilesMerged moves exposures to the survivor (the earliest exposure wins),
  // ProfileErased replaces the profile by an anonymous id in every experiment, and a
  // ProfileChanged of consents records the withdrawal of the purpose of every experiment
  // the profile is exposed to whose consent `inputs` no longer has GRANTED, and drops
  // the conversions at or after it. Other event types change nothing. Errors: store
  // errors; ABORTED (CONSENTS_NOT_READ) when an exposure with a purpose was recorded
  // after PrepareEvent found none (deliver the event again); events::PoisonError for a
  // payload that does not decode (the bus dead-letters it at once).
  absl::Status ApplyEvent(store::Tx& tx, const events::v1::Event& event,
                          const EventInputs& inputs = {});

  // The exposures of `profile` ("profiles/{id}", as stored: no alias is followed) with
  // their conversions, by experiment, read in `tx` (ExportProfileData). Errors: store
  // errors.
  absl::StatusOr<std::vector<v1::ExperimentExposure>> ExposuresOf(store::Tx& tx,
                                                                   const std::string& profile);

 private:
  absl::StatusOr<v1::Experiment> Transition(const std::string& name, const std::string& etag,
                                            v1::ExperimentState from, v1::ExperimentState to,
                                            absl::Time deadline);
  absl::Status ApplyInteractions(store::Tx& tx, const events::v1::InteractionRecorded& recorded);
  absl::Status ApplyMerge(store::Tx& tx, const events::v1::ProfilesMerged& merged);
  absl::Status ApplyErasure(store::Tx& tx, const events::v1::ProfileErased& erased);
  absl::Status ApplyConsents(store::Tx& tx, const events::v1::Event& event,
                             const events::v1::ProfileChanged& changed, const EventInputs& inputs);
  // Whether `profile` has GRANTED consent for `purpose` now (Deps::consents).
  absl::StatusOr<bool> ConsentGranted(const std::string& profile,
                                      profiles::v1::ConsentPurpose purpose, absl::Time deadline);

  Deps deps_;
};

}  // namespace centric::reporting

#endif  // CENTRIC_SERVICES_REPORTING_EXPERIMENTS_EXPERIMENTS_H_
