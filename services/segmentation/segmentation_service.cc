#include "services/segmentation/segmentation_service.h"

#include <algorithm>
#include <set>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "centric/events/v1/events.pb.h"
#include "google/protobuf/util/time_util.h"
#include "libs/events/outbox.h"
#include "libs/runtime/errors.h"
#include "libs/runtime/log.h"
#include "libs/runtime/resource.h"
#include "services/segmentation/rfm.h"

namespace centric::segmentation {
namespace {

using google::protobuf::util::TimeUtil;
namespace pv1 = profiles::v1;

constexpr char kService[] = "segmentation";
constexpr DefinitionKind kSegments{"segment", "segments", "SEGMENT", "segment_id", kMaxSegments};
constexpr DefinitionKind kPersonas{"persona", "personas", "PERSONA", "persona_id", kMaxPersonas};
// MembershipChanged events per outbox transaction.
constexpr size_t kEventsPerTx = 500;

using runtime::EtagOf;
using runtime::VersionOfEtag;

using runtime::CheckBytes;
using runtime::IdOfName;
using runtime::PageCursor;
using runtime::PageToken;
using runtime::ValidId;
using runtime::ValidTeam;

google::protobuf::Timestamp ToProto(absl::Time t) { return runtime::ToTimestamp(t); }
absl::Time FromProto(const google::protobuf::Timestamp& ts) { return runtime::FromTimestamp(ts); }

// Stored form: the resource without output-only fields that are computed on read.
std::string Serialize(const google::protobuf::Message& m) { return m.SerializeAsString(); }

}  // namespace

std::vector<store::Migration> SegmentationMigrations() {
  std::vector<store::Migration> migrations = {store::DefinitionMigration(1, kService)};
  migrations.push_back(events::OutboxMigration(2, kService));
  return migrations;
}

SegmentationService::SegmentationService(Deps deps)
    : deps_(std::move(deps)), store_(*deps_.db, kService) {}

absl::Status SegmentationService::Load() {
  auto segments = store_.All(kSegments);
  if (!segments.ok()) return segments.status();
  for (const StoredDefinition& stored : *segments) {
    v1::Segment s;
    s.ParseFromString(stored.data);
    auto rule = Rule::Compile(s.rule(), RuleKind::kSegment);
    if (!rule.ok()) {
      runtime::LogError("segment_rule_invalid", {{"segment", s.name()}, {"error", rule.status().ToString()}});
      continue;
    }
    deps_.engine->PutSegment({s.name(), *rule, s.purpose()});
  }
  auto personas = store_.All(kPersonas);
  if (!personas.ok()) return personas.status();
  for (const StoredDefinition& stored : *personas) {
    v1::Persona p;
    p.ParseFromString(stored.data);
    auto rule = Rule::Compile(p.assignment_rule(), RuleKind::kPersona);
    if (!rule.ok()) {
      runtime::LogError("persona_rule_invalid", {{"persona", p.name()}, {"error", rule.status().ToString()}});
      continue;
    }
    deps_.engine->PutPersona({p.name(), *rule, p.priority(), FromProto(p.create_time())});
  }
  return absl::OkStatus();
}

void SegmentationService::FillSegmentOutput(v1::Segment& segment) {
  bool ready = deps_.engine->ready();
  segment.set_state(ready ? v1::SEGMENT_STATE_ACTIVE : v1::SEGMENT_STATE_BUILDING);
  segment.set_size(deps_.engine->SegmentSize(segment.name()).value_or(0));
}

void SegmentationService::FillPersonaOutput(v1::Persona& persona) {
  persona.set_size(deps_.engine->PersonaSize(persona.name()));
}

absl::StatusOr<v1::Segment> SegmentationService::ReadSegment(const std::string& id) {
  auto stored = store_.Read(kSegments, id);
  if (!stored.ok()) return stored.status();
  v1::Segment s;
  s.ParseFromString(stored->data);
  s.set_etag(EtagOf(stored->version));
  FillSegmentOutput(s);
  return s;
}

absl::StatusOr<v1::Persona> SegmentationService::ReadPersona(const std::string& id) {
  auto stored = store_.Read(kPersonas, id);
  if (!stored.ok()) return stored.status();
  v1::Persona p;
  p.ParseFromString(stored->data);
  p.set_etag(EtagOf(stored->version));
  FillPersonaOutput(p);
  return p;
}

absl::StatusOr<std::string> SegmentationService::ListPage(
    const DefinitionKind& kind, int32_t page_size, const std::string& page_token,
    const std::function<void(const StoredDefinition&)>& add) {
  return store_.ListPage(kind, page_size, page_token, kDefaultPageSize, kMaxPageSize, add);
}

absl::StatusOr<int64_t> SegmentationService::CheckEtag(const std::string& etag,
                                                        const std::string& current) {
  return runtime::CheckEtag(etag, current);
}

// ---- Segments -----------------------------------------------------------------------

namespace {

// Validates the writable fields of a segment; compiles its rule into `rule`.
std::vector<runtime::FieldViolation> ValidateSegment(const v1::Segment& s,
                                                     std::shared_ptr<const Rule>* rule) {
  std::vector<runtime::FieldViolation> v;
  CheckBytes(v, "segment.display_name", s.display_name(), 1, kMaxDisplayNameBytes);
  CheckBytes(v, "segment.description", s.description(), 0, kMaxTextBytes);
  if (!ValidTeam(s.owner_team())) {
    v.push_back({"segment.owner_team", absl::StrCat("must be 1 to ", kMaxOwnerTeamBytes,
                                                    " bytes of [a-z0-9-], got \"", s.owner_team(), "\"")});
  }
  if (!pv1::ConsentPurpose_IsValid(s.purpose())) {
    v.push_back({"segment.purpose", "is not a ConsentPurpose"});
  }
  auto compiled = Rule::Compile(s.rule(), RuleKind::kSegment);
  if (!compiled.ok()) {
    v.push_back({"segment.rule", std::string(compiled.status().message())});
  } else {
    *rule = *compiled;
  }
  return v;
}

}  // namespace

absl::StatusOr<v1::Segment> SegmentationService::CreateSegment(
    const v1::CreateSegmentRequest& request) {
  v1::Segment s = request.segment();
  std::vector<runtime::FieldViolation> violations;
  if (!s.template_().empty()) {
    const SegmentTemplate* t = FindTemplate(s.template_());
    if (t == nullptr) {
      std::vector<std::string> ids;
      for (const SegmentTemplate& known : SegmentTemplates()) ids.push_back(known.id);
      violations.push_back({"segment.template", absl::StrCat("is not a built-in template (",
                                                             absl::StrJoin(ids, ", "), ")")});
    } else {
      if (s.rule().empty()) s.set_rule(t->rule);
      if (s.display_name().empty()) s.set_display_name(t->display_name);
      if (s.description().empty()) s.set_description(t->description);
    }
  }
  std::shared_ptr<const Rule> rule;
  for (auto& v : ValidateSegment(s, &rule)) violations.push_back(std::move(v));
  if (!request.segment_id().empty() && !ValidId(request.segment_id())) {
    violations.push_back({"segment_id", "must be 1 to 63 bytes of [a-z0-9-] starting with a letter"});
  }
  if (request.request_id().size() > kMaxRequestIdBytes) {
    violations.push_back({"request_id", absl::StrCat("must be at most ", kMaxRequestIdBytes, " bytes")});
  }
  if (!violations.empty()) return runtime::InvalidArgument(std::move(violations));

  std::string id = request.segment_id().empty() ? absl::StrCat("s", deps_.ids->NewId())
                                                : request.segment_id();
  google::protobuf::Timestamp now = ToProto(deps_.clock->Now());
  s.set_name(absl::StrCat("segments/", id));
  *s.mutable_create_time() = now;
  *s.mutable_update_time() = now;
  s.clear_state();
  s.clear_size();
  s.clear_etag();

  absl::MutexLock write(&write_mu_);
  auto created = store_.Insert(kSegments, id, Serialize(s), request.request_id(), deps_.clock->Now());
  if (!created.ok()) return created.status();
  if (*created != id) return ReadSegment(*created);  // a retry of an earlier create
  if (absl::Status p = Publish(deps_.engine->PutSegment({s.name(), rule, s.purpose()})); !p.ok()) {
    runtime::LogWarning("membership_publish_failed", {{"segment", s.name()}, {"error", p.ToString()}});
  }
  return ReadSegment(id);
}

absl::StatusOr<v1::Segment> SegmentationService::GetSegment(const v1::GetSegmentRequest& request) {
  auto id = IdOfName("name", request.name(), "segments");
  if (!id.ok()) return id.status();
  return ReadSegment(*id);
}

absl::StatusOr<v1::ListSegmentsResponse> SegmentationService::ListSegments(
    const v1::ListSegmentsRequest& request) {
  v1::ListSegmentsResponse response;
  auto next = ListPage(kSegments, request.page_size(), request.page_token(),
                       [&](const StoredDefinition& stored) {
                         v1::Segment* s = response.add_segments();
                         s->ParseFromString(stored.data);
                         s->set_etag(EtagOf(stored.version));
                         FillSegmentOutput(*s);
                       });
  if (!next.ok()) return next.status();
  response.set_next_page_token(*next);
  return response;
}

absl::StatusOr<v1::Segment> SegmentationService::UpdateSegment(
    const v1::UpdateSegmentRequest& request) {
  auto id = IdOfName("segment.name", request.segment().name(), "segments");
  if (!id.ok()) return id.status();
  if (request.update_mask().paths().empty()) {
    return runtime::InvalidField("update_mask", "must name at least one field");
  }
  absl::MutexLock write(&write_mu_);
  auto current = ReadSegment(*id);
  if (!current.ok()) return current.status();
  v1::Segment next = *current;
  bool rule_changed = false;
  for (const std::string& path : request.update_mask().paths()) {
    const v1::Segment& from = request.segment();
    if (path == "display_name") {
      next.set_display_name(from.display_name());
    } else if (path == "description") {
      next.set_description(from.description());
    } else if (path == "owner_team") {
      next.set_owner_team(from.owner_team());
    } else if (path == "rule") {
      rule_changed = rule_changed || next.rule() != from.rule();
      next.set_rule(from.rule());
    } else if (path == "purpose") {
      rule_changed = rule_changed || next.purpose() != from.purpose();
      next.set_purpose(from.purpose());
    } else {
      return runtime::InvalidField(
          "update_mask", absl::StrCat("\"", path, "\" is not updatable; use display_name, "
                                      "description, owner_team, rule or purpose"));
    }
  }
  std::shared_ptr<const Rule> rule;
  auto violations = ValidateSegment(next, &rule);
  if (!violations.empty()) return runtime::InvalidArgument(std::move(violations));
  auto version = CheckEtag(request.etag(), current->etag());
  if (!version.ok()) return version.status();
  *next.mutable_update_time() = ToProto(deps_.clock->Now());
  next.clear_state();
  next.clear_size();
  next.clear_etag();
  if (absl::Status s = store_.Replace(kSegments, *id, *version, Serialize(next)); !s.ok()) return s;
  if (rule_changed) {
    if (absl::Status p = Publish(deps_.engine->PutSegment({next.name(), rule, next.purpose()})); !p.ok()) {
      runtime::LogWarning("membership_publish_failed", {{"segment", next.name()}, {"error", p.ToString()}});
    }
  }
  return ReadSegment(*id);
}

absl::Status SegmentationService::DeleteSegment(const v1::DeleteSegmentRequest& request) {
  auto id = IdOfName("name", request.name(), "segments");
  if (!id.ok()) return id.status();
  absl::MutexLock write(&write_mu_);
  auto current = ReadSegment(*id);
  if (!current.ok()) return current.status();
  if (auto version = CheckEtag(request.etag(), current->etag()); !version.ok()) {
    return version.status();
  }
  if (absl::Status s = store_.Delete(kSegments, *id); !s.ok()) return s;
  return Publish(deps_.engine->RemoveSegment(current->name()));
}

absl::StatusOr<v1::PreviewSegmentResponse> SegmentationService::PreviewSegment(
    const v1::PreviewSegmentRequest& request) {
  std::vector<runtime::FieldViolation> violations;
  auto rule = Rule::Compile(request.rule(), RuleKind::kSegment);
  if (!rule.ok()) violations.push_back({"rule", std::string(rule.status().message())});
  if (request.sample_size() < 0 || request.sample_size() > kMaxSampleSize) {
    violations.push_back({"sample_size", absl::StrCat("must be 0 to ", kMaxSampleSize, ", got ",
                                                      request.sample_size())});
  }
  if (!pv1::ConsentPurpose_IsValid(request.purpose())) {
    violations.push_back({"purpose", "is not a ConsentPurpose"});
  }
  if (!violations.empty()) return runtime::InvalidArgument(std::move(violations));
  Engine::Preview preview = deps_.engine->PreviewRule(**rule, request.purpose(), request.sample_size());
  v1::PreviewSegmentResponse response;
  response.set_size(preview.size);
  for (auto& name : preview.sample) response.add_sample(std::move(name));
  return response;
}

absl::StatusOr<v1::ListSegmentMembersResponse> SegmentationService::ListSegmentMembersChunk(
    const v1::ListSegmentMembersRequest& request) {
  auto id = IdOfName("segment", request.segment(), "segments");
  if (!id.ok()) return id.status();
  if (request.chunk_size() < 0 || request.chunk_size() > kMaxChunkSize) {
    return runtime::InvalidField("chunk_size", absl::StrCat("must be 0 to ", kMaxChunkSize,
                                                            ", got ", request.chunk_size()));
  }
  int chunk = request.chunk_size() == 0 ? kDefaultChunkSize : request.chunk_size();
  std::string after;
  if (!request.resume_token().empty()) {
    auto cursor = PageCursor(request.resume_token(), absl::StrCat("members:", *id));
    if (!cursor.ok()) {
      return runtime::InvalidField("resume_token", "is not a token this stream sent for this segment");
    }
    after = *cursor;
  }
  bool more = false;
  auto members = deps_.engine->Members(request.segment(), after, chunk, &more);
  if (!members.has_value()) {
    return runtime::Error(absl::StatusCode::kNotFound, "SEGMENT_NOT_FOUND",
                          absl::StrCat(request.segment(), " does not exist"));
  }
  v1::ListSegmentMembersResponse response;
  if (more && !members->empty()) {
    response.set_resume_token(PageToken(absl::StrCat("members:", *id), members->back()));
  }
  for (auto& m : *members) response.add_profiles(std::move(m));
  return response;
}

absl::StatusOr<v1::CheckMembershipResponse> SegmentationService::CheckMembership(
    const v1::CheckMembershipRequest& request) {
  absl::string_view id = request.profile();
  if (!absl::ConsumePrefix(&id, "profiles/") || id.empty()) {
    return runtime::InvalidField("profile", "must be \"profiles/{profile}\"");
  }
  std::optional<Membership> m = deps_.engine->Check(request.profile());
  if (!m.has_value()) {
    return runtime::Error(absl::StatusCode::kNotFound, "PROFILE_NOT_FOUND",
                          absl::StrCat(request.profile(), " is not known to segmentation (yet)"));
  }
  v1::CheckMembershipResponse response;
  for (auto& s : m->segments) response.add_segments(std::move(s));
  response.set_primary_persona(m->persona);
  response.mutable_rfm()->set_r(m->rfm.r);
  response.mutable_rfm()->set_f(m->rfm.f);
  response.mutable_rfm()->set_m(m->rfm.m);
  return response;
}

absl::StatusOr<v1::ExportProfileDataResponse> SegmentationService::ExportProfileData(
    const v1::ExportProfileDataRequest& request) {
  auto names = runtime::ExportProfileNames(request.profile(), request.merged_profiles());
  if (!names.ok()) return names.status();
  if (!deps_.engine->ready()) {
    return runtime::Error(absl::StatusCode::kUnavailable, "ENGINE_LOADING",
                          "segmentation is still loading profiles; an export now could miss "
                          "memberships, retry shortly");
  }
  v1::ExportProfileDataResponse response;
  for (const std::string& name : *names) {
    std::optional<Membership> m = deps_.engine->Check(name);
    if (!m.has_value()) continue;
    v1::ProfileMembership& out = *response.add_memberships();
    out.set_profile(name);
    for (auto& s : m->segments) out.add_segments(std::move(s));
    out.set_primary_persona(m->persona);
    out.mutable_rfm()->set_r(m->rfm.r);
    out.mutable_rfm()->set_f(m->rfm.f);
    out.mutable_rfm()->set_m(m->rfm.m);
  }
  return response;
}

absl::StatusOr<v1::GetSegmentOverlapResponse> SegmentationService::GetSegmentOverlap(
    const v1::GetSegmentOverlapRequest& request) {
  int n = request.segments_size();
  if (n < kMinOverlapSegments || n > kMaxOverlapSegments) {
    return runtime::InvalidField("segments", absl::StrCat("must name ", kMinOverlapSegments, " to ",
                                                          kMaxOverlapSegments, " segments, got ", n));
  }
  std::vector<std::string> names;
  std::set<std::string> seen;
  for (int i = 0; i < n; ++i) {
    auto id = IdOfName(absl::StrCat("segments[", i, "]"), request.segments(i), "segments");
    if (!id.ok()) return id.status();
    if (!seen.insert(request.segments(i)).second) {
      return runtime::InvalidField(absl::StrCat("segments[", i, "]"), "repeats an earlier segment");
    }
    names.push_back(request.segments(i));
  }
  std::optional<Overlap> o = deps_.engine->GetOverlap(names);
  if (!o.has_value()) {
    for (const std::string& name : names) {
      if (!deps_.engine->SegmentSize(name).has_value()) {
        return runtime::Error(absl::StatusCode::kNotFound, "SEGMENT_NOT_FOUND",
                              absl::StrCat(name, " does not exist"));
      }
    }
    return absl::AbortedError("a segment was deleted meanwhile; retry");
  }
  v1::GetSegmentOverlapResponse response;
  response.set_intersection_size(o->intersection);
  response.set_union_size(o->unions);
  for (size_t i = 0; i < names.size(); ++i) {
    for (size_t j = 0; j < names.size(); ++j) {
      if (i == j) continue;
      v1::SegmentDifference* d = response.add_differences();
      d->set_segment(names[i]);
      d->set_minus(names[j]);
      d->set_size(o->differences[i][j]);
    }
  }
  return response;
}

// ---- Personas -----------------------------------------------------------------------

namespace {

std::vector<runtime::FieldViolation> ValidatePersona(const v1::Persona& p,
                                                     std::shared_ptr<const Rule>* rule) {
  std::vector<runtime::FieldViolation> v;
  CheckBytes(v, "persona.display_name", p.display_name(), 1, kMaxDisplayNameBytes);
  CheckBytes(v, "persona.description", p.description(), 0, kMaxTextBytes);
  CheckBytes(v, "persona.pitch", p.pitch(), 0, kMaxTextBytes);
  auto check_list = [&](const char* field, const google::protobuf::RepeatedPtrField<std::string>& list) {
    if (static_cast<size_t>(list.size()) > kMaxListEntries) {
      v.push_back({absl::StrCat("persona.", field), absl::StrCat("must have at most ", kMaxListEntries,
                                                                 " entries, got ", list.size())});
    }
    for (int i = 0; i < list.size(); ++i) {
      CheckBytes(v, absl::StrCat("persona.", field, "[", i, "]"), list[i], 1, kMaxTextBytes);
    }
  };
  check_list("goals", p.goals());
  check_list("pain_points", p.pain_points());
  check_list("motivations", p.motivations());
  check_list("behaviours", p.behaviours());
  check_list("reasons_to_buy", p.reasons_to_buy());
  check_list("reasons_not_to_buy", p.reasons_not_to_buy());
  check_list("quotes", p.quotes());
  std::set<int> channels;
  for (int i = 0; i < p.preferred_channels_size(); ++i) {
    int c = p.preferred_channels(i);
    if (c == 0 || !pv1::Channel_IsValid(c) || !channels.insert(c).second) {
      v.push_back({absl::StrCat("persona.preferred_channels[", i, "]"),
                   "must be a Channel, not UNSPECIFIED, without repeats"});
    }
  }
  if (p.priority() < 0 || p.priority() > kMaxPriority) {
    v.push_back({"persona.priority", absl::StrCat("must be 0 to ", kMaxPriority, ", got ", p.priority())});
  }
  auto compiled = Rule::Compile(p.assignment_rule(), RuleKind::kPersona);
  if (!compiled.ok()) {
    v.push_back({"persona.assignment_rule", std::string(compiled.status().message())});
  } else {
    *rule = *compiled;
  }
  return v;
}

}  // namespace

absl::StatusOr<v1::Persona> SegmentationService::CreatePersona(
    const v1::CreatePersonaRequest& request) {
  v1::Persona p = request.persona();
  std::shared_ptr<const Rule> rule;
  auto violations = ValidatePersona(p, &rule);
  if (!request.persona_id().empty() && !ValidId(request.persona_id())) {
    violations.push_back({"persona_id", "must be 1 to 63 bytes of [a-z0-9-] starting with a letter"});
  }
  if (request.request_id().size() > kMaxRequestIdBytes) {
    violations.push_back({"request_id", absl::StrCat("must be at most ", kMaxRequestIdBytes, " bytes")});
  }
  if (!violations.empty()) return runtime::InvalidArgument(std::move(violations));
  std::string id = request.persona_id().empty() ? absl::StrCat("p", deps_.ids->NewId())
                                                : request.persona_id();
  google::protobuf::Timestamp now = ToProto(deps_.clock->Now());
  p.set_name(absl::StrCat("personas/", id));
  *p.mutable_create_time() = now;
  *p.mutable_update_time() = now;
  p.clear_size();
  p.clear_etag();
  absl::MutexLock write(&write_mu_);
  auto created = store_.Insert(kPersonas, id, Serialize(p), request.request_id(), deps_.clock->Now());
  if (!created.ok()) return created.status();
  if (*created != id) return ReadPersona(*created);  // a retry of an earlier create
  (void)Publish(deps_.engine->PutPersona(
      {p.name(), rule, p.priority(), FromProto(p.create_time())}));
  return ReadPersona(id);
}

absl::StatusOr<v1::Persona> SegmentationService::GetPersona(const v1::GetPersonaRequest& request) {
  auto id = IdOfName("name", request.name(), "personas");
  if (!id.ok()) return id.status();
  return ReadPersona(*id);
}

absl::StatusOr<v1::ListPersonasResponse> SegmentationService::ListPersonas(
    const v1::ListPersonasRequest& request) {
  v1::ListPersonasResponse response;
  auto next = ListPage(kPersonas, request.page_size(), request.page_token(),
                       [&](const StoredDefinition& stored) {
                         v1::Persona* p = response.add_personas();
                         p->ParseFromString(stored.data);
                         p->set_etag(EtagOf(stored.version));
                         FillPersonaOutput(*p);
                       });
  if (!next.ok()) return next.status();
  response.set_next_page_token(*next);
  return response;
}

absl::StatusOr<v1::Persona> SegmentationService::UpdatePersona(
    const v1::UpdatePersonaRequest& request) {
  auto id = IdOfName("persona.name", request.persona().name(), "personas");
  if (!id.ok()) return id.status();
  if (request.update_mask().paths().empty()) {
    return runtime::InvalidField("update_mask", "must name at least one field");
  }
  absl::MutexLock write(&write_mu_);
  auto current = ReadPersona(*id);
  if (!current.ok()) return current.status();
  v1::Persona next = *current;
  const v1::Persona& from = request.persona();
  bool assignment_changed = false;
  for (const std::string& path : request.update_mask().paths()) {
    const google::protobuf::FieldDescriptor* field = v1::Persona::descriptor()->FindFieldByName(path);
    static const std::set<std::string>* output_only = new std::set<std::string>{
        "name", "size", "create_time", "update_time", "etag"};
    if (field == nullptr || output_only->contains(path)) {
      return runtime::InvalidField("update_mask",
                                   absl::StrCat("\"", path, "\" is not an updatable persona field"));
    }
    const google::protobuf::Reflection* reflection = v1::Persona::GetReflection();
    reflection->ClearField(&next, field);
    if (field->is_repeated()) {
      for (int i = 0; i < reflection->FieldSize(from, field); ++i) {
        if (field->type() == google::protobuf::FieldDescriptor::TYPE_ENUM) {
          reflection->AddEnumValue(&next, field, reflection->GetRepeatedEnumValue(from, field, i));
        } else {
          reflection->AddString(&next, field, reflection->GetRepeatedString(from, field, i));
        }
      }
    } else if (field->type() == google::protobuf::FieldDescriptor::TYPE_INT32) {
      reflection->SetInt32(&next, field, reflection->GetInt32(from, field));
    } else {
      reflection->SetString(&next, field, reflection->GetString(from, field));
    }
    assignment_changed = assignment_changed || path == "assignment_rule" || path == "priority";
  }
  std::shared_ptr<const Rule> rule;
  auto violations = ValidatePersona(next, &rule);
  if (!violations.empty()) return runtime::InvalidArgument(std::move(violations));
  auto version = CheckEtag(request.etag(), current->etag());
  if (!version.ok()) return version.status();
  *next.mutable_update_time() = ToProto(deps_.clock->Now());
  next.clear_size();
  next.clear_etag();
  if (absl::Status s = store_.Replace(kPersonas, *id, *version, Serialize(next)); !s.ok()) return s;
  if (assignment_changed) {
    (void)Publish(deps_.engine->PutPersona(
        {next.name(), rule, next.priority(), FromProto(next.create_time())}));
  }
  return ReadPersona(*id);
}

absl::Status SegmentationService::DeletePersona(const v1::DeletePersonaRequest& request) {
  auto id = IdOfName("name", request.name(), "personas");
  if (!id.ok()) return id.status();
  absl::MutexLock write(&write_mu_);
  auto current = ReadPersona(*id);
  if (!current.ok()) return current.status();
  if (auto version = CheckEtag(request.etag(), current->etag()); !version.ok()) {
    return version.status();
  }
  if (absl::Status s = store_.Delete(kPersonas, *id); !s.ok()) return s;
  return Publish(deps_.engine->RemovePersona(current->name()));
}

// ---- Changes ------------------------------------------------------------------------

absl::Status SegmentationService::ValidateWatch(const v1::WatchMembershipRequest& request) {
  for (int i = 0; i < request.segments_size(); ++i) {
    auto id = IdOfName(absl::StrCat("segments[", i, "]"), request.segments(i), "segments");
    if (!id.ok()) return id.status();
    if (!deps_.engine->SegmentSize(request.segments(i)).has_value()) {
      return runtime::Error(absl::StatusCode::kNotFound, "SEGMENT_NOT_FOUND",
                            absl::StrCat(request.segments(i), " does not exist"));
    }
  }
  return absl::OkStatus();
}

int64_t SegmentationService::AddWatcher(std::vector<std::string> segments, Watcher watcher) {
  absl::MutexLock lock(&watchers_mu_);
  int64_t id = next_watcher_++;
  watchers_[id] = {std::move(segments), std::move(watcher)};
  return id;
}

void SegmentationService::RemoveWatcher(int64_t id) {
  absl::MutexLock lock(&watchers_mu_);
  watchers_.erase(id);
}

absl::Status SegmentationService::Publish(EngineChanges changes) {
  if (!changes.personas.empty() && deps_.persona_sink) deps_.persona_sink(std::move(changes.personas));
  if (changes.membership.empty()) return absl::OkStatus();
  {
    absl::MutexLock lock(&watchers_mu_);
    for (const auto& [id, watcher] : watchers_) {
      std::vector<v1::MembershipChange> batch;
      for (const MembershipDelta& d : changes.membership) {
        const auto& filter = watcher.first;
        if (!filter.empty() && std::find(filter.begin(), filter.end(), d.segment) == filter.end()) continue;
        v1::MembershipChange& c = batch.emplace_back();
        c.set_segment(d.segment);
        c.set_profile(d.profile);
        c.set_entered(d.entered);
      }
      if (!batch.empty()) watcher.second(batch);
    }
  }
  google::protobuf::Timestamp now = ToProto(deps_.clock->Now());
  for (size_t start = 0; start < changes.membership.size(); start += kEventsPerTx) {
    size_t end = std::min(changes.membership.size(), start + kEventsPerTx);
    absl::Status s = deps_.db->Transact([&](store::Tx& tx) -> absl::Status {
      for (size_t i = start; i < end; ++i) {
        const MembershipDelta& d = changes.membership[i];
        events::v1::MembershipChanged payload;
        payload.set_segment(d.segment);
        payload.set_profile(d.profile);
        payload.set_entered(d.entered);
        payload.set_profile_version(d.profile_version);
        events::v1::Event event;
        event.set_id(deps_.ids->NewId());
        event.set_type(payload.GetDescriptor()->full_name());
        event.set_source(kService);
        event.set_subject(d.profile);
        *event.mutable_time() = now;
        event.mutable_payload()->PackFrom(payload);
        if (absl::Status a = events::AppendToOutbox(tx, kService, event); !a.ok()) return a;
      }
      return absl::OkStatus();
    });
    if (!s.ok()) return s;
    if (deps_.after_commit) deps_.after_commit();
  }
  return absl::OkStatus();
}

}  // namespace centric::segmentation
