#include "libs/runtime/admission.h"

#include <algorithm>
#include <atomic>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"

namespace centric::runtime {
namespace {

struct Decision {
  absl::Status status;
  Caller caller;
};

struct Registry {
  absl::Mutex mu;
  absl::flat_hash_map<const grpc::ServerContextBase*, Decision> decisions ABSL_GUARDED_BY(mu);
};

Registry& TheRegistry() {
  static auto* registry = new Registry();
  return *registry;
}

std::atomic<bool> required{false};

}  // namespace

bool Caller::HasScope(const std::string& scope) const {
  return std::find(scopes.begin(), scopes.end(), scope) != scopes.end();
}

void RecordAdmission(const grpc::ServerContextBase* context, absl::Status decision, Caller caller) {
  Registry& r = TheRegistry();
  absl::MutexLock lock(&r.mu);
  r.decisions[context] = Decision{std::move(decision), std::move(caller)};
}

void ForgetAdmission(const grpc::ServerContextBase* context) {
  Registry& r = TheRegistry();
  absl::MutexLock lock(&r.mu);
  r.decisions.erase(context);
}

void RequireAdmission(bool value) { required = value; }

absl::Status AdmissionOf(const grpc::ServerContextBase* context) {
  Registry& r = TheRegistry();
  absl::MutexLock lock(&r.mu);
  auto it = r.decisions.find(context);
  if (it != r.decisions.end()) return it->second.status;
  if (required) return absl::InternalError("the call was not seen by the security interceptor");
  return absl::OkStatus();
}

Caller CallerOf(const grpc::ServerContextBase* context) {
  Registry& r = TheRegistry();
  absl::MutexLock lock(&r.mu);
  auto it = r.decisions.find(context);
  return it == r.decisions.end() ? Caller{} : it->second.caller;
}

}  // namespace centric::runtime
