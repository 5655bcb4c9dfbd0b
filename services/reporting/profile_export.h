// ExportProfileData of the Reporting service: what it holds about one person, per profile
// name — the customer tables of the rollups (rollups.h), the experiment exposures
// (experiments/) and the customer value under the latest CLV model (clv/). Nothing here
// knows gRPC.
#ifndef CENTRIC_SERVICES_REPORTING_PROFILE_EXPORT_H_
#define CENTRIC_SERVICES_REPORTING_PROFILE_EXPORT_H_

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "centric/reporting/v1/reporting_service.pb.h"
#include "libs/store/store.h"
#include "services/reporting/clv/clv_reports.h"
#include "services/reporting/experiments/experiments.h"

namespace centric::reporting {

class ProfileExport {
 public:
  // Every reference must outlive this object.
  ProfileExport(store::Database& db, Experiments& experiments, ClvReports& clv)
      : db_(db), experiments_(experiments), clv_(clv) {}

  // One CustomerRecord per name of the request that has any row or a customer value, the
  // profile first; the rows of all names come from one read-only transaction bounded by
  // `deadline`. Errors: INVALID_ARGUMENT (names), store errors.
  absl::StatusOr<v1::ExportProfileDataResponse> ExportProfileData(
      const v1::ExportProfileDataRequest& request, absl::Time deadline);

 private:
  store::Database& db_;
  Experiments& experiments_;
  ClvReports& clv_;
};

}  // namespace centric::reporting

#endif  // CENTRIC_SERVICES_REPORTING_PROFILE_EXPORT_H_
