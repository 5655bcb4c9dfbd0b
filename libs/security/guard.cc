#include "libs/security/guard.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "google/protobuf/message.h"
#include "libs/runtime/handler.h"
#include "libs/runtime/log.h"
#include "libs/security/access.h"

namespace centric::security {
namespace {

using grpc::experimental::InterceptionHookPoints;

constexpr absl::string_view kHealthPrefix = "/grpc.health.v1.Health/";

std::string ToString(grpc::string_ref s) { return std::string(s.data(), s.size()); }

std::string CodeName(grpc::StatusCode code) {
  return absl::StatusCodeToString(static_cast<absl::StatusCode>(code));
}

const std::vector<std::string>& AllScopes() {
  static const auto* all = new std::vector<std::string>(std::begin(kScopes), std::end(kScopes));
  return *all;
}

class GuardInterceptor final : public grpc::experimental::Interceptor {
 public:
  GuardInterceptor(Guard& guard, grpc::experimental::ServerRpcInfo* info)
      : guard_(guard),
        info_(info),
        method_(info->method()),
        facts_(FactsOf(method_)),
        raw_(runtime::IsRawMethod(method_)) {}
  ~GuardInterceptor() override { runtime::ForgetAdmission(info_->server_context()); }

  void Intercept(grpc::experimental::InterceptorBatchMethods* m) override {
    if (m->QueryInterceptionHookPoint(InterceptionHookPoints::POST_RECV_INITIAL_METADATA)) {
      ReceivedMetadata(m);
    }
    // Only Centric's own services are known to receive generated messages: others in the
    // pool (grpc.health.v1's default service) may receive a grpc::ByteBuffer instead.
    if (m->QueryInterceptionHookPoint(InterceptionHookPoints::POST_RECV_MESSAGE) &&
        resource_.empty() && facts_.known && !facts_.service.empty()) {
      if (void* request = m->GetRecvMessage(); request == nullptr) {
      } else if (raw_) {
        resource_ = ResourceOfBytes(*static_cast<grpc::ByteBuffer*>(request));
      } else {
        resource_ = ResourceOf(*static_cast<google::protobuf::Message*>(request), facts_.access);
      }
    }
    bool sending = m->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_MESSAGE);
    if (sending) SendingMessage(m);
    if (m->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS) &&
        SendingStatus(m, sending)) {
      return;  // proceeds once its audit record is committed
    }
    m->Proceed();
  }

 private:
  void ReceivedMetadata(grpc::experimental::InterceptorBatchMethods* m) {
    std::multimap<grpc::string_ref, grpc::string_ref>* metadata = m->GetRecvInitialMetadata();
    Credentials credentials;
    if (metadata != nullptr) {
      auto auth = metadata->find("authorization");
      if (auth != metadata->end()) {
        absl::string_view value(auth->second.data(), auth->second.size());
        if (value.size() > 7 && absl::EqualsIgnoreCase(value.substr(0, 7), "bearer ")) {
          credentials.bearer_token = std::string(absl::StripAsciiWhitespace(value.substr(7)));
        } else {
          credentials.bearer_token = "\x01malformed";
        }
      }
      auto id = metadata->find("x-request-id");
      if (id != metadata->end() && !id->second.empty() && id->second.size() <= 128) {
        request_id_ = ToString(id->second);
      } else {
        // Handlers read the same id (runtime::RequestIdOf), so logs and audit agree.
        request_id_ = runtime::NewRequestId();
        metadata->emplace(grpc::string_ref("x-request-id"), grpc::string_ref(request_id_));
      }
    }
    std::shared_ptr<const grpc::AuthContext> auth = info_->server_context()->auth_context();
    if (auth != nullptr) {
      for (const grpc::string_ref& type : auth->FindPropertyValues("transport_security_type")) {
        credentials.tls = credentials.tls || type == "ssl";
      }
      if (auth->IsPeerAuthenticated()) {
        for (const grpc::string_ref& cn : auth->FindPropertyValues("x509_common_name")) {
          credentials.certificate_name = ToString(cn);
        }
      }
    }
    Guard::Decision decision = guard_.Admit(method_, credentials);
    if (!decision.status.ok()) {
      runtime::LogWarning("call_refused",
                          {{"method", method_},
                           {"caller", decision.caller.name},
                           {"code", absl::StatusCodeToString(decision.status.code())},
                           {"reason", decision.status.message()},
                           {"peer", info_->server_context()->peer()},
                           {"request_id", request_id_}});
    }
    caller_ = decision.caller;
    admitted_ = decision.status.ok();
    runtime::RecordAdmission(info_->server_context(), std::move(decision.status),
                             std::move(decision.caller));
  }

  // The resource named by a request that arrived as bytes (a raw method), parsed as the
  // method's request type; "" when it does not parse (the handler refuses it).
  std::string ResourceOfBytes(const grpc::ByteBuffer& buffer) const {
    if (facts_.request == nullptr) return "";
    std::vector<grpc::Slice> slices;
    if (!buffer.Dump(&slices).ok()) return "";
    std::string bytes;
    for (const grpc::Slice& slice : slices) {
      bytes.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
    }
    std::unique_ptr<google::protobuf::Message> message(
        google::protobuf::MessageFactory::generated_factory()->GetPrototype(facts_.request)->New());
    if (!message->ParseFromString(bytes)) return "";
    return ResourceOf(*message, facts_.access);
  }

  bool Audited() const {
    AuditLog* audit = guard_.audit_log();
    if (audit == nullptr || !facts_.known || !audit->Hosts(facts_.service)) return false;
    // Unauthenticated calls are only logged (call_refused): anyone who can reach the port
    // could otherwise fill the audit table.
    if (caller_.name.empty()) return false;
    return facts_.access.kind() != v1::MethodAccess::READ || facts_.response_has_personal_data;
  }

  void SendingMessage(grpc::experimental::InterceptorBatchMethods* m) {
    if (resource_.empty() && facts_.known && !facts_.service.empty() &&
        facts_.access.kind() == v1::MethodAccess::WRITE) {
      // A create names its resource in the response.
      if (const void* response = m->GetSendMessage(); response != nullptr) {
        resource_ = ResourceOf(*static_cast<const google::protobuf::Message*>(response),
                               v1::MethodAccess());
      }
    }
    if (!facts_.response_has_personal_data || caller_.HasScope(std::string(kScopePiiRead))) return;
    grpc::ByteBuffer* buffer = m->GetSerializedSendMessage();
    if (buffer == nullptr) return;
    std::vector<grpc::Slice> slices;
    if (!buffer->Dump(&slices).ok()) return;
    std::string bytes;
    for (const grpc::Slice& slice : slices) {
      bytes.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
    }
    std::unique_ptr<google::protobuf::Message> message(
        google::protobuf::MessageFactory::generated_factory()->GetPrototype(facts_.response)->New());
    if (!message->ParseFromString(bytes)) {
      // Never send what could not be checked.
      *buffer = grpc::ByteBuffer();
      return;
    }
    if (!RedactPersonalData(*message)) return;
    redacted_ = true;
    grpc::Slice slice(message->SerializeAsString());
    *buffer = grpc::ByteBuffer(&slice, 1);
  }

  // Sends the call's audit record to the log when it has one, and returns true: the
  // status (and the response in the same batch) goes out only after the record is
  // committed, from the audit writer's thread. Records of concurrent calls share one
  // commit (AuditLog's group commit).
  bool SendingStatus(grpc::experimental::InterceptorBatchMethods* m, bool with_message) {
    if (!Audited()) return false;
    grpc::Status status = m->GetSendStatus();
    v1::AuditRecord record;
    record.set_service(facts_.service);
    record.set_caller(caller_.name);
    record.set_method(std::string(absl::StripPrefix(method_, "/")));
    record.set_resource(resource_);
    record.set_outcome(CodeName(status.error_code()));
    record.set_kind(facts_.access.kind() == v1::MethodAccess::READ ? v1::MethodAccess::READ
                                                                   : v1::MethodAccess::WRITE);
    record.set_redacted(redacted_);
    record.set_request_id(request_id_);
    guard_.audit_log()->RecordAsync(
        record, [this, m, with_message, ok = status.ok(), record](absl::Status written) {
          if (!written.ok()) Withhold(m, with_message, ok, record, written);
          m->Proceed();
        });
    return true;
  }

  // No unaudited answer: the log line keeps the record, the caller gets UNAVAILABLE and
  // no data.
  void Withhold(grpc::experimental::InterceptorBatchMethods* m, bool with_message, bool ok,
                const v1::AuditRecord& record, const absl::Status& written) {
    runtime::LogError("audit_write_failed", {{"error", written.ToString()},
                                             {"method", record.method()},
                                             {"caller", record.caller()},
                                             {"resource", record.resource()},
                                             {"outcome", record.outcome()},
                                             {"request_id", request_id_}});
    if (with_message) {
      if (grpc::ByteBuffer* buffer = m->GetSerializedSendMessage(); buffer != nullptr) {
        *buffer = grpc::ByteBuffer();
      }
    }
    m->ModifySendStatus(grpc::Status(
        grpc::StatusCode::UNAVAILABLE,
        ok ? "the audit log is unavailable; the call's result is withheld (a write "
             "may have been applied: retry with the same request id)"
           : "the audit log is unavailable"));
  }

  Guard& guard_;
  grpc::experimental::ServerRpcInfo* info_;
  const std::string method_;
  const MethodFacts& facts_;
  // Served with grpc::ByteBuffer messages (runtime::MarkRawMethod).
  const bool raw_;
  runtime::Caller caller_;
  bool admitted_ = false;
  bool redacted_ = false;
  std::string resource_;
  std::string request_id_;
};

class GuardFactory final : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit GuardFactory(Guard& guard) : guard_(guard) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    return new GuardInterceptor(guard_, info);
  }

 private:
  Guard& guard_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Guard>> Guard::Open(const runtime::Config& config) {
  auto guard = std::unique_ptr<Guard>(new Guard());
  guard->insecure_ = config.insecure;
  if (!config.tokens_file.empty()) {
    auto tokens = WatchedFile<TokenTable>::Open(
        config.tokens_file, [](const std::string& text) { return TokenTable::Parse(text); });
    if (!tokens.ok()) {
      return absl::Status(tokens.status().code(),
                          absl::StrCat("--tokens-file ", tokens.status().message()));
    }
    guard->tokens_ = std::move(*tokens);
  }
  if (!config.policy_file.empty()) {
    auto policy = WatchedFile<Policy>::Open(
        config.policy_file, [](const std::string& text) { return Policy::Parse(text); });
    if (!policy.ok()) {
      return absl::Status(policy.status().code(),
                          absl::StrCat("--policy-file ", policy.status().message()));
    }
    guard->policy_ = std::move(*policy);
  } else if (!config.insecure) {
    return absl::InvalidArgumentError(
        "--policy-file (CENTRIC_POLICY_FILE) is required unless --insecure: it names the "
        "methods and scopes of every caller");
  }
  return guard;
}

Guard::Decision Guard::Admit(absl::string_view method, const Credentials& credentials) {
  Decision d;
  if (absl::StartsWith(method, kHealthPrefix)) return d;
  const std::string name(absl::StripPrefix(method, "/"));
  // Who is calling.
  if (!credentials.certificate_name.empty()) {
    d.caller.name = credentials.certificate_name;
  } else if (!credentials.bearer_token.empty()) {
    if (!credentials.tls && !insecure_) {
      d.status = absl::UnauthenticatedError(
          "bearer tokens are accepted over TLS only; this connection is plain text");
      return d;
    }
    std::optional<std::string> caller;
    if (tokens_ != nullptr) caller = tokens_->Get()->Authenticate(credentials.bearer_token);
    if (!caller.has_value()) {
      d.status = absl::UnauthenticatedError("the bearer token is not valid");
      return d;
    }
    d.caller.name = *caller;
  } else if (policy_ == nullptr) {
    d.caller.name = std::string(kLocalDeveloper);
  } else {
    d.status = absl::UnauthenticatedError(
        "no credentials: present a client certificate signed by the suite's CA or an "
        "\"authorization: Bearer <token>\" header");
    return d;
  }
  // What it may do.
  v1::RateLimit limit;
  if (policy_ == nullptr) {
    d.caller.scopes = AllScopes();
  } else {
    std::shared_ptr<const Policy> policy = policy_->Get();
    const v1::CallerPolicy* entry = policy->Find(d.caller.name);
    if (entry == nullptr) {
      d.status = absl::PermissionDeniedError(
          absl::StrCat("caller \"", d.caller.name, "\" is not in the policy"));
      return d;
    }
    d.caller.scopes.assign(entry->scopes().begin(), entry->scopes().end());
    if (!Policy::Allows(*entry, name)) {
      d.status = absl::PermissionDeniedError(
          absl::StrCat("caller \"", d.caller.name, "\" may not call ", name));
      return d;
    }
    for (const std::string& scope : FactsOf(method).access.scopes()) {
      if (!d.caller.HasScope(scope)) {
        d.status = absl::PermissionDeniedError(absl::StrCat(
            name, " needs the scope ", scope, ", which caller \"", d.caller.name,
            "\" does not hold"));
        return d;
      }
    }
    limit = policy->RateLimitOf(*entry);
  }
  if (limit.requests_per_second() > 0 && !TakeRateToken(d.caller.name, limit)) {
    d.status = absl::ResourceExhaustedError(absl::StrCat(
        "caller \"", d.caller.name, "\" is over its rate limit of ", limit.requests_per_second(),
        " calls per second (burst ", limit.burst() > 0 ? limit.burst() : limit.requests_per_second(),
        "); retry later"));
  }
  return d;
}

bool Guard::TakeRateToken(const std::string& caller, const v1::RateLimit& limit) {
  const double burst = limit.burst() > 0 ? limit.burst() : limit.requests_per_second();
  const absl::Time now = absl::Now();
  absl::MutexLock lock(&buckets_mu_);
  auto [it, inserted] = buckets_.try_emplace(caller, Bucket{burst, now});
  Bucket& bucket = it->second;
  bucket.tokens = std::min(
      burst, bucket.tokens + absl::ToDoubleSeconds(now - bucket.refilled) * limit.requests_per_second());
  bucket.refilled = now;
  if (bucket.tokens < 1) return false;
  bucket.tokens -= 1;
  return true;
}

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> Guard::NewInterceptorFactory() {
  return std::make_unique<GuardFactory>(*this);
}

}  // namespace centric::security
