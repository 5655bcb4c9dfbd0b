// centric.events.v1.DeadLetters over a Bus: every binary serves it for the bus it is
// connected to (libs/app), so an operator reaches any group's dead letters through
// whichever service is at hand.
#ifndef CENTRIC_LIBS_EVENTS_DEAD_LETTERS_SERVICE_H_
#define CENTRIC_LIBS_EVENTS_DEAD_LETTERS_SERVICE_H_

#include <string>

#include "absl/status/statusor.h"
#include "centric/events/v1/dead_letters.grpc.pb.h"
#include "libs/events/bus.h"
#include "libs/runtime/handler.h"
#include "libs/runtime/worker_pool.h"

namespace centric::events {

inline constexpr char kDeadLettersServiceName[] = "centric.events.v1.DeadLetters";

// The transport-free logic, tested directly.
class DeadLetterAdmin {
 public:
  explicit DeadLetterAdmin(Bus& bus) : bus_(bus) {}
  absl::StatusOr<v1::ListDeadLettersResponse> List(const v1::ListDeadLettersRequest& request);
  absl::Status Replay(const v1::ReplayDeadLetterRequest& request);
  absl::Status Drop(const v1::DropDeadLetterRequest& request);

 private:
  Bus& bus_;
};

class DeadLettersGrpcService final : public v1::DeadLetters::CallbackService {
 public:
  DeadLettersGrpcService(Bus& bus, runtime::WorkerPool& pool)
      : admin_(bus), env_{&pool, "events.centric.dev"} {}
  grpc::ServerUnaryReactor* ListDeadLetters(grpc::CallbackServerContext* context,
                                            const v1::ListDeadLettersRequest* request,
                                            v1::ListDeadLettersResponse* response) override;
  grpc::ServerUnaryReactor* ReplayDeadLetter(grpc::CallbackServerContext* context,
                                             const v1::ReplayDeadLetterRequest* request,
                                             v1::ReplayDeadLetterResponse* response) override;
  grpc::ServerUnaryReactor* DropDeadLetter(grpc::CallbackServerContext* context,
                                           const v1::DropDeadLetterRequest* request,
                                           v1::DropDeadLetterResponse* response) override;

 private:
  DeadLetterAdmin admin_;
  runtime::HandlerEnv env_;
};

}  // namespace centric::events

#endif  // CENTRIC_LIBS_EVENTS_DEAD_LETTERS_SERVICE_H_
