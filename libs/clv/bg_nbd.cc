#include "libs/clv/bg_nbd.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "libs/clv/mle.h"
#include "libs/clv/special_functions.h"

namespace centric::clv {
namespace {

// The closed forms below divide by (a - 1); within this distance of a = 1 they are
// evaluated on both sides and interpolated (the expectations are smooth in a).
constexpr double kNearOne = 1e-5;

absl::Status ValidateHorizon(double t) {
  if (std::isfinite(t) && t >= 0) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat("t must be finite and >= 0, got ", t));
}

// ln of FHL 2005 eq. (6) for one customer:
//   L = B(a, b+x)/B(a, b) · Γ(r+x) α^r / (Γ(r) (α+T)^(r+x))
//     + [x > 0] B(a+1, b+x-1)/B(a, b) · Γ(r+x) α^r / (Γ(r) (α+t_x)^(r+x)),
// using B(a+1, b+x-1) = B(a, b+x) · a / (b+x-1) to factor out the common part.
double CustomerLogLikelihood(const BgNbdParams& p, const CustomerSummary& c) {
  const double x = static_cast<double>(c.repeat_purchases);
  const double common = LogGamma(p.r + x) - LogGamma(p.r) + p.r * std::log(p.alpha) +
                        LogBeta(p.a, p.b + x) - LogBeta(p.a, p.b);
  const double alive = -(p.r + x) * std::log(p.alpha + c.observation_length);
  if (c.repeat_purchases == 0) return common + alive;
  const double dead =
      std::log(p.a / (p.b + x - 1)) - (p.r + x) * std::log(p.alpha + c.last_purchase_time);
  const double top = std::max(alive, dead);
  return common + top + std::log(std::exp(alive - top) + std::exp(dead - top));
}

// ln of the odds that the customer dropped out at t_x rather than being alive at T: the
// second term of eq. (6) over the first (FHL 2008). -infinity when x = 0.
double LogDeadOdds(const BgNbdParams& p, const CustomerSummary& c) {
  if (c.repeat_purchases == 0) return -INFINITY;
  const double x = static_cast<double>(c.repeat_purchases);
  return std::log(p.a / (p.b + x - 1)) + (p.r + x) * (std::log(p.alpha + c.observation_length) -
                                                      std::log(p.alpha + c.last_purchase_time));
}

// E[(1 - (s / (s + p t))^k) / p] for p ~ Beta(a, b2): expected purchases in the next t
// periods of a customer alive now whose rate is Gamma(k, s) distributed. Its closed form
// is the bracket of FHL 2005 eq. (9) (k = r, s = α, b2 = b) and of eq. (10) (k = r + x,
// s = α + T, b2 = b + x):
//   (c / (a - 1)) · [1 - (1 - z)^k 2F1(k, b2; c; z)],  c = a + b2 - 1,  z = t / (s + t).
// Precondition: a != 1.
absl::StatusOr<double> ClosedForm(double a, double b2, double s, double k, double t) {
  const double c = a + b2 - 1;
  const double z = t / (s + t);
  const double log_1mz = -std::log1p(t / s);
  // (1 - z)^k 2F1(k, b2; cc; z), computed in logs because both factors can overflow.
  auto scaled_2f1 = [&](double cc) -> absl::StatusOr<double> {
    absl::StatusOr<double> log_f = LogHypergeometric2F1(k, b2, cc, z);
    if (!log_f.ok()) return log_f.status();
    return std::exp(*log_f + k * log_1mz);
  };
  double c_times_scaled;  // c (1 - z)^k 2F1(k, b2; c; z)
  if (c > 0) {
    absl::StatusOr<double> f = scaled_2f1(c);
    if (!f.ok()) return f.status();
    c_times_scaled = c * *f;
  } else {
    // Only when x = 0 and a + b <= 1: the series needs c > 0, so step c up with Gauss's
    // contiguous relation (DLMF 15.5.18) at cc = c + 1:
    //   cc (cc-1)(z-1) F(cc-1) + cc [cc-1 - (2cc-k-b2-1) z] F(cc) + (cc-k)(cc-b2) z F(cc+1) = 0.
    const double cc = c + 1;
    absl::StatusOr<double> f1 = scaled_2f1(cc);
    if (!f1.ok()) return f1.status();
    absl::StatusOr<double> f2 = scaled_2f1(cc + 1);
    if (!f2.ok()) return f2.status();
    c_times_scaled = (cc * (c - (2 * cc - k - b2 - 1) * z) * *f1 + (cc - k) * (cc - b2) * z * *f2) /
                     (cc * (1 - z));
  }
  return (c - c_times_scaled) / (a - 1);
}

// ClosedForm, interpolated linearly between a = 1 ± kNearOne close to a = 1, where it is
// 0 / 0 (the error, of order kNearOne^2, is far below the models' accuracy).
absl::StatusOr<double> ExpectedWhileAlive(double a, double b2, double s, double k, double t) {
  if (t == 0) return 0.0;
  if (std::abs(a - 1) >= kNearOne) return ClosedForm(a, b2, s, k, t);
  absl::StatusOr<double> below = ClosedForm(1 - kNearOne, b2, s, k, t);
  if (!below.ok()) return below.status();
  absl::StatusOr<double> above = ClosedForm(1 + kNearOne, b2, s, k, t);
  if (!above.ok()) return above.status();
  const double weight = (a - (1 - kNearOne)) / (2 * kNearOne);
  return (1 - weight) * *below + weight * *above;
}

}  // namespace

absl::Status ValidateBgNbdParams(const BgNbdParams& params) {
  for (auto [value, name] : {std::pair{params.r, "r"}, std::pair{params.alpha, "alpha"},
                             std::pair{params.a, "a"}, std::pair{params.b, "b"}}) {
    if (absl::Status s = ValidatePositiveParam(value, name); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::StatusOr<double> BgNbdLogLikelihood(const BgNbdParams& params,
                                          absl::Span<const CustomerSummary> customers) {
  if (absl::Status s = ValidateBgNbdParams(params); !s.ok()) return s;
  if (absl::Status s = ValidateSummaries(customers); !s.ok()) return s;
  double sum = 0;
  for (const CustomerSummary& c : customers) sum += CustomerLogLikelihood(params, c);
  return sum;
}

absl::StatusOr<BgNbdFit> FitBgNbd(absl::Span<const CustomerSummary> customers) {
  if (absl::Status s = ValidateSummaries(customers); !s.ok()) return s;
  if (customers.size() < kMinBgNbdCustomers) {
    return absl::FailedPreconditionError(absl::StrCat(
        "BG/NBD fit needs at least ", kMinBgNbdCustomers, " customers, got ", customers.size()));
  }
  double total_length = 0;
  bool any_repeat = false;
  for (const CustomerSummary& c : customers) {
    total_length += c.observation_length;
    any_repeat = any_repeat || c.repeat_purchases > 0;
  }
  if (!any_repeat) {
    return absl::FailedPreconditionError(
        "BG/NBD fit needs at least one customer with a repeat purchase (x >= 1)");
  }
  auto log_likelihood = [&](absl::Span<const double> v) {
    const BgNbdParams p{v[0], v[1], v[2], v[3]};
    double sum = 0;
    for (const CustomerSummary& c : customers) sum += CustomerLogLikelihood(p, c);
    return sum;
  };
  // α is a time scale, so it starts at the mean observation length.
  const double alpha0 = std::max(1.0, total_length / static_cast<double>(customers.size()));
  absl::StatusOr<MleResult> mle =
      MaximizeLogLikelihood(log_likelihood, {1, alpha0, 1, 1},
                            {"params.r", "params.alpha", "params.a", "params.b"}, "BG/NBD");
  if (!mle.ok()) return mle.status();
  const std::vector<double>& v = mle->params;
  return BgNbdFit{{v[0], v[1], v[2], v[3]}, mle->log_likelihood, mle->evaluations};
}

absl::StatusOr<double> ProbabilityAlive(const BgNbdParams& params,
                                        const CustomerSummary& customer) {
  if (absl::Status s = ValidateBgNbdParams(params); !s.ok()) return s;
  if (absl::Status s = ValidateSummary(customer, "customer"); !s.ok()) return s;
  // Bayes' rule on the two terms of eq. (6): P(alive) = 1 / (1 + dead / alive).
  return 1 / (1 + std::exp(LogDeadOdds(params, customer)));
}

absl::StatusOr<double> ExpectedRepeatPurchases(const BgNbdParams& params,
                                               const CustomerSummary& customer, double t) {
  if (absl::Status s = ValidateBgNbdParams(params); !s.ok()) return s;
  if (absl::Status s = ValidateSummary(customer, "customer"); !s.ok()) return s;
  if (absl::Status s = ValidateHorizon(t); !s.ok()) return s;
  // Eq. (10) is P(alive) times the expectation for an alive customer whose posterior is
  // λ ~ Gamma(r + x, α + T), p ~ Beta(a, b + x).
  const double x = static_cast<double>(customer.repeat_purchases);
  absl::StatusOr<double> while_alive = ExpectedWhileAlive(
      params.a, params.b + x, params.alpha + customer.observation_length, params.r + x, t);
  if (!while_alive.ok()) return while_alive.status();
  return *while_alive / (1 + std::exp(LogDeadOdds(params, customer)));
}

absl::StatusOr<double> ExpectedPurchasesNewCustomer(const BgNbdParams& params, double t) {
  if (absl::Status s = ValidateBgNbdParams(params); !s.ok()) return s;
  if (absl::Status s = ValidateHorizon(t); !s.ok()) return s;
  return ExpectedWhileAlive(params.a, params.b, params.alpha, params.r, t);
}

}  // namespace centric::clv
