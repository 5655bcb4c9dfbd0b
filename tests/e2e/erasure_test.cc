// The proof of the right to erasure and of the data-subject access request, end to end on
// the real binaries: a person with distinctive data everywhere (identities, name, traits,
// interaction properties, survey comments, a follow-up note, a feature-request verbatim,
// segment and persona membership, an experiment exposure and conversion), exported by
// ExportProfile from all four services; then EraseProfile, and once the services have
// consumed the events, no store table, no Redis value and no service response holds any
// of it, while the KPI totals stay as they were. Logs are searched and reported.
//
// Every distinctive string contains one random tag (per run), except the phone number,
// whose digits are searched for separately; ids of profiles, segments, surveys and
// experiments never contain the tag (tombstones and audit records keep ids by design).
#include <google/protobuf/text_format.h>
#include <grpcpp/grpcpp.h>
#include <hiredis/hiredis.h>

#include <algorithm>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "centric/feedback/v1/feedback_service.grpc.pb.h"
#include "centric/profiles/v1/profiles_service.grpc.pb.h"
#include "centric/reporting/v1/reporting_service.grpc.pb.h"
#include "centric/segmentation/v1/segmentation_service.grpc.pb.h"
#include "gtest/gtest.h"
#include "libs/runtime/resource.h"
#include "libs/security/access.h"
#include "libs/store/store.h"
#include "libs/testing/servers.h"
#include "tests/e2e/fixtures.h"
#include "tests/e2e/processes.h"

namespace centric::e2e {
namespace {

namespace pv1 = ::centric::profiles::v1;
namespace sv1 = ::centric::segmentation::v1;
namespace fv1 = ::centric::feedback::v1;
namespace rv1 = ::centric::reporting::v1;

// ---- Calls ------------------------------------------------------------------------

template <typename Stub, typename Request, typename Response>
grpc::Status Rpc(Stub& stub,
                 grpc::Status (Stub::*method)(grpc::ClientContext*, const Request&, Response*),
                 const Request& request, Response* response) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  return (stub.*method)(&context, request, response);
}

// "CODE: message" of a failed call, for assertion messages.
std::string Show(const grpc::Status& status) {
  return absl::StrCat(status.error_code(), ": ", status.error_message());
}

std::string Text(const google::protobuf::Message& message) {
  std::string text;
  google::protobuf::TextFormat::PrintToString(message, &text);
  return text;
}

struct Endpoints {
  std::unique_ptr<pv1::Profiles::Stub> profiles;
  std::unique_ptr<sv1::Segmentation::Stub> segmentation;
  std::unique_ptr<fv1::Feedback::Stub> feedback;
  std::unique_ptr<rv1::Reporting::Stub> reporting;

  static Endpoints Connect(const std::string& profiles, const std::string& segmentation,
                           const std::string& feedback, const std::string& reporting) {
    auto channel = [](const std::string& address) {
      return grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
    };
    return {pv1::Profiles::NewStub(channel(profiles)),
            sv1::Segmentation::NewStub(channel(segmentation)),
            fv1::Feedback::NewStub(channel(feedback)), rv1::Reporting::NewStub(channel(reporting))};
  }
};

// ---- The person -------------------------------------------------------------------

std::string RandomLetters(std::mt19937_64& rng, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out.push_back(static_cast<char>('a' + rng() % 26));
  return out;
}

// Everything that identifies the person, unique per run.
struct Person {
  explicit Person(std::mt19937_64& rng) {
    tag = RandomLetters(rng, 12);
    std::string tag_cap = tag;
    tag_cap[0] = absl::ascii_toupper(tag_cap[0]);
    id = absl::StrCat("erasure-", RandomLetters(rng, 8));
    alias_id = absl::StrCat("alias-", RandomLetters(rng, 8));
    for (int i = 0; i < 8; ++i) phone_digits.push_back(static_cast<char>('0' + rng() % 10));
    phone_digits = absl::StrCat("49151", phone_digits);
    email = absl::StrCat("zelda.", tag, "@example.org");
    alias_email = absl::StrCat("z.", tag, "@example.net");
    display_name = absl::StrCat("Zelda ", tag_cap, "son");
    nickname = absl::StrCat("nick", tag);
    address = absl::StrCat(tag_cap, "strasse 12, Berlin");
    search = absl::StrCat("gift for ", tag);
    comment = absl::StrCat("This is ", display_name, ": my parcel never arrived");
    alias_comment = absl::StrCat("Great shop, says ", tag, " from the alias account");
    note = absl::StrCat("Called ", display_name, " back, promised a refund (", tag, ")");
    verbatim = absl::StrCat("I am ", display_name, " and I want a dark mode, ", tag);
  }
  std::string name() const { return absl::StrCat("profiles/", id); }
  std::string alias_name() const { return absl::StrCat("profiles/", alias_id); }
  std::string phone() const { return absl::StrCat("+", phone_digits); }
  // What must appear nowhere after the erasure (compared case-insensitively).
  std::vector<std::string> Needles() const { return {tag, phone_digits}; }
  // Every distinctive value, each of which the export must hold.
  std::vector<std::string> Values() const {
    return {email,  alias_email, phone(),       display_name, nickname, address,
            search, comment,     alias_comment, note,         verbatim};
  }

  std::string tag, id, alias_id, phone_digits, email, alias_email, display_name, nickname, address,
      search, comment, alias_comment, note, verbatim;
};

// Where `text` contains a needle: "<where>: ...<context>..." per hit.
void FindNeedles(const std::vector<std::string>& needles, const std::string& where,
                 const std::string& text, std::vector<std::string>& found) {
  const std::string lower = absl::AsciiStrToLower(text);
  for (const std::string& needle : needles) {
    size_t at = lower.find(absl::AsciiStrToLower(needle));
    if (at == std::string::npos) continue;
    size_t from = at > 60 ? at - 60 : 0;
    std::string context = text.substr(from, needle.size() + 120);
    for (char& c : context) {
      if (!absl::ascii_isprint(static_cast<unsigned char>(c))) c = '.';
    }
    found.push_back(absl::StrCat(where, ": ...", context, "..."));
  }
}

// ---- Searching the stores -----------------------------------------------------------

// Every value of every table of `db`; bytes columns as they are stored (serialized
// protos hold their strings verbatim). Adds to `tables` how many tables were read.
void SearchDatabase(store::Database& db, const std::string& label,
                    const std::vector<std::string>& needles, std::vector<std::string>& found,
                    int& tables) {
  struct Column {
    std::string name;
    bool bytes = false;
  };
  std::vector<std::pair<std::string, std::vector<Column>>> schema;
  if (db.backend() == store::Backend::kPostgres) {
    auto rows = db.Query(
        "SELECT table_name::text, column_name::text, data_type::text FROM "
        "information_schema.columns "
        "WHERE table_schema = 'public' ORDER BY table_name, ordinal_position");
    ASSERT_TRUE(rows.ok()) << rows.status();
    for (const store::Row& row : *rows) {
      if (schema.empty() || schema.back().first != row.GetString(0)) {
        schema.push_back({row.GetString(0), {}});
      }
      schema.back().second.push_back({row.GetString(1), row.GetString(2) == "bytea"});
    }
  } else {
    auto rows = db.Query(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
        "ORDER BY name");
    ASSERT_TRUE(rows.ok()) << rows.status();
    for (const store::Row& row : *rows) schema.push_back({row.GetString(0), {{"*", false}}});
  }
  for (const auto& [table, columns] : schema) {
    std::vector<std::string> select;
    for (const Column& c : columns) {
      if (c.name == "*" || c.bytes) {
        select.push_back(c.name == "*" ? "*" : absl::StrCat("\"", c.name, "\""));
      } else {
        select.push_back(absl::StrCat("CAST(\"", c.name, "\" AS TEXT)"));
      }
    }
    auto rows =
        db.Query(absl::StrCat("SELECT ", absl::StrJoin(select, ", "), " FROM \"", table, "\""));
    ASSERT_TRUE(rows.ok()) << table << ": " << rows.status();
    ++tables;
    for (size_t r = 0; r < rows->size(); ++r) {
      const store::Row& row = (*rows)[r];
      std::string text;
      for (size_t c = 0; c < row.size(); ++c) {
        std::visit(
            [&](const auto& v) {
              using T = std::decay_t<decltype(v)>;
              if constexpr (std::is_same_v<T, std::string>) {
                absl::StrAppend(&text, v, " | ");
              } else if constexpr (std::is_same_v<T, store::Blob>) {
                absl::StrAppend(&text, v.data, " | ");
              } else if constexpr (!std::is_same_v<T, std::monostate>) {
                absl::StrAppend(&text, v, " | ");
              }
            },
            row.Get(c));
      }
      FindNeedles(needles, absl::StrCat(label, " table ", table, " row ", r), text, found);
    }
  }
}

// Every string inside a reply (nested arrays flattened).
void Flatten(const redisReply* reply, std::string& out) {
  if (reply == nullptr) return;
  switch (reply->type) {
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
      out.append(reply->str, reply->len);
      out.append(" | ");
      break;
    case REDIS_REPLY_INTEGER:
      absl::StrAppend(&out, reply->integer, " | ");
      break;
    case REDIS_REPLY_ARRAY:  // RESP2 replies (hiredis speaks RESP2 by default)
      for (size_t i = 0; i < reply->elements; ++i) Flatten(reply->element[i], out);
      break;
    default:
      break;
  }
}

struct ReplyDeleter {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using Reply = std::unique_ptr<redisReply, ReplyDeleter>;

Reply Command(redisContext* redis, const std::vector<std::string>& args) {
  std::vector<const char*> argv;
  std::vector<size_t> lengths;
  for (const std::string& a : args) {
    argv.push_back(a.data());
    lengths.push_back(a.size());
  }
  return Reply(static_cast<redisReply*>(
      redisCommandArgv(redis, static_cast<int>(argv.size()), argv.data(), lengths.data())));
}

// Every key and every value of every type: strings, hashes, lists, sets, sorted sets and
// streams (every entry, and the consumer groups and their consumers).
void SearchRedis(int port, const std::vector<std::string>& needles, std::vector<std::string>& found,
                 int& keys) {
  redisContext* redis = redisConnect("127.0.0.1", port);
  ASSERT_TRUE(redis != nullptr && redis->err == 0) << "cannot connect to Redis";
  std::unique_ptr<redisContext, void (*)(redisContext*)> owner(redis, redisFree);
  std::string cursor = "0";
  do {
    Reply scan = Command(redis, {"SCAN", cursor, "COUNT", "1000"});
    ASSERT_TRUE(scan != nullptr && scan->type == REDIS_REPLY_ARRAY && scan->elements == 2);
    cursor.assign(scan->element[0]->str, scan->element[0]->len);
    for (size_t i = 0; i < scan->element[1]->elements; ++i) {
      const redisReply* k = scan->element[1]->element[i];
      const std::string key(k->str, k->len);
      ++keys;
      Reply type = Command(redis, {"TYPE", key});
      ASSERT_TRUE(type != nullptr);
      const std::string t(type->str, type->len);
      std::vector<std::vector<std::string>> reads;
      if (t == "string") {
        reads = {{"GET", key}};
      } else if (t == "hash") {
        reads = {{"HGETALL", key}};
      } else if (t == "list") {
        reads = {{"LRANGE", key, "0", "-1"}};
      } else if (t == "set") {
        reads = {{"SMEMBERS", key}};
      } else if (t == "zset") {
        reads = {{"ZRANGE", key, "0", "-1", "WITHSCORES"}};
      } else if (t == "stream") {
        reads = {{"XRANGE", key, "-", "+"}, {"XINFO", "GROUPS", key}};
      } else {
        ADD_FAILURE() << "Redis key " << key << " has a type this search cannot read: " << t;
      }
      std::string text = key + " | ";
      for (const auto& read : reads) {
        Reply value = Command(redis, read);
        Flatten(value.get(), text);
      }
      FindNeedles(needles, absl::StrCat("Redis key ", key, " (", t, ")"), text, found);
    }
  } while (cursor != "0");
}

// ---- The scenario ---------------------------------------------------------------------

// What the stores hold, searched: findings, and how many tables and keys were read.
struct StoreSearch {
  std::function<void(const std::vector<std::string>& needles, std::vector<std::string>& found,
                     int& tables, int& keys)>
      run;
};

// Each service's part of an ExportProfile document, unpacked.
struct Parts {
  sv1::ExportProfileDataResponse segmentation;
  fv1::ExportProfileDataResponse feedback;
  rv1::ExportProfileDataResponse reporting;
};

bool Unpack(const pv1::ExportProfileResponse& exported, Parts& parts) {
  return exported.segmentation().UnpackTo(&parts.segmentation) &&
         exported.feedback().UnpackTo(&parts.feedback) &&
         exported.reporting().UnpackTo(&parts.reporting);
}

// The document as text with the parts expanded (Any prints its message when the type is
// linked, which it is here).
std::string ExportText(const pv1::ExportProfileResponse& exported, const Parts& parts) {
  return absl::StrCat(Text(exported), Text(parts.segmentation), Text(parts.feedback),
                      Text(parts.reporting));
}

// Personal data the document carries, as the personal_data annotations mark it.
std::vector<std::string> PersonalData(const pv1::ExportProfileResponse& exported,
                                      const Parts& parts) {
  std::vector<std::string> out = security::PersonalDataOf(exported);
  for (const google::protobuf::Message* m : std::initializer_list<const google::protobuf::Message*>{
           &parts.segmentation, &parts.feedback, &parts.reporting}) {
    for (std::string& value : security::PersonalDataOf(*m)) out.push_back(std::move(value));
  }
  return out;
}

// The KPI series whose totals an erasure must not change, for today.
std::vector<std::string> KpiTotals(rv1::Reporting::Stub& reporting) {
  const absl::Time today = absl::FromUnixSeconds(absl::ToUnixSeconds(absl::Now()) / 86400 * 86400);
  std::vector<std::string> out;
  for (rv1::Kpi kpi :
       {rv1::KPI_NPS, rv1::KPI_RESPONSES, rv1::KPI_REVENUE, rv1::KPI_ACTIVE_CUSTOMERS,
        rv1::KPI_REVENUE_PER_CUSTOMER, rv1::KPI_HISTORICAL_CLV}) {
    for (rv1::Dimension dimension : {rv1::DIMENSION_UNSPECIFIED, rv1::DIMENSION_SEGMENT}) {
      rv1::GetKpiSeriesRequest request;
      request.set_kpi(kpi);
      *request.mutable_start_time() = runtime::ToTimestamp(today - absl::Hours(24));
      *request.mutable_end_time() = runtime::ToTimestamp(today + absl::Hours(48));
      request.set_granularity(rv1::GRANULARITY_DAY);
      if (kpi == rv1::KPI_NPS || kpi == rv1::KPI_RESPONSES) request.set_dimension(dimension);
      rv1::KpiSeries series;
      grpc::Status status = Rpc(reporting, &rv1::Reporting::Stub::GetKpiSeries, request, &series);
      EXPECT_TRUE(status.ok()) << Show(status);
      out.push_back(Text(series));
    }
  }
  return out;
}

// Definitions the person's data refers to: segment, persona, survey with a detractor
// policy, feature request, a running experiment.
void CreateDefinitions(Endpoints& e) {
  {
    sv1::CreateSegmentRequest request;
    request.set_segment_id("gold");
    request.mutable_segment()->set_display_name("Gold tier");
    request.mutable_segment()->set_owner_team("growth");
    request.mutable_segment()->set_rule("profile.traits.tier == \"gold\"");
    sv1::Segment out;
    grpc::Status s = Rpc(*e.segmentation, &sv1::Segmentation::Stub::CreateSegment, request, &out);
    ASSERT_TRUE(s.ok()) << Show(s);
  }
  {
    sv1::CreatePersonaRequest request;
    request.set_persona_id("loyal");
    request.mutable_persona()->set_display_name("Loyal");
    request.mutable_persona()->set_assignment_rule("profile.traits.tier == \"gold\"");
    request.mutable_persona()->set_priority(10);
    sv1::Persona out;
    grpc::Status s = Rpc(*e.segmentation, &sv1::Segmentation::Stub::CreatePersona, request, &out);
    ASSERT_TRUE(s.ok()) << Show(s);
  }
  CreateNpsSurveyWithDetractorFollowUps(*e.feedback, "nps");
  {
    fv1::CreateFeatureRequestRequest request;
    request.set_feature_request_id("dark-mode");
    request.mutable_feature_request()->set_title("Dark mode");
    request.mutable_feature_request()->set_problem("Screens are too bright at night");
    fv1::FeatureRequest out;
    grpc::Status s = Rpc(*e.feedback, &fv1::Feedback::Stub::CreateFeatureRequest, request, &out);
    ASSERT_TRUE(s.ok()) << Show(s);
  }
  {
    rv1::CreateExperimentRequest request;
    request.set_experiment_id("banner");
    rv1::Experiment& x = *request.mutable_experiment();
    x.set_display_name("Free shipping banner");
    x.set_change("banner on the basket page");
    for (const char* id : {"control", "treatment"}) {
      rv1::Variant* v = x.add_variants();
      v->set_id(id);
      v->set_weight(1);
    }
    x.mutable_primary_metric()->set_interaction_type("purchase");
    x.mutable_primary_metric()->mutable_window()->set_seconds(7 * 86400);
    rv1::Experiment out;
    grpc::Status s = Rpc(*e.reporting, &rv1::Reporting::Stub::CreateExperiment, request, &out);
    ASSERT_TRUE(s.ok()) << Show(s);
    rv1::StartExperimentRequest start;
    start.set_name(out.name());
    s = Rpc(*e.reporting, &rv1::Reporting::Stub::StartExperiment, start, &out);
    ASSERT_TRUE(s.ok()) << Show(s);
  }
}

pv1::Profile CreateProfile(Endpoints& e, const std::string& id,
                           const std::function<void(pv1::Profile&)>& fill) {
  pv1::CreateProfileRequest request;
  request.set_profile_id(id);
  pv1::Profile& p = *request.mutable_profile();
  p.set_kind(pv1::PROFILE_KIND_PERSON);
  for (int purpose = pv1::CONSENT_PURPOSE_MARKETING_EMAIL;
       purpose <= pv1::CONSENT_PURPOSE_PROFILING; ++purpose) {
    pv1::Consent* c = p.add_consents();
    c->set_purpose(static_cast<pv1::ConsentPurpose>(purpose));
    c->set_status(pv1::CONSENT_STATUS_GRANTED);
  }
  fill(p);
  pv1::Profile out;
  grpc::Status s = Rpc(*e.profiles, &pv1::Profiles::Stub::CreateProfile, request, &out);
  EXPECT_TRUE(s.ok()) << id << ": " << Show(s);
  return out;
}

fv1::Response Submit(Endpoints& e, const std::string& profile, int score,
                     const std::string& comment) {
  fv1::SubmitResponseRequest request;
  request.set_parent("surveys/nps");
  request.mutable_response()->set_profile(profile);
  request.mutable_response()->set_score(score);
  request.mutable_response()->set_comment(comment);
  request.mutable_response()->set_channel(pv1::CHANNEL_EMAIL);
  fv1::Response out;
  grpc::Status s = Rpc(*e.feedback, &fv1::Feedback::Stub::SubmitResponse, request, &out);
  EXPECT_TRUE(s.ok()) << Show(s);
  return out;
}

// The person's data in every service, through the public APIs. Returns the name of the
// response that opened the follow-up.
std::string RecordThePerson(Endpoints& e, const Person& person) {
  CreateProfile(e, person.id, [&](pv1::Profile& p) {
    p.set_display_name(person.display_name);
    pv1::Identity* email = p.add_identities();
    email->set_type(pv1::IDENTITY_TYPE_EMAIL);
    email->set_value(person.email);
    pv1::Identity* phone = p.add_identities();
    phone->set_type(pv1::IDENTITY_TYPE_PHONE);
    phone->set_value(person.phone());
    (*p.mutable_traits())["tier"].set_string_value("gold");
    (*p.mutable_traits())["nickname"].set_string_value(person.nickname);
  });
  CreateProfile(e, person.alias_id, [&](pv1::Profile& p) {
    pv1::Identity* email = p.add_identities();
    email->set_type(pv1::IDENTITY_TYPE_EMAIL);
    email->set_value(person.alias_email);
  });
  // Feedback given under the second profile before identity resolution merged them.
  Submit(e, person.alias_name(), 9, person.alias_comment);
  {
    pv1::MergeProfilesRequest request;
    request.set_survivor(person.name());
    request.add_merged(person.alias_name());
    pv1::Profile out;
    grpc::Status s = Rpc(*e.profiles, &pv1::Profiles::Stub::MergeProfiles, request, &out);
    EXPECT_TRUE(s.ok()) << Show(s);
  }
  {
    rv1::AssignVariantRequest request;
    request.set_experiment("experiments/banner");
    request.set_profile(person.name());
    rv1::Assignment out;
    grpc::Status s = Rpc(*e.reporting, &rv1::Reporting::Stub::AssignVariant, request, &out);
    EXPECT_TRUE(s.ok()) << Show(s);
    EXPECT_TRUE(out.eligible());
  }
  {
    pv1::RecordInteractionsRequest request;
    request.set_profile(person.name());
    const google::protobuf::Timestamp now = runtime::ToTimestamp(absl::Now() + absl::Seconds(1));
    pv1::Interaction* purchase = request.add_interactions();
    purchase->set_event_id(absl::StrCat(person.id, "-order-1"));
    purchase->set_type("purchase");
    purchase->set_channel(pv1::CHANNEL_WEB);
    *purchase->mutable_occur_time() = now;
    purchase->set_monetary_value(42.5);
    (*purchase->mutable_properties()->mutable_fields())["ship_to"].set_string_value(person.address);
    pv1::Interaction* view = request.add_interactions();
    view->set_event_id(absl::StrCat(person.id, "-search-1"));
    view->set_type("search");
    view->set_channel(pv1::CHANNEL_MOBILE_APP);
    *view->mutable_occur_time() = now;
    (*view->mutable_properties()->mutable_fields())["query"].set_string_value(person.search);
    pv1::RecordInteractionsResponse out;
    grpc::Status s = Rpc(*e.profiles, &pv1::Profiles::Stub::RecordInteractions, request, &out);
    EXPECT_TRUE(s.ok()) << Show(s);
  }
  const fv1::Response detractor = Submit(e, person.name(), 2, person.comment);
  EXPECT_FALSE(detractor.follow_up().empty()) << "the detractor policy opened no follow-up";
  {
    fv1::TransitionFollowUpRequest request;
    request.set_name(detractor.follow_up());
    request.set_state(fv1::FOLLOW_UP_STATE_CONTACTED);
    request.set_actor("agent-7");
    request.set_note(person.note);
    fv1::FollowUp out;
    grpc::Status s = Rpc(*e.feedback, &fv1::Feedback::Stub::TransitionFollowUp, request, &out);
    EXPECT_TRUE(s.ok()) << Show(s);
  }
  {
    fv1::LinkFeatureRequestRequest request;
    request.mutable_link()->set_feature_request("featureRequests/dark-mode");
    request.mutable_link()->set_profile(person.name());
    request.mutable_link()->set_verbatim(person.verbatim);
    request.mutable_link()->set_response(detractor.name());
    fv1::FeatureRequestLink out;
    grpc::Status s = Rpc(*e.feedback, &fv1::Feedback::Stub::LinkFeatureRequest, request, &out);
    EXPECT_TRUE(s.ok()) << Show(s);
  }
  return detractor.name();
}

// Whether the document holds everything recorded about the person (the events have
// reached every service).
bool Complete(const pv1::ExportProfileResponse& exported, const Parts& parts) {
  auto has = [](const auto& list, const std::string& value) {
    return std::find(list.begin(), list.end(), value) != list.end();
  };
  if (exported.interactions_size() != 2 || parts.segmentation.memberships_size() != 1) {
    return false;
  }
  const sv1::ProfileMembership& m = parts.segmentation.memberships(0);
  if (!has(m.segments(), "segments/gold") || m.primary_persona() != "personas/loyal") return false;
  const fv1::ExportProfileDataResponse& f = parts.feedback;
  if (f.responses_size() != 2 || f.follow_ups_size() != 1 || f.feature_request_links_size() != 1 ||
      f.contacts_size() < 1 || f.figures_size() < 1 || f.follow_ups(0).notes_size() < 1) {
    return false;
  }
  if (parts.reporting.customers_size() != 1) return false;
  const rv1::CustomerRecord& r = parts.reporting.customers(0);
  return has(r.groups(), "segments/gold") && has(r.groups(), "personas/loyal") &&
         r.experiment_exposures_size() == 1 && r.experiment_exposures(0).conversions_size() == 1 &&
         r.purchases_size() == 1 && r.activity_size() > 0 && r.follow_ups_size() == 1 &&
         r.follow_ups(0).contacted();
}

// What each service still holds under the person's names, asked directly.
std::string HeldByServices(Endpoints& e, const Person& person) {
  std::string held;
  sv1::ExportProfileDataRequest s_request;
  s_request.set_profile(person.name());
  s_request.add_merged_profiles(person.alias_name());
  sv1::ExportProfileDataResponse s_out;
  grpc::Status s =
      Rpc(*e.segmentation, &sv1::Segmentation::Stub::ExportProfileData, s_request, &s_out);
  if (!s.ok()) return absl::StrCat("segmentation: ", Show(s));
  fv1::ExportProfileDataRequest f_request;
  f_request.set_profile(person.name());
  f_request.add_merged_profiles(person.alias_name());
  fv1::ExportProfileDataResponse f_out;
  s = Rpc(*e.feedback, &fv1::Feedback::Stub::ExportProfileData, f_request, &f_out);
  if (!s.ok()) return absl::StrCat("feedback: ", Show(s));
  rv1::ExportProfileDataRequest r_request;
  r_request.set_profile(person.name());
  r_request.add_merged_profiles(person.alias_name());
  rv1::ExportProfileDataResponse r_out;
  s = Rpc(*e.reporting, &rv1::Reporting::Stub::ExportProfileData, r_request, &r_out);
  if (!s.ok()) return absl::StrCat("reporting: ", Show(s));
  if (s_out.ByteSizeLong() > 0) absl::StrAppend(&held, "segmentation:\n", Text(s_out));
  if (f_out.ByteSizeLong() > 0) absl::StrAppend(&held, "feedback:\n", Text(f_out));
  if (r_out.ByteSizeLong() > 0) absl::StrAppend(&held, "reporting:\n", Text(r_out));
  return held;
}

// Every response a caller could read after the erasure, as text, with the call's name.
std::vector<std::pair<std::string, std::string>> ResponsesAfterErasure(
    Endpoints& e, const Person& person, const std::string& response_name) {
  std::vector<std::pair<std::string, std::string>> out;
  auto add = [&](const std::string& what, const grpc::Status& status,
                 const google::protobuf::Message& message) {
    out.emplace_back(what, absl::StrCat(Show(status), "\n", Text(message)));
  };
  // Profiles: the person is gone under every name and identity.
  for (const std::string& name : {person.name(), person.alias_name()}) {
    pv1::GetProfileRequest request;
    request.set_name(name);
    pv1::Profile p;
    grpc::Status s = Rpc(*e.profiles, &pv1::Profiles::Stub::GetProfile, request, &p);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND) << name << ": " << Show(s);
    add(absl::StrCat("GetProfile ", name), s, p);
  }
  for (const auto& [type, value] : {std::pair{pv1::IDENTITY_TYPE_EMAIL, person.email},
                                    {pv1::IDENTITY_TYPE_EMAIL, person.alias_email},
                                    {pv1::IDENTITY_TYPE_PHONE, person.phone()}}) {
    pv1::LookupProfileRequest request;
    request.mutable_identity()->set_type(type);
    request.mutable_identity()->set_value(value);
    pv1::Profile p;
    grpc::Status s = Rpc(*e.profiles, &pv1::Profiles::Stub::LookupProfile, request, &p);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND) << value << ": " << Show(s);
    add("LookupProfile", s, p);
  }
  {
    pv1::ExportProfileRequest request;
    request.set_name(person.name());
    pv1::ExportProfileResponse exported;
    grpc::Status s = Rpc(*e.profiles, &pv1::Profiles::Stub::ExportProfile, request, &exported);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND) << Show(s);
    add("ExportProfile", s, exported);
  }
  {
    pv1::ListInteractionsRequest request;
    request.set_profile(person.name());
    pv1::ListInteractionsResponse listed;
    grpc::Status s = Rpc(*e.profiles, &pv1::Profiles::Stub::ListInteractions, request, &listed);
    add("ListInteractions", s, listed);
  }
  for (const std::string& filter :
       {std::string(), absl::StrCat("traits.nickname = \"", person.nickname, "\"")}) {
    pv1::ListProfilesRequest request;
    request.set_filter(filter);
    request.set_page_size(1000);
    pv1::ListProfilesResponse listed;
    grpc::Status s = Rpc(*e.profiles, &pv1::Profiles::Stub::ListProfiles, request, &listed);
    EXPECT_TRUE(s.ok()) << Show(s);
    for (const pv1::Profile& p : listed.profiles()) EXPECT_NE(p.name(), person.name());
    add(absl::StrCat("ListProfiles ", filter), s, listed);
  }
  // Feedback: responses stay as anonymous figures.
  {
    fv1::ListResponsesRequest request;
    request.set_parent("surveys/-");
    request.set_page_size(1000);
    fv1::ListResponsesResponse listed;
    grpc::Status s = Rpc(*e.feedback, &fv1::Feedback::Stub::ListResponses, request, &listed);
    EXPECT_TRUE(s.ok()) << Show(s);
    add("ListResponses", s, listed);
    for (const std::string& profile : {person.name(), person.alias_name()}) {
      request.set_profile(profile);
      s = Rpc(*e.feedback, &fv1::Feedback::Stub::ListResponses, request, &listed);
      EXPECT_EQ(listed.responses_size(), 0) << Text(listed);
      add(absl::StrCat("ListResponses profile=", profile), s, listed);
    }
  }
  {
    fv1::GetResponseRequest request;
    request.set_name(response_name);
    fv1::Response r;
    grpc::Status s = Rpc(*e.feedback, &fv1::Feedback::Stub::GetResponse, request, &r);
    EXPECT_TRUE(s.ok()) << Show(s);
    EXPECT_TRUE(r.erased());
    EXPECT_TRUE(r.profile().empty() && r.comment().empty()) << Text(r);
    EXPECT_EQ(r.score(), 2) << "the anonymous score stays";
    add("GetResponse", s, r);
  }
  {
    fv1::ListFollowUpsRequest request;
    request.set_page_size(1000);
    fv1::ListFollowUpsResponse listed;
    grpc::Status s = Rpc(*e.feedback, &fv1::Feedback::Stub::ListFollowUps, request, &listed);
    EXPECT_TRUE(s.ok()) << Show(s);
    add("ListFollowUps", s, listed);
    for (const fv1::FollowUp& f : listed.follow_ups()) {
      fv1::GetFollowUpRequest get;
      get.set_name(f.name());
      fv1::FollowUp got;
      grpc::Status g = Rpc(*e.feedback, &fv1::Feedback::Stub::GetFollowUp, get, &got);
      add(absl::StrCat("GetFollowUp ", f.name()), g, got);
    }
  }
  {
    fv1::ListFeatureRequestLinksRequest request;
    request.set_feature_request("featureRequests/dark-mode");
    fv1::ListFeatureRequestLinksResponse listed;
    grpc::Status s =
        Rpc(*e.feedback, &fv1::Feedback::Stub::ListFeatureRequestLinks, request, &listed);
    EXPECT_TRUE(s.ok()) << Show(s);
    for (const fv1::FeatureRequestLink& link : listed.links()) {
      EXPECT_NE(link.profile(), person.name());
    }
    add("ListFeatureRequestLinks", s, listed);
    fv1::ListFeatureRequestsRequest list_requests;
    fv1::ListFeatureRequestsResponse requests;
    s = Rpc(*e.feedback, &fv1::Feedback::Stub::ListFeatureRequests, list_requests, &requests);
    add("ListFeatureRequests", s, requests);
    fv1::ListThemeDemandRequest themes_request;
    fv1::ListThemeDemandResponse themes;
    s = Rpc(*e.feedback, &fv1::Feedback::Stub::ListThemeDemand, themes_request, &themes);
    add("ListThemeDemand", s, themes);
  }
  // Segmentation: no membership, nothing in memory.
  {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    sv1::ListSegmentMembersRequest request;
    request.set_segment("segments/gold");
    auto reader = e.segmentation->ListSegmentMembers(&context, request);
    sv1::ListSegmentMembersResponse chunk;
    sv1::ListSegmentMembersResponse all;
    while (reader->Read(&chunk)) {
      for (const std::string& p : chunk.profiles()) {
        EXPECT_NE(p, person.name());
        all.add_profiles(p);
      }
    }
    add("ListSegmentMembers", reader->Finish(), all);
    sv1::CheckMembershipRequest check;
    check.set_profile(person.name());
    sv1::CheckMembershipResponse membership;
    grpc::Status s =
        Rpc(*e.segmentation, &sv1::Segmentation::Stub::CheckMembership, check, &membership);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND) << Show(s) << Text(membership);
    add("CheckMembership", s, membership);
    sv1::PreviewSegmentRequest preview;
    preview.set_rule(absl::StrCat("profile.traits.nickname == \"", person.nickname, "\""));
    preview.set_sample_size(100);
    sv1::PreviewSegmentResponse previewed;
    s = Rpc(*e.segmentation, &sv1::Segmentation::Stub::PreviewSegment, preview, &previewed);
    EXPECT_TRUE(s.ok()) << Show(s);
    EXPECT_EQ(previewed.size(), 0) << "the engine still holds the erased trait";
    out.emplace_back("PreviewSegment", Text(previewed));
  }
  // Reporting: no customer value, experiment results are counts.
  {
    rv1::GetCustomerValueRequest request;
    request.set_profile(person.name());
    rv1::CustomerValue value;
    grpc::Status s = Rpc(*e.reporting, &rv1::Reporting::Stub::GetCustomerValue, request, &value);
    add("GetCustomerValue", s, value);
    rv1::GetExperimentResultsRequest results_request;
    results_request.set_name("experiments/banner");
    rv1::ExperimentResults results;
    s = Rpc(*e.reporting, &rv1::Reporting::Stub::GetExperimentResults, results_request, &results);
    EXPECT_TRUE(s.ok()) << Show(s);
    add("GetExperimentResults", s, results);
  }
  return out;
}

// Searches files line by line for the person's data and prints what it finds; reports,
// does not fail (logs, and the raw database files whose free pages may keep deleted
// rows until they are reused or vacuumed).
void ReportFiles(const std::string& kind, const std::vector<std::string>& paths,
                 const std::vector<std::string>& needles) {
  std::vector<std::string> found;
  for (const std::string& path : paths) {
    std::ifstream in(path, std::ios::binary);
    std::string line;
    int number = 0;
    while (std::getline(in, line)) {
      ++number;
      FindNeedles(needles, absl::StrCat(path, ":", number), line, found);
    }
  }
  std::cout << "[ " << kind << " ] " << found.size() << " line(s) hold the erased person's data"
            << (found.empty() ? "" : ":") << "\n";
  for (const std::string& f : found) std::cout << "[ " << kind << " ]   " << f << "\n";
  ::testing::Test::RecordProperty(
      absl::StrCat(absl::AsciiStrToLower(kind), "_lines_with_personal_data"),
      static_cast<int>(found.size()));
}

// The whole proof against a running suite.
void ProveExportAndErasure(Endpoints& e, const StoreSearch& stores,
                           const std::vector<std::string>& logs,
                           const std::vector<std::string>& raw_files = {}) {
  std::mt19937_64 rng(std::random_device{}());
  const Person person(rng);
  // Segmentation publishes membership changes only once it has loaded every profile (it
  // answers ExportProfileData UNAVAILABLE until then).
  ASSERT_TRUE(Eventually(
      [&] {
        sv1::ExportProfileDataRequest request;
        request.set_profile("profiles/nobody");
        sv1::ExportProfileDataResponse out;
        return Rpc(*e.segmentation, &sv1::Segmentation::Stub::ExportProfileData, request, &out)
            .ok();
      },
      absl::Seconds(30)))
      << "segmentation never finished loading profiles";
  ASSERT_NO_FATAL_FAILURE(CreateDefinitions(e));
  // Someone else, whose data must survive the erasure untouched.
  CreateProfile(e, "bystander",
                [](pv1::Profile& p) { (*p.mutable_traits())["tier"].set_string_value("gold"); });
  Submit(e, "profiles/bystander", 10, "Fast delivery, thanks");
  const std::string response_name = RecordThePerson(e, person);
  ASSERT_FALSE(::testing::Test::HasFailure());

  // ExportProfile: one document from all four services, once the events have arrived.
  pv1::ExportProfileRequest export_request;
  export_request.set_name(person.alias_name());  // a merged name exports the person
  pv1::ExportProfileResponse exported;
  Parts parts;
  grpc::Status status;
  const bool complete = Eventually(
      [&] {
        exported.Clear();
        parts = Parts();
        status = Rpc(*e.profiles, &pv1::Profiles::Stub::ExportProfile, export_request, &exported);
        return status.ok() && Unpack(exported, parts) && Complete(exported, parts);
      },
      absl::Seconds(60));
  ASSERT_TRUE(status.ok()) << Show(status);
  ASSERT_TRUE(complete) << "the export never held everything:\n" << ExportText(exported, parts);
  EXPECT_EQ(exported.profile().name(), person.name());
  const std::string document = ExportText(exported, parts);
  const std::vector<std::string> personal = PersonalData(exported, parts);
  const std::string personal_text = absl::StrJoin(personal, "\n");
  for (const std::string& value : person.Values()) {
    EXPECT_NE(document.find(value), std::string::npos) << "the export lacks " << value;
    EXPECT_NE(personal_text.find(value), std::string::npos)
        << value << " is in the export but in no field marked personal_data";
  }
  const std::vector<std::string> kpis_before = KpiTotals(*e.reporting);
  {
    // The search sees the person before the erasure: in the tables and in Redis (the
    // profile read above is cached).
    std::vector<std::string> before;
    int tables = 0, keys = 0;
    stores.run(person.Needles(), before, tables, keys);
    auto seen_in = [&](absl::string_view where) {
      return std::any_of(before.begin(), before.end(),
                         [&](const std::string& f) { return absl::StrContains(f, where); });
    };
    EXPECT_TRUE(seen_in(" table ")) << "the store search finds nothing even before the erasure";
    EXPECT_TRUE(seen_in("Redis key")) << "the Redis search finds nothing even before the erasure";
  }

  // EraseProfile, then wait for every service to have consumed the events.
  {
    pv1::EraseProfileRequest request;
    request.set_name(person.name());
    request.set_reason("ticket-4711");
    pv1::EraseProfileResponse out;
    status = Rpc(*e.profiles, &pv1::Profiles::Stub::EraseProfile, request, &out);
    ASSERT_TRUE(status.ok()) << Show(status);
  }
  const absl::Time erased = absl::Now();
  std::string held;
  EXPECT_TRUE(
      Eventually([&] { return (held = HeldByServices(e, person)).empty(); }, absl::Seconds(60)))
      << "still held after 60 s:\n"
      << held;
  std::cout << "[ ERASURE  ] every service purged within "
            << absl::FormatDuration(absl::Now() - erased) << "\n";

  // (c) Responses of every service.
  std::vector<std::string> found;
  for (const auto& [what, text] : ResponsesAfterErasure(e, person, response_name)) {
    FindNeedles(person.Needles(), absl::StrCat("response of ", what), text, found);
  }
  // The KPI totals are what they were; the bystander keeps everything.
  EXPECT_EQ(KpiTotals(*e.reporting), kpis_before) << "the erasure changed a KPI total";
  {
    pv1::ExportProfileRequest request;
    request.set_name("profiles/bystander");
    pv1::ExportProfileResponse bystander;
    Parts bystander_parts;
    status = Rpc(*e.profiles, &pv1::Profiles::Stub::ExportProfile, request, &bystander);
    ASSERT_TRUE(status.ok()) << Show(status);
    ASSERT_TRUE(Unpack(bystander, bystander_parts));
    ASSERT_EQ(bystander_parts.feedback.responses_size(), 1);
    EXPECT_EQ(bystander_parts.feedback.responses(0).comment(), "Fast delivery, thanks");
    EXPECT_EQ(bystander_parts.segmentation.memberships_size(), 1);
  }
  // (a) Every table of every database, (b) every Redis key.
  int tables = 0, keys = 0;
  stores.run(person.Needles(), found, tables, keys);
  std::cout << "[ SEARCHED ] " << tables << " tables, " << keys << " Redis keys\n";
  EXPECT_TRUE(found.empty()) << "the erased person's data is still held:\n"
                             << absl::StrJoin(found, "\n");
  ReportFiles("LOGS", logs, person.Needles());
  if (!raw_files.empty()) ReportFiles("FILES", raw_files, person.Needles());
}

// ---- The suites ---------------------------------------------------------------------

TEST(ErasureTest, StandaloneServicesOnPostgresAndRedisForgetThePerson) {
  auto postgres = testing::PostgresServer::Start();
  ASSERT_TRUE(postgres.ok()) << postgres.status();
  auto redis = testing::RedisServer::Start();
  ASSERT_TRUE(redis.ok()) << redis.status();
  testing::TempDir dir;
  const std::string redis_env = absl::StrCat("CENTRIC_REDIS_URL=", (*redis)->url());
  std::map<std::string, std::string> urls;
  for (const char* service : {"profiles", "segmentation", "feedback", "reporting"}) {
    auto url = (*postgres)->CreateDatabase(service);
    ASSERT_TRUE(url.ok()) << url.status();
    urls[service] = *url;
  }
  auto env = [&](const std::string& service) {
    return std::vector<std::string>{absl::StrCat("CENTRIC_DATABASE_URL=", urls[service]),
                                    redis_env};
  };
  // Profiles calls the others for ExportProfile and they call it: its port comes first.
  const std::string profiles_address = absl::StrCat("127.0.0.1:", testing::FreePort());
  const std::string profiles_target = absl::StrCat("--profiles-target=", profiles_address);
  Running segmentation =
      Start("centric-segmentation", {profiles_target}, env("segmentation"), dir.path());
  Running feedback = Start("centric-feedback", {profiles_target}, env("feedback"), dir.path());
  ASSERT_FALSE(segmentation.address.empty()) << "see " << segmentation.log;
  ASSERT_FALSE(feedback.address.empty()) << "see " << feedback.log;
  Running reporting =
      Start("centric-reporting",
            {profiles_target, absl::StrCat("--segmentation-target=", segmentation.address),
             absl::StrCat("--feedback-target=", feedback.address)},
            env("reporting"), dir.path());
  ASSERT_FALSE(reporting.address.empty()) << "see " << reporting.log;
  Running profiles = Start("centric-profiles",
                           {absl::StrCat("--listen=", profiles_address),
                            absl::StrCat("--segmentation-target=", segmentation.address),
                            absl::StrCat("--feedback-target=", feedback.address),
                            absl::StrCat("--reporting-target=", reporting.address)},
                           env("profiles"), dir.path());
  ASSERT_EQ(profiles.address, profiles_address) << "see " << profiles.log;
  for (const Running* r : {&profiles, &segmentation, &feedback, &reporting}) {
    ASSERT_TRUE(WaitServing(r->address)) << "see " << r->log;
  }
  Endpoints e = Endpoints::Connect(profiles.address, segmentation.address, feedback.address,
                                   reporting.address);
  StoreSearch stores{[&](const std::vector<std::string>& needles, std::vector<std::string>& found,
                         int& tables, int& keys) {
    for (const auto& [service, url] : urls) {
      auto db = store::Open(url);
      ASSERT_TRUE(db.ok()) << db.status();
      SearchDatabase(**db, absl::StrCat("PostgreSQL database of ", service), needles, found,
                     tables);
    }
    SearchRedis((*redis)->port(), needles, found, keys);
  }};
  ProveExportAndErasure(e, stores, {profiles.log, segmentation.log, feedback.log, reporting.log});

  // An export that cannot reach a service fails, naming it, instead of leaving it out.
  StopGracefully(reporting);
  pv1::ExportProfileRequest request;
  request.set_name("profiles/bystander");
  pv1::ExportProfileResponse partial;
  grpc::Status status = Rpc(*e.profiles, &pv1::Profiles::Stub::ExportProfile, request, &partial);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << Show(status);
  EXPECT_TRUE(absl::StrContains(status.error_message(), "reporting")) << Show(status);
  EXPECT_FALSE(partial.has_profile());
  StopGracefully(profiles);
  StopGracefully(feedback);
  StopGracefully(segmentation);
}

TEST(ErasureTest, CentricdOnSqliteWithTheRedisCacheForgetsThePerson) {
  auto redis = testing::RedisServer::Start();
  ASSERT_TRUE(redis.ok()) << redis.status();
  testing::TempDir dir;
  const std::string db_path = absl::StrCat(dir.path(), "/centric.db");
  Running centricd = Start("centricd", {},
                           {absl::StrCat("CENTRIC_DATABASE_URL=sqlite://", db_path),
                            absl::StrCat("CENTRIC_REDIS_URL=", (*redis)->url())},
                           dir.path());
  ASSERT_FALSE(centricd.address.empty()) << "see " << centricd.log;
  ASSERT_TRUE(WaitServing(centricd.address));
  Endpoints e =
      Endpoints::Connect(centricd.address, centricd.address, centricd.address, centricd.address);
  StoreSearch stores{[&](const std::vector<std::string>& needles, std::vector<std::string>& found,
                         int& tables, int& keys) {
    auto db = store::Open(absl::StrCat("sqlite://", db_path));
    ASSERT_TRUE(db.ok()) << db.status();
    SearchDatabase(**db, "SQLite database", needles, found, tables);
    SearchRedis((*redis)->port(), needles, found, keys);
  }};
  ProveExportAndErasure(e, stores, {centricd.log}, {db_path, absl::StrCat(db_path, "-wal")});
  StopGracefully(centricd);
}

}  // namespace
}  // namespace centric::e2e
