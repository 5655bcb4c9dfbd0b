// End to end: centricctl run as a child process against a real centricd (SQLite), through
// every service; its output, errors and exit codes are what a person at a terminal sees.
#include <google/protobuf/util/json_util.h>
#include <grpcpp/grpcpp.h>
#include <sys/wait.h>

#include <cstdio>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "centric/feedback/v1/feedback_service.grpc.pb.h"
#include "centric/profiles/v1/profiles_service.pb.h"
#include "centric/reporting/v1/reporting_service.pb.h"
#include "centric/segmentation/v1/segmentation_service.pb.h"
#include "gtest/gtest.h"
#include "libs/testing/servers.h"
#include "tests/e2e/processes.h"

namespace centric::e2e {
namespace {


struct Result {
  int exit_code = -1;
  std::string out;
  std::string err;
};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Runs bin/centricctl with `args` to completion through the shell, quoting each word.
Result RunCtl(const std::string& dir, const std::vector<std::string>& args) {
  std::string err_path = absl::StrCat(dir, "/centricctl.err");
  std::string command = absl::StrCat("'", CENTRIC_BIN_DIR, "/centricctl'");
  for (const std::string& arg : args) {
    absl::StrAppend(&command, " '", absl::StrReplaceAll(arg, {{"'", "'\\''"}}), "'");
  }
  absl::StrAppend(&command, " 2>'", err_path, "' </dev/null");
  Result result;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return result;
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof buffer, pipe)) > 0) result.out.append(buffer, n);
  int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  result.err = ReadFile(err_path);
  return result;
}

// Whether `text` has a line matching `pattern` (table columns are padded with spaces).
bool HasLine(const std::string& text, const std::string& pattern) {
  return std::regex_search(text, std::regex(absl::StrCat("(^|\n)", pattern, "\n")));
}

std::string Show(const Result& r) {
  return absl::StrCat("exit ", r.exit_code, "\nstdout:\n", r.out, "stderr:\n", r.err);
}

std::string Today(absl::Duration offset = absl::ZeroDuration()) {
  return absl::FormatTime("%Y-%m-%d", absl::Now() + offset, absl::UTCTimeZone());
}

class CentricctlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    centricd_ = Start("centricd", {},
                      {absl::StrCat("CENTRIC_DATABASE_URL=sqlite://", dir_.path(), "/c.db")},
                      dir_.path());
    ASSERT_FALSE(centricd_.address.empty()) << "no listening line in " << centricd_.log;
    ASSERT_TRUE(WaitServing(centricd_.address));
  }
  void TearDown() override {
    if (centricd_.process) StopGracefully(centricd_);
  }

  Result Ctl(std::vector<std::string> args) {
    args.insert(args.begin(), absl::StrCat("--target=", centricd_.address));
    return RunCtl(dir_.path(), args);
  }

  testing::TempDir dir_;
  Running centricd_;
};

TEST_F(CentricctlTest, DrivesEveryService) {
  // Profiles.
  Result r = Ctl({"profiles", "create", "--id=ada", "--email=ada@example.com", "--trait",
                  "country=DE", "--name=Ada Lovelace"});
  ASSERT_EQ(r.exit_code, 0) << Show(r);
  EXPECT_NE(r.out.find("profiles/ada"), std::string::npos) << Show(r);
  EXPECT_TRUE(HasLine(r.out, "traits\\.country +DE")) << Show(r);

  r = Ctl({"profiles", "get", "ada"});
  ASSERT_EQ(r.exit_code, 0) << Show(r);
  EXPECT_NE(r.out.find("ada@example.com"), std::string::npos) << Show(r);
  EXPECT_NE(r.out.find("Ada Lovelace"), std::string::npos) << Show(r);

  r = Ctl({"profiles", "get", "nobody"});
  EXPECT_EQ(r.exit_code, 3) << Show(r);
  EXPECT_EQ(r.err.rfind("centricctl: ", 0), 0u) << Show(r);

  r = Ctl({"profiles", "lookup", "--email=ADA@example.com"});
  ASSERT_EQ(r.exit_code, 0) << Show(r);
  EXPECT_NE(r.out.find("profiles/ada"), std::string::npos) << Show(r);

  std::string csv = absl::StrCat(dir_.path(), "/people.csv");
  std::ofstream(csv) << "id,email,country\n"
                        "bob,bob@example.com,DE\n"
                        "Not Valid!,nv@example.com,FR\n"
                        "carol,\"carol@example.com\",DE\n";
  r = Ctl({"profiles", "import", csv});
  EXPECT_EQ(r.exit_code, 4) << Show(r);
  EXPECT_NE(r.out.find("created 2, failed 1"), std::string::npos) << Show(r);
  EXPECT_NE(r.err.find("line 3 (id \"Not Valid!\")"), std::string::npos) << Show(r);
  EXPECT_NE(r.err.find("profile_id: "), std::string::npos) << Show(r);

  r = Ctl({"profiles", "export", "bob"});
  ASSERT_EQ(r.exit_code, 0) << Show(r);
  EXPECT_NE(r.out.find("\"name\": \"profiles/bob\""), std::string::npos) << Show(r);
  r = Ctl({"--json", "profiles", "export", "bob"});
  ASSERT_EQ(r.exit_code, 0) << Show(r);
  profiles::v1::ExportProfileResponse exported;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(r.out, &exported).ok()) << Show(r);
  EXPECT_EQ(exported.profile().traits().at("country").string_value(), "DE");
  // The whole document: every service's part is printed with its type.
  segmentation::v1::ExportProfileDataResponse segmentation_part;
  feedback::v1::ExportProfileDataResponse feedback_part;
  reporting::v1::ExportProfileDataResponse reporting_part;
  EXPECT_TRUE(exported.segmentation().UnpackTo(&segmentation_part)) << Show(r);
  EXPECT_TRUE(exported.feedback().UnpackTo(&feedback_part)) << Show(r);
  EXPECT_TRUE(exported.reporting().UnpackTo(&reporting_part)) << Show(r);

  // Segmentation.
  r = Ctl({"segments", "create", "--id=germany", "--rule=profile.traits.country == \"DE\"",
           "--owner-team=growth"});
  ASSERT_EQ(r.exit_code, 0) << Show(r);
  EXPECT_NE(r.out.find("segments/germany"), std::string::npos) << Show(r);
  r = Ctl({"segments", "create", "--id=france", "--rule=profile.traits.country == \"FR\"",
           "--owner-team=growth", "--name=France"});
  ASSERT_EQ(r.exit_code, 0) << Show(r);
  r = Ctl({"segments", "create", "--id=bad", "--rule=profile.traits.country ==", "--owner-team=growth"});
  EXPECT_EQ(r.exit_code, 4) << Show(r);
  EXPECT_NE(r.err.find("segment.rule: "), std::string::npos) << Show(r);

  EXPECT_TRUE(Eventually([&] {
    r = Ctl({"segments", "preview", "--rule=profile.traits.country == \"DE\""});
    return r.exit_code == 0 && r.out.find("size 3\n") != std::string::npos;
  })) << Show(r);
  EXPECT_TRUE(Eventually([&] {
    r = Ctl({"segments", "members", "germany"});
    return r.exit_code == 0 && r.out == "PROFILE\nprofiles/ada\nprofiles/bob\nprofiles/carol\n";
  })) << Show(r);
  EXPECT_TRUE(Eventually([&] {
    r = Ctl({"segments", "overlap", "germany", "france"});
    return r.exit_code == 0 && HasLine(r.out, "in every segment +0") &&
           HasLine(r.out, "in any segment +3") &&
           HasLine(r.out, "segments/germany minus segments/france +3");
  })) << Show(r);
  r = Ctl({"segments", "members", "nope"});
  EXPECT_EQ(r.exit_code, 3) << Show(r);

  // Feedback: a survey and a follow-up policy, then responses.
  r = Ctl({"surveys", "create", "--id=nps", "--kind=nps", "--owner-team=cx",
           "--question=How likely are you to recommend us?", "--touchpoint=after_purchase",
           "--channel=web", "--stage=purchase", "--name=NPS after purchase"});
  ASSERT_EQ(r.exit_code, 0) << Show(r);
  EXPECT_TRUE(HasLine(r.out, "name +surveys/nps")) << Show(r);
  EXPECT_TRUE(HasLine(r.out, "journey stage +purchase")) << Show(r);
  r = Ctl({"surveys", "create", "--id=effort", "--kind=open-text", "--owner-team=cx",
           "--question=Anything else?", "--consent=marketing-email", "--min-days=30"});
  ASSERT_EQ(r.exit_code, 0) << Show(r);
  EXPECT_TRUE(HasLine(r.out, "kind +open_text")) << Show(r);
  EXPECT_TRUE(HasLine(r.out, "required consent +marketing_email")) << Show(r);
  r = Ctl({"surveys", "create", "--id=x", "--kind=stars", "--owner-team=cx", "--question=?"});
  EXPECT_EQ(r.exit_code, 2) << Show(r);
  EXPECT_NE(r.err.find("--kind is one of nps, csat, ces, open_text, not \"stars\""),
            std::string::npos)
      << Show(r);
  r = Ctl({"surveys", "create", "--id=Bad Id", "--kind=nps", "--owner-team=cx", "--question=?"});
  EXPECT_EQ(r.exit_code, 4) << Show(r);
  EXPECT_NE(r.err.find("survey_id: "), std::string::npos) << Show(r);
  r = Ctl({"surveys", "list"});
  ASSERT_EQ(r.exit_code, 0) << Show(r);
  EXPECT_TRUE(HasLine(r.out, "surveys/nps +nps +cx +after_purchase +web +- +How likely.*")) << Show(r);
  EXPECT_TRUE(HasLine(r.out, "surveys/effort +open_text +cx +- +- +marketing_email +Anything else\\?"))
      << Show(r);

  r = Ctl({"policies", "create", "--id=detractors", "--rule=response.category == DETRACTOR",
           "--owner-team=support", "--first-contact-sla=48h", "--resolution-sla=168h",
           "--priority=10", "--name=Call back detractors"});
  ASSERT_EQ(r.exit_code, 0) << Show(r);
  EXPECT_TRUE(HasLine(r.out, "first contact within +48h")) << Show(r);
  EXPECT_TRUE(HasLine(r.out, "resolved within +168h")) << Show(r);
  r = Ctl({"policies", "create", "--id=late", "--rule=response.score <", "--owner-team=support",
           "--first-contact-sla=48h"});
  EXPECT_EQ(r.exit_code, 4) << Show(r);
  EXPECT_NE(r.err.find("policy.rule: "), std::string::npos) << Show(r);
  r = Ctl({"policies", "create", "--id=late", "--rule=true", "--owner-team=support",
           "--first-contact-sla=two days"});
  EXPECT_EQ(r.exit_code, 2) << Show(r);
  EXPECT_NE(r.err.find("--first-contact-sla wants a duration"), std::string::npos) << Show(r);
  r = Ctl({"policies", "list"});
  ASSERT_EQ(r.exit_code, 0) << Show(r);
  EXPECT_TRUE(HasLine(r.out, "followUpPolicies/detractors +support +48h +168h +10 +response\\.category == DETRACTOR"))
      << Show(r);

  r = Ctl({"feedback", "submit", "--survey=nps", "--profile=ada", "--score=3",
           "--comment=Delivery was late and nobody answered my emails"});
  ASSERT_EQ(r.exit_code, 0) << Show(r);
  EXPECT_NE(r.out.find("detractor"), std::string::npos) << Show(r);
  r = Ctl({"feedback", "submit", "--survey=nps", "--profile=bob", "--score=42"});
  EXPECT_EQ(r.exit_code, 4) << Show(r);
  EXPECT_NE(r.err.find("score: "), std::string::npos) << Show(r);

  r = Ctl({"feedback", "follow-ups", "--team=support", "--state=open"});
  ASSERT_EQ(r.exit_code, 0) << Show(r);
  EXPECT_TRUE(HasLine(r.out, "followUps/\\S+ +profiles/ada +support +open .*")) << Show(r);

  // Reporting: rollups are fed by events, so the answer shows up shortly.
  std::vector<std::string> period = {"--from=" + Today(-absl::Hours(24 * 30)), "--to=" + Today()};
  EXPECT_TRUE(Eventually([&] {
    std::vector<std::string> args = {"reports", "nps"};
    args.insert(args.end(), period.begin(), period.end());
    r = Ctl(args);
    return r.exit_code == 0 && HasLine(r.out, "\\(all\\) +total +-100\\.0 .*");
  })) << Show(r);
  std::vector<std::string> args = {"reports", "scorecard"};
  args.insert(args.end(), period.begin(), period.end());
  r = Ctl(args);
  ASSERT_EQ(r.exit_code, 0) << Show(r);
  EXPECT_TRUE(HasLine(r.out, "nps +-100\\.0 .*")) << Show(r);
  EXPECT_EQ(r.out.find("BY "), std::string::npos) << "the team view only when asked\n" << Show(r);
  args.push_back("--team-view");
  r = Ctl(args);
  ASSERT_EQ(r.exit_code, 0) << Show(r);
  EXPECT_TRUE(HasLine(r.out, "BY +KEY +KPI +CURRENT +PREVIOUS +CHANGE +TREND +SAMPLE")) << Show(r);
  EXPECT_TRUE(HasLine(r.out, "touchpoint +after_purchase +nps +-100\\.0 .*")) << Show(r);

  args = {"--json", "reports", "nps", "--by=survey"};
  args.insert(args.end(), period.begin(), period.end());
  r = Ctl(args);
  ASSERT_EQ(r.exit_code, 0) << Show(r);
  reporting::v1::KpiSeries series;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(r.out, &series).ok()) << Show(r);
  EXPECT_EQ(series.dimension(), reporting::v1::DIMENSION_SURVEY);
  ASSERT_GE(series.lines_size(), 1);
  EXPECT_DOUBLE_EQ(series.lines(0).total().value(), -100.0);

  r = Ctl({"reports", "experiment", "missing"});
  EXPECT_EQ(r.exit_code, 3) << Show(r);
}

TEST_F(CentricctlTest, ReachesTheDeadLetters) {
  Result r = Ctl({"dead-letters", "list", "--topic=profiles", "--group=segmentation"});
  EXPECT_EQ(r.exit_code, 0) << Show(r);
  EXPECT_TRUE(HasLine(r.out, "NAME +EVENT +TYPE +SUBJECT +ATTEMPTS +WHEN +ERROR *")) << Show(r);
  r = Ctl({"dead-letters", "drop", "topics/profiles/groups/segmentation/deadLetters/1"});
  EXPECT_EQ(r.exit_code, 3) << Show(r);
  EXPECT_NE(r.err.find("no dead letter 1"), std::string::npos) << Show(r);
  r = Ctl({"dead-letters", "replay", "segmentation/1"});
  EXPECT_EQ(r.exit_code, 4) << Show(r);
  EXPECT_NE(r.err.find("name"), std::string::npos) << Show(r);
  r = Ctl({"dead-letters", "list", "--topic=Profiles!", "--group=segmentation"});
  EXPECT_EQ(r.exit_code, 4) << Show(r);
  EXPECT_NE(r.err.find("parent"), std::string::npos) << Show(r);
}

TEST_F(CentricctlTest, UsageErrors) {
  Result r = Ctl({"profiles", "frobnicate"});
  EXPECT_EQ(r.exit_code, 2) << Show(r);
  EXPECT_NE(r.err.find("usage: centricctl"), std::string::npos) << Show(r);
  r = Ctl({"profiles", "get", "ada", "--colour=red"});
  EXPECT_EQ(r.exit_code, 2) << Show(r);
  EXPECT_NE(r.err.find("unknown flag --colour"), std::string::npos) << Show(r);
  r = Ctl({"reports", "nps", "--from=yesterday", "--to=2024-01-01"});
  EXPECT_EQ(r.exit_code, 2) << Show(r);
}

TEST(CentricctlUnreachableTest, NamesTheTarget) {
  testing::TempDir dir;
  // Port 1 on loopback: nothing listens there.
  Result r = RunCtl(dir.path(), {"--target=127.0.0.1:1", "--timeout=2s", "profiles", "get", "ada"});
  EXPECT_EQ(r.exit_code, 5) << Show(r);
  EXPECT_NE(r.err.find("profiles service at 127.0.0.1:1"), std::string::npos) << Show(r);
  r = RunCtl(dir.path(), {"--target=127.0.0.1:1", "--reporting-target=127.0.0.1:2",
                          "--timeout=2s", "reports", "experiment", "x"});
  EXPECT_EQ(r.exit_code, 5) << Show(r);
  EXPECT_NE(r.err.find("reporting service at 127.0.0.1:2"), std::string::npos) << Show(r);
}

}  // namespace
}  // namespace centric::e2e
