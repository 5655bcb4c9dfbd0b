#include "libs/security/access.h"

#include <map>
#include <memory>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "google/protobuf/text_format.h"

namespace centric::security {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

bool IsPersonal(const FieldDescriptor* field) {
  return field->options().GetExtension(v1::personal_data);
}

bool HasPersonalDataIn(const Descriptor* type, std::set<const Descriptor*>& seen) {
  if (type == nullptr || !seen.insert(type).second) return false;
  for (int i = 0; i < type->field_count(); ++i) {
    const FieldDescriptor* field = type->field(i);
    if (IsPersonal(field)) return true;
    if (field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE &&
        HasPersonalDataIn(field->message_type(), seen)) {
      return true;
    }
  }
  return false;
}

MethodFacts Compute(absl::string_view method) {
  MethodFacts facts;
  absl::ConsumePrefix(&method, "/");
  std::string dotted(method);
  size_t slash = dotted.find('/');
  if (slash == std::string::npos) return facts;
  dotted[slash] = '.';
  const google::protobuf::MethodDescriptor* descriptor =
      google::protobuf::DescriptorPool::generated_pool()->FindMethodByName(dotted);
  if (descriptor == nullptr) return facts;
  facts.known = true;
  facts.access = descriptor->options().GetExtension(v1::access);
  facts.request = descriptor->input_type();
  facts.response = descriptor->output_type();
  facts.response_has_personal_data = HasPersonalData(facts.response);
  std::vector<absl::string_view> parts = absl::StrSplit(method.substr(0, method.find('/')), '.');
  if (parts.size() == 4 && parts[0] == "centric" && parts[2] == "v1") {
    facts.service = std::string(parts[1]);
  }
  return facts;
}

void PersonalDataIn(const Message& message, bool all, std::vector<std::string>& out) {
  const Reflection* reflection = message.GetReflection();
  std::vector<const FieldDescriptor*> fields;
  reflection->ListFields(message, &fields);
  for (const FieldDescriptor* field : fields) {
    bool personal = all || IsPersonal(field);
    if (field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
      if (field->is_repeated()) {
        for (int i = 0; i < reflection->FieldSize(message, field); ++i) {
          PersonalDataIn(reflection->GetRepeatedMessage(message, field, i), personal, out);
        }
      } else {
        PersonalDataIn(reflection->GetMessage(message, field), personal, out);
      }
    } else if (personal && field->cpp_type() == FieldDescriptor::CPPTYPE_STRING) {
      if (field->is_repeated()) {
        for (int i = 0; i < reflection->FieldSize(message, field); ++i) {
          out.push_back(reflection->GetRepeatedString(message, field, i));
        }
      } else {
        out.push_back(reflection->GetString(message, field));
      }
    } else if (personal) {
      std::string text;
      google::protobuf::TextFormat::PrintFieldValueToString(message, field, -1, &text);
      out.push_back(text);
    }
  }
}

}  // namespace

bool HasPersonalData(const Descriptor* type) {
  std::set<const Descriptor*> seen;
  return HasPersonalDataIn(type, seen);
}

const MethodFacts& FactsOf(absl::string_view method) {
  static absl::Mutex mu;
  static auto* cache = new std::map<std::string, std::unique_ptr<MethodFacts>, std::less<>>();
  absl::MutexLock lock(&mu);
  auto it = cache->find(method);
  if (it == cache->end()) {
    it = cache->emplace(std::string(method), std::make_unique<MethodFacts>(Compute(method))).first;
  }
  return *it->second;
}

bool RedactPersonalData(Message& message) {
  const Reflection* reflection = message.GetReflection();
  std::vector<const FieldDescriptor*> fields;
  reflection->ListFields(message, &fields);
  bool found = false;
  for (const FieldDescriptor* field : fields) {
    if (IsPersonal(field)) {
      found = true;
      if (field->cpp_type() == FieldDescriptor::CPPTYPE_STRING && !field->is_repeated()) {
        reflection->SetString(&message, field, std::string(kRedacted));
      } else if (field->cpp_type() == FieldDescriptor::CPPTYPE_STRING) {
        for (int i = 0; i < reflection->FieldSize(message, field); ++i) {
          reflection->SetRepeatedString(&message, field, i, std::string(kRedacted));
        }
      } else {
        reflection->ClearField(&message, field);
      }
      continue;
    }
    if (field->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE ||
        !HasPersonalData(field->message_type())) {
      continue;
    }
    if (field->is_repeated()) {
      for (int i = 0; i < reflection->FieldSize(message, field); ++i) {
        found |= RedactPersonalData(*reflection->MutableRepeatedMessage(&message, field, i));
      }
    } else {
      found |= RedactPersonalData(*reflection->MutableMessage(&message, field));
    }
  }
  return found;
}

std::vector<std::string> PersonalDataOf(const Message& message) {
  std::vector<std::string> out;
  PersonalDataIn(message, false, out);
  return out;
}

std::string ResourceOf(const Message& request, const v1::MethodAccess& access) {
  const Descriptor* type = request.GetDescriptor();
  const Reflection* reflection = request.GetReflection();
  std::vector<std::string> names;
  if (!access.resource_field().empty()) names.push_back(access.resource_field());
  for (const char* name : {"name", "profile", "parent"}) names.emplace_back(name);
  for (const std::string& name : names) {
    const FieldDescriptor* field = type->FindFieldByName(name);
    if (field == nullptr || field->is_repeated() || IsPersonal(field) ||
        field->cpp_type() != FieldDescriptor::CPPTYPE_STRING) {
      continue;
    }
    std::string value = reflection->GetString(request, field);
    if (!value.empty()) return value.substr(0, 512);
  }
  return "";
}

}  // namespace centric::security
