#include "libs/stats/experiment.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "libs/stats/distributions.h"
#include "libs/stats/validate.h"

namespace centric::stats {
namespace {

absl::Status ValidateExposed(absl::string_view name, const VariantCounts& counts) {
  if (absl::Status s = ValidateVariantCounts(name, counts); !s.ok()) return s;
  if (counts.exposures == 0) {
    return absl::InvalidArgumentError(absl::StrCat(name, ".exposures must be positive, got 0"));
  }
  return absl::OkStatus();
}

double Rate(const VariantCounts& counts) {
  return static_cast<double>(counts.conversions) / static_cast<double>(counts.exposures);
}

// Var(p̂) = p(1 - p)/n for a binomial proportion.
double RateVariance(double rate, int64_t exposures) {
  return rate * (1 - rate) / static_cast<double>(exposures);
}

}  // namespace

absl::Status ValidateVariantCounts(absl::string_view name, const VariantCounts& counts) {
  if (absl::Status s = ValidateCount(absl::StrCat(name, ".exposures"), counts.exposures); !s.ok()) {
    return s;
  }
  if (absl::Status s = ValidateCount(absl::StrCat(name, ".conversions"), counts.conversions);
      !s.ok()) {
    return s;
  }
  if (counts.conversions > counts.exposures) {
    return absl::InvalidArgumentError(absl::StrCat(name, ".conversions must be at most ", name,
                                                   ".exposures (", counts.exposures, "), got ",
                                                   counts.conversions));
  }
  return absl::OkStatus();
}

absl::StatusOr<double> ConversionRate(const VariantCounts& counts) {
  if (absl::Status s = ValidateExposed("counts", counts); !s.ok()) return s;
  return Rate(counts);
}

absl::StatusOr<Comparison> CompareToControl(const VariantCounts& control,
                                            const VariantCounts& variant, double alpha) {
  if (absl::Status s = ValidateExposed("control", control); !s.ok()) return s;
  if (absl::Status s = ValidateExposed("variant", variant); !s.ok()) return s;
  if (absl::Status s = ValidateOpenUnitInterval("alpha", alpha); !s.ok()) return s;

  const double z_crit = NormalQuantile(1 - alpha / 2);
  Comparison c;
  c.control_rate = Rate(control);
  c.variant_rate = Rate(variant);
  c.absolute_uplift = c.variant_rate - c.control_rate;

  const double var_control = RateVariance(c.control_rate, control.exposures);
  const double var_variant = RateVariance(c.variant_rate, variant.exposures);
  const double se_diff = std::sqrt(var_control + var_variant);
  c.absolute_uplift_interval = {c.absolute_uplift - z_crit * se_diff,
                                c.absolute_uplift + z_crit * se_diff};

  if (c.control_rate > 0) {
    const double ratio = c.variant_rate / c.control_rate;
    c.relative_uplift = ratio - 1;
    // Delta method for g(pv, pc) = pv / pc: Var ≈ Var(pv)/pc² + pv²·Var(pc)/pc⁴.
    const double pc2 = c.control_rate * c.control_rate;
    const double se_ratio = std::sqrt(var_variant / pc2 + ratio * ratio * var_control / pc2);
    c.relative_uplift_interval =
        Interval{*c.relative_uplift - z_crit * se_ratio, *c.relative_uplift + z_crit * se_ratio};
  }

  const double n_control = static_cast<double>(control.exposures);
  const double n_variant = static_cast<double>(variant.exposures);
  const double pooled =
      static_cast<double>(control.conversions + variant.conversions) / (n_control + n_variant);
  const double se_pooled = std::sqrt(pooled * (1 - pooled) * (1 / n_control + 1 / n_variant));
  if (se_pooled > 0) {
    c.z = c.absolute_uplift / se_pooled;
    c.p_value = 2 * NormalUpperTail(std::fabs(c.z));
  }
  return c;
}

}  // namespace centric::stats
