// The segmentation engine: the column table of every profile, each segment's membership
// as a roaring bitmap of rows, each profile's primary persona, and RFM scores; kept
// current one profile change at a time (only segments whose rules read a changed field
// are evaluated again) and by Refresh() for what time changes (rules reading `now`, RFM
// boundaries). Every change of membership comes back to the caller as a delta, which
// the service publishes as MembershipChanged. Thread-safe.
//
// Whole-population work (Ready, Refresh, PutSegment, PutPersona) never holds the engine
// for long: it sweeps the table one block of 65,536 rows at a time and lets go between
// blocks, while ApplyProfile and RemoveProfile keep the finished part of the sweep
// current; the result is swapped in when the last block is done (docs/SEGMENTATION.md,
// "Sweeps").
#ifndef CENTRIC_SERVICES_SEGMENTATION_ENGINE_H_
#define CENTRIC_SERVICES_SEGMENTATION_ENGINE_H_

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "centric/profiles/v1/profiles.pb.h"
#include "libs/runtime/clock.h"
#include "roaring/roaring.hh"
#include "services/segmentation/rfm.h"
#include "services/segmentation/rule.h"
#include "services/segmentation/table.h"

namespace centric::segmentation {

struct MembershipDelta {
  std::string segment;  // "segments/{segment}"
  std::string profile;  // "profiles/{profile}"
  bool entered = false;
  int64_t profile_version = 0;
};

struct PersonaDelta {
  std::string profile;  // "profiles/{profile}"
  std::string persona;  // "personas/{persona}", empty for none
};

struct EngineChanges {
  std::vector<MembershipDelta> membership;
  std::vector<PersonaDelta> personas;
  void Append(EngineChanges other);
};

struct SegmentDefinition {
  std::string name;  // "segments/{segment}"
  std::shared_ptr<const Rule> rule;
  // 0 = no purpose; otherwise members need consent GRANTED for it.
  profiles::v1::ConsentPurpose purpose = profiles::v1::CONSENT_PURPOSE_UNSPECIFIED;
};

struct PersonaDefinition {
  std::string name;  // "personas/{persona}"
  std::shared_ptr<const Rule> rule;
  int32_t priority = 0;
  absl::Time create_time;
};

struct Membership {
  std::vector<std::string> segments;
  std::string persona;
  RfmScore rfm;
};

struct Overlap {
  int64_t intersection = 0;
  int64_t unions = 0;
  // differences[i][j]: members of i not in j.
  std::vector<std::vector<int64_t>> differences;
};

class Engine {
 public:
  explicit Engine(runtime::Clock& clock) : clock_(clock) {}

  // While loading (the initial bootstrap), profile changes only fill the table; Ready()
  // then computes RFM and every membership at once, without deltas (a restart rebuilds
  // the membership the previous run published).
  void Ready();
  bool ready() const;

  // Adds or replaces a segment and evaluates it over every profile; deltas for the
  // difference with its previous membership (all members enter on a new segment).
  EngineChanges PutSegment(SegmentDefinition segment);
  // Removes a segment; every member exits.
  EngineChanges RemoveSegment(const std::string& name);
  EngineChanges PutPersona(PersonaDefinition persona);
  EngineChanges RemovePersona(const std::string& name);

  // A profile was created or changed (its current state, with version).
  EngineChanges ApplyProfile(const profiles::v1::Profile& profile);
  // A profile was erased, deleted or merged away: it leaves every segment and its values
  // are dropped from memory. The name stays reserved (also when it was not held yet), so
  // a copy read earlier, e.g. by the start-up load, is never applied afterwards.
  EngineChanges RemoveProfile(const std::string& profile_name);
  // Re-evaluates what time changes: RFM boundaries and rules that read `now`.
  EngineChanges Refresh();

  // Queries. Sizes and members exclude nothing-yet-loaded profiles; nullopt for an unknown
  // segment.
  std::optional<int64_t> SegmentSize(const std::string& name) const;
  int64_t PersonaSize(const std::string& name) const;
  struct Preview {
    int64_t size = 0;
    std::vector<std::string> sample;  // profile names
  };
  Preview PreviewRule(const Rule& rule, profiles::v1::ConsentPurpose purpose,
                      int sample_size) const;
  // Calls `sink` with the id of every profile (without "profiles/") for which `rule`
  // holds, in row order, walking the member bitmap; returns how many there were.
  int64_t StreamMembers(const Rule& rule, profiles::v1::ConsentPurpose purpose,
                        const std::function<void(absl::string_view id)>& sink) const;
  // Members in profile-name order after `after_profile` (a profile name or empty), at
  // most `limit`; `more` says whether members remain after them.
  std::optional<std::vector<std::string>> Members(const std::string& segment,
                                                  const std::string& after_profile, int limit,
                                                  bool* more) const;
  std::optional<Membership> Check(const std::string& profile_name) const;
  std::optional<Overlap> GetOverlap(const std::vector<std::string>& segments) const;
  // Profiles whose stored `persona` differs from their primary persona (written back at
  // start, when rules changed while the service was down).
  std::vector<PersonaDelta> PersonaDrift() const;

  int64_t profile_count() const;
  int64_t segment_count() const;
  size_t MemoryBytes() const;
  size_t TableMemoryBytes() const;
  size_t BitmapMemoryBytes() const;

 private:
  // A sweep in progress over a segment: its members in the blocks before `next_block`,
  // kept current by ApplyProfile and RemoveProfile.
  struct Sweep {
    uint64_t id = 0;
    uint32_t next_block = 0;
    Roaring members;
  };
  struct SegmentState {
    SegmentDefinition def;
    Roaring members;
    // False until the first evaluation after start (no deltas before it).
    bool built = false;
    std::optional<Sweep> sweep;
  };
  Roaring Evaluate(const SegmentDefinition& def, absl::Time now) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Members of `def` in one block (words), consent applied.
  void EvaluateBlock(const SegmentDefinition& def, const Rule::Evaluation& evaluation,
                     uint32_t block, uint64_t* words) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Diff(const std::string& segment, const Roaring& before,
            const Roaring& after, EngineChanges& out) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Re-evaluates segment `name` over every row, block by block, and swaps the result in;
  // deltas for the difference when the segment was built. Nothing when the segment is
  // removed or swept again meanwhile.
  void SweepSegment(const std::string& name, absl::Time now, EngineChanges* out)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Recomputes RFM boundaries and every score, block by block; whether a score changed.
  bool SweepRfm() ABSL_LOCKS_EXCLUDED(mu_);
  // Recomputes every primary persona block by block; deltas (when `out`) for profiles
  // whose persona changed.
  void SweepPersonas(absl::Time now, EngineChanges* out) ABSL_LOCKS_EXCLUDED(mu_);
  uint16_t PersonaOfRow(Row row, absl::Time now, const cel::Activation* activation) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void SetPrimary(Row row, uint16_t id, EngineChanges* out) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void SortPersonas() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  const std::vector<Row>& RowsById() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  static std::string ProfileName(absl::string_view id);

  // Holds mu_ for a caller that must not wait behind a sweep (profile changes and
  // queries): sweeps let it in before they take the next block.
  class ABSL_SCOPED_LOCKABLE Foreground {
   public:
    explicit Foreground(const Engine* engine) ABSL_EXCLUSIVE_LOCK_FUNCTION(engine->mu_)
        : engine_(engine) {
      engine->waiting_.fetch_add(1, std::memory_order_relaxed);
      engine->mu_.Lock();
      engine->waiting_.fetch_sub(1, std::memory_order_relaxed);
    }
    ~Foreground() ABSL_UNLOCK_FUNCTION() { engine_->mu_.Unlock(); }

   private:
    const Engine* engine_;
  };
  // Called by sweeps between blocks, without mu_: waits (a few milliseconds at most)
  // until no foreground caller waits for mu_, which a mutex alone does not promise to a
  // caller that competes with a loop taking it again at once.
  void LetForegroundIn() const ABSL_LOCKS_EXCLUDED(mu_);

  runtime::Clock& clock_;
  mutable absl::Mutex mu_;
  mutable std::atomic<int> waiting_{0};
  bool ready_ ABSL_GUARDED_BY(mu_) = false;
  bool building_ ABSL_GUARDED_BY(mu_) = false;
  // Whether RFM boundaries were computed (profile changes before only fill the table).
  bool scoring_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t sweeps_ ABSL_GUARDED_BY(mu_) = 0;
  // Changes whenever the personas change, so a persona sweep can tell it is stale.
  uint64_t persona_epoch_ ABSL_GUARDED_BY(mu_) = 0;
  Table table_ ABSL_GUARDED_BY(mu_);
  RfmBoundaries rfm_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, SegmentState> segments_ ABSL_GUARDED_BY(mu_);
  // Highest priority first, then oldest; each with its id in persona_names_.
  std::vector<std::pair<PersonaDefinition, uint16_t>> personas_ ABSL_GUARDED_BY(mu_);
  // Persona names by id (ids are never reused; 0 is "none").
  std::vector<std::string> persona_names_ ABSL_GUARDED_BY(mu_) = {""};
  // Primary persona id per row.
  std::vector<uint16_t> primary_ ABSL_GUARDED_BY(mu_);
  mutable std::vector<Row> rows_by_id_ ABSL_GUARDED_BY(mu_);
  mutable Row rows_sorted_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace centric::segmentation

#endif  // CENTRIC_SERVICES_SEGMENTATION_ENGINE_H_
