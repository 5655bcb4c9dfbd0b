#include "services/feedback/policy.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "libs/cel/checker.h"
#include "libs/profile_cel/profile_cel.h"

namespace centric::feedback {
namespace {

using cel::Type;
using TK = cel::Type::Kind;

cel::ObjectType::Field Plain(cel::TypePtr type) { return {std::move(type), false, std::nullopt}; }

struct Schema {
  cel::ObjectType response{"response", {}};
  cel::Declarations declarations;

  Schema() {
    response.fields = {
        {"kind", Plain(Type::Of(TK::kInt))},
        {"score", Plain(Type::Of(TK::kInt))},
        {"category", Plain(Type::Of(TK::kInt))},
        {"survey", Plain(Type::Of(TK::kString))},
        {"touchpoint", Plain(Type::Of(TK::kString))},
        {"channel", Plain(Type::Of(TK::kString))},
        {"comment", Plain(Type::Of(TK::kString))},
        {"sentiment_score", Plain(Type::Of(TK::kDouble))},
        // At most one entry per theme of the taxonomy (at most 100).
        {"themes", Plain(Type::List(Type::Of(TK::kString), 100))},
    };
    declarations.AddVariable("response", Type::Object(&response));
    declarations.AddVariable("profile", Type::Object(&profile_cel::ProfileType()));
    profile_cel::AddProfileConstants(declarations);
    for (int k = v1::SURVEY_KIND_NPS; k <= v1::SURVEY_KIND_OPEN_TEXT; ++k) {
      std::string name = v1::SurveyKind_Name(static_cast<v1::SurveyKind>(k));
      declarations.AddConstant(name.substr(sizeof("SURVEY_KIND_") - 1), cel::Value::Int(k));
    }
    for (int c = v1::CATEGORY_PROMOTER; c <= v1::CATEGORY_DIFFICULT; ++c) {
      std::string name = v1::Category_Name(static_cast<v1::Category>(c));
      declarations.AddConstant(name.substr(sizeof("CATEGORY_") - 1), cel::Value::Int(c));
    }
  }
};

const Schema& TheSchema() {
  static const Schema* schema = new Schema();
  return *schema;
}

cel::Value ResponseValue(const v1::Response& r, const std::string& survey) {
  const auto& channels = profile_cel::ChannelNames();
  int channel = r.channel();
  cel::ValueList themes;
  for (const std::string& t : r.themes()) themes.push_back(cel::Value::String(t));
  auto entry = [](const char* key, cel::Value v) {
    return std::make_pair(cel::Value::String(key), std::move(v));
  };
  return cel::Value::Map({
      entry("kind", cel::Value::Int(r.kind())),
      entry("score", cel::Value::Int(r.has_score() ? r.score() : -1)),
      entry("category", cel::Value::Int(r.category())),
      entry("survey", cel::Value::String(survey)),
      entry("touchpoint", cel::Value::String(r.touchpoint())),
      entry("channel", cel::Value::String(channel >= 1 && channel <= static_cast<int>(channels.size())
                                              ? channels[channel - 1]
                                              : "")),
      entry("comment", cel::Value::String(r.comment())),
      entry("sentiment_score", cel::Value::Double(r.sentiment_score())),
      entry("themes", cel::Value::List(std::move(themes))),
  });
}

}  // namespace

absl::StatusOr<std::shared_ptr<const PolicyRule>> PolicyRule::Compile(absl::string_view source) {
  if (source.empty()) return absl::InvalidArgumentError("the rule is empty");
  if (source.size() > kMaxPolicyRuleBytes) {
    return absl::InvalidArgumentError(absl::StrCat("the rule is ", source.size(),
                                                   " bytes; at most ", kMaxPolicyRuleBytes));
  }
  auto ast = cel::Parse(source);
  if (!ast.ok()) return ast.status();
  cel::CheckOptions options;
  options.max_estimated_cost = kMaxPolicyRuleCost;
  options.assumed_dyn_size = 2048;
  auto checked = cel::Check(**ast, TheSchema().declarations, options);
  if (!checked.ok()) return checked.status();
  if (checked->type->kind != TK::kBool && checked->type->kind != TK::kDyn) {
    return absl::InvalidArgumentError(absl::StrCat(
        "1:1: a rule must be a condition (bool), this one is ", checked->type->Name()));
  }
  std::shared_ptr<PolicyRule> rule(new PolicyRule());
  rule->source_ = std::string(source);
  rule->ast_ = std::move(*ast);
  rule->reads_profile_ = checked->variables.contains("profile");
  return std::shared_ptr<const PolicyRule>(std::move(rule));
}

bool PolicyRule::Matches(const v1::Response& response, const std::string& survey,
                         const profiles::v1::Profile& profile) const {
  cel::Activation activation;
  TheSchema().declarations.BindConstants(activation);
  activation.Bind("response", ResponseValue(response, survey));
  if (reads_profile_) activation.Bind("profile", profile_cel::ProfileValue(profile));
  cel::Value v = cel::Evaluate(*ast_, activation);
  return v.kind() == cel::Value::Kind::kBool && v.bool_value();
}

}  // namespace centric::feedback
