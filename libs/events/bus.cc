#include "libs/events/bus.h"

namespace centric::events {

runtime::TraceContext TraceOf(const Event& event) {
  return runtime::ChildSpanOf(runtime::ParseTraceparent(event.traceparent()));
}

}  // namespace centric::events
