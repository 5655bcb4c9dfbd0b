#include "services/centricctl/commands.h"

#include <google/protobuf/util/json_util.h>
#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <tuple>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "centric/events/v1/dead_letters.grpc.pb.h"
#include "centric/feedback/v1/feedback_service.grpc.pb.h"
#include "centric/profiles/v1/profiles_service.grpc.pb.h"
#include "centric/reporting/v1/reporting_service.grpc.pb.h"
#include "centric/segmentation/v1/segmentation_service.grpc.pb.h"
#include "libs/runtime/server.h"
#include "services/centricctl/args.h"
#include "services/centricctl/csv.h"
#include "services/centricctl/errors.h"
#include "services/centricctl/table.h"

namespace centric::ctl {
namespace {

namespace pv1 = ::centric::profiles::v1;
namespace sv1 = ::centric::segmentation::v1;
namespace fv1 = ::centric::feedback::v1;
namespace rv1 = ::centric::reporting::v1;
namespace ev1 = ::centric::events::v1;

constexpr char kUsage[] =
    "usage: centricctl [--target=HOST:PORT] [--json] [--timeout=10s] GROUP COMMAND ...\n"
    "  profiles get NAME|ID\n"
    "  profiles create --id=ID [--email=E] [--name=DISPLAY] [--trait k=v ...]\n"
    "  profiles lookup --email=E\n"
    "  profiles import FILE.csv          (header: id,email,<trait>,...)\n"
    "  profiles export NAME|ID           (what every service holds, as JSON)\n"
    "  segments create --id=ID --rule=CEL --owner-team=T [--name=DISPLAY]\n"
    "  segments preview --rule=CEL [--sample=10]\n"
    "  segments members ID\n"
    "  segments overlap A B [C ...]\n"
    "  surveys create --id=ID --kind=nps|csat|ces|open_text --question=TEXT --owner-team=T\n"
    "      [--name=DISPLAY] [--touchpoint=T] [--channel=web|email|...] [--stage=purchase|...]\n"
    "      [--min-days=N] [--consent=marketing_email|...]\n"
    "  surveys list\n"
    "  policies create --id=ID --rule=CEL --owner-team=T --first-contact-sla=48h\n"
    "      [--resolution-sla=168h] [--priority=N] [--name=DISPLAY]   (follow-up policies)\n"
    "  policies list\n"
    "  feedback submit --survey=ID --profile=ID --score=N [--comment=TEXT]\n"
    "  feedback follow-ups [--team=T] [--state=open|contacted|resolved|closed]\n"
    "  reports nps --from=YYYY-MM-DD --to=YYYY-MM-DD [--by=segment|channel|touchpoint|"
    "survey|persona] [--granularity=day|week|month]\n"
    "  reports scorecard --from=YYYY-MM-DD --to=YYYY-MM-DD [--team-view]\n"
    "  reports experiment ID\n"
    "  dead-letters list --topic=T --group=G [--service=S]   (events a group gave up on)\n"
    "  dead-letters replay NAME [--service=S]   (deliver to its group again)\n"
    "  dead-letters drop NAME [--service=S]\n"
    "global flags: --target (env CENTRIC_TARGET, default 127.0.0.1:50051), "
    "--profiles-target, --segmentation-target, --feedback-target, --reporting-target, "
    "--json, --timeout,\n"
    "  --tls-ca=PEM (CENTRIC_TLS_CA: TLS, verifying the servers), --tls-cert=PEM and\n"
    "  --tls-key=PEM (CENTRIC_TLS_CERT, CENTRIC_TLS_KEY: a client certificate),\n"
    "  --token-file=PATH (CENTRIC_TOKEN_FILE: a bearer token)\n"
    "dates are UTC days; --to is included\n";

const std::set<std::string> kGlobalFlags = {"target",          "profiles-target",
                                            "segmentation-target", "feedback-target",
                                            "reporting-target", "json",
                                            "timeout", "tls-ca", "tls-cert", "tls-key",
                                            "token-file"};

// The contents of the file a global flag (or its environment variable) names; "" when
// neither is set.
absl::StatusOr<std::string> FlagFile(const Args& args, const std::string& flag, const char* env) {
  const char* from_env = std::getenv(env);
  std::string path = args.Get(flag, from_env != nullptr ? from_env : "");
  if (path.empty()) return std::string();
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::InvalidArgumentError(absl::StrCat("--", flag, ": cannot read ", path));
  }
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// How to reach the services: TLS material and bearer token, read once.
struct Security {
  std::string ca, cert, key, token;
};

int Usage(const std::string& problem) {
  std::cerr << "centricctl: " << problem << "\n" << kUsage;
  return kExitUsage;
}

// What every command needs: where each service is, how long to wait, how to print.
class Session {
 public:
  Session(const Args& args, absl::Duration timeout, Security security)
      : args_(args), timeout_(timeout), security_(std::move(security)) {
    const char* env = std::getenv("CENTRIC_TARGET");
    std::string fallback = args.Get("target", env != nullptr && *env ? env : "127.0.0.1:50051");
    for (const char* service : {"profiles", "segmentation", "feedback", "reporting"}) {
      targets_[service] = args.Get(absl::StrCat(service, "-target"), fallback);
    }
  }

  const Args& args() const { return args_; }
  bool json() const { return args_.Has("json"); }

  std::shared_ptr<grpc::Channel> Channel(const std::string& service) {
    auto& channel = channels_[service];
    if (!channel) {
      std::shared_ptr<grpc::ChannelCredentials> credentials = grpc::InsecureChannelCredentials();
      if (!security_.ca.empty() || !security_.cert.empty()) {
        grpc::SslCredentialsOptions options;
        options.pem_root_certs = security_.ca;
        options.pem_cert_chain = security_.cert;
        options.pem_private_key = security_.key;
        credentials = grpc::SslCredentials(options);
      }
      grpc::ChannelArguments channel_args;
      channel_args.SetMaxReceiveMessageSize(runtime::kMaxResponseBytes);  // large exports
      channel = grpc::CreateCustomChannel(targets_[service], credentials, channel_args);
    }
    return channel;
  }

  void Prepare(grpc::ClientContext* context) const {
    context->set_deadline(std::chrono::system_clock::now() +
                          absl::ToChronoMilliseconds(timeout_));
    if (!security_.token.empty()) {
      context->AddMetadata("authorization", absl::StrCat("Bearer ", security_.token));
    }
  }

  // Prints the error and returns its exit code.
  int Fail(const grpc::Status& status, const std::string& service) {
    std::cerr << "centricctl: " << Describe(status, service, targets_[service]) << "\n";
    return ExitCode(status.error_code());
  }

  // One JSON object per line.
  void PrintJson(const google::protobuf::Message& message) const {
    std::string text;
    google::protobuf::util::MessageToJsonString(message, &text);
    std::cout << text << "\n";
  }

 private:
  const Args& args_;
  absl::Duration timeout_;
  Security security_;
  std::map<std::string, std::string> targets_;
  std::map<std::string, std::shared_ptr<grpc::Channel>> channels_;
};

// "PROFILE_KIND_PERSON" with prefix "PROFILE_KIND_" → "person"; "…_UNSPECIFIED" → "-".
std::string EnumLabel(const std::string& name, const std::string& prefix) {
  std::string label = name.rfind(prefix, 0) == 0 ? name.substr(prefix.size()) : name;
  return label == "UNSPECIFIED" ? "-" : absl::AsciiStrToLower(label);
}

// The enum value --`flag` names, written as EnumLabel prints it ("open_text", or
// "open-text"), into `value`; false with `error` listing the accepted labels. An absent
// flag leaves `value` alone.
bool EnumFlag(const Args& args, const std::string& flag,
              const google::protobuf::EnumDescriptor* type, const std::string& prefix,
              int* value, std::string* error) {
  if (!args.Has(flag)) return true;
  std::string label = absl::AsciiStrToUpper(args.Get(flag));
  std::replace(label.begin(), label.end(), '-', '_');
  const google::protobuf::EnumValueDescriptor* found =
      label == "UNSPECIFIED" ? nullptr : type->FindValueByName(absl::StrCat(prefix, label));
  if (found != nullptr) {
    *value = found->number();
    return true;
  }
  std::vector<std::string> labels;
  for (int i = 0; i < type->value_count(); ++i) {
    std::string name = EnumLabel(type->value(i)->name(), prefix);
    if (name != "-") labels.push_back(name);
  }
  *error = absl::StrCat("--", flag, " is one of ", absl::StrJoin(labels, ", "), ", not \"",
                        args.Get(flag), "\"");
  return false;
}

// --`flag` as a duration ("48h", "90m"), into `duration`; false when it does not parse.
bool DurationFlag(const Args& args, const std::string& flag, google::protobuf::Duration* duration) {
  if (!args.Has(flag)) return true;
  absl::Duration d;
  if (!absl::ParseDuration(args.Get(flag), &d)) return false;
  duration->set_seconds(absl::ToInt64Seconds(d));
  duration->set_nanos(static_cast<int32_t>(absl::ToInt64Nanoseconds(d % absl::Seconds(1))));
  return true;
}

std::string FormatDuration(const google::protobuf::Duration& duration) {
  if (duration.seconds() == 0 && duration.nanos() == 0) return "-";
  return absl::FormatDuration(absl::Seconds(duration.seconds()) +
                              absl::Nanoseconds(duration.nanos()));
}

std::string FormatTime(const google::protobuf::Timestamp& time) {
  if (time.seconds() == 0 && time.nanos() == 0) return "";
  return absl::FormatTime("%Y-%m-%d %H:%M:%S UTC", absl::FromUnixSeconds(time.seconds()),
                          absl::UTCTimeZone());
}

// "ada" → "profiles/ada"; a full name stays as it is.
std::string ResourceName(const std::string& collection, const std::string& id) {
  return id.find('/') == std::string::npos ? absl::StrCat(collection, "/", id) : id;
}

std::string ValueText(const google::protobuf::Value& value) {
  if (value.kind_case() == google::protobuf::Value::kStringValue) return value.string_value();
  std::string text;
  google::protobuf::util::MessageToJsonString(value, &text);
  return text;
}

// Lists every page of `request` from `service`, following next_page_token: with --json
// each page is printed as it arrives, otherwise `add_rows` fills `table` from each page
// and the table is printed at the end. Returns the exit code.
template <typename Request, typename Response>
int ListAllPages(Session& s, const std::string& service, Request request,
                 const std::function<grpc::Status(grpc::ClientContext*, const Request&,
                                                  Response*)>& list,
                 const std::function<void(const Response&)>& add_rows, Table& table) {
  do {
    grpc::ClientContext context;
    s.Prepare(&context);
    Response response;
    grpc::Status status = list(&context, request, &response);
    if (!status.ok()) return s.Fail(status, service);
    s.json() ? s.PrintJson(response) : add_rows(response);
    request.set_page_token(response.next_page_token());
  } while (!request.page_token().empty());
  if (!s.json()) table.Print(std::cout);
  return kExitOk;
}

// ---- profiles ---------------------------------------------------------------------

void PrintProfile(const pv1::Profile& profile) {
  Table table({"FIELD", "VALUE"});
  table.AddRow({"name", profile.name()});
  table.AddRow({"kind", EnumLabel(pv1::ProfileKind_Name(profile.kind()), "PROFILE_KIND_")});
  table.AddRow({"state", EnumLabel(pv1::ProfileState_Name(profile.state()), "PROFILE_STATE_")});
  if (!profile.display_name().empty()) table.AddRow({"display name", profile.display_name()});
  for (const pv1::Identity& identity : profile.identities()) {
    table.AddRow({EnumLabel(pv1::IdentityType_Name(identity.type()), "IDENTITY_TYPE_"),
                  identity.value()});
  }
  std::map<std::string, std::string> traits;
  for (const auto& [key, value] : profile.traits()) traits[key] = ValueText(value);
  for (const auto& [key, value] : traits) table.AddRow({absl::StrCat("traits.", key), value});
  if (!profile.persona().empty()) table.AddRow({"persona", profile.persona()});
  table.AddRow({"created", FormatTime(profile.create_time())});
  table.Print(std::cout);
}

pv1::Identity EmailIdentity(const std::string& email) {
  pv1::Identity identity;
  identity.set_type(pv1::IDENTITY_TYPE_EMAIL);
  identity.set_value(email);
  return identity;
}

int ProfilesGet(Session& s) {
  pv1::GetProfileRequest request;
  request.set_name(ResourceName("profiles", s.args().positional[2]));
  auto stub = pv1::Profiles::NewStub(s.Channel("profiles"));
  grpc::ClientContext context;
  s.Prepare(&context);
  pv1::Profile profile;
  grpc::Status status = stub->GetProfile(&context, request, &profile);
  if (!status.ok()) return s.Fail(status, "profiles");
  s.json() ? s.PrintJson(profile) : PrintProfile(profile);
  return kExitOk;
}

int ProfilesCreate(Session& s) {
  const Args& args = s.args();
  pv1::CreateProfileRequest request;
  request.set_profile_id(args.Get("id"));
  pv1::Profile* profile = request.mutable_profile();
  profile->set_kind(pv1::PROFILE_KIND_PERSON);
  profile->set_display_name(args.Get("name"));
  if (args.Has("email")) *profile->add_identities() = EmailIdentity(args.Get("email"));
  for (const std::string& trait : args.GetAll("trait")) {
    std::string::size_type equals = trait.find('=');
    if (equals == std::string::npos || equals == 0) {
      return Usage(absl::StrCat("--trait wants KEY=VALUE, got \"", trait, "\""));
    }
    (*profile->mutable_traits())[trait.substr(0, equals)].set_string_value(
        trait.substr(equals + 1));
  }
  auto stub = pv1::Profiles::NewStub(s.Channel("profiles"));
  grpc::ClientContext context;
  s.Prepare(&context);
  pv1::Profile created;
  grpc::Status status = stub->CreateProfile(&context, request, &created);
  if (!status.ok()) return s.Fail(status, "profiles");
  s.json() ? s.PrintJson(created) : PrintProfile(created);
  return kExitOk;
}

int ProfilesLookup(Session& s) {
  if (!s.args().Has("email")) return Usage("profiles lookup needs --email");
  pv1::LookupProfileRequest request;
  *request.mutable_identity() = EmailIdentity(s.args().Get("email"));
  auto stub = pv1::Profiles::NewStub(s.Channel("profiles"));
  grpc::ClientContext context;
  s.Prepare(&context);
  pv1::Profile profile;
  grpc::Status status = stub->LookupProfile(&context, request, &profile);
  if (!status.ok()) return s.Fail(status, "profiles");
  s.json() ? s.PrintJson(profile) : PrintProfile(profile);
  return kExitOk;
}

// Progress on stderr: a redrawn bar on a terminal, otherwise a line per 1,000 rows.
class Progress {
 public:
  explicit Progress(size_t total) : total_(total), tty_(isatty(STDERR_FILENO) == 1) {}
  void Update(size_t done) {
    if (tty_) {
      constexpr size_t kWidth = 40;
      size_t filled = total_ == 0 ? kWidth : done * kWidth / total_;
      std::cerr << "\r[" << std::string(filled, '#') << std::string(kWidth - filled, ' ')
                << "] " << done << "/" << total_ << std::flush;
      if (done == total_) std::cerr << "\n";
    } else if (done % 1000 == 0 || done == total_) {
      std::cerr << "centricctl: imported " << done << "/" << total_ << " rows\n";
    }
  }

 private:
  size_t total_;
  bool tty_;
};

int ProfilesImport(Session& s) {
  const std::string& path = s.args().positional[2];
  std::ifstream in(path);
  if (!in) return Usage(absl::StrCat("cannot read ", path));
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  if (lines.empty()) return Usage(absl::StrCat(path, " is empty; it needs a header row"));
  std::vector<std::string> header = ParseCsvLine(lines[0]);
  for (std::string& column : header) column = absl::AsciiStrToLower(column);

  struct Failure {
    size_t line;
    std::string id;
    std::string error;
    int code;
  };
  std::vector<Failure> failures;
  size_t created = 0;
  size_t rows = 0;
  for (size_t i = 1; i < lines.size(); ++i) rows += lines[i].empty() ? 0 : 1;
  Progress progress(rows);
  auto stub = pv1::Profiles::NewStub(s.Channel("profiles"));
  size_t done = 0;
  for (size_t i = 1; i < lines.size(); ++i) {
    if (lines[i].empty()) continue;
    std::vector<std::string> fields = ParseCsvLine(lines[i]);
    pv1::CreateProfileRequest request;
    pv1::Profile* profile = request.mutable_profile();
    profile->set_kind(pv1::PROFILE_KIND_PERSON);
    for (size_t c = 0; c < header.size() && c < fields.size(); ++c) {
      if (fields[c].empty()) continue;
      if (header[c] == "id") {
        request.set_profile_id(fields[c]);
      } else if (header[c] == "email") {
        *profile->add_identities() = EmailIdentity(fields[c]);
      } else if (header[c] == "display_name") {
        profile->set_display_name(fields[c]);
      } else {
        (*profile->mutable_traits())[header[c]].set_string_value(fields[c]);
      }
    }
    if (fields.size() != header.size()) {
      failures.push_back({i + 1, request.profile_id(),
                          absl::StrCat("has ", fields.size(), " fields, the header has ",
                                       header.size()),
                          kExitInvalid});
    } else {
      grpc::ClientContext context;
      s.Prepare(&context);
      pv1::Profile out;
      grpc::Status status = stub->CreateProfile(&context, request, &out);
      if (status.ok()) {
        ++created;
        if (s.json()) s.PrintJson(out);
      } else if (ExitCode(status.error_code()) == kExitUnavailable) {
        std::cerr << "\ncentricctl: stopped at line " << i + 1 << " after " << created
                  << " created\n";
        return s.Fail(status, "profiles");
      } else {
        failures.push_back({i + 1, request.profile_id(),
                            Describe(status, "profiles", ""), ExitCode(status.error_code())});
      }
    }
    progress.Update(++done);
  }
  std::cout << "created " << created << ", failed " << failures.size() << "\n";
  for (const Failure& failure : failures) {
    std::cerr << "centricctl: " << path << " line " << failure.line << " (id \""
              << failure.id << "\"): " << failure.error << "\n";
  }
  return failures.empty() ? kExitOk : failures.front().code;
}

int ProfilesExport(Session& s) {
  pv1::ExportProfileRequest request;
  request.set_name(ResourceName("profiles", s.args().positional[2]));
  auto stub = pv1::Profiles::NewStub(s.Channel("profiles"));
  grpc::ClientContext context;
  s.Prepare(&context);
  pv1::ExportProfileResponse response;
  grpc::Status status = stub->ExportProfile(&context, request, &response);
  if (!status.ok()) return s.Fail(status, "profiles");
  if (s.json()) {
    s.PrintJson(response);
  } else {
    google::protobuf::util::JsonPrintOptions options;
    options.add_whitespace = true;
    std::string text;
    google::protobuf::util::MessageToJsonString(response, &text, options);
    std::cout << text;
  }
  return kExitOk;
}

// ---- segments ---------------------------------------------------------------------

void PrintSegment(const sv1::Segment& segment) {
  Table table({"FIELD", "VALUE"});
  table.AddRow({"name", segment.name()});
  table.AddRow({"display name", segment.display_name()});
  table.AddRow({"owner team", segment.owner_team()});
  table.AddRow({"rule", segment.rule()});
  table.AddRow({"state", EnumLabel(sv1::SegmentState_Name(segment.state()), "SEGMENT_STATE_")});
  table.AddRow({"size", absl::StrCat(segment.size())});
  table.Print(std::cout);
}

int SegmentsCreate(Session& s) {
  const Args& args = s.args();
  sv1::CreateSegmentRequest request;
  request.set_segment_id(args.Get("id"));
  sv1::Segment* segment = request.mutable_segment();
  segment->set_display_name(args.Get("name", args.Get("id")));
  segment->set_owner_team(args.Get("owner-team"));
  segment->set_rule(args.Get("rule"));
  auto stub = sv1::Segmentation::NewStub(s.Channel("segmentation"));
  grpc::ClientContext context;
  s.Prepare(&context);
  sv1::Segment created;
  grpc::Status status = stub->CreateSegment(&context, request, &created);
  if (!status.ok()) return s.Fail(status, "segmentation");
  s.json() ? s.PrintJson(created) : PrintSegment(created);
  return kExitOk;
}

int SegmentsPreview(Session& s) {
  sv1::PreviewSegmentRequest request;
  request.set_rule(s.args().Get("rule"));
  int sample = 10;
  if (!absl::SimpleAtoi(s.args().Get("sample", "10"), &sample)) {
    return Usage("--sample wants a number");
  }
  request.set_sample_size(sample);
  auto stub = sv1::Segmentation::NewStub(s.Channel("segmentation"));
  grpc::ClientContext context;
  s.Prepare(&context);
  sv1::PreviewSegmentResponse response;
  grpc::Status status = stub->PreviewSegment(&context, request, &response);
  if (!status.ok()) return s.Fail(status, "segmentation");
  if (s.json()) {
    s.PrintJson(response);
    return kExitOk;
  }
  std::cout << "size " << response.size() << "\n";
  Table table({"SAMPLE"});
  for (const std::string& name : response.sample()) table.AddRow({name});
  table.Print(std::cout);
  return kExitOk;
}

int SegmentsMembers(Session& s) {
  sv1::ListSegmentMembersRequest request;
  request.set_segment(ResourceName("segments", s.args().positional[2]));
  auto stub = sv1::Segmentation::NewStub(s.Channel("segmentation"));
  grpc::ClientContext context;
  s.Prepare(&context);
  auto reader = stub->ListSegmentMembers(&context, request);
  sv1::ListSegmentMembersResponse chunk;
  bool header = false;
  while (reader->Read(&chunk)) {
    if (s.json()) {
      s.PrintJson(chunk);
      continue;
    }
    // Members are printed as they arrive, so this one-column table needs no widths.
    if (!header) std::cout << "PROFILE\n";
    header = true;
    for (const std::string& name : chunk.profiles()) std::cout << name << "\n";
  }
  grpc::Status status = reader->Finish();
  if (!status.ok()) return s.Fail(status, "segmentation");
  if (!header && !s.json()) std::cout << "PROFILE\n";
  return kExitOk;
}

int SegmentsOverlap(Session& s) {
  sv1::GetSegmentOverlapRequest request;
  for (size_t i = 2; i < s.args().positional.size(); ++i) {
    request.add_segments(ResourceName("segments", s.args().positional[i]));
  }
  auto stub = sv1::Segmentation::NewStub(s.Channel("segmentation"));
  grpc::ClientContext context;
  s.Prepare(&context);
  sv1::GetSegmentOverlapResponse response;
  grpc::Status status = stub->GetSegmentOverlap(&context, request, &response);
  if (!status.ok()) return s.Fail(status, "segmentation");
  if (s.json()) {
    s.PrintJson(response);
    return kExitOk;
  }
  Table table({"SET", "PROFILES"});
  table.AddRow({"in every segment", absl::StrCat(response.intersection_size())});
  table.AddRow({"in any segment", absl::StrCat(response.union_size())});
  for (const sv1::SegmentDifference& difference : response.differences()) {
    table.AddRow({absl::StrCat(difference.segment(), " minus ", difference.minus()),
                  absl::StrCat(difference.size())});
  }
  table.Print(std::cout);
  return kExitOk;
}

// ---- feedback ---------------------------------------------------------------------

int FeedbackSubmit(Session& s) {
  const Args& args = s.args();
  int score = 0;
  if (!absl::SimpleAtoi(args.Get("score"), &score)) {
    return Usage("feedback submit needs --score=N (a whole number)");
  }
  fv1::SubmitResponseRequest request;
  request.set_parent(ResourceName("surveys", args.Get("survey")));
  fv1::Response* response = request.mutable_response();
  response->set_profile(ResourceName("profiles", args.Get("profile")));
  response->set_score(score);
  response->set_comment(args.Get("comment"));
  auto stub = fv1::Feedback::NewStub(s.Channel("feedback"));
  grpc::ClientContext context;
  s.Prepare(&context);
  fv1::Response submitted;
  grpc::Status status = stub->SubmitResponse(&context, request, &submitted);
  if (!status.ok()) return s.Fail(status, "feedback");
  if (s.json()) {
    s.PrintJson(submitted);
    return kExitOk;
  }
  Table table({"FIELD", "VALUE"});
  table.AddRow({"name", submitted.name()});
  table.AddRow({"profile", submitted.profile()});
  table.AddRow({"score", absl::StrCat(submitted.score())});
  table.AddRow({"category", EnumLabel(fv1::Category_Name(submitted.category()), "CATEGORY_")});
  table.AddRow({"sentiment",
                EnumLabel(fv1::SentimentLabel_Name(submitted.sentiment()), "SENTIMENT_LABEL_")});
  table.AddRow({"themes", absl::StrJoin(submitted.themes(), ", ")});
  table.AddRow({"follow-up", submitted.follow_up()});
  table.Print(std::cout);
  return kExitOk;
}

int FeedbackFollowUps(Session& s) {
  fv1::ListFollowUpsRequest request;
  request.set_owner_team(s.args().Get("team"));
  int state = fv1::FOLLOW_UP_STATE_UNSPECIFIED;
  std::string error;
  if (!EnumFlag(s.args(), "state", fv1::FollowUpState_descriptor(), "FOLLOW_UP_STATE_", &state,
                &error)) {
    return Usage(error);
  }
  request.set_state(static_cast<fv1::FollowUpState>(state));
  auto stub = fv1::Feedback::NewStub(s.Channel("feedback"));
  Table table({"NAME", "PROFILE", "TEAM", "STATE", "OPENED", "FIRST CONTACT DUE"});
  return ListAllPages<fv1::ListFollowUpsRequest, fv1::ListFollowUpsResponse>(
      s, "feedback", request,
      [&](grpc::ClientContext* context, const auto& r, auto* out) {
        return stub->ListFollowUps(context, r, out);
      },
      [&](const fv1::ListFollowUpsResponse& response) {
        for (const fv1::FollowUp& f : response.follow_ups()) {
          table.AddRow({f.name(), f.profile(), f.owner_team(),
                        EnumLabel(fv1::FollowUpState_Name(f.state()), "FOLLOW_UP_STATE_"),
                        FormatTime(f.open_time()), FormatTime(f.first_contact_due_time())});
        }
      },
      table);
}

// ---- surveys and follow-up policies -----------------------------------------------

void PrintSurvey(const fv1::Survey& survey) {
  Table table({"FIELD", "VALUE"});
  table.AddRow({"name", survey.name()});
  table.AddRow({"display name", survey.display_name()});
  table.AddRow({"kind", EnumLabel(fv1::SurveyKind_Name(survey.kind()), "SURVEY_KIND_")});
  table.AddRow({"question", survey.question()});
  table.AddRow({"owner team", survey.owner_team()});
  if (!survey.touchpoint().empty()) table.AddRow({"touchpoint", survey.touchpoint()});
  table.AddRow({"channel", EnumLabel(pv1::Channel_Name(survey.channel()), "CHANNEL_")});
  table.AddRow({"journey stage",
                EnumLabel(fv1::JourneyStage_Name(survey.journey_stage()), "JOURNEY_STAGE_")});
  const fv1::ContactPolicy& contact = survey.contact_policy();
  if (contact.min_days_between_responses() > 0) {
    table.AddRow(
        {"min days between responses", absl::StrCat(contact.min_days_between_responses())});
  }
  table.AddRow({"required consent", EnumLabel(pv1::ConsentPurpose_Name(contact.required_consent()),
                                              "CONSENT_PURPOSE_")});
  table.Print(std::cout);
}

int SurveysCreate(Session& s) {
  const Args& args = s.args();
  fv1::CreateSurveyRequest request;
  request.set_survey_id(args.Get("id"));
  fv1::Survey* survey = request.mutable_survey();
  survey->set_display_name(args.Get("name", args.Get("id")));
  survey->set_question(args.Get("question"));
  survey->set_owner_team(args.Get("owner-team"));
  survey->set_touchpoint(args.Get("touchpoint"));
  int kind = 0, channel = 0, stage = 0, consent = 0;
  std::string error;
  if (!EnumFlag(args, "kind", fv1::SurveyKind_descriptor(), "SURVEY_KIND_", &kind, &error) ||
      !EnumFlag(args, "channel", pv1::Channel_descriptor(), "CHANNEL_", &channel, &error) ||
      !EnumFlag(args, "stage", fv1::JourneyStage_descriptor(), "JOURNEY_STAGE_", &stage, &error) ||
      !EnumFlag(args, "consent", pv1::ConsentPurpose_descriptor(), "CONSENT_PURPOSE_", &consent,
                &error)) {
    return Usage(error);
  }
  survey->set_kind(static_cast<fv1::SurveyKind>(kind));
  survey->set_channel(static_cast<pv1::Channel>(channel));
  survey->set_journey_stage(static_cast<fv1::JourneyStage>(stage));
  survey->mutable_contact_policy()->set_required_consent(static_cast<pv1::ConsentPurpose>(consent));
  int min_days = 0;
  if (!absl::SimpleAtoi(args.Get("min-days", "0"), &min_days)) {
    return Usage("--min-days wants a whole number of days");
  }
  survey->mutable_contact_policy()->set_min_days_between_responses(min_days);
  auto stub = fv1::Feedback::NewStub(s.Channel("feedback"));
  grpc::ClientContext context;
  s.Prepare(&context);
  fv1::Survey created;
  grpc::Status status = stub->CreateSurvey(&context, request, &created);
  if (!status.ok()) return s.Fail(status, "feedback");
  s.json() ? s.PrintJson(created) : PrintSurvey(created);
  return kExitOk;
}

int SurveysList(Session& s) {
  fv1::ListSurveysRequest request;
  auto stub = fv1::Feedback::NewStub(s.Channel("feedback"));
  Table table({"NAME", "KIND", "TEAM", "TOUCHPOINT", "CHANNEL", "CONSENT", "QUESTION"});
  return ListAllPages<fv1::ListSurveysRequest, fv1::ListSurveysResponse>(
      s, "feedback", request,
      [&](grpc::ClientContext* context, const auto& r, auto* out) {
        return stub->ListSurveys(context, r, out);
      },
      [&](const fv1::ListSurveysResponse& response) {
        for (const fv1::Survey& survey : response.surveys()) {
          table.AddRow(
              {survey.name(), EnumLabel(fv1::SurveyKind_Name(survey.kind()), "SURVEY_KIND_"),
               survey.owner_team(), survey.touchpoint().empty() ? "-" : survey.touchpoint(),
               EnumLabel(pv1::Channel_Name(survey.channel()), "CHANNEL_"),
               EnumLabel(pv1::ConsentPurpose_Name(survey.contact_policy().required_consent()),
                         "CONSENT_PURPOSE_"),
               survey.question()});
        }
      },
      table);
}

void PrintPolicy(const fv1::FollowUpPolicy& policy) {
  Table table({"FIELD", "VALUE"});
  table.AddRow({"name", policy.name()});
  table.AddRow({"display name", policy.display_name()});
  table.AddRow({"rule", policy.rule()});
  table.AddRow({"owner team", policy.owner_team()});
  table.AddRow({"first contact within", FormatDuration(policy.first_contact_sla())});
  table.AddRow({"resolved within", FormatDuration(policy.resolution_sla())});
  table.AddRow({"priority", absl::StrCat(policy.priority())});
  table.Print(std::cout);
}

int PoliciesCreate(Session& s) {
  const Args& args = s.args();
  fv1::CreateFollowUpPolicyRequest request;
  request.set_policy_id(args.Get("id"));
  fv1::FollowUpPolicy* policy = request.mutable_policy();
  policy->set_display_name(args.Get("name", args.Get("id")));
  policy->set_rule(args.Get("rule"));
  policy->set_owner_team(args.Get("owner-team"));
  for (auto [flag, field] : {std::pair{"first-contact-sla", policy->mutable_first_contact_sla()},
                             std::pair{"resolution-sla", policy->mutable_resolution_sla()}}) {
    if (!DurationFlag(args, flag, field)) {
      return Usage(absl::StrCat("--", flag, " wants a duration such as 48h or 90m"));
    }
  }
  int priority = 0;
  if (!absl::SimpleAtoi(args.Get("priority", "0"), &priority)) {
    return Usage("--priority wants a whole number from 0 to 1000");
  }
  policy->set_priority(priority);
  auto stub = fv1::Feedback::NewStub(s.Channel("feedback"));
  grpc::ClientContext context;
  s.Prepare(&context);
  fv1::FollowUpPolicy created;
  grpc::Status status = stub->CreateFollowUpPolicy(&context, request, &created);
  if (!status.ok()) return s.Fail(status, "feedback");
  s.json() ? s.PrintJson(created) : PrintPolicy(created);
  return kExitOk;
}

int PoliciesList(Session& s) {
  fv1::ListFollowUpPoliciesRequest request;
  auto stub = fv1::Feedback::NewStub(s.Channel("feedback"));
  Table table({"NAME", "TEAM", "FIRST CONTACT", "RESOLUTION", "PRIORITY", "RULE"});
  return ListAllPages<fv1::ListFollowUpPoliciesRequest, fv1::ListFollowUpPoliciesResponse>(
      s, "feedback", request,
      [&](grpc::ClientContext* context, const auto& r, auto* out) {
        return stub->ListFollowUpPolicies(context, r, out);
      },
      [&](const fv1::ListFollowUpPoliciesResponse& response) {
        for (const fv1::FollowUpPolicy& policy : response.policies()) {
          table.AddRow({policy.name(), policy.owner_team(),
                        FormatDuration(policy.first_contact_sla()),
                        FormatDuration(policy.resolution_sla()), absl::StrCat(policy.priority()),
                        policy.rule()});
        }
      },
      table);
}

// ---- reports ----------------------------------------------------------------------

// Reads --from and --to (UTC days, --to included) into [start, end).
bool ParsePeriod(const Args& args, google::protobuf::Timestamp* start,
                 google::protobuf::Timestamp* end) {
  absl::Time from;
  absl::Time to;
  std::string error;
  if (!absl::ParseTime("%Y-%m-%d", args.Get("from"), absl::UTCTimeZone(), &from, &error) ||
      !absl::ParseTime("%Y-%m-%d", args.Get("to"), absl::UTCTimeZone(), &to, &error)) {
    return false;
  }
  start->set_seconds(absl::ToUnixSeconds(from));
  end->set_seconds(absl::ToUnixSeconds(to + absl::Hours(24)));
  return true;
}

std::string FormatValue(const rv1::KpiValue& value) {
  return value.defined() ? absl::StrFormat("%.1f", value.value()) : "-";
}

std::string FormatInterval(const rv1::KpiValue& value) {
  return value.defined() ? absl::StrFormat("%.1f to %.1f", value.low(), value.high()) : "-";
}

int ReportsNps(Session& s) {
  const Args& args = s.args();
  rv1::GetKpiSeriesRequest request;
  request.set_kpi(rv1::KPI_NPS);
  if (!ParsePeriod(args, request.mutable_start_time(), request.mutable_end_time())) {
    return Usage("reports nps needs --from=YYYY-MM-DD and --to=YYYY-MM-DD");
  }
  int dimension = rv1::DIMENSION_UNSPECIFIED;
  int granularity = rv1::GRANULARITY_UNSPECIFIED;
  std::string error;
  if (!EnumFlag(args, "by", rv1::Dimension_descriptor(), "DIMENSION_", &dimension, &error) ||
      !EnumFlag(args, "granularity", rv1::Granularity_descriptor(), "GRANULARITY_", &granularity,
                &error)) {
    return Usage(error);
  }
  request.set_dimension(static_cast<rv1::Dimension>(dimension));
  request.set_granularity(static_cast<rv1::Granularity>(granularity));
  auto stub = rv1::Reporting::NewStub(s.Channel("reporting"));
  grpc::ClientContext context;
  s.Prepare(&context);
  rv1::KpiSeries series;
  grpc::Status status = stub->GetKpiSeries(&context, request, &series);
  if (!status.ok()) return s.Fail(status, "reporting");
  if (s.json()) {
    s.PrintJson(series);
    return kExitOk;
  }
  std::string key_header =
      series.dimension() == rv1::DIMENSION_UNSPECIFIED
          ? "KEY"
          : absl::AsciiStrToUpper(EnumLabel(rv1::Dimension_Name(series.dimension()), "DIMENSION_"));
  Table table({key_header, "PERIOD", "NPS", "95% INTERVAL", "ANSWERS"});
  for (const rv1::KpiLine& line : series.lines()) {
    std::string key = line.key().empty() ? "(all)" : line.key();
    for (const rv1::KpiPoint& point : line.points()) {
      table.AddRow({key,
                    absl::FormatTime("%Y-%m-%d", absl::FromUnixSeconds(point.start_time().seconds()),
                                     absl::UTCTimeZone()),
                    FormatValue(point.value()), FormatInterval(point.value()),
                    absl::StrCat(point.value().sample_size())});
    }
    table.AddRow({key, "total", FormatValue(line.total()), FormatInterval(line.total()),
                  absl::StrCat(line.total().sample_size())});
  }
  table.Print(std::cout);
  return kExitOk;
}

int ReportsScorecard(Session& s) {
  rv1::GetScorecardRequest request;
  if (!ParsePeriod(s.args(), request.mutable_start_time(), request.mutable_end_time())) {
    return Usage("reports scorecard needs --from=YYYY-MM-DD and --to=YYYY-MM-DD");
  }
  request.set_include_team_view(s.args().Has("team-view"));
  auto stub = rv1::Reporting::NewStub(s.Channel("reporting"));
  grpc::ClientContext context;
  s.Prepare(&context);
  rv1::Scorecard scorecard;
  grpc::Status status = stub->GetScorecard(&context, request, &scorecard);
  if (!status.ok()) return s.Fail(status, "reporting");
  if (s.json()) {
    s.PrintJson(scorecard);
    return kExitOk;
  }
  // One row per tile: the executive view first, then (--team-view) each channel's and
  // touchpoint's tiles under their key.
  auto tile_cells = [](const rv1::ScorecardTile& tile) {
    bool comparable = tile.current().defined() && tile.previous().defined();
    return std::vector<std::string>{
        EnumLabel(rv1::Kpi_Name(tile.kpi()), "KPI_"), FormatValue(tile.current()),
        FormatValue(tile.previous()), comparable ? absl::StrFormat("%+.1f", tile.change()) : "-",
        EnumLabel(rv1::ScorecardTile::Trend_Name(tile.trend()), "TREND_"),
        absl::StrCat(tile.current().sample_size())};
  };
  Table table({"KPI", "CURRENT", "PREVIOUS", "CHANGE", "TREND", "SAMPLE"});
  for (const rv1::ScorecardTile& tile : scorecard.tiles()) table.AddRow(tile_cells(tile));
  table.Print(std::cout);
  if (!request.include_team_view()) return kExitOk;
  std::cout << "\n";
  Table team({"BY", "KEY", "KPI", "CURRENT", "PREVIOUS", "CHANGE", "TREND", "SAMPLE"});
  for (const rv1::ScorecardRow& row : scorecard.rows()) {
    for (const rv1::ScorecardTile& tile : row.tiles()) {
      std::vector<std::string> cells = {
          EnumLabel(rv1::Dimension_Name(row.dimension()), "DIMENSION_"),
          row.key().empty() ? "(none)" : row.key()};
      for (std::string& cell : tile_cells(tile)) cells.push_back(std::move(cell));
      team.AddRow(std::move(cells));
    }
  }
  team.Print(std::cout);
  return kExitOk;
}

int ReportsExperiment(Session& s) {
  rv1::GetExperimentResultsRequest request;
  request.set_name(ResourceName("experiments", s.args().positional[2]));
  auto stub = rv1::Reporting::NewStub(s.Channel("reporting"));
  grpc::ClientContext context;
  s.Prepare(&context);
  rv1::ExperimentResults results;
  grpc::Status status = stub->GetExperimentResults(&context, request, &results);
  if (!status.ok()) return s.Fail(status, "reporting");
  if (s.json()) {
    s.PrintJson(results);
    return kExitOk;
  }
  std::cout << results.experiment() << " ("
            << EnumLabel(rv1::ExperimentState_Name(results.state()), "EXPERIMENT_STATE_")
            << "), " << results.remaining_exposures() << " more exposures needed\n";
  Table table({"VARIANT", "EXPOSURES", "CONVERSIONS", "RATE", "UPLIFT", "P-VALUE",
               "P(BEATS CONTROL)", "SIGNIFICANT"});
  for (const rv1::VariantResult& variant : results.variants()) {
    const rv1::MetricResult& m = variant.primary();
    table.AddRow(
        {variant.variant(), absl::StrCat(variant.exposures()), absl::StrCat(m.conversions()),
         absl::StrFormat("%.4f", m.rate()),
         m.has_relative_uplift() ? absl::StrFormat("%+.1f%%", 100 * m.relative_uplift()) : "-",
         m.has_p_value() ? absl::StrFormat("%.4f", m.p_value()) : "-",
         m.has_probability_to_beat_control()
             ? absl::StrFormat("%.3f", m.probability_to_beat_control())
             : "-",
         m.significant() ? "yes" : "no"});
  }
  table.Print(std::cout);
  return kExitOk;
}

// ---- dead letters -----------------------------------------------------------------

// Every binary serves DeadLetters for the bus it shares; by default the call goes to the
// service whose name is the group (the consumer groups are named after the services),
// else to profiles. --service picks another.
std::string DeadLetterService(const Session& s, const std::string& group) {
  if (s.args().Has("service")) return s.args().Get("service", "");
  for (const char* service : {"profiles", "segmentation", "feedback", "reporting"}) {
    if (group == service) return group;
  }
  return "profiles";
}

// The group of "topics/{topic}/groups/{group}/deadLetters/{id}" ("" if none).
std::string GroupOfDeadLetter(const std::string& name) {
  std::vector<std::string> parts = absl::StrSplit(name, '/');
  return parts.size() == 6 ? parts[3] : "";
}

int DeadLettersList(Session& s) {
  ev1::ListDeadLettersRequest request;
  const std::string group = s.args().Get("group", "");
  request.set_parent(absl::StrCat("topics/", s.args().Get("topic", ""), "/groups/", group));
  const std::string service = DeadLetterService(s, group);
  auto stub = ev1::DeadLetters::NewStub(s.Channel(service));
  Table table({"NAME", "EVENT", "TYPE", "SUBJECT", "ATTEMPTS", "WHEN", "ERROR"});
  return ListAllPages<ev1::ListDeadLettersRequest, ev1::ListDeadLettersResponse>(
      s, service, request,
      [&](grpc::ClientContext* context, const auto& r, auto* out) {
        return stub->ListDeadLetters(context, r, out);
      },
      [&](const ev1::ListDeadLettersResponse& response) {
        for (const ev1::DeadLetter& d : response.dead_letters()) {
          table.AddRow({d.name(), d.event_id().empty() ? "-" : d.event_id(),
                        d.event_type().empty() ? "-" : d.event_type(),
                        d.subject().empty() ? "-" : d.subject(), absl::StrCat(d.attempts()),
                        FormatTime(d.dead_letter_time()), d.error()});
        }
      },
      table);
}

// Replay or Drop of the dead letter named by the command's word; prints "<done> NAME".
template <typename Request, typename Response>
int DeadLetterAction(
    Session& s, const char* done,
    grpc::Status (ev1::DeadLetters::Stub::*call)(grpc::ClientContext*, const Request&, Response*)) {
  Request request;
  request.set_name(s.args().positional[2]);
  const std::string service = DeadLetterService(s, GroupOfDeadLetter(request.name()));
  auto stub = ev1::DeadLetters::NewStub(s.Channel(service));
  grpc::ClientContext context;
  s.Prepare(&context);
  Response response;
  grpc::Status status = ((*stub).*call)(&context, request, &response);
  if (!status.ok()) return s.Fail(status, service);
  std::cout << done << " " << request.name() << "\n";
  return kExitOk;
}

int DeadLettersReplay(Session& s) {
  return DeadLetterAction(s, "replayed", &ev1::DeadLetters::Stub::ReplayDeadLetter);
}

int DeadLettersDrop(Session& s) {
  return DeadLetterAction(s, "dropped", &ev1::DeadLetters::Stub::DropDeadLetter);
}

// ---- dispatch ---------------------------------------------------------------------

struct Command {
  std::string group;
  std::string verb;
  // Words after GROUP COMMAND: at least `min_words`, at most `max_words`.
  size_t min_words;
  size_t max_words;
  std::set<std::string> flags;
  // Flags that must be present.
  std::set<std::string> required;
  std::function<int(Session&)> run;
};

const std::vector<Command>& Commands() {
  static const auto* commands = new std::vector<Command>{
      {"profiles", "get", 1, 1, {}, {}, ProfilesGet},
      {"profiles", "create", 0, 0, {"id", "email", "name", "trait"}, {"id"}, ProfilesCreate},
      {"profiles", "lookup", 0, 0, {"email"}, {"email"}, ProfilesLookup},
      {"profiles", "import", 1, 1, {}, {}, ProfilesImport},
      {"profiles", "export", 1, 1, {}, {}, ProfilesExport},
      {"segments", "create", 0, 0, {"id", "rule", "owner-team", "name"}, {"id", "rule"},
       SegmentsCreate},
      {"segments", "preview", 0, 0, {"rule", "sample"}, {"rule"}, SegmentsPreview},
      {"segments", "members", 1, 1, {}, {}, SegmentsMembers},
      {"segments", "overlap", 2, 10, {}, {}, SegmentsOverlap},
      {"surveys", "create", 0, 0,
       {"id", "kind", "question", "owner-team", "name", "touchpoint", "channel", "stage",
        "min-days", "consent"},
       {"id", "kind", "question", "owner-team"}, SurveysCreate},
      {"surveys", "list", 0, 0, {}, {}, SurveysList},
      {"policies", "create", 0, 0,
       {"id", "rule", "owner-team", "first-contact-sla", "resolution-sla", "priority", "name"},
       {"id", "rule", "owner-team", "first-contact-sla"}, PoliciesCreate},
      {"policies", "list", 0, 0, {}, {}, PoliciesList},
      {"feedback", "submit", 0, 0, {"survey", "profile", "score", "comment"},
       {"survey", "profile", "score"}, FeedbackSubmit},
      {"feedback", "follow-ups", 0, 0, {"team", "state"}, {}, FeedbackFollowUps},
      {"reports", "nps", 0, 0, {"from", "to", "by", "granularity"}, {"from", "to"}, ReportsNps},
      {"reports", "scorecard", 0, 0, {"from", "to", "team-view"}, {"from", "to"},
       ReportsScorecard},
      {"reports", "experiment", 1, 1, {}, {}, ReportsExperiment},
      {"dead-letters", "list", 0, 0, {"topic", "group", "service"}, {"topic", "group"},
       DeadLettersList},
      {"dead-letters", "replay", 1, 1, {"service"}, {}, DeadLettersReplay},
      {"dead-letters", "drop", 1, 1, {"service"}, {}, DeadLettersDrop},
  };
  return *commands;
}

}  // namespace

int Run(int argc, const char* const argv[]) {
  absl::StatusOr<Args> parsed = ParseArgs(argc, argv, {"json", "help", "team-view"});
  if (!parsed.ok()) return Usage(std::string(parsed.status().message()));
  const Args& args = *parsed;
  if (args.Has("help")) {
    std::cout << kUsage;
    return kExitOk;
  }
  if (args.positional.size() < 2) return Usage("missing GROUP COMMAND");
  const Command* command = nullptr;
  for (const Command& candidate : Commands()) {
    if (candidate.group == args.positional[0] && candidate.verb == args.positional[1]) {
      command = &candidate;
    }
  }
  if (command == nullptr) {
    return Usage(absl::StrCat("unknown command \"", args.positional[0], " ",
                              args.positional[1], "\""));
  }
  std::string name = absl::StrCat(command->group, " ", command->verb);
  size_t words = args.positional.size() - 2;
  if (words < command->min_words || words > command->max_words) {
    return Usage(absl::StrCat(name, " takes ", command->min_words,
                              command->min_words == command->max_words
                                  ? ""
                                  : absl::StrCat(" to ", command->max_words),
                              " argument(s), got ", words));
  }
  for (const auto& [flag, value] : args.flags) {
    if (kGlobalFlags.count(flag) == 0 && command->flags.count(flag) == 0) {
      return Usage(absl::StrCat("unknown flag --", flag, " for ", name));
    }
  }
  for (const std::string& flag : command->required) {
    if (!args.Has(flag)) return Usage(absl::StrCat(name, " needs --", flag));
  }
  absl::Duration timeout;
  if (!absl::ParseDuration(args.Get("timeout", "10s"), &timeout) ||
      timeout <= absl::ZeroDuration()) {
    return Usage("--timeout wants a positive duration such as 10s or 500ms");
  }
  Security security;
  for (auto [flag, env, field] :
       {std::tuple<const char*, const char*, std::string*>{"tls-ca", "CENTRIC_TLS_CA", &security.ca},
        {"tls-cert", "CENTRIC_TLS_CERT", &security.cert},
        {"tls-key", "CENTRIC_TLS_KEY", &security.key},
        {"token-file", "CENTRIC_TOKEN_FILE", &security.token}}) {
    absl::StatusOr<std::string> text = FlagFile(args, flag, env);
    if (!text.ok()) return Usage(std::string(text.status().message()));
    *field = std::move(*text);
  }
  security.token = std::string(absl::StripAsciiWhitespace(security.token));
  if (security.cert.empty() != security.key.empty()) {
    return Usage("--tls-cert and --tls-key go together");
  }
  Session session(args, timeout, std::move(security));
  return command->run(session);
}

}  // namespace centric::ctl
