// Feedback ingestion: responses per second through StreamResponses with every derivation
// on (category, sentiment, themes, follow-up policies, contact policy, profile figures,
// events), on PostgreSQL with fsync on, against the same rows written straight into a
// PostgreSQL table with multi-row INSERTs in the same run (the floor any service on that
// database pays). Also: sentiment accuracy on the labelled sample and scoring speed.
//
//   bin/feedback_bench [--responses=100000] [--profiles=2000]
//
// Data: the demo population (libs/demo) of --profiles customers, created through
// CreateProfile with their identities, traits and consents; the responses replay its NPS
// answers (scores that drop after slow support tickets, their touchpoints and channels)
// in turn, with comments chosen by score band, until --responses are sent.
#include <grpcpp/grpcpp.h>

#include <cstdio>
#include <iterator>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/match.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "centric/feedback/v1/feedback_service.grpc.pb.h"
#include "centric/profiles/v1/profiles_service.grpc.pb.h"
#include "libs/demo/population.h"
#include "libs/events/in_process_bus.h"
#include "libs/runtime/log.h"
#include "libs/runtime/resource.h"
#include "libs/testing/servers.h"
#include "services/feedback/module.h"
#include "services/feedback/text/embedded_data.h"
#include "services/feedback/text/sentiment.h"
#include "services/feedback/text/themes.h"
#include "services/feedback/text/tokenize.h"
#include "services/profiles/module.h"
#include "bench/bench_util.h"

namespace centric::feedback_bench {
namespace {

namespace fv1 = ::centric::feedback::v1;
namespace pv1 = ::centric::profiles::v1;

struct Options {
  int responses = 100000;
  int profiles = 2000;
};

// Comments as customers write them, cycled through the responses (the text benchmark)
// and picked by score band for the ingestion: detractors complain, promoters praise.
const char* const kComments[] = {
    "",
    "Great service, the delivery was fast and the staff very friendly.",
    "Way too expensive for what it does, and the app keeps crashing.",
    "Support never answered my emails. Very disappointed.",
    "It's ok. Does the job.",
    "Onboarding was confusing, I could not find the settings page.",
    "Love the new dashboard! Much easier to use than before.",
    "Billing charged me twice this month, please fix this.",
    "",
    "The product is good but the price went up again.",
};
constexpr int kDetractorComments[] = {2, 3, 5, 7, 0};
constexpr int kPassiveComments[] = {4, 9, 0, 8};
constexpr int kPromoterComments[] = {1, 6, 0};

const char* CommentFor(int score, int i) {
  if (score <= 6) return kComments[kDetractorComments[i % std::size(kDetractorComments)]];
  if (score <= 8) return kComments[kPassiveComments[i % std::size(kPassiveComments)]];
  return kComments[kPromoterComments[i % std::size(kPromoterComments)]];
}

// The demo population's NPS answers, in profile order.
struct Answer {
  std::string profile;  // "profiles/demo-00042"
  demo::NpsAnswer nps;
};

int Fail(absl::string_view what, const absl::Status& status) {
  std::fprintf(stderr, "%s: %s\n", std::string(what).c_str(), status.ToString().c_str());
  return 1;
}

// Response i: answer i % answers.size(); each later round is an import of the same
// answers a day earlier, so every row is distinct.
fv1::SubmitResponseRequest ResponseRow(int i, const std::vector<Answer>& answers) {
  const Answer& answer = answers[i % answers.size()];
  const int round = static_cast<int>(i / answers.size());
  fv1::SubmitResponseRequest r;
  r.set_parent("surveys/nps");
  r.set_request_id(absl::StrCat("import-", i));
  fv1::Response* response = r.mutable_response();
  response->set_profile(answer.profile);
  response->set_score(answer.nps.score);
  response->set_channel(answer.nps.channel);
  response->set_touchpoint(answer.nps.touchpoint);
  response->set_comment(CommentFor(answer.nps.score, i));
  *response->mutable_submit_time() =
      runtime::ToTimestamp(answer.nps.time - absl::Hours(24) * round);
  return r;
}

// Raw rows into PostgreSQL: the same number of rows, each with the serialized request as
// payload, 500 per transaction, in multi-row INSERTs.
absl::StatusOr<double> BaselineRate(store::Database& db, const Options& options,
                                    const std::vector<Answer>& answers) {
  if (auto s = db.Exec("CREATE TABLE raw_responses (id TEXT PRIMARY KEY, survey TEXT, profile "
                       "TEXT, score BIGINT, submit_time BIGINT, data BYTEA)");
      !s.ok()) {
    return s.status();
  }
  absl::Time start = absl::Now();
  for (int first = 0; first < options.responses; first += 500) {
    std::vector<store::Params> rows;
    for (int i = first; i < std::min(options.responses, first + 500); ++i) {
      fv1::SubmitResponseRequest r = ResponseRow(i, answers);
      rows.push_back({r.request_id(), std::string("nps"), r.response().profile(),
                      int64_t{r.response().score()},
                      absl::ToUnixMicros(runtime::FromTimestamp(r.response().submit_time())),
                      store::Blob{r.response().SerializeAsString()}});
    }
    absl::Status s = db.Transact([&](store::Tx& tx) {
      return store::InsertMany(tx, "INSERT INTO raw_responses (id, survey, profile, score, "
                                   "submit_time, data) VALUES",
                               rows)
          .status();
    });
    if (!s.ok()) return s;
  }
  return options.responses / absl::ToDoubleSeconds(absl::Now() - start);
}

int Run(const Options& options) {
  runtime::SetMinLogLevel(runtime::LogLevel::kWarning);
  // Sentiment accuracy and speed (pure CPU).
  const auto& scorer = feedback::text::SentimentScorer::Default();
  auto accuracy = feedback::text::EvaluateSample(scorer, feedback::text::SentimentSample());
  if (!accuracy.ok()) return Fail("sample", accuracy.status());
  absl::PrintF("sentiment_sample: %s\n", feedback::text::DescribeAccuracy(*accuracy));
  {
    const int n = 200000;
    size_t tokens = 0;
    absl::Time start = absl::Now();
    for (int i = 0; i < n; ++i) tokens += feedback::text::Tokenize(kComments[i % 10]).size();
    double tokenize_rate = n / absl::ToDoubleSeconds(absl::Now() - start);
    double sum = 0;
    start = absl::Now();
    for (int i = 0; i < n; ++i) sum += scorer.Score(kComments[i % 10]).score;
    double score_rate = n / absl::ToDoubleSeconds(absl::Now() - start);
    size_t themes = 0;
    start = absl::Now();
    for (int i = 0; i < n; ++i) {
      themes += feedback::text::ThemeTaxonomy::Default().Match(kComments[i % 10]).size();
    }
    double theme_rate = n / absl::ToDoubleSeconds(absl::Now() - start);
    absl::PrintF("text_tokenize_per_s %.0f (baseline; %d tokens)\n", tokenize_rate, tokens);
    absl::PrintF("text_sentiment_per_s %.0f ratio_vs_tokenize %.2f (checksum %.1f)\n", score_rate,
                 score_rate / tokenize_rate, sum);
    absl::PrintF("text_themes_per_s %.0f ratio_vs_tokenize %.2f (%d matches)\n", theme_rate,
                 theme_rate / tokenize_rate, themes);
  }

  std::fprintf(stderr, "starting PostgreSQL (fsync on)...\n");
  auto postgres = testing::PostgresServer::Start(/*fast=*/false);
  if (!postgres.ok()) return Fail("PostgreSQL", postgres.status());
  auto url = (*postgres)->CreateDatabase("feedbackbench");
  if (!url.ok()) return Fail("PostgreSQL", url.status());
  auto baseline_url = (*postgres)->CreateDatabase("rawbench");
  if (!baseline_url.ok()) return Fail("PostgreSQL", baseline_url.status());

  app::Infrastructure infra;
  infra.config.refresh_interval = absl::Hours(1);
  auto db = store::Open(*url);
  if (!db.ok()) return Fail("open", db.status());
  infra.db = std::move(*db);
  infra.cache = std::make_unique<cache::NullCache>();
  infra.bus = events::NewInProcessBus();
  infra.clock = std::make_unique<runtime::SystemClock>();
  infra.ids = std::make_unique<runtime::UlidGenerator>(*infra.clock);
  infra.pool = std::make_unique<runtime::WorkerPool>(4);
  runtime::Server server({.listen = "127.0.0.1:0", .drain_timeout = absl::Seconds(2)});
  std::vector<std::unique_ptr<app::Module>> modules;
  modules.push_back(profiles::NewProfilesModule(infra));
  modules.push_back(feedback::NewFeedbackModule(infra));
  for (auto& m : modules) {
    if (absl::Status s = m->Start(server); !s.ok()) return Fail("start", s);
  }
  if (absl::Status s = server.Start(); !s.ok()) return Fail("serve", s);
  server.SetServing(true);
  for (auto& m : modules) m->Serving(server);
  auto channel = grpc::CreateChannel(server.address(), grpc::InsecureChannelCredentials());
  auto profiles = pv1::Profiles::NewStub(channel);
  auto feedback = fv1::Feedback::NewStub(channel);

  // A week ago, so every answer is in the past and within the reporting window.
  auto population =
      demo::Generate({.profiles = options.profiles, .end = absl::Now() - absl::Hours(24 * 7)});
  if (!population.ok()) return Fail("demo population", population.status());
  std::vector<Answer> answers;
  for (const demo::GeneratedProfile& p : population->profiles) {
    if (p.nps.has_value()) answers.push_back({absl::StrCat("profiles/", p.id), *p.nps});
  }
  if (answers.empty()) return Fail("demo population", absl::FailedPreconditionError("no answers"));
  std::fprintf(stderr, "creating %d demo profiles (%zu NPS answers to replay)...\n",
               options.profiles, answers.size());
  absl::Status created = bench::ForEachIndex(4, options.profiles, [&](int i) -> absl::Status {
    grpc::ClientContext context;
    pv1::CreateProfileRequest request;
    request.set_profile_id(population->profiles[i].id);
    *request.mutable_profile() = population->profiles[i].profile;
    pv1::Profile out;
    grpc::Status s = profiles->CreateProfile(&context, request, &out);
    return s.ok() ? absl::OkStatus() : absl::InternalError(s.error_message());
  });
  if (!created.ok()) return Fail("profiles", created);
  {
    grpc::ClientContext context;
    fv1::CreateSurveyRequest request;
    request.set_survey_id("nps");
    request.mutable_survey()->set_display_name("NPS");
    request.mutable_survey()->set_kind(fv1::SURVEY_KIND_NPS);
    request.mutable_survey()->set_question("How likely are you to recommend us?");
    request.mutable_survey()->set_owner_team("cx");
    fv1::Survey out;
    if (grpc::Status s = feedback->CreateSurvey(&context, request, &out); !s.ok()) {
      return Fail("survey", absl::InternalError(s.error_message()));
    }
    grpc::ClientContext policy_context;
    fv1::CreateFollowUpPolicyRequest policy;
    policy.mutable_policy()->set_display_name("detractors");
    policy.mutable_policy()->set_rule(
        "response.category == DETRACTOR || \"reliability\" in response.themes");
    policy.mutable_policy()->set_owner_team("support");
    policy.mutable_policy()->mutable_first_contact_sla()->set_seconds(48 * 3600);
    fv1::FollowUpPolicy created_policy;
    if (grpc::Status s = feedback->CreateFollowUpPolicy(&policy_context, policy, &created_policy);
        !s.ok()) {
      return Fail("policy", absl::InternalError(s.error_message()));
    }
  }

  std::vector<fv1::SubmitResponseRequest> rows;
  rows.reserve(options.responses);
  for (int i = 0; i < options.responses; ++i) rows.push_back(ResponseRow(i, answers));
  std::fprintf(stderr, "streaming %d responses...\n", options.responses);
  grpc::ClientContext context;
  fv1::StreamResponsesSummary summary;
  absl::Time start = absl::Now();
  auto writer = feedback->StreamResponses(&context, &summary);
  for (const auto& row : rows) {
    if (!writer->Write(row)) break;
  }
  writer->WritesDone();
  grpc::Status status = writer->Finish();
  double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  if (!status.ok()) return Fail("stream", absl::InternalError(status.error_message()));
  double rate = summary.accepted() / seconds;

  auto raw = store::Open(*baseline_url);
  if (!raw.ok()) return Fail("open", raw.status());
  auto baseline = BaselineRate(**raw, options, answers);
  if (!baseline.ok()) return Fail("baseline", baseline.status());

  server.Shutdown();
  for (auto it = modules.rbegin(); it != modules.rend(); ++it) (*it)->Stop();
  absl::PrintF("demo_population profiles %d answers %d\n", options.profiles, answers.size());
  absl::PrintF("stream_responses accepted %d rejected %d in %.2f s\n", summary.accepted(),
               summary.rejected(), seconds);
  absl::PrintF("stream_responses_per_s %.0f\n", rate);
  absl::PrintF("baseline_raw_insert_per_s %.0f\n", *baseline);
  absl::PrintF("ratio_service_vs_raw_insert %.2f\n", rate / *baseline);
  absl::PrintF("goal_20000_per_s %s\n", rate >= 20000 ? "met" : "not_met");
  return summary.rejected() == 0 ? 0 : 1;
}

}  // namespace
}  // namespace centric::feedback_bench

int main(int argc, char** argv) {
  centric::feedback_bench::Options options;
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    int* target = nullptr;
    if (absl::ConsumePrefix(&arg, "--responses=")) target = &options.responses;
    if (absl::ConsumePrefix(&arg, "--profiles=")) target = &options.profiles;
    if (target == nullptr || !absl::SimpleAtoi(arg, target) || *target <= 0) {
      std::fprintf(stderr, "usage: feedback_bench [--responses=N] [--profiles=N]\n");
      return 2;
    }
  }
  return centric::feedback_bench::Run(options);
}
