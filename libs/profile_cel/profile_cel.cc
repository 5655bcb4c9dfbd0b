#include "libs/profile_cel/profile_cel.h"

#include <map>
#include <utility>

#include "absl/time/time.h"
#include "google/protobuf/util/time_util.h"

namespace centric::profile_cel {
namespace {

using cel::Type;
using TK = cel::Type::Kind;

cel::ObjectType::Field Plain(cel::TypePtr type) { return {std::move(type), false, std::nullopt}; }

cel::ObjectType::Field Time() {
  return {Type::Of(TK::kTimestamp), false, cel::Value::Timestamp(absl::UnixEpoch())};
}

// A survey score, -1 when the profile never gave one.
constexpr int64_t kNoScore = -1;
cel::ObjectType::Field Score() { return {Type::Of(TK::kInt), false, cel::Value::Int(kNoScore)}; }

struct Schema {
  cel::ObjectType interaction_counts{"profile.aggregates.interaction_counts", {}};
  cel::ObjectType aggregates{"profile.aggregates", {}};
  cel::ObjectType consents{"profile.consents", {}};
  cel::ObjectType profile{"profile", {}};
  cel::ObjectType profile_without_persona{"profile", {}};

  Schema() {
    for (const std::string& c : ChannelNames()) {
      interaction_counts.fields[c] = Plain(Type::Of(TK::kInt));
    }
    aggregates.fields = {
        {"first_seen_time", Time()},
        {"last_seen_time", Time()},
        {"last_purchase_time", Time()},
        {"interaction_count", Plain(Type::Of(TK::kInt))},
        {"order_count", Plain(Type::Of(TK::kInt))},
        {"revenue_total", Plain(Type::Of(TK::kDouble))},
        {"open_support_tickets", Plain(Type::Of(TK::kInt))},
        {"interaction_counts", Plain(Type::Object(&interaction_counts))},
        {"last_nps_score", Score()},
        {"last_nps_time", Time()},
        {"last_csat_score", Score()},
        {"last_csat_time", Time()},
        {"open_follow_ups", Plain(Type::Of(TK::kInt))},
    };
    for (const std::string& p : ConsentPurposeNames()) {
      consents.fields[p] = Plain(Type::Of(TK::kInt));
    }
    profile.fields = {
        {"kind", Plain(Type::Of(TK::kInt))},
        {"consents", Plain(Type::Object(&consents))},
        {"preferred_channels", Plain(Type::List(Type::Of(TK::kString), 9))},
        {"persona", Plain(Type::Of(TK::kString))},
        {"create_time", Time()},
        {"aggregates", Plain(Type::Object(&aggregates))},
        // At most 200 traits of at most 4 KiB each (the Profiles service's limits).
        {"traits", Plain(Type::Map(Type::Of(TK::kString), Type::Dyn(), 200))},
    };
    profile_without_persona.fields = profile.fields;
    profile_without_persona.fields.erase("persona");
  }
};

const Schema& TheSchema() {
  static const Schema* schema = new Schema();
  return *schema;
}

cel::Value TimeValue(const google::protobuf::Timestamp& ts) {
  return cel::Value::Timestamp(
      absl::FromUnixMicros(google::protobuf::util::TimeUtil::TimestampToMicroseconds(ts)));
}

cel::Value Entry(std::map<std::string, cel::Value> fields) {
  cel::ValueMap map;
  for (auto& [k, v] : fields) map.emplace_back(cel::Value::String(k), std::move(v));
  return cel::Value::Map(std::move(map));
}

}  // namespace

const std::vector<std::string>& ChannelNames() {
  static const auto* names = new std::vector<std::string>{
      "web", "email", "phone", "branch", "support", "billing", "mobile_app", "sms", "social"};
  return *names;
}

std::string ChannelName(profiles::v1::Channel channel) {
  const auto& names = ChannelNames();
  int c = channel;
  return c >= 1 && c <= static_cast<int>(names.size()) ? names[c - 1] : "";
}

const std::vector<std::string>& ConsentPurposeNames() {
  static const auto* names = new std::vector<std::string>{
      "marketing_email", "marketing_sms", "personalization", "analytics", "profiling"};
  return *names;
}

const cel::ObjectType& ProfileType(bool with_persona) {
  return with_persona ? TheSchema().profile : TheSchema().profile_without_persona;
}

void AddProfileConstants(cel::Declarations& declarations) {
  declarations.AddConstant("UNSPECIFIED", cel::Value::Int(0));
  declarations.AddConstant("GRANTED", cel::Value::Int(1));
  declarations.AddConstant("DENIED", cel::Value::Int(2));
  declarations.AddConstant("REVOKED", cel::Value::Int(3));
  declarations.AddConstant("PERSON", cel::Value::Int(1));
  declarations.AddConstant("ACCOUNT", cel::Value::Int(2));
}

cel::Value JsonToValue(const google::protobuf::Value& v) {
  switch (v.kind_case()) {
    case google::protobuf::Value::kBoolValue:
      return cel::Value::Bool(v.bool_value());
    case google::protobuf::Value::kNumberValue:
      return cel::Value::Double(v.number_value());
    case google::protobuf::Value::kStringValue:
      return cel::Value::String(v.string_value());
    case google::protobuf::Value::kListValue: {
      cel::ValueList list;
      for (const auto& e : v.list_value().values()) list.push_back(JsonToValue(e));
      return cel::Value::List(std::move(list));
    }
    case google::protobuf::Value::kStructValue: {
      // Sorted keys, so equal objects give equal values whatever the map order.
      std::map<std::string, const google::protobuf::Value*> sorted;
      for (const auto& [k, e] : v.struct_value().fields()) sorted[k] = &e;
      cel::ValueMap map;
      for (const auto& [k, e] : sorted) map.emplace_back(cel::Value::String(k), JsonToValue(*e));
      return cel::Value::Map(std::move(map));
    }
    default:
      return cel::Value::Null();
  }
}

cel::Value ProfileValue(const profiles::v1::Profile& profile) {
  const auto& channels = ChannelNames();
  const auto& purposes = ConsentPurposeNames();
  std::map<std::string, cel::Value> counts;
  for (const std::string& c : channels) counts[c] = cel::Value::Int(0);
  for (const auto& count : profile.aggregates().interaction_counts()) {
    int c = count.channel();
    if (c >= 1 && c <= static_cast<int>(channels.size())) {
      counts[channels[c - 1]] = cel::Value::Int(count.count());
    }
  }
  const profiles::v1::Aggregates& a = profile.aggregates();
  cel::Value aggregates = Entry({
      {"first_seen_time", TimeValue(a.first_seen_time())},
      {"last_seen_time", TimeValue(a.last_seen_time())},
      {"last_purchase_time", TimeValue(a.last_purchase_time())},
      {"interaction_count", cel::Value::Int(a.interaction_count())},
      {"order_count", cel::Value::Int(a.order_count())},
      {"revenue_total", cel::Value::Double(a.revenue_total())},
      {"open_support_tickets", cel::Value::Int(a.open_support_tickets())},
      {"interaction_counts", Entry(std::move(counts))},
      {"last_nps_score", cel::Value::Int(a.has_last_nps_score() ? a.last_nps_score() : kNoScore)},
      {"last_nps_time", TimeValue(a.last_nps_time())},
      {"last_csat_score",
       cel::Value::Int(a.has_last_csat_score() ? a.last_csat_score() : kNoScore)},
      {"last_csat_time", TimeValue(a.last_csat_time())},
      {"open_follow_ups", cel::Value::Int(a.open_follow_ups())},
  });
  std::map<std::string, cel::Value> consents;
  for (const std::string& p : purposes) consents[p] = cel::Value::Int(0);
  for (const auto& consent : profile.consents()) {
    int p = consent.purpose();
    if (p >= 1 && p <= static_cast<int>(purposes.size())) {
      consents[purposes[p - 1]] = cel::Value::Int(consent.status());
    }
  }
  cel::ValueList preferred;
  for (int c : profile.preferred_channels()) {
    if (c >= 1 && c <= static_cast<int>(channels.size())) {
      preferred.push_back(cel::Value::String(channels[c - 1]));
    }
  }
  std::map<std::string, const google::protobuf::Value*> sorted;
  for (const auto& [k, v] : profile.traits()) sorted[k] = &v;
  cel::ValueMap traits;
  for (const auto& [k, v] : sorted) traits.emplace_back(cel::Value::String(k), JsonToValue(*v));
  return Entry({
      {"kind", cel::Value::Int(profile.kind())},
      {"consents", Entry(std::move(consents))},
      {"preferred_channels", cel::Value::List(std::move(preferred))},
      {"persona", cel::Value::String(profile.persona())},
      {"create_time", TimeValue(profile.create_time())},
      {"aggregates", std::move(aggregates)},
      {"traits", cel::Value::Map(std::move(traits))},
  });
}

}  // namespace centric::profile_cel
