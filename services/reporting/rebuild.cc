#include "services/reporting/rebuild.h"

#include <algorithm>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "libs/runtime/grpc_status.h"
#include "libs/runtime/handler.h"
#include "libs/profile_cel/profile_cel.h"
#include "libs/runtime/resource.h"
#include "services/reporting/rollups.h"

namespace centric::reporting {
namespace {

namespace ev = events::v1;
namespace fv1 = feedback::v1;
namespace pv1 = profiles::v1;
namespace sv1 = segmentation::v1;
using runtime::FromTimestamp;

constexpr int kPage = 1000;
constexpr absl::Duration kDefaultTimeout = absl::Minutes(5);

void Prepare(grpc::ClientContext& context, absl::Time deadline) {
  context.set_deadline(absl::ToChronoTime(deadline));
  runtime::PropagateTrace(context);
}

using profile_cel::ChannelName;

std::string Suffix(const std::string& enum_name, absl::string_view prefix) {
  absl::string_view name = enum_name;
  absl::ConsumePrefix(&name, prefix);
  return name == "UNSPECIFIED" ? "" : std::string(name);
}

template <typename Payload>
ev::Event Wrap(const Payload& payload, const google::protobuf::Timestamp& time,
               const std::string& id) {
  ev::Event event;
  event.set_id(id);
  event.set_type(payload.GetDescriptor()->full_name());
  *event.mutable_time() = time;
  event.mutable_payload()->PackFrom(payload);
  return event;
}

class GrpcRollupSource final : public RollupSource {
 public:
  GrpcRollupSource(std::unique_ptr<pv1::Profiles::StubInterface> profiles,
                   std::unique_ptr<sv1::Segmentation::StubInterface> segmentation,
                   std::unique_ptr<fv1::Feedback::StubInterface> feedback)
      : profiles_(std::move(profiles)),
        segmentation_(std::move(segmentation)),
        feedback_(std::move(feedback)) {}

  absl::StatusOr<SourceEvents> Read(absl::Time deadline) override {
    if (deadline == absl::InfiniteFuture()) deadline = absl::Now() + kDefaultTimeout;
    SourceEvents out;
    if (absl::Status s = ReadMemberships(out, deadline); !s.ok()) return s;
    if (absl::Status s = ReadProfiles(out, deadline); !s.ok()) return s;
    if (absl::Status s = ReadResponses(out, deadline); !s.ok()) return s;
    if (absl::Status s = ReadFollowUps(out, deadline); !s.ok()) return s;
    return out;
  }

 private:
  absl::Status ReadMemberships(SourceEvents& out, absl::Time deadline) {
    std::string token;
    do {
      sv1::ListSegmentsRequest request;
      request.set_page_size(kPage);
      request.set_page_token(token);
      sv1::ListSegmentsResponse response;
      grpc::ClientContext context;
      Prepare(context, deadline);
      grpc::Status status = segmentation_->ListSegments(&context, request, &response);
      if (!status.ok()) return Source("segmentation ListSegments", status);
      for (const auto& segment : response.segments()) {
        sv1::ListSegmentMembersRequest members;
        members.set_segment(segment.name());
        grpc::ClientContext stream_context;
        Prepare(stream_context, deadline);
        auto reader = segmentation_->ListSegmentMembers(&stream_context, members);
        sv1::ListSegmentMembersResponse chunk;
        while (reader->Read(&chunk)) {
          for (const std::string& profile : chunk.profiles()) {
            ev::MembershipChanged changed;
            changed.set_segment(segment.name());
            changed.set_profile(profile);
            changed.set_entered(true);
            out.events.push_back(Wrap(changed, {}, ""));
            out.counts.set_memberships(out.counts.memberships() + 1);
          }
        }
        grpc::Status finished = reader->Finish();
        if (!finished.ok()) return Source("segmentation ListSegmentMembers", finished);
      }
      token = response.next_page_token();
    } while (!token.empty());
    return absl::OkStatus();
  }

  absl::Status ReadProfiles(SourceEvents& out, absl::Time deadline) {
    std::string token;
    do {
      pv1::ListProfilesRequest request;
      request.set_page_size(kPage);
      request.set_page_token(token);
      pv1::ListProfilesResponse response;
      grpc::ClientContext context;
      Prepare(context, deadline);
      grpc::Status status = profiles_->ListProfiles(&context, request, &response);
      if (!status.ok()) return Source("profiles ListProfiles", status);
      for (const pv1::Profile& profile : response.profiles()) {
        if (!profile.persona().empty()) {
          ev::ProfileChanged changed;
          changed.set_profile(profile.name());
          changed.set_persona(profile.persona());
          out.events.push_back(Wrap(changed, profile.update_time(), ""));
          out.counts.set_memberships(out.counts.memberships() + 1);
        }
        if (absl::Status s = ReadInteractions(profile.name(), out, deadline); !s.ok()) return s;
      }
      token = response.next_page_token();
    } while (!token.empty());
    return absl::OkStatus();
  }

  absl::Status ReadInteractions(const std::string& profile, SourceEvents& out,
                                absl::Time deadline) {
    std::string token;
    do {
      pv1::ListInteractionsRequest request;
      request.set_profile(profile);
      request.set_page_size(kPage);
      request.set_page_token(token);
      pv1::ListInteractionsResponse response;
      grpc::ClientContext context;
      Prepare(context, deadline);
      grpc::Status status = profiles_->ListInteractions(&context, request, &response);
      if (!status.ok()) return Source("profiles ListInteractions", status);
      if (response.interactions_size() > 0) {
        ev::InteractionRecorded recorded;
        recorded.set_profile(profile);
        for (const pv1::Interaction& i : response.interactions()) {
          ev::InteractionSummary& s = *recorded.add_interactions();
          s.set_event_id(i.event_id());
          s.set_channel(ChannelName(i.channel()));
          s.set_type(i.type());
          *s.mutable_occur_time() = i.occur_time();
          s.set_monetary_value(i.monetary_value());
          s.set_currency_code(i.currency_code());
        }
        out.counts.set_interactions(out.counts.interactions() + response.interactions_size());
        out.events.push_back(Wrap(recorded, {}, ""));
      }
      token = response.next_page_token();
    } while (!token.empty());
    return absl::OkStatus();
  }

  absl::Status ReadResponses(SourceEvents& out, absl::Time deadline) {
    std::string token;
    do {
      fv1::ListResponsesRequest request;
      request.set_parent("surveys/-");
      request.set_page_size(kPage);
      request.set_page_token(token);
      fv1::ListResponsesResponse response;
      grpc::ClientContext context;
      Prepare(context, deadline);
      grpc::Status status = feedback_->ListResponses(&context, request, &response);
      if (!status.ok()) return Source("feedback ListResponses", status);
      for (const fv1::Response& r : response.responses()) {
        ev::ResponseReceived received;
        received.set_response(r.name());
        received.set_survey(r.name().substr(0, r.name().find("/responses/")));
        received.set_profile(r.profile());
        received.set_kind(Suffix(fv1::SurveyKind_Name(r.kind()), "SURVEY_KIND_"));
        if (r.has_score()) received.set_score(r.score());
        received.set_category(Suffix(fv1::Category_Name(r.category()), "CATEGORY_"));
        received.set_channel(ChannelName(r.channel()));
        received.set_touchpoint(r.touchpoint());
        *received.mutable_submit_time() = r.submit_time();
        out.events.push_back(Wrap(received, r.submit_time(), ""));
        out.counts.set_responses(out.counts.responses() + 1);
      }
      token = response.next_page_token();
    } while (!token.empty());
    return absl::OkStatus();
  }

  absl::Status ReadFollowUps(SourceEvents& out, absl::Time deadline) {
    std::vector<ev::Event> changes;
    std::string token;
    do {
      fv1::ListFollowUpsRequest request;
      request.set_page_size(kPage);
      request.set_page_token(token);
      fv1::ListFollowUpsResponse response;
      grpc::ClientContext context;
      Prepare(context, deadline);
      grpc::Status status = feedback_->ListFollowUps(&context, request, &response);
      if (!status.ok()) return Source("feedback ListFollowUps", status);
      for (const fv1::FollowUp& f : response.follow_ups()) {
        out.counts.set_follow_ups(out.counts.follow_ups() + 1);
        auto change = [&](const std::string& what, const google::protobuf::Timestamp& time) {
          ev::FollowUpChanged c;
          c.set_follow_up(f.name());
          c.set_profile(f.profile());
          c.set_response(f.response());
          c.set_owner_team(f.owner_team());
          c.set_change(what);
          c.set_closed_loop(f.closed_loop());
          *c.mutable_open_time() = f.open_time();
          return c;
        };
        changes.push_back(Wrap(change("OPENED", f.open_time()), f.open_time(), ""));
        if (f.has_contact_time()) {
          changes.push_back(Wrap(change("CONTACTED", f.contact_time()), f.contact_time(), ""));
        }
        for (int sla : f.breached_slas()) {
          ev::FollowUpChanged c = change("SLA_BREACHED", {});
          const auto& due = sla == fv1::SLA_FIRST_CONTACT ? f.first_contact_due_time()
                                                          : f.resolution_due_time();
          c.set_sla(sla == fv1::SLA_FIRST_CONTACT ? "FIRST_CONTACT" : "RESOLUTION");
          *c.mutable_due_time() = due;
          changes.push_back(Wrap(c, due, ""));
        }
        if (f.has_resolve_time()) {
          changes.push_back(Wrap(change("RESOLVED", f.resolve_time()), f.resolve_time(), ""));
        }
        if (f.has_close_time()) {
          changes.push_back(Wrap(change("CLOSED", f.close_time()), f.close_time(), ""));
        }
      }
      token = response.next_page_token();
    } while (!token.empty());
    std::stable_sort(changes.begin(), changes.end(), [](const ev::Event& a, const ev::Event& b) {
      return FromTimestamp(a.time()) < FromTimestamp(b.time());
    });
    for (ev::Event& e : changes) out.events.push_back(std::move(e));
    return absl::OkStatus();
  }

  static absl::Status Source(absl::string_view what, const grpc::Status& status) {
    absl::Status s = runtime::FromGrpcStatus(status);
    return absl::Status(s.code(), absl::StrCat("rebuild: ", what, ": ", s.message()));
  }

  std::unique_ptr<pv1::Profiles::StubInterface> profiles_;
  std::unique_ptr<sv1::Segmentation::StubInterface> segmentation_;
  std::unique_ptr<fv1::Feedback::StubInterface> feedback_;
};

}  // namespace

std::unique_ptr<RollupSource> NewGrpcRollupSource(
    std::unique_ptr<pv1::Profiles::StubInterface> profiles,
    std::unique_ptr<sv1::Segmentation::StubInterface> segmentation,
    std::unique_ptr<fv1::Feedback::StubInterface> feedback) {
  return std::make_unique<GrpcRollupSource>(std::move(profiles), std::move(segmentation),
                                            std::move(feedback));
}

absl::StatusOr<v1::RebuildRollupsResponse> RebuildRollups(store::Database& db,
                                                          RollupSource& source,
                                                          absl::Time deadline) {
  auto read = source.Read(deadline);
  if (!read.ok()) return read.status();
  absl::Status status = db.Transact(
      [&](store::Tx& tx) -> absl::Status {
        if (absl::Status s = ClearRollups(tx); !s.ok()) return s;
        for (const ev::Event& event : read->events) {
          if (absl::Status s = ApplyEvent(tx, event); !s.ok()) return s;
        }
        return absl::OkStatus();
      },
      {.deadline = deadline});
  if (!status.ok()) return status;
  return read->counts;
}

}  // namespace centric::reporting
