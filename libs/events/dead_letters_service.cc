#include "libs/events/dead_letters_service.h"

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "libs/runtime/errors.h"
#include "libs/runtime/resource.h"

namespace centric::events {
namespace {

constexpr int kDefaultPageSize = 100;
constexpr int kMaxPageSize = 1000;
constexpr size_t kMaxNamePartBytes = 63;
constexpr char kPageKind[] = "dead-letters";

// A topic or group name: 1..63 bytes of [a-z0-9_-].
bool ValidPart(absl::string_view part) {
  if (part.empty() || part.size() > kMaxNamePartBytes) return false;
  for (char c : part) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-')) return false;
  }
  return true;
}

struct Parent {
  std::string topic;
  std::string group;
};

// "topics/{topic}/groups/{group}". Errors: INVALID_ARGUMENT naming `field`.
absl::StatusOr<Parent> ParseParent(absl::string_view field, absl::string_view parent) {
  std::vector<absl::string_view> parts = absl::StrSplit(parent, '/');
  if (parts.size() != 4 || parts[0] != "topics" || parts[2] != "groups" || !ValidPart(parts[1]) ||
      !ValidPart(parts[3])) {
    return runtime::InvalidField(
        field, absl::StrCat("must be \"topics/{topic}/groups/{group}\" with each of 1 to ",
                            kMaxNamePartBytes, " bytes of [a-z0-9_-], got \"", parent, "\""));
  }
  return Parent{std::string(parts[1]), std::string(parts[3])};
}

struct Name {
  Parent parent;
  std::string id;
};

// "topics/{topic}/groups/{group}/deadLetters/{id}". Errors: INVALID_ARGUMENT on name.
absl::StatusOr<Name> ParseName(absl::string_view name) {
  const size_t at = name.rfind("/deadLetters/");
  if (at != absl::string_view::npos) {
    absl::StatusOr<Parent> parent = ParseParent("name", name.substr(0, at));
    absl::string_view id = name.substr(at + sizeof("/deadLetters/") - 1);
    if (parent.ok() && !id.empty() && id.size() <= kMaxNamePartBytes &&
        id.find('/') == absl::string_view::npos) {
      return Name{*std::move(parent), std::string(id)};
    }
  }
  return runtime::InvalidField(
      "name", absl::StrCat("must be \"topics/{topic}/groups/{group}/deadLetters/{id}\" as "
                           "ListDeadLetters names it, got \"",
                           name, "\""));
}

}  // namespace

absl::StatusOr<v1::ListDeadLettersResponse> DeadLetterAdmin::List(
    const v1::ListDeadLettersRequest& request) {
  absl::StatusOr<Parent> parent = ParseParent("parent", request.parent());
  if (!parent.ok()) return parent.status();
  absl::StatusOr<int> page_size =
      runtime::PageSize(request.page_size(), kDefaultPageSize, kMaxPageSize);
  if (!page_size.ok()) return page_size.status();
  std::string after;
  if (!request.page_token().empty()) {
    absl::StatusOr<std::string> cursor = runtime::PageCursor(request.page_token(), kPageKind);
    if (!cursor.ok()) return cursor.status();
    after = *std::move(cursor);
  }
  absl::StatusOr<DeadLetterPage> page =
      bus_.ListDeadLetters(parent->topic, parent->group, *page_size, after);
  if (!page.ok()) {
    // The bus refuses a cursor that is not one of its ids: a forged token.
    if (absl::IsInvalidArgument(page.status())) {
      return runtime::InvalidField("page_token", "is not a token returned by this method");
    }
    return page.status();
  }
  v1::ListDeadLettersResponse response;
  for (const DeadLetter& dead : page->dead_letters) {
    v1::DeadLetter* out = response.add_dead_letters();
    out->set_name(absl::StrCat(request.parent(), "/deadLetters/", dead.id));
    out->set_event_id(dead.event_id);
    out->set_event_type(dead.event_type);
    out->set_subject(dead.subject);
    out->set_error(dead.error);
    out->set_attempts(dead.attempts);
    out->set_consumer(dead.consumer);
    const int64_t micros = absl::ToUnixMicros(dead.time);
    out->mutable_dead_letter_time()->set_seconds(micros / 1000000);
    out->mutable_dead_letter_time()->set_nanos(static_cast<int32_t>(micros % 1000000) * 1000);
    out->set_payload_bytes(static_cast<int64_t>(dead.data.size()));
  }
  if (!page->next.empty()) response.set_next_page_token(runtime::PageToken(kPageKind, page->next));
  response.set_total_size(page->total);
  return response;
}

absl::Status DeadLetterAdmin::Replay(const v1::ReplayDeadLetterRequest& request) {
  absl::StatusOr<Name> name = ParseName(request.name());
  if (!name.ok()) return name.status();
  return bus_.ReplayDeadLetter(name->parent.topic, name->parent.group, name->id);
}

absl::Status DeadLetterAdmin::Drop(const v1::DropDeadLetterRequest& request) {
  absl::StatusOr<Name> name = ParseName(request.name());
  if (!name.ok()) return name.status();
  return bus_.DropDeadLetter(name->parent.topic, name->parent.group, name->id);
}

grpc::ServerUnaryReactor* DeadLettersGrpcService::ListDeadLetters(
    grpc::CallbackServerContext* context, const v1::ListDeadLettersRequest* request,
    v1::ListDeadLettersResponse* response) {
  return runtime::Unary(context, env_, [this, request, response](absl::Time) {
    return runtime::Reply(admin_.List(*request), response);
  });
}

grpc::ServerUnaryReactor* DeadLettersGrpcService::ReplayDeadLetter(
    grpc::CallbackServerContext* context, const v1::ReplayDeadLetterRequest* request,
    v1::ReplayDeadLetterResponse*) {
  return runtime::Unary(context, env_,
                        [this, request](absl::Time) { return admin_.Replay(*request); });
}

grpc::ServerUnaryReactor* DeadLettersGrpcService::DropDeadLetter(
    grpc::CallbackServerContext* context, const v1::DropDeadLetterRequest* request,
    v1::DropDeadLetterResponse*) {
  return runtime::Unary(context, env_,
                        [this, request](absl::Time) { return admin_.Drop(*request); });
}

}  // namespace centric::events
