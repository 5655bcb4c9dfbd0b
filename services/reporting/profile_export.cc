#include "services/reporting/profile_export.h"

#include <string>
#include <vector>

#include "libs/runtime/resource.h"
#include "services/reporting/rollups.h"

namespace centric::reporting {

absl::StatusOr<v1::ExportProfileDataResponse> ProfileExport::ExportProfileData(
    const v1::ExportProfileDataRequest& request, absl::Time deadline) {
  auto names = runtime::ExportProfileNames(request.profile(), request.merged_profiles());
  if (!names.ok()) return names.status();
  std::vector<v1::CustomerRecord> records(names->size());
  absl::Status status = db_.Transact(
      [&](store::Tx& tx) -> absl::Status {
        for (size_t i = 0; i < names->size(); ++i) {
          v1::CustomerRecord& record = records[i];
          record.Clear();
          record.set_profile((*names)[i]);
          if (absl::Status s = CustomerRowsOf(tx, (*names)[i], record); !s.ok()) return s;
          auto exposures = experiments_.ExposuresOf(tx, (*names)[i]);
          if (!exposures.ok()) return exposures.status();
          for (v1::ExperimentExposure& e : *exposures) {
            *record.add_experiment_exposures() = std::move(e);
          }
        }
        return absl::OkStatus();
      },
      {.deadline = deadline, .read_only = true});
  if (!status.ok()) return status;
  v1::ExportProfileDataResponse response;
  for (v1::CustomerRecord& record : records) {
    if (record.purchases_size() > 0) {
      v1::GetCustomerValueRequest value_request;
      value_request.set_profile(record.profile());
      auto value = clv_.GetCustomerValue(value_request, deadline);
      // NOT_FOUND: no model yet, or no purchase of the model's type; nothing to export.
      if (value.ok()) {
        *record.mutable_customer_value() = std::move(*value);
      } else if (value.status().code() != absl::StatusCode::kNotFound) {
        return value.status();
      }
    }
    const bool holds_rows = record.groups_size() > 0 || record.experiment_exposures_size() > 0 ||
                            record.purchases_size() > 0 || record.purchase_months_size() > 0 ||
                            record.activity_size() > 0 || record.follow_ups_size() > 0 ||
                            record.has_customer_value();
    if (holds_rows) *response.add_customers() = std::move(record);
  }
  return response;
}

}  // namespace centric::reporting
