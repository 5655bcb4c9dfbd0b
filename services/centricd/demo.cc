#include "services/centricd/demo.h"

#include <google/protobuf/util/json_util.h>
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdio>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "centric/feedback/v1/feedback_service.grpc.pb.h"
#include "centric/profiles/v1/profiles_service.grpc.pb.h"
#include "libs/runtime/resource.h"
#include "libs/demo/population.h"
#include "libs/runtime/grpc_status.h"

namespace centric::demo {
namespace {

namespace v1 = ::centric::profiles::v1;
namespace fv1 = ::centric::feedback::v1;

void SetDeadline(grpc::ClientContext& context) {
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
}

// The NPS survey the generated answers belong to (ALREADY_EXISTS from an earlier run is
// fine).
absl::Status CreateNpsSurvey(fv1::Feedback::Stub& feedback) {
  fv1::CreateSurveyRequest request;
  request.set_survey_id("nps");
  fv1::Survey& survey = *request.mutable_survey();
  survey.set_display_name("Net Promoter Score");
  survey.set_kind(fv1::SURVEY_KIND_NPS);
  survey.set_question("How likely are you to recommend us to a friend or colleague?");
  survey.set_owner_team("cx");
  fv1::Survey created;
  grpc::ClientContext context;
  SetDeadline(context);
  grpc::Status status = feedback.CreateSurvey(&context, request, &created);
  if (!status.ok() && status.error_code() != grpc::StatusCode::ALREADY_EXISTS) {
    return runtime::FromGrpcStatus(status);
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status RunProfilesDemo(std::shared_ptr<grpc::Channel> channel, const std::string& address) {
  auto stub = v1::Profiles::NewStub(channel);
  auto feedback = fv1::Feedback::NewStub(channel);
  if (absl::Status s = CreateNpsSurvey(*feedback); !s.ok()) return s;
  int answers = 0;
  Options options;
  options.seed = kDemoSeed;
  options.profiles = kDemoProfiles;
  // The start of today (UTC): re-runs on the same day generate the same population.
  options.end =
      absl::FromCivil(absl::ToCivilDay(absl::Now(), absl::UTCTimeZone()), absl::UTCTimeZone());
  absl::StatusOr<Population> population = Generate(options);
  if (!population.ok()) return population.status();

  int created_profiles = 0;
  int skipped_profiles = 0;
  int64_t interactions = 0;
  std::map<std::string, int> by_type;
  std::map<Persona, int> by_persona;
  for (const GeneratedProfile& generated : population->profiles) {
    v1::CreateProfileRequest create;
    create.set_request_id(absl::StrCat("demo-create-", generated.id));
    create.set_profile_id(generated.id);
    *create.mutable_profile() = generated.profile;
    v1::Profile created;
    grpc::ClientContext create_context;
    SetDeadline(create_context);
    grpc::Status status = stub->CreateProfile(&create_context, create, &created);
    // ALREADY_EXISTS: created by an earlier run whose request id has expired.
    if (!status.ok() && status.error_code() != grpc::StatusCode::ALREADY_EXISTS) {
      return runtime::FromGrpcStatus(status);
    }

    v1::RecordInteractionsRequest record;
    record.set_profile(absl::StrCat("profiles/", generated.id));
    for (const v1::Interaction& interaction : generated.interactions) {
      *record.add_interactions() = interaction;
    }
    v1::RecordInteractionsResponse recorded;
    grpc::ClientContext record_context;
    SetDeadline(record_context);
    status = stub->RecordInteractions(&record_context, record, &recorded);
    if (status.error_code() == grpc::StatusCode::NOT_FOUND) {
      ++skipped_profiles;  // Deleted or erased since an earlier run; its id is not reused.
      continue;
    }
    if (!status.ok()) return runtime::FromGrpcStatus(status);

    if (generated.nps.has_value()) {
      fv1::SubmitResponseRequest submit;
      submit.set_parent("surveys/nps");
      submit.set_request_id(absl::StrCat("demo-nps-", generated.id));
      fv1::Response& response = *submit.mutable_response();
      response.set_profile(absl::StrCat("profiles/", generated.id));
      response.set_score(generated.nps->score);
      response.set_channel(generated.nps->channel);
      response.set_touchpoint(generated.nps->touchpoint);
      *response.mutable_submit_time() = runtime::ToTimestamp(generated.nps->time);
      fv1::Response submitted;
      grpc::ClientContext submit_context;
      SetDeadline(submit_context);
      status = feedback->SubmitResponse(&submit_context, submit, &submitted);
      if (!status.ok()) return runtime::FromGrpcStatus(status);
      ++answers;
    }
    ++created_profiles;
    interactions += generated.interactions.size();
    for (const v1::Interaction& interaction : generated.interactions) ++by_type[interaction.type()];
    if (by_persona[generated.persona]++ == 0) {
      std::string json;
      google::protobuf::util::JsonPrintOptions json_options;
      json_options.add_whitespace = true;
      (void)google::protobuf::util::MessageToJsonString(recorded.profile(), &json, json_options);
      std::printf("%s\n", json.c_str());
    }
  }

  std::string personas;
  for (const auto& [persona, count] : by_persona) {
    absl::StrAppend(&personas, personas.empty() ? "" : ", ", PersonaName(persona), " ", count);
  }
  std::string types;
  for (const auto& [type, count] : by_type) {
    absl::StrAppend(&types, types.empty() ? "" : ", ", type, " ", count);
  }
  std::printf(
      "demo: %d profiles (%s), %lld interactions (%s), %d NPS answers%s in centricd at %s\n"
      "try: build/bin/centricctl reports nps --from=%s --to=%s --by=touchpoint\n",
      created_profiles, personas.c_str(), static_cast<long long>(interactions), types.c_str(),
      answers,
      skipped_profiles > 0 ? absl::StrCat(", ", skipped_profiles, " skipped").c_str() : "",
      address.c_str(),
      absl::FormatTime("%Y-%m-%d", options.end - absl::Hours(24 * 365), absl::UTCTimeZone()).c_str(),
      absl::FormatTime("%Y-%m-%d", options.end, absl::UTCTimeZone()).c_str());
  std::fflush(stdout);
  return absl::OkStatus();
}

}  // namespace centric::demo
