#include "services/profiles/profile_service.h"

#include <google/protobuf/util/time_util.h>

#include <algorithm>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "google/protobuf/any.pb.h"
#include "libs/events/bus.h"
#include "libs/events/outbox.h"
#include "libs/runtime/errors.h"
#include "libs/runtime/log.h"
#include "libs/runtime/resource.h"
#include "services/profiles/aggregates.h"
#include "services/profiles/limits.h"
#include "services/profiles/list_filter.h"
#include "services/profiles/merge.h"
#include "services/profiles/profile_rules.h"

namespace centric::profiles {
namespace {

// CHANNEL_WEB -> "web", the channel names events carry.
std::string ChannelName(v1::Channel channel) {
  const std::string& full = v1::Channel_Name(channel);
  absl::string_view name = full;
  absl::ConsumePrefix(&name, "CHANNEL_");
  return absl::AsciiStrToLower(name);
}

using google::protobuf::util::TimeUtil;
using runtime::FieldViolation;
namespace ev = ::centric::events::v1;

constexpr char kService[] = "profiles";
// Cache payloads: 'P' + serialised Profile for an active profile, 'M' + survivor id for
// a merged one (merges are final, so the redirect stays true).
constexpr char kActiveTag = 'P';
constexpr char kMergedTag = 'M';
constexpr int kMaxMergeHops = 8;

const std::set<std::string>& MutablePaths() {
  static const auto* paths = new std::set<std::string>{
      "display_name", "identities",         "traits",  "consents",
      "preferred_channels", "persona", "account_memberships"};
  return *paths;
}

absl::Status NotFound(absl::string_view id) {
  return runtime::Error(absl::StatusCode::kNotFound, "PROFILE_NOT_FOUND",
                        absl::StrCat("profile \"", ProfileName(id), "\" does not exist"));
}

// Page tokens are opaque to callers: base64 of "<kind>|<fingerprint>|<cursor>".
std::string EncodeToken(absl::string_view kind, absl::string_view fingerprint,
                        absl::string_view cursor) {
  return absl::WebSafeBase64Escape(absl::StrCat(kind, "|", fingerprint, "|", cursor));
}

absl::StatusOr<std::string> DecodeToken(absl::string_view token, absl::string_view kind,
                                        absl::string_view fingerprint) {
  std::string raw;
  std::vector<std::string> parts;
  if (absl::WebSafeBase64Unescape(token, &raw)) parts = absl::StrSplit(raw, absl::MaxSplits('|', 2));
  if (parts.size() != 3 || parts[0] != kind) {
    return runtime::InvalidField("page_token", "is not a token returned by this method");
  }
  if (parts[1] != fingerprint) {
    return runtime::InvalidField(
        "page_token", "was issued for a different filter or parent; keep them unchanged");
  }
  return parts[2];
}

// A fingerprint of `text` that is the same in every process and replica (absl::Hash is
// seeded per process, so a token from one replica would be refused by another).
std::string Fingerprint(absl::string_view text) {
  uint64_t hash = 14695981039346656037ull;  // FNV-1a, 64 bits
  for (unsigned char c : text) {
    hash ^= c;
    hash *= 1099511628211ull;
  }
  return absl::StrCat(absl::Hex(hash));
}

absl::StatusOr<int> PageSize(int32_t requested) {
  return runtime::PageSize(requested, kDefaultPageSize, kMaxPageSize);
}

// Replaces one top-level mutable field of `to` with the value in `from`.
void CopyField(const std::string& field, const v1::Profile& from, v1::Profile& to) {
  if (field == "display_name") {
    to.set_display_name(from.display_name());
  } else if (field == "identities") {
    *to.mutable_identities() = from.identities();
  } else if (field == "traits") {
    *to.mutable_traits() = from.traits();
  } else if (field == "consents") {
    *to.mutable_consents() = from.consents();
  } else if (field == "preferred_channels") {
    *to.mutable_preferred_channels() = from.preferred_channels();
  } else if (field == "persona") {
    to.set_persona(from.persona());
  } else if (field == "account_memberships") {
    *to.mutable_account_memberships() = from.account_memberships();
  }
}

void SetOutputFields(v1::Profile& profile) { profile.set_etag(EtagOf(profile.version())); }

// The ids whose feedback summaries make up `profile`'s feedback figures: its own and
// those of every name merged into it.
std::vector<std::string> FeedbackIds(const v1::Profile& profile) {
  std::vector<std::string> ids = {*ParseProfileName(profile.name(), "name")};
  for (const std::string& name : profile.merged_profiles()) {
    auto id = ParseProfileName(name, "merged_profiles");
    if (id.ok()) ids.push_back(*id);
  }
  return ids;
}

}  // namespace

ProfileService::ProfileService(Deps deps) : deps_(std::move(deps)), read_through_(*deps_.cache) {}

std::string ProfileService::CacheKey(absl::string_view id) {
  return absl::StrCat("profiles:{", id, "}");
}

google::protobuf::Timestamp ProfileService::NowProto() {
  return TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(deps_.clock->Now()));
}

absl::Status ProfileService::Write(const TxWork& work, absl::Time deadline, int attempts) {
  return Retry(
      [&](AfterCommit& after) {
        return deps_.db->Transact([&](store::Tx& tx) { return work(tx, after); },
                                  {.deadline = deadline});
      },
      attempts);
}

absl::Status ProfileService::Retry(const std::function<absl::Status(AfterCommit&)>& transaction,
                                   int attempts) {
  absl::Status status;
  for (int attempt = 0; attempt < attempts; ++attempt) {
    AfterCommit after;
    status = transaction(after);
    if (status.ok()) {
      for (const auto& [id, version] : after.invalidations) {
        deps_.cache->Invalidate(CacheKey(id), version);
      }
      if (after.wrote_events && deps_.after_commit) deps_.after_commit();
      return status;
    }
    if (status.code() != absl::StatusCode::kAborted ||
        runtime::Reason(status) == "ETAG_MISMATCH") {
      return status;
    }
  }
  return status;
}

absl::Status ProfileService::Emit(store::Tx& tx, AfterCommit& after, absl::string_view subject,
                                  const google::protobuf::Message& payload) {
  ev::Event event;
  event.set_id(deps_.ids->NewId());
  event.set_type(payload.GetDescriptor()->full_name());
  event.set_source(kService);
  event.set_subject(std::string(subject));
  *event.mutable_time() = NowProto();
  event.mutable_payload()->PackFrom(payload);
  after.wrote_events = true;
  return events::AppendToOutbox(tx, kService, event);
}

absl::StatusOr<cache::CachedValue> ProfileService::ResolvePayload(const std::string& start_id,
                                                                 absl::Time deadline) {
  std::string id = start_id;
  for (int hop = 0; hop < kMaxMergeHops; ++hop) {
    auto cached = read_through_.GetOrLoad(CacheKey(id), [&]() -> absl::StatusOr<cache::CachedValue> {
      absl::StatusOr<cache::CachedValue> out;
      absl::Status status = deps_.db->Transact(
          [&](store::Tx& tx) -> absl::Status {
            auto row = LoadProfile(tx, id);
            if (!row.ok()) return row.status();
            switch (row->profile.state()) {
              case v1::PROFILE_STATE_ACTIVE:
                out = cache::CachedValue{row->profile.version(),
                                         kActiveTag + row->profile.SerializeAsString()};
                return absl::OkStatus();
              case v1::PROFILE_STATE_MERGED:
                out = cache::CachedValue{row->profile.version(), kMergedTag + row->merged_into};
                return absl::OkStatus();
              default:
                return NotFound(id);
            }
          },
          {.deadline = deadline, .read_only = true});
      if (!status.ok()) return status;
      return out;
    });
    if (!cached.ok()) return cached.status();
    const std::string& payload = cached->payload;
    if (payload.empty()) return absl::DataLossError("empty cache payload");
    if (payload[0] == kMergedTag) {
      id = payload.substr(1);
      continue;
    }
    if (payload[0] != kActiveTag) return absl::DataLossError("cached profile is corrupt");
    return std::move(*cached);
  }
  return absl::InternalError(absl::StrCat("merge chain of ", ProfileName(start_id), " too long"));
}

absl::StatusOr<v1::Profile> ProfileService::Resolve(const std::string& id, absl::Time deadline) {
  auto cached = ResolvePayload(id, deadline);
  if (!cached.ok()) return cached.status();
  v1::Profile profile;
  if (!profile.ParseFromArray(cached->payload.data() + 1, cached->payload.size() - 1)) {
    return absl::DataLossError("cached profile is corrupt");
  }
  SetOutputFields(profile);
  return profile;
}

namespace {

// A cached active profile's answer: its bytes, then the output-only fields SetOutputFields
// sets, serialised after them (a later value of a singular field wins when parsed).
std::string AnswerBytes(const cache::CachedValue& value) {
  std::string bytes(value.payload.data() + 1, value.payload.size() - 1);
  v1::Profile output;
  output.set_etag(EtagOf(value.version));
  output.AppendToString(&bytes);
  return bytes;
}

}  // namespace

absl::StatusOr<std::string> ProfileService::GetProfileBytes(const v1::GetProfileRequest& request,
                                                            absl::Time deadline) {
  auto id = ParseProfileName(request.name(), "name");
  if (!id.ok()) return id.status();
  auto cached = ResolvePayload(*id, deadline);
  if (!cached.ok()) return cached.status();
  return AnswerBytes(*cached);
}

std::optional<std::string> ProfileService::PeekProfileBytes(const v1::GetProfileRequest& request) {
  auto id = ParseProfileName(request.name(), "name");
  if (!id.ok()) return std::nullopt;
  std::optional<cache::CachedValue> cached = deps_.cache->Peek(CacheKey(*id));
  if (!cached.has_value() || cached->payload.empty() || cached->payload[0] != kActiveTag) {
    return std::nullopt;
  }
  return AnswerBytes(*cached);
}

absl::StatusOr<StoredProfile> ProfileService::ResolveInTx(store::Tx& tx, std::string id,
                                                          RowLock lock) {
  for (int hop = 0; hop < kMaxMergeHops; ++hop) {
    auto row = LoadProfile(tx, id, lock);
    if (!row.ok()) return row.status();
    if (row->profile.state() == v1::PROFILE_STATE_ACTIVE) return row;
    if (row->profile.state() != v1::PROFILE_STATE_MERGED) return NotFound(id);
    id = row->merged_into;
  }
  return absl::InternalError("merge chain too long");
}

absl::StatusOr<std::optional<v1::Profile>> ProfileService::EarlierResult(
    store::Tx& tx, const std::string& request_id) {
  if (request_id.empty()) return std::optional<v1::Profile>();
  auto earlier = FindRequest(tx, request_id);
  if (!earlier.ok()) return earlier.status();
  if (!earlier->has_value()) return std::optional<v1::Profile>();
  auto row = ResolveInTx(tx, **earlier);
  if (!row.ok()) return row.status();
  return std::optional<v1::Profile>(std::move(row->profile));
}

absl::Status ProfileService::RememberRequest(store::Tx& tx, const std::string& request_id,
                                             const std::string& id) {
  if (request_id.empty()) return absl::OkStatus();
  absl::Status saved = SaveRequest(tx, request_id, id, deps_.clock->Now());
  if (saved.code() == absl::StatusCode::kAlreadyExists) {
    // A concurrent call with the same request id committed first; Write() retries and
    // the retry returns that call's result.
    return absl::AbortedError("concurrent request with the same request_id");
  }
  return saved;
}

absl::Status ProfileService::CheckAccounts(store::Tx& tx, const v1::Profile& profile) {
  std::vector<FieldViolation> violations;
  for (int i = 0; i < profile.account_memberships_size(); ++i) {
    const std::string field = absl::StrCat("profile.account_memberships[", i, "].account");
    auto id = ParseProfileName(profile.account_memberships(i).account(), field);
    if (!id.ok()) return id.status();
    auto row = LoadProfile(tx, *id);
    if (!row.ok() && row.status().code() != absl::StatusCode::kNotFound) return row.status();
    if (!row.ok() || row->profile.state() != v1::PROFILE_STATE_ACTIVE) {
      violations.push_back({field, absl::StrCat("names no existing profile (",
                                                profile.account_memberships(i).account(), ")")});
    } else if (row->profile.kind() != v1::PROFILE_KIND_ACCOUNT) {
      violations.push_back({field, "must name an ACCOUNT profile, not a PERSON"});
    }
  }
  return ToStatus(std::move(violations));
}

// ---------------------------------------------------------------------------------------
// Create, read

absl::StatusOr<v1::Profile> ProfileService::CreateProfile(const v1::CreateProfileRequest& request,
                                                          absl::Time deadline) {
  std::vector<FieldViolation> violations;
  v1::Profile profile = request.profile();
  if (!request.has_profile()) violations.push_back({"profile", "is required"});
  if (profile.kind() != v1::PROFILE_KIND_PERSON && profile.kind() != v1::PROFILE_KIND_ACCOUNT) {
    violations.push_back({"profile.kind", "must be PERSON or ACCOUNT"});
  }
  if (!request.profile_id().empty()) CheckProfileId(request.profile_id(), "profile_id", violations);
  CheckRequestId(request.request_id(), "request_id", violations);
  NormalizeMutableFields(profile, "profile", deps_.clock->Now(), violations);
  if (absl::Status s = ToStatus(std::move(violations)); !s.ok()) return s;

  // Ids generated here start with "p" so they satisfy the caller-chosen id rule too.
  const std::string id =
      request.profile_id().empty() ? absl::StrCat("p", deps_.ids->NewId()) : request.profile_id();
  v1::Profile created;
  absl::Status status = Write(
      [&](store::Tx& tx, AfterCommit& after) -> absl::Status {
        auto earlier = EarlierResult(tx, request.request_id());
        if (!earlier.ok()) return earlier.status();
        if (earlier->has_value()) {
          created = std::move(**earlier);
          return absl::OkStatus();
        }
        if (absl::Status s = CheckAccounts(tx, profile); !s.ok()) return s;
        StoredProfile row;
        row.profile = profile;
        v1::Profile& p = row.profile;
        p.set_name(ProfileName(id));
        p.set_state(v1::PROFILE_STATE_ACTIVE);
        p.set_version(1);
        p.clear_etag();
        p.clear_aggregates();
        p.clear_merged_profiles();
        *p.mutable_create_time() = NowProto();
        *p.mutable_update_time() = p.create_time();
        if (absl::Status s = InsertProfile(tx, row, deps_.clock->Now()); !s.ok()) return s;
        if (absl::Status s = ReplaceIdentities(tx, id, p, DependentRows::kNone); !s.ok()) return s;
        if (absl::Status s = ReplaceTraitIndex(tx, id, p, DependentRows::kNone); !s.ok()) return s;
        if (absl::Status s = ReplaceMemberships(tx, id, p, DependentRows::kNone); !s.ok()) return s;
        if (absl::Status s = RememberRequest(tx, request.request_id(), id); !s.ok()) return s;
        ev::ProfileChanged changed;
        changed.set_profile(p.name());
        changed.add_changed_paths("*");
        changed.set_version(1);
        changed.set_created(true);
        changed.set_persona(p.persona());
        if (absl::Status s = Emit(tx, after, p.name(), changed); !s.ok()) return s;
        created = p;
        return absl::OkStatus();
      },
      deadline);
  if (!status.ok()) return status;
  SetOutputFields(created);
  return created;
}

absl::StatusOr<v1::Profile> ProfileService::GetProfile(const v1::GetProfileRequest& request,
                                                       absl::Time deadline) {
  auto id = ParseProfileName(request.name(), "name");
  if (!id.ok()) return id.status();
  return Resolve(*id, deadline);
}

absl::StatusOr<std::string> ProfileService::BatchGetProfilesBytes(
    const v1::BatchGetProfilesRequest& request, absl::Time deadline) {
  if (request.names_size() == 0 || static_cast<size_t>(request.names_size()) > kMaxBatchGet) {
    return runtime::InvalidField(
        "names", absl::StrCat("must hold 1 to ", kMaxBatchGet, " names, got ", request.names_size()));
  }
  std::vector<std::string> ids;
  std::vector<FieldViolation> violations;
  for (int i = 0; i < request.names_size(); ++i) {
    auto id = ParseProfileName(request.names(i), absl::StrCat("names[", i, "]"));
    if (!id.ok()) {
      for (auto& v : runtime::FieldViolations(id.status())) violations.push_back(v);
      continue;
    }
    ids.push_back(*id);
  }
  if (absl::Status s = ToStatus(std::move(violations)); !s.ok()) return s;
  // Cache hits first (one GetMany: memory, then one Redis round trip); the misses are
  // read in ONE transaction (a call per profile would
  // pay a transaction each); merged names then follow their chain one by one.
  // Each answer as a serialised Profile: cached ones as their bytes (AnswerBytes).
  std::vector<std::optional<std::string>> found(ids.size());
  std::vector<size_t> misses;
  std::vector<std::string> keys;
  keys.reserve(ids.size());
  for (const std::string& id : ids) keys.push_back(CacheKey(id));
  std::vector<std::optional<cache::CachedValue>> cache_values = deps_.cache->GetMany(keys);
  for (size_t i = 0; i < ids.size(); ++i) {
    const std::optional<cache::CachedValue>& cached = cache_values[i];
    if (cached.has_value() && !cached->payload.empty() && cached->payload[0] == kActiveTag) {
      found[i] = AnswerBytes(*cached);
    } else {
      misses.push_back(i);
    }
  }
  std::vector<size_t> chains;
  std::vector<std::pair<std::string, cache::CachedValue>> loaded;
  if (!misses.empty()) {
    absl::Status status = deps_.db->Transact(
        [&](store::Tx& tx) -> absl::Status {
          chains.clear();
          loaded.clear();
          if (absl::Status s = store::PreferCustomPlans(tx); !s.ok()) return s;
          std::vector<std::string> miss_ids;
          for (size_t i : misses) miss_ids.push_back(ids[i]);
          std::sort(miss_ids.begin(), miss_ids.end());
          miss_ids.erase(std::unique(miss_ids.begin(), miss_ids.end()), miss_ids.end());
          auto rows = LoadProfiles(tx, miss_ids);
          if (!rows.ok()) return rows.status();
          for (size_t i : misses) {
            auto row = rows->find(ids[i]);
            if (row != rows->end() && row->second.profile.state() == v1::PROFILE_STATE_ACTIVE) {
              const v1::Profile& p = row->second.profile;
              loaded.push_back({CacheKey(ids[i]),
                                cache::CachedValue{p.version(), kActiveTag + p.SerializeAsString()}});
              found[i] = AnswerBytes(loaded.back().second);
            } else {
              chains.push_back(i);  // merged, erased or unknown: Resolve says which
            }
          }
          return absl::OkStatus();
        },
        {.deadline = deadline, .read_only = true});
    if (!status.ok()) return status;
  }
  for (const auto& [key, value] : loaded) deps_.cache->SetIfNewer(key, value.version, value.payload);
  for (size_t i : chains) {
    auto profile = Resolve(ids[i], deadline);
    if (!profile.ok()) {
      if (profile.status().code() == absl::StatusCode::kNotFound) {
        return runtime::WithViolations(
            runtime::Error(absl::StatusCode::kNotFound, "PROFILE_NOT_FOUND",
                           absl::StrCat("names[", i, "]: ", profile.status().message())),
            {{absl::StrCat("names[", i, "]"), "no such profile"}});
      }
      return profile.status();
    }
    found[i] = profile->SerializeAsString();
  }
  // BatchGetProfilesResponse: field 1 (profiles), length-delimited, once per answer.
  static_assert(v1::BatchGetProfilesResponse::kProfilesFieldNumber == 1);
  size_t total = 0;
  for (const std::optional<std::string>& bytes : found) total += bytes->size() + 6;
  std::string response;
  response.reserve(total);
  for (const std::optional<std::string>& bytes : found) {
    response.push_back('\x0a');  // (1 << 3) | LEN
    for (uint64_t n = bytes->size(); ; n >>= 7) {
      if (n < 0x80) {
        response.push_back(static_cast<char>(n));
        break;
      }
      response.push_back(static_cast<char>((n & 0x7f) | 0x80));
    }
    response.append(*bytes);
  }
  return response;
}

absl::StatusOr<v1::BatchGetProfilesResponse> ProfileService::BatchGetProfiles(
    const v1::BatchGetProfilesRequest& request, absl::Time deadline) {
  auto bytes = BatchGetProfilesBytes(request, deadline);
  if (!bytes.ok()) return bytes.status();
  v1::BatchGetProfilesResponse response;
  if (!response.ParseFromString(*bytes)) return absl::DataLossError("cached profile is corrupt");
  return response;
}

absl::StatusOr<v1::Profile> ProfileService::LookupProfile(const v1::LookupProfileRequest& request,
                                                          absl::Time deadline) {
  std::vector<FieldViolation> violations;
  v1::Identity identity = request.identity();
  if (!request.has_identity()) violations.push_back({"identity", "is required"});
  NormalizeIdentity(identity, "identity", violations);
  if (absl::Status s = ToStatus(std::move(violations)); !s.ok()) return s;
  std::optional<std::string> owner;
  absl::Status status = deps_.db->Transact(
      [&](store::Tx& tx) -> absl::Status {
        auto found = FindIdentity(tx, IdentityKey(identity));
        if (!found.ok()) return found.status();
        owner = *found;
        return absl::OkStatus();
      },
      {.deadline = deadline, .read_only = true});
  if (!status.ok()) return status;
  if (!owner.has_value()) {
    return runtime::Error(absl::StatusCode::kNotFound, "IDENTITY_NOT_FOUND",
                          "no profile holds this identity");
  }
  return Resolve(*owner, deadline);
}

absl::StatusOr<v1::ListProfilesResponse> ProfileService::ListProfiles(
    const v1::ListProfilesRequest& request, absl::Time deadline) {
  auto page_size = PageSize(request.page_size());
  if (!page_size.ok()) return page_size.status();
  auto filter = ParseListFilter(request.filter());
  if (!filter.ok()) return filter.status();
  const std::string fingerprint = Fingerprint(request.filter());
  std::string after;
  if (!request.page_token().empty()) {
    auto cursor = DecodeToken(request.page_token(), "profiles", fingerprint);
    if (!cursor.ok()) return cursor.status();
    after = *cursor;
  }
  std::vector<v1::Profile> page;
  absl::Status status = deps_.db->Transact(
      [&](store::Tx& tx) -> absl::Status {
        auto rows = ListActiveProfiles(tx, *filter, after, *page_size + 1);
        if (!rows.ok()) return rows.status();
        page = std::move(*rows);
        return absl::OkStatus();
      },
      {.deadline = deadline, .read_only = true});
  if (!status.ok()) return status;
  v1::ListProfilesResponse response;
  bool more = page.size() > static_cast<size_t>(*page_size);
  if (more) page.resize(*page_size);
  for (v1::Profile& profile : page) {
    SetOutputFields(profile);
    *response.add_profiles() = std::move(profile);
  }
  if (more) {
    auto last = ParseProfileName(response.profiles().rbegin()->name(), "name");
    response.set_next_page_token(EncodeToken("profiles", fingerprint, *last));
  }
  return response;
}

// ---------------------------------------------------------------------------------------
// Update

absl::StatusOr<v1::Profile> ProfileService::UpdateProfile(const v1::UpdateProfileRequest& request,
                                                          absl::Time deadline) {
  std::vector<FieldViolation> violations;
  auto id = ParseProfileName(request.profile().name(), "profile.name");
  if (!id.ok()) return id.status();
  if (request.update_mask().paths_size() == 0) {
    violations.push_back({"update_mask", "must name at least one field, or \"*\""});
  }
  int64_t expected = 0;
  if (!request.etag().empty()) {
    expected = VersionOfEtag(request.etag());
    if (expected < 0) violations.push_back({"etag", "is not an etag returned by this service"});
  }
  // Normalise the incoming values once; only masked fields are copied below.
  v1::Profile incoming = request.profile();
  std::vector<FieldViolation> incoming_violations;
  NormalizeMutableFields(incoming, "profile", deps_.clock->Now(), incoming_violations);
  std::set<std::string> whole_fields;
  std::vector<std::string> trait_keys;
  for (int i = 0; i < request.update_mask().paths_size(); ++i) {
    const std::string& path = request.update_mask().paths(i);
    if (path == "*") {
      whole_fields = MutablePaths();
    } else if (MutablePaths().count(path) > 0) {
      whole_fields.insert(path);
    } else if (absl::StartsWith(path, "traits.") && path.size() > 7) {
      trait_keys.push_back(path.substr(7));
    } else {
      violations.push_back({absl::StrCat("update_mask.paths[", i, "]"),
                            absl::StrCat("\"", Excerpt(path, 80),
                                         "\" is not an updatable field; use display_name, "
                                         "identities, traits, traits.<key>, consents, "
                                         "preferred_channels, persona, account_memberships or *")});
    }
  }
  for (const FieldViolation& v : incoming_violations) {
    // Report problems only in fields the mask asks to write.
    for (const std::string& field : whole_fields) {
      if (absl::StartsWith(v.field, absl::StrCat("profile.", field))) violations.push_back(v);
    }
    for (const std::string& key : trait_keys) {
      if (absl::StartsWith(v.field, absl::StrCat("profile.traits[\"", Excerpt(key, 64), "\"]"))) {
        violations.push_back(v);
      }
    }
  }
  if (absl::Status s = ToStatus(std::move(violations)); !s.ok()) return s;

  std::vector<std::string> changed_paths(whole_fields.begin(), whole_fields.end());
  if (!trait_keys.empty() && whole_fields.count("traits") == 0) changed_paths.push_back("traits");

  v1::Profile updated;
  absl::Status status = Write(
      [&](store::Tx& tx, AfterCommit& after) -> absl::Status {
        auto row = ResolveInTx(tx, *id);
        if (!row.ok()) return row.status();
        const v1::Profile& current = row->profile;
        if (expected > 0 && current.version() != expected) {
          return runtime::Error(absl::StatusCode::kAborted, "ETAG_MISMATCH",
                                absl::StrCat("etag ", request.etag(), " is stale; the profile is at ",
                                             EtagOf(current.version()), "; read it and retry"));
        }
        StoredProfile next = *row;
        v1::Profile& p = next.profile;
        for (const std::string& field : whole_fields) CopyField(field, incoming, p);
        for (const std::string& key : trait_keys) {
          auto it = incoming.traits().find(key);
          if (it == incoming.traits().end()) {
            p.mutable_traits()->erase(key);
          } else {
            (*p.mutable_traits())[key] = it->second;
          }
        }
        std::vector<FieldViolation> merged_violations;
        CheckTraits(p, "profile", merged_violations);
        if (p.kind() == v1::PROFILE_KIND_ACCOUNT && p.account_memberships_size() > 0) {
          merged_violations.push_back({"profile.account_memberships",
                                       "only PERSON profiles can be members of accounts"});
        }
        if (absl::Status s = ToStatus(std::move(merged_violations)); !s.ok()) return s;
        const std::string row_id = *ParseProfileName(p.name(), "name");
        p.set_version(current.version() + 1);
        *p.mutable_update_time() = NowProto();
        if (absl::Status s = profiles::UpdateProfile(tx, next, current.version()); !s.ok()) return s;
        if (whole_fields.count("identities") > 0) {
          if (absl::Status s = ReplaceIdentities(tx, row_id, p); !s.ok()) return s;
        }
        if (whole_fields.count("traits") > 0 || !trait_keys.empty()) {
          if (absl::Status s = ReplaceTraitIndex(tx, row_id, p); !s.ok()) return s;
        }
        if (whole_fields.count("account_memberships") > 0) {
          if (absl::Status s = CheckAccounts(tx, p); !s.ok()) return s;
          if (absl::Status s = ReplaceMemberships(tx, row_id, p); !s.ok()) return s;
        }
        ev::ProfileChanged changed;
        changed.set_profile(p.name());
        for (const std::string& path : changed_paths) changed.add_changed_paths(path);
        changed.set_version(p.version());
        changed.set_persona(p.persona());
        if (absl::Status s = Emit(tx, after, p.name(), changed); !s.ok()) return s;
        after.invalidations.emplace_back(row_id, p.version());
        updated = p;
        return absl::OkStatus();
      },
      deadline);
  if (!status.ok()) return status;
  SetOutputFields(updated);
  return updated;
}

// ---------------------------------------------------------------------------------------
// Delete and erase

absl::Status ProfileService::EraseInTx(store::Tx& tx, AfterCommit& after, const std::string& id,
                                       absl::string_view reason, bool is_delete,
                                       int64_t expected_version) {
  auto row = LoadProfile(tx, id, RowLock::kForUpdate);
  if (!row.ok()) return row.status();
  std::string target = id;
  if (row->profile.state() == v1::PROFILE_STATE_ERASED) {
    if (is_delete) return NotFound(id);
    return absl::OkStatus();
  }
  if (row->profile.state() == v1::PROFILE_STATE_MERGED) {
    // The person behind a merged name is the survivor's person.
    auto survivor = ResolveInTx(tx, id);
    if (survivor.status().code() == absl::StatusCode::kNotFound && !is_delete) {
      return absl::OkStatus();
    }
    if (!survivor.ok()) return survivor.status();
    row = std::move(survivor);
    target = *ParseProfileName(row->profile.name(), "name");
  }
  const v1::Profile current = row->profile;
  if (expected_version > 0 && current.version() != expected_version) {
    return runtime::Error(absl::StatusCode::kAborted, "ETAG_MISMATCH",
                          absl::StrCat("etag is stale; the profile is at ",
                                       EtagOf(current.version())));
  }
  if (current.kind() == v1::PROFILE_KIND_ACCOUNT) {
    auto members = MembersOf(tx, target);
    if (!members.ok()) return members.status();
    if (is_delete && !members->empty()) {
      return runtime::Error(
          absl::StatusCode::kFailedPrecondition, "ACCOUNT_HAS_MEMBERS",
          absl::StrCat("account ", current.name(), " still has ", members->size(),
                       " members; remove their account_memberships first"));
    }
    for (const std::string& member_id : *members) {
      auto member = LoadProfile(tx, member_id, RowLock::kForUpdate);
      if (!member.ok()) return member.status();
      StoredProfile next = *member;
      auto* memberships = next.profile.mutable_account_memberships();
      memberships->erase(std::remove_if(memberships->begin(), memberships->end(),
                                        [&](const v1::AccountMembership& m) {
                                          return m.account() == current.name();
                                        }),
                         memberships->end());
      next.profile.set_version(member->profile.version() + 1);
      *next.profile.mutable_update_time() = NowProto();
      if (absl::Status s = profiles::UpdateProfile(tx, next, member->profile.version()); !s.ok()) {
        return s;
      }
      if (absl::Status s = ReplaceMemberships(tx, member_id, next.profile); !s.ok()) return s;
      ev::ProfileChanged changed;
      changed.set_profile(next.profile.name());
      changed.add_changed_paths("account_memberships");
      changed.set_version(next.profile.version());
      changed.set_persona(next.profile.persona());
      if (absl::Status s = Emit(tx, after, next.profile.name(), changed); !s.ok()) return s;
      after.invalidations.emplace_back(member_id, next.profile.version());
    }
  }
  if (absl::Status s = DeleteDependentRows(tx, target); !s.ok()) return s;
  if (absl::Status s = DeleteFeedbackSummaries(tx, FeedbackIds(current)); !s.ok()) return s;
  StoredProfile tombstone;
  v1::Profile& t = tombstone.profile;
  t.set_name(current.name());
  t.set_kind(current.kind());
  t.set_state(v1::PROFILE_STATE_ERASED);
  t.set_version(current.version() + 1);
  *t.mutable_create_time() = current.create_time();
  *t.mutable_update_time() = NowProto();
  if (absl::Status s = profiles::UpdateProfile(tx, tombstone, current.version(), reason); !s.ok()) {
    return s;
  }
  // Other services may hold data under the survivor's name or any name merged into it.
  std::vector<std::string> names = {current.name()};
  names.insert(names.end(), current.merged_profiles().begin(), current.merged_profiles().end());
  for (const std::string& name : names) {
    ev::ProfileErased erased;
    erased.set_profile(name);
    erased.set_reason(std::string(reason));
    if (absl::Status s = Emit(tx, after, name, erased); !s.ok()) return s;
  }
  after.invalidations.emplace_back(target, t.version());
  return absl::OkStatus();
}

absl::Status ProfileService::DeleteProfile(const v1::DeleteProfileRequest& request,
                                           absl::Time deadline) {
  auto id = ParseProfileName(request.name(), "name");
  if (!id.ok()) return id.status();
  int64_t expected = 0;
  if (!request.etag().empty()) {
    expected = VersionOfEtag(request.etag());
    if (expected < 0) return runtime::InvalidField("etag", "is not an etag returned by this service");
  }
  return Write(
      [&](store::Tx& tx, AfterCommit& after) {
        return EraseInTx(tx, after, *id, "deleted", /*is_delete=*/true, expected);
      },
      deadline);
}

absl::StatusOr<v1::EraseProfileResponse> ProfileService::EraseProfile(
    const v1::EraseProfileRequest& request, absl::Time deadline) {
  auto id = ParseProfileName(request.name(), "name");
  if (!id.ok()) return id.status();
  if (request.reason().size() > kMaxEraseReasonBytes) {
    return runtime::InvalidField("reason", absl::StrCat("must be at most ", kMaxEraseReasonBytes,
                                                        " bytes, got ", request.reason().size()));
  }
  absl::Status status = Write(
      [&](store::Tx& tx, AfterCommit& after) {
        return EraseInTx(tx, after, *id, request.reason(), /*is_delete=*/false, 0);
      },
      deadline);
  if (!status.ok()) return status;
  v1::EraseProfileResponse response;
  response.set_name(request.name());
  return response;
}

// ---------------------------------------------------------------------------------------
// Merge

absl::StatusOr<std::vector<v1::Interaction>> ProfileService::WholeTimeline(store::Tx& tx,
                                                                           const std::string& id) {
  std::vector<v1::Interaction> all;
  std::optional<TimelineCursor> cursor;
  while (true) {
    auto page = ListTimeline(tx, id, cursor, 1000);
    if (!page.ok()) return page.status();
    for (auto& interaction : *page) all.push_back(std::move(interaction));
    if (page->size() < 1000) return all;
    cursor = TimelineCursor{TimeUtil::TimestampToMicroseconds(all.back().occur_time()),
                            all.back().event_id()};
  }
}

absl::StatusOr<v1::Profile> ProfileService::MergeProfiles(const v1::MergeProfilesRequest& request,
                                                          absl::Time deadline) {
  std::vector<FieldViolation> violations;
  auto survivor_id = ParseProfileName(request.survivor(), "survivor");
  if (!survivor_id.ok()) return survivor_id.status();
  if (request.merged_size() == 0 || static_cast<size_t>(request.merged_size()) > kMaxMerged) {
    violations.push_back({"merged", absl::StrCat("must hold 1 to ", kMaxMerged,
                                                 " names, got ", request.merged_size())});
  }
  std::vector<std::string> merged_ids;
  for (int i = 0; i < request.merged_size(); ++i) {
    const std::string field = absl::StrCat("merged[", i, "]");
    auto id = ParseProfileName(request.merged(i), field);
    if (!id.ok()) {
      for (auto& v : runtime::FieldViolations(id.status())) violations.push_back(v);
    } else if (*id == *survivor_id) {
      violations.push_back({field, "is the survivor; a profile cannot be merged into itself"});
    } else if (std::find(merged_ids.begin(), merged_ids.end(), *id) != merged_ids.end()) {
      violations.push_back({field, "is listed twice"});
    } else {
      merged_ids.push_back(*id);
    }
  }
  CheckRequestId(request.request_id(), "request_id", violations);
  if (absl::Status s = ToStatus(std::move(violations)); !s.ok()) return s;

  v1::Profile result;
  absl::Status status = Write(
      [&](store::Tx& tx, AfterCommit& after) -> absl::Status {
        auto earlier = EarlierResult(tx, request.request_id());
        if (!earlier.ok()) return earlier.status();
        if (earlier->has_value()) {
          result = std::move(**earlier);
          return absl::OkStatus();
        }
        auto survivor = LoadProfile(tx, *survivor_id, RowLock::kForUpdate);
        if (!survivor.ok()) return survivor.status();
        if (survivor->profile.state() == v1::PROFILE_STATE_MERGED) {
          return runtime::Error(absl::StatusCode::kFailedPrecondition, "SURVIVOR_MERGED",
                                absl::StrCat(request.survivor(), " was merged into ",
                                             ProfileName(survivor->merged_into), "; use that"));
        }
        if (survivor->profile.state() != v1::PROFILE_STATE_ACTIVE) return NotFound(*survivor_id);
        std::vector<StoredProfile> merged_rows;
        for (size_t i = 0; i < merged_ids.size(); ++i) {
          auto row = LoadProfile(tx, merged_ids[i], RowLock::kForUpdate);
          if (!row.ok()) return row.status();
          if (row->profile.state() == v1::PROFILE_STATE_MERGED) {
            if (row->merged_into == *survivor_id) continue;  // already done
            return runtime::Error(absl::StatusCode::kFailedPrecondition, "ALREADY_MERGED",
                                  absl::StrCat(ProfileName(merged_ids[i]), " was merged into ",
                                               ProfileName(row->merged_into)));
          }
          if (row->profile.state() != v1::PROFILE_STATE_ACTIVE) return NotFound(merged_ids[i]);
          if (row->profile.kind() != survivor->profile.kind()) {
            return runtime::InvalidField(absl::StrCat("merged[", i, "]"),
                                         "is of a different kind than the survivor");
          }
          merged_rows.push_back(std::move(*row));
        }
        if (merged_rows.empty()) {
          result = survivor->profile;
          return absl::OkStatus();
        }
        std::sort(merged_rows.begin(), merged_rows.end(),
                  [](const StoredProfile& a, const StoredProfile& b) {
                    return TimeUtil::TimestampToMicroseconds(a.profile.update_time()) >
                           TimeUtil::TimestampToMicroseconds(b.profile.update_time());
                  });
        std::vector<v1::Profile> merged_profiles;
        for (const auto& row : merged_rows) merged_profiles.push_back(row.profile);
        StoredProfile next = *survivor;
        next.profile = MergeProfileData(survivor->profile, merged_profiles);
        if (static_cast<size_t>(next.profile.identities_size()) > kMaxIdentities ||
            static_cast<size_t>(next.profile.traits_size()) > kMaxTraits ||
            static_cast<size_t>(next.profile.account_memberships_size()) >
                kMaxAccountMemberships) {
          return runtime::Error(absl::StatusCode::kFailedPrecondition, "MERGE_EXCEEDS_LIMITS",
                                "the merged profile would exceed the identity, trait or "
                                "membership limits; remove some first");
        }

        for (const StoredProfile& row : merged_rows) {
          const std::string merged_id = *ParseProfileName(row.profile.name(), "name");
          if (absl::Status s = ReassignInteractions(tx, merged_id, *survivor_id); !s.ok()) return s;
          if (absl::Status s = DeleteDependentRows(tx, merged_id); !s.ok()) return s;
          if (row.profile.kind() == v1::PROFILE_KIND_ACCOUNT) {
            auto members = MembersOf(tx, merged_id);
            if (!members.ok()) return members.status();
            for (const std::string& member_id : *members) {
              auto member = LoadProfile(tx, member_id, RowLock::kForUpdate);
              if (!member.ok()) return member.status();
              StoredProfile updated_member = *member;
              v1::Profile& mp = updated_member.profile;
              for (auto& membership : *mp.mutable_account_memberships()) {
                if (membership.account() == row.profile.name()) {
                  membership.set_account(ProfileName(*survivor_id));
                }
              }
              // Two memberships may now name the survivor: fold their roles together.
              v1::Profile folded = MergeProfileData(v1::Profile(), {mp});
              mp.mutable_account_memberships()->Swap(folded.mutable_account_memberships());
              mp.set_version(member->profile.version() + 1);
              *mp.mutable_update_time() = NowProto();
              if (absl::Status s = profiles::UpdateProfile(tx, updated_member, member->profile.version());
                  !s.ok()) {
                return s;
              }
              if (absl::Status s = ReplaceMemberships(tx, member_id, mp); !s.ok()) return s;
              after.invalidations.emplace_back(member_id, mp.version());
            }
          }
          StoredProfile tombstone;
          v1::Profile& t = tombstone.profile;
          t.set_name(row.profile.name());
          t.set_kind(row.profile.kind());
          t.set_state(v1::PROFILE_STATE_MERGED);
          t.set_version(row.profile.version() + 1);
          *t.mutable_create_time() = row.profile.create_time();
          *t.mutable_update_time() = NowProto();
          tombstone.merged_into = *survivor_id;
          if (absl::Status s = profiles::UpdateProfile(tx, tombstone, row.profile.version()); !s.ok()) {
            return s;
          }
          if (absl::Status s = RepointMerged(tx, merged_id, *survivor_id); !s.ok()) return s;
          after.invalidations.emplace_back(merged_id, t.version());
        }
        auto timeline = WholeTimeline(tx, *survivor_id);
        if (!timeline.ok()) return timeline.status();
        *next.profile.mutable_aggregates() = ComputeAggregates(std::move(*timeline));
        // The feedback figures do not come from interactions: they combine the summaries
        // of the survivor and of every name now merged into it.
        auto summaries = LoadFeedbackSummaries(tx, FeedbackIds(next.profile));
        if (!summaries.ok()) return summaries.status();
        SetFeedback(*summaries, *next.profile.mutable_aggregates());
        next.profile.set_version(survivor->profile.version() + 1);
        *next.profile.mutable_update_time() = NowProto();
        if (absl::Status s = profiles::UpdateProfile(tx, next, survivor->profile.version()); !s.ok()) {
          return s;
        }
        if (absl::Status s = ReplaceIdentities(tx, *survivor_id, next.profile); !s.ok()) return s;
        if (absl::Status s = ReplaceTraitIndex(tx, *survivor_id, next.profile); !s.ok()) return s;
        if (absl::Status s = ReplaceMemberships(tx, *survivor_id, next.profile); !s.ok()) return s;
        if (absl::Status s = RememberRequest(tx, request.request_id(), *survivor_id); !s.ok()) {
          return s;
        }
        ev::ProfilesMerged merged_event;
        merged_event.set_survivor(next.profile.name());
        for (const auto& row : merged_rows) merged_event.add_merged(row.profile.name());
        merged_event.set_version(next.profile.version());
        if (absl::Status s = Emit(tx, after, next.profile.name(), merged_event); !s.ok()) return s;
        after.invalidations.emplace_back(*survivor_id, next.profile.version());
        result = next.profile;
        return absl::OkStatus();
      },
      deadline);
  if (!status.ok()) return status;
  SetOutputFields(result);
  return result;
}

// ---------------------------------------------------------------------------------------
// Interactions

absl::StatusOr<v1::RecordInteractionsResponse> ProfileService::RecordInteractions(
    const v1::RecordInteractionsRequest& request, absl::Time deadline) {
  auto id = ParseProfileName(request.profile(), "profile");
  if (!id.ok()) return id.status();
  if (request.interactions_size() == 0 ||
      static_cast<size_t>(request.interactions_size()) > kMaxInteractionsPerCall) {
    return runtime::InvalidField(
        "interactions", absl::StrCat("must hold 1 to ", kMaxInteractionsPerCall,
                                     " interactions, got ", request.interactions_size()));
  }
  std::vector<FieldViolation> violations;
  std::vector<v1::Interaction> interactions(request.interactions().begin(),
                                            request.interactions().end());
  const absl::Time now = deps_.clock->Now();
  for (size_t i = 0; i < interactions.size(); ++i) {
    NormalizeInteraction(interactions[i], absl::StrCat("interactions[", i, "]"), now, violations);
  }
  if (absl::Status s = ToStatus(std::move(violations)); !s.ok()) return s;
  // A repeated event id inside one batch counts once, like a repeat across calls.
  std::vector<const v1::Interaction*> unique;
  std::set<std::string> seen;
  for (const auto& interaction : interactions) {
    if (seen.insert(interaction.event_id()).second) unique.push_back(&interaction);
  }

  v1::RecordInteractionsResponse response;
  absl::Status status = Write(
      [&](store::Tx& tx, AfterCommit& after) -> absl::Status {
        auto row = ResolveInTx(tx, *id);
        if (!row.ok()) return row.status();
        const std::string target = *ParseProfileName(row->profile.name(), "name");
        auto stored = InsertInteractions(tx, target, unique);
        if (!stored.ok()) return stored.status();
        response.set_recorded_count(static_cast<int32_t>(stored->size()));
        response.set_duplicate_count(static_cast<int32_t>(interactions.size() - stored->size()));
        if (stored->empty()) {
          *response.mutable_profile() = row->profile;
          return absl::OkStatus();
        }
        std::set<std::string> stored_ids(stored->begin(), stored->end());
        StoredProfile next = *row;
        ev::InteractionRecorded recorded;
        recorded.set_profile(next.profile.name());
        for (const v1::Interaction* interaction : unique) {
          if (stored_ids.count(interaction->event_id()) == 0) continue;
          ApplyInteraction(*interaction, *next.profile.mutable_aggregates());
          recorded.add_event_ids(interaction->event_id());
          recorded.add_types(interaction->type());
          ev::InteractionSummary& summary = *recorded.add_interactions();
          summary.set_event_id(interaction->event_id());
          summary.set_channel(ChannelName(interaction->channel()));
          summary.set_type(interaction->type());
          *summary.mutable_occur_time() = interaction->occur_time();
          summary.set_monetary_value(interaction->monetary_value());
          summary.set_currency_code(interaction->currency_code());
        }
        next.profile.set_version(row->profile.version() + 1);
        *next.profile.mutable_update_time() = NowProto();
        if (absl::Status s = profiles::UpdateProfile(tx, next, row->profile.version()); !s.ok()) {
          return s;
        }
        recorded.set_version(next.profile.version());
        if (absl::Status s = Emit(tx, after, next.profile.name(), recorded); !s.ok()) return s;
        after.invalidations.emplace_back(target, next.profile.version());
        *response.mutable_profile() = next.profile;
        return absl::OkStatus();
      },
      deadline);
  if (!status.ok()) return status;
  SetOutputFields(*response.mutable_profile());
  return response;
}

absl::StatusOr<v1::ListInteractionsResponse> ProfileService::ListInteractions(
    const v1::ListInteractionsRequest& request, absl::Time deadline) {
  auto id = ParseProfileName(request.profile(), "profile");
  if (!id.ok()) return id.status();
  auto page_size = PageSize(request.page_size());
  if (!page_size.ok()) return page_size.status();
  std::optional<TimelineCursor> cursor;
  if (!request.page_token().empty()) {
    auto raw = DecodeToken(request.page_token(), "timeline", request.profile());
    if (!raw.ok()) return raw.status();
    std::pair<std::string, std::string> parts = absl::StrSplit(*raw, absl::MaxSplits('|', 1));
    int64_t micros = 0;
    if (!absl::SimpleAtoi(parts.first, &micros)) {
      return runtime::InvalidField("page_token", "is not a token returned by this method");
    }
    cursor = TimelineCursor{micros, parts.second};
  }
  v1::ListInteractionsResponse response;
  absl::Status status = deps_.db->Transact(
      [&](store::Tx& tx) -> absl::Status {
        auto row = ResolveInTx(tx, *id, RowLock::kNone);
        if (!row.ok()) return row.status();
        auto page = ListTimeline(tx, *ParseProfileName(row->profile.name(), "name"), cursor,
                                 *page_size + 1);
        if (!page.ok()) return page.status();
        bool more = page->size() > static_cast<size_t>(*page_size);
        if (more) page->resize(*page_size);
        for (auto& interaction : *page) *response.add_interactions() = std::move(interaction);
        if (more) {
          const auto& last = *response.interactions().rbegin();
          response.set_next_page_token(EncodeToken(
              "timeline", request.profile(),
              absl::StrCat(TimeUtil::TimestampToMicroseconds(last.occur_time()), "|",
                           last.event_id())));
        }
        return absl::OkStatus();
      },
      {.deadline = deadline, .read_only = true});
  if (!status.ok()) return status;
  return response;
}

absl::StatusOr<v1::ExportProfileResponse> ProfileService::ExportProfile(
    const v1::ExportProfileRequest& request, absl::Time deadline) {
  auto id = ParseProfileName(request.name(), "name");
  if (!id.ok()) return id.status();
  v1::ExportProfileResponse response;
  absl::Status status = deps_.db->Transact(
      [&](store::Tx& tx) -> absl::Status {
        auto row = ResolveInTx(tx, *id, RowLock::kNone);
        if (!row.ok()) return row.status();
        *response.mutable_profile() = row->profile;
        auto timeline = WholeTimeline(tx, *ParseProfileName(row->profile.name(), "name"));
        if (!timeline.ok()) return timeline.status();
        for (auto& interaction : *timeline) *response.add_interactions() = std::move(interaction);
        return absl::OkStatus();
      },
      {.deadline = deadline, .read_only = true});
  if (!status.ok()) return status;
  SetOutputFields(*response.mutable_profile());
  // The other services' parts, outside the transaction: they may take until the deadline.
  if (deps_.export_sources == nullptr) {
    return absl::FailedPreconditionError(
        "ExportProfile needs the Segmentation, Feedback and Reporting services, and this "
        "process is connected to none");
  }
  const v1::Profile& profile = response.profile();
  auto parts = deps_.export_sources->Export(
      profile.name(), {profile.merged_profiles().begin(), profile.merged_profiles().end()},
      deadline);
  if (!parts.ok()) return parts.status();
  *response.mutable_segmentation() = std::move(parts->segmentation);
  *response.mutable_feedback() = std::move(parts->feedback);
  *response.mutable_reporting() = std::move(parts->reporting);
  return response;
}

// ---------------------------------------------------------------------------------------
// Feedback events

absl::Status ProfileService::HandleFeedbackEvent(const ev::Event& event) {
  const google::protobuf::Any& payload = event.payload();
  ev::ResponseReceived response;
  ev::FollowUpChanged follow_up;
  const std::string* profile = nullptr;
  const ev::FeedbackSummary* summary = nullptr;
  bool unpacked = false;
  if (payload.Is<ev::ResponseReceived>()) {
    unpacked = payload.UnpackTo(&response);
    profile = &response.profile();
    summary = &response.profile_feedback();
  } else if (payload.Is<ev::FollowUpChanged>()) {
    unpacked = payload.UnpackTo(&follow_up);
    profile = &follow_up.profile();
    summary = &follow_up.profile_feedback();
  } else {
    return absl::OkStatus();  // not an event Profiles uses
  }
  // FollowUpChanged carries figures only when the open follow-up count changed.
  if (unpacked && summary->version() == 0) return absl::OkStatus();
  std::vector<FieldViolation> violations;
  auto id = ParseProfileName(*profile, "profile");
  if (!id.ok()) violations = runtime::FieldViolations(id.status());
  CheckFeedbackSummary(*summary, "profile_feedback", violations);
  if (absl::Status s = ToStatus(std::move(violations)); !unpacked || !s.ok()) {
    // Redelivery cannot make it applicable: the bus dead-letters it at once (logged as
    // event_dead_lettered, kept for an operator to inspect).
    return events::PoisonError(absl::StrCat(
        "event ", event.id(), " (", event.type(), "): ",
        unpacked ? std::string(s.message()) : "payload does not decode"));
  }
  // The handler is built per attempt so that its effect fills this attempt's AfterCommit
  // (cache invalidation and relay wake-up once the transaction committed).
  // The summary's version makes a redelivery harmless (the stored summary is as new), so
  // no event id is recorded: a duplicate costs one conditional upsert that writes nothing.
  return Retry([&](AfterCommit& after) {
    return deps_.db->Transact(
        [&](store::Tx& tx) { return ApplyFeedbackInTx(tx, after, *id, *summary); });
  });
}

absl::Status ProfileService::ApplyFeedbackInTx(store::Tx& tx, AfterCommit& after,
                                               const std::string& id,
                                               const ev::FeedbackSummary& summary) {
  auto row = ResolveInTx(tx, id);
  // Unknown, erased, or merged into a profile since erased: nothing to hold it.
  if (row.status().code() == absl::StatusCode::kNotFound) return absl::OkStatus();
  if (!row.ok()) return row.status();
  auto stored = StoreFeedbackSummary(tx, id, summary);
  if (!stored.ok()) return stored.status();
  if (!*stored) return absl::OkStatus();  // the stored summary is as new or newer
  auto summaries = LoadFeedbackSummaries(tx, FeedbackIds(row->profile));
  if (!summaries.ok()) return summaries.status();
  StoredProfile next = *row;
  v1::Profile& p = next.profile;
  if (!SetFeedback(*summaries, *p.mutable_aggregates())) return absl::OkStatus();
  p.set_version(row->profile.version() + 1);
  *p.mutable_update_time() = NowProto();
  if (absl::Status s = profiles::UpdateProfile(tx, next, row->profile.version()); !s.ok()) {
    return s;
  }
  ev::ProfileChanged changed;
  changed.set_profile(p.name());
  changed.add_changed_paths("aggregates");
  changed.set_version(p.version());
  changed.set_persona(p.persona());
  if (absl::Status s = Emit(tx, after, p.name(), changed); !s.ok()) return s;
  after.invalidations.emplace_back(*ParseProfileName(p.name(), "name"), p.version());
  return absl::OkStatus();
}

absl::StatusOr<int64_t> ProfileService::PurgeExpiredRequests() {
  return PurgeRequests(*deps_.db, deps_.clock->Now() - absl::Hours(24));
}

}  // namespace centric::profiles
