// What the API declares (annotations.proto) as the security layer reads it: each
// method's access, which fields are personal data, how they are redacted, and which
// resource a request names. Also checks that every Centric RPC declares its access.
#include "libs/security/access.h"

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "centric/feedback/v1/feedback_service.pb.h"
#include "centric/profiles/v1/profiles_service.pb.h"
#include "centric/reporting/v1/reporting_service.pb.h"
#include "centric/security/v1/audit.pb.h"
#include "centric/segmentation/v1/segmentation_service.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace centric::security {
namespace {

namespace pv1 = ::centric::profiles::v1;
namespace fv1 = ::centric::feedback::v1;

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::UnorderedElementsAre;

TEST(FactsOfTest, GetProfileIsAReadWhoseResponseHoldsPersonalData) {
  const MethodFacts& facts = FactsOf("/centric.profiles.v1.Profiles/GetProfile");
  EXPECT_TRUE(facts.known);
  EXPECT_EQ(facts.access.kind(), v1::MethodAccess::READ);
  EXPECT_THAT(facts.access.scopes(), IsEmpty());
  EXPECT_EQ(facts.request, pv1::GetProfileRequest::descriptor());
  EXPECT_EQ(facts.response, pv1::Profile::descriptor());
  EXPECT_TRUE(facts.response_has_personal_data);
  EXPECT_EQ(facts.service, "profiles");
}

TEST(FactsOfTest, EraseProfileIsAWriteNeedingTheEraseScope) {
  // gRPC names methods with a leading slash; the policy's patterns have none.
  for (absl::string_view method : {"/centric.profiles.v1.Profiles/EraseProfile",
                                   "centric.profiles.v1.Profiles/EraseProfile"}) {
    const MethodFacts& facts = FactsOf(method);
    EXPECT_TRUE(facts.known) << method;
    EXPECT_EQ(facts.access.kind(), v1::MethodAccess::WRITE) << method;
    EXPECT_THAT(facts.access.scopes(), ElementsAre("erase")) << method;
    EXPECT_FALSE(facts.response_has_personal_data) << method;
    EXPECT_EQ(facts.service, "profiles") << method;
  }
}

TEST(FactsOfTest, ReadsWithoutPersonalDataAndOtherServices) {
  const MethodFacts& segment = FactsOf("/centric.segmentation.v1.Segmentation/GetSegment");
  EXPECT_TRUE(segment.known);
  EXPECT_EQ(segment.access.kind(), v1::MethodAccess::READ);
  EXPECT_FALSE(segment.response_has_personal_data);
  EXPECT_EQ(segment.service, "segmentation");

  const MethodFacts& responses = FactsOf("/centric.feedback.v1.Feedback/ListResponses");
  EXPECT_TRUE(responses.response_has_personal_data);
  EXPECT_EQ(responses.service, "feedback");

  const MethodFacts& audit = FactsOf("/centric.security.v1.AuditLog/ListAuditRecords");
  EXPECT_TRUE(audit.known);
  EXPECT_THAT(audit.access.scopes(), ElementsAre("audit:read"));
  EXPECT_EQ(audit.service, "security");
}

TEST(FactsOfTest, UnknownMethodsAreNotKnown) {
  for (absl::string_view method :
       {"/centric.profiles.v1.Profiles/StealProfile", "/centric.profiles.v1.Nope/GetProfile",
        "/no.such.Service/Method", "centric.profiles.v1.Profiles.GetProfile", "", "/"}) {
    const MethodFacts& facts = FactsOf(method);
    EXPECT_FALSE(facts.known) << method;
    EXPECT_EQ(facts.access.kind(), v1::MethodAccess::KIND_UNSPECIFIED) << method;
    EXPECT_THAT(facts.access.scopes(), IsEmpty()) << method;
  }
}

TEST(FactsOfTest, SameMethodGivesTheSameCachedFacts) {
  EXPECT_EQ(&FactsOf("/centric.profiles.v1.Profiles/GetProfile"),
            &FactsOf("/centric.profiles.v1.Profiles/GetProfile"));
}

pv1::Profile PersonWithPersonalData() {
  pv1::Profile profile;
  profile.set_name("profiles/ada");
  profile.set_kind(pv1::PROFILE_KIND_PERSON);
  profile.set_display_name("Ada Lovelace");
  pv1::Identity* email = profile.add_identities();
  email->set_type(pv1::IDENTITY_TYPE_EMAIL);
  email->set_value("ada@example.com");
  pv1::Identity* external = profile.add_identities();
  external->set_type(pv1::IDENTITY_TYPE_EXTERNAL_ID);
  external->set_value("C-1815");
  external->set_source("billing");
  (*profile.mutable_traits())["city"].set_string_value("London");
  (*profile.mutable_traits())["age"].set_number_value(36);
  pv1::Consent* consent = profile.add_consents();
  consent->set_purpose(pv1::CONSENT_PURPOSE_MARKETING_EMAIL);
  consent->set_status(pv1::CONSENT_STATUS_GRANTED);
  consent->set_source("web_signup_form");
  profile.add_preferred_channels(pv1::CHANNEL_EMAIL);
  profile.set_persona("personas/analyst");
  profile.mutable_aggregates()->set_order_count(3);
  profile.set_version(4);
  profile.set_etag("\"4\"");
  profile.add_merged_profiles("profiles/ada-old");
  return profile;
}

TEST(RedactPersonalDataTest, ReplacesIdentityValuesAndNameClearsTraitsKeepsTheRest) {
  const pv1::Profile original = PersonWithPersonalData();
  pv1::Profile profile = original;
  EXPECT_TRUE(RedactPersonalData(profile));

  EXPECT_EQ(profile.display_name(), kRedacted);
  ASSERT_EQ(profile.identities_size(), 2);
  EXPECT_EQ(profile.identities(0).value(), kRedacted);
  EXPECT_EQ(profile.identities(0).type(), pv1::IDENTITY_TYPE_EMAIL);
  EXPECT_EQ(profile.identities(1).value(), kRedacted);
  EXPECT_EQ(profile.identities(1).source(), "billing");
  EXPECT_THAT(profile.traits(), IsEmpty());
  // Not personal data: unchanged.
  EXPECT_EQ(profile.name(), original.name());
  EXPECT_EQ(profile.kind(), original.kind());
  EXPECT_EQ(profile.consents(0).DebugString(), original.consents(0).DebugString());
  EXPECT_THAT(profile.preferred_channels(), ElementsAre(pv1::CHANNEL_EMAIL));
  EXPECT_EQ(profile.persona(), original.persona());
  EXPECT_EQ(profile.aggregates().order_count(), 3);
  EXPECT_EQ(profile.etag(), original.etag());
  EXPECT_THAT(profile.merged_profiles(), ElementsAre("profiles/ada-old"));
  EXPECT_THAT(PersonalDataOf(profile), UnorderedElementsAre(kRedacted, kRedacted, kRedacted));
}

TEST(RedactPersonalDataTest, SaysWhenThereWasNothingToRedact) {
  pv1::Profile profile;
  profile.set_name("profiles/empty");
  profile.add_identities()->set_type(pv1::IDENTITY_TYPE_EMAIL);
  const std::string before = profile.SerializeAsString();
  EXPECT_FALSE(RedactPersonalData(profile));
  EXPECT_EQ(profile.SerializeAsString(), before);

  pv1::EraseProfileResponse erased;
  erased.set_name("profiles/x");
  EXPECT_FALSE(RedactPersonalData(erased));
  EXPECT_EQ(erased.name(), "profiles/x");
}

TEST(RedactPersonalDataTest, RedactsProfileAndInteractionsOfAnExport) {
  pv1::ExportProfileResponse exported;
  *exported.mutable_profile() = PersonWithPersonalData();
  pv1::Interaction* interaction = exported.add_interactions();
  interaction->set_event_id("e1");
  interaction->set_type("purchase");
  interaction->set_monetary_value(12.5);
  (*interaction->mutable_properties()->mutable_fields())["note"].set_string_value(
      "call Ada after 5pm");
  EXPECT_TRUE(RedactPersonalData(exported));
  EXPECT_EQ(exported.profile().display_name(), kRedacted);
  EXPECT_EQ(exported.profile().identities(0).value(), kRedacted);
  EXPECT_FALSE(exported.interactions(0).has_properties());
  EXPECT_EQ(exported.interactions(0).event_id(), "e1");
  EXPECT_EQ(exported.interactions(0).monetary_value(), 12.5);
  EXPECT_THAT(exported.DebugString(), Not(HasSubstr("Ada")));
  EXPECT_THAT(exported.DebugString(), Not(HasSubstr("ada@example.com")));
}

TEST(RedactPersonalDataTest, RedactsCommentsOfListedFeedbackResponses) {
  fv1::ListResponsesResponse list;
  int n = 0;
  for (const char* comment : {"the agent, Bob, was rude", "great"}) {
    fv1::Response* response = list.add_responses();
    response->set_name(absl::StrCat("surveys/nps/responses/r", ++n));
    response->set_profile("profiles/ada");
    response->set_score(9);
    response->set_comment(comment);
  }
  list.set_next_page_token("next");
  EXPECT_TRUE(RedactPersonalData(list));
  for (const fv1::Response& response : list.responses()) {
    EXPECT_EQ(response.comment(), kRedacted);
    EXPECT_EQ(response.profile(), "profiles/ada");
    EXPECT_EQ(response.score(), 9);
  }
  EXPECT_EQ(list.next_page_token(), "next");
}

TEST(PersonalDataOfTest, ListsEveryPersonalValue) {
  const std::vector<std::string> found = PersonalDataOf(PersonWithPersonalData());
  ASSERT_FALSE(found.empty());
  EXPECT_EQ(found[0], "Ada Lovelace");
  std::string all;
  for (const std::string& value : found) absl::StrAppend(&all, value, "\n");
  EXPECT_THAT(all, HasSubstr("ada@example.com"));
  EXPECT_THAT(all, HasSubstr("C-1815"));
  EXPECT_THAT(all, HasSubstr("London"));
  EXPECT_THAT(all, HasSubstr("36"));
  EXPECT_THAT(all, Not(HasSubstr("billing")));
  EXPECT_THAT(all, Not(HasSubstr("web_signup_form")));
  EXPECT_THAT(all, Not(HasSubstr("profiles/ada")));
}

TEST(PersonalDataOfTest, NothingForMessagesWithoutPersonalData) {
  pv1::GetProfileRequest request;
  request.set_name("profiles/ada");
  EXPECT_THAT(PersonalDataOf(request), IsEmpty());
}

TEST(ResourceOfTest, NameProfileOrParent) {
  pv1::GetProfileRequest get;
  get.set_name("profiles/ada");
  EXPECT_EQ(ResourceOf(get, v1::MethodAccess()), "profiles/ada");
  pv1::RecordInteractionsRequest record;
  record.set_profile("profiles/bob");
  EXPECT_EQ(ResourceOf(record, v1::MethodAccess()), "profiles/bob");
  pv1::ListProfilesRequest list;
  EXPECT_EQ(ResourceOf(list, v1::MethodAccess()), "");
}

TEST(ResourceOfTest, TheDeclaredFieldComesFirst) {
  pv1::MergeProfilesRequest merge;
  merge.set_survivor("profiles/keep");
  merge.add_merged("profiles/gone");
  EXPECT_EQ(ResourceOf(merge, v1::MethodAccess()), "");
  v1::MethodAccess access;
  access.set_resource_field("survivor");
  EXPECT_EQ(ResourceOf(merge, access), "profiles/keep");
  // A declared field that is empty falls back to the usual ones.
  fv1::Response response;
  response.set_name("surveys/s/responses/r");
  access.set_resource_field("touchpoint");
  EXPECT_EQ(ResourceOf(response, access), "surveys/s/responses/r");
}

TEST(ResourceOfTest, NeverPersonalData) {
  pv1::LookupProfileRequest lookup;
  lookup.mutable_identity()->set_value("ada@example.com");
  EXPECT_EQ(ResourceOf(lookup, v1::MethodAccess()), "");
  pv1::Identity identity;
  identity.set_value("ada@example.com");
  v1::MethodAccess access;
  access.set_resource_field("value");
  EXPECT_EQ(ResourceOf(identity, access), "");
}

// Every file that defines a centric.*.v1 service, reached through a message it defines
// so that the file is linked into the generated pool.
std::vector<const google::protobuf::FileDescriptor*> ServiceFiles() {
  return {pv1::GetProfileRequest::descriptor()->file(),
          segmentation::v1::GetSegmentRequest::descriptor()->file(),
          fv1::GetSurveyRequest::descriptor()->file(),
          reporting::v1::GetKpiSeriesRequest::descriptor()->file(),
          v1::ListAuditRecordsRequest::descriptor()->file()};
}

TEST(DeclaredAccessTest, ServiceFilesAreInTheGeneratedPool) {
  for (const char* name :
       {"centric/profiles/v1/profiles_service.proto",
        "centric/segmentation/v1/segmentation_service.proto",
        "centric/feedback/v1/feedback_service.proto",
        "centric/reporting/v1/reporting_service.proto", "centric/security/v1/audit.proto"}) {
    const google::protobuf::FileDescriptor* file =
        google::protobuf::DescriptorPool::generated_pool()->FindFileByName(name);
    ASSERT_NE(file, nullptr) << name;
    EXPECT_GE(file->service_count(), 1) << name;
  }
}

TEST(DeclaredAccessTest, EveryMethodDeclaresReadOrWrite) {
  int methods = 0;
  for (const google::protobuf::FileDescriptor* file : ServiceFiles()) {
    for (int s = 0; s < file->service_count(); ++s) {
      const google::protobuf::ServiceDescriptor* service = file->service(s);
      for (int m = 0; m < service->method_count(); ++m) {
        const google::protobuf::MethodDescriptor* method = service->method(m);
        ++methods;
        EXPECT_TRUE(method->options().HasExtension(v1::access))
            << method->full_name() << " declares no (centric.security.v1.access)";
        const v1::MethodAccess& access = method->options().GetExtension(v1::access);
        EXPECT_TRUE(access.kind() == v1::MethodAccess::READ ||
                    access.kind() == v1::MethodAccess::WRITE)
            << method->full_name() << " has kind " << v1::MethodAccess::Kind_Name(access.kind());
        // What the guard sees for it over the wire.
        const MethodFacts& facts =
            FactsOf(absl::StrCat("/", service->full_name(), "/", method->name()));
        EXPECT_TRUE(facts.known) << method->full_name();
        EXPECT_EQ(facts.access.kind(), access.kind()) << method->full_name();
      }
    }
  }
  EXPECT_GT(methods, 50);
}

TEST(DeclaredAccessTest, MethodsNamedForAChangeAreWrites) {
  const std::vector<std::string> write_prefixes = {
      "Create", "Update",     "Delete", "Erase", "Merge", "Record", "Submit", "BatchSubmit",
      "Stream", "Transition", "Link",   "Start", "Stop",  "Assign", "Fit",    "Rebuild"};
  int writes = 0;
  for (const google::protobuf::FileDescriptor* file : ServiceFiles()) {
    for (int s = 0; s < file->service_count(); ++s) {
      const google::protobuf::ServiceDescriptor* service = file->service(s);
      for (int m = 0; m < service->method_count(); ++m) {
        const google::protobuf::MethodDescriptor* method = service->method(m);
        for (const std::string& prefix : write_prefixes) {
          if (!absl::StartsWith(method->name(), prefix)) continue;
          ++writes;
          EXPECT_EQ(method->options().GetExtension(v1::access).kind(), v1::MethodAccess::WRITE)
              << method->full_name() << " changes state but is not declared WRITE";
          break;
        }
      }
    }
  }
  EXPECT_GT(writes, 20);
}

TEST(DeclaredAccessTest, PersonalDataResponsesOfOtherServicesAreSeen) {
  // Reads that return what a customer said must count as reads of personal data, so they
  // are redacted and audited.
  for (const char* method :
       {"/centric.feedback.v1.Feedback/GetResponse", "/centric.feedback.v1.Feedback/ListResponses",
        "/centric.feedback.v1.Feedback/ListFeatureRequestLinks",
        "/centric.profiles.v1.Profiles/ListInteractions",
        "/centric.profiles.v1.Profiles/LookupProfile"}) {
    EXPECT_TRUE(FactsOf(method).response_has_personal_data) << method;
  }
}

}  // namespace
}  // namespace centric::security
