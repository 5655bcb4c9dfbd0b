#include "libs/clv/nelder_mead.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <utility>
#include <vector>

namespace centric::clv {
namespace {

using Point = std::vector<double>;

// Standard coefficients: reflection 1, expansion 2, contraction and shrink 1/2.
constexpr double kExpand = 2;
constexpr double kContract = 0.5;
constexpr double kShrink = 0.5;

class Minimizer {
 public:
  Minimizer(const std::function<double(absl::Span<const double>)>& f,
            const NelderMeadOptions& options)
      : f_(f), options_(options) {}

  int evaluations() const { return evaluations_; }

  double Evaluate(const Point& x) {
    ++evaluations_;
    const double v = f_(x);
    return std::isnan(v) ? std::numeric_limits<double>::infinity() : v;
  }

  // One Nelder-Mead run from a fresh simplex around `start` (whose value is `value`).
  // Returns true when the simplex converged before the evaluation budget ran out.
  bool Run(Point& start, double& value) {
    const size_t n = start.size();
    std::vector<Point> x(n + 1, start);
    std::vector<double> fx(n + 1, value);
    for (size_t i = 0; i < n; ++i) {
      x[i + 1][i] += options_.initial_step;
      fx[i + 1] = Evaluate(x[i + 1]);
    }
    std::vector<size_t> order(n + 1);
    while (true) {
      std::iota(order.begin(), order.end(), 0);
      std::sort(order.begin(), order.end(), [&](size_t i, size_t j) { return fx[i] < fx[j]; });
      const size_t best = order[0], worst = order[n], second_worst = order[n - 1];
      start = x[best];
      value = fx[best];
      if (Converged(x, fx, best, worst)) return true;
      if (evaluations_ >= options_.max_evaluations) return false;

      Point centroid(n, 0.0);
      for (size_t k = 0; k < n; ++k) {
        for (size_t i = 0; i < n; ++i) centroid[i] += x[order[k]][i] / static_cast<double>(n);
      }
      auto along = [&](double step) {  // centroid + step * (centroid - worst)
        Point p(n);
        for (size_t i = 0; i < n; ++i) p[i] = centroid[i] + step * (centroid[i] - x[worst][i]);
        return p;
      };
      Point reflected = along(1);
      const double f_reflected = Evaluate(reflected);
      if (f_reflected < fx[best]) {
        Point expanded = along(kExpand);
        const double f_expanded = Evaluate(expanded);
        if (f_expanded < f_reflected) {
          Replace(x, fx, worst, std::move(expanded), f_expanded);
        } else {
          Replace(x, fx, worst, std::move(reflected), f_reflected);
        }
        continue;
      }
      if (f_reflected < fx[second_worst]) {
        Replace(x, fx, worst, std::move(reflected), f_reflected);
        continue;
      }
      // Contract outside (towards the reflected point) or inside (towards the worst).
      const bool outside = f_reflected < fx[worst];
      Point contracted = along(outside ? kContract : -kContract);
      const double f_contracted = Evaluate(contracted);
      if (f_contracted < (outside ? f_reflected : fx[worst])) {
        Replace(x, fx, worst, std::move(contracted), f_contracted);
        continue;
      }
      for (size_t k = 1; k <= n; ++k) {
        Point& p = x[order[k]];
        for (size_t i = 0; i < n; ++i) p[i] = x[best][i] + kShrink * (p[i] - x[best][i]);
        fx[order[k]] = Evaluate(p);
      }
    }
  }

 private:
  static void Replace(std::vector<Point>& x, std::vector<double>& fx, size_t i, Point p, double v) {
    x[i] = std::move(p);
    fx[i] = v;
  }

  bool Converged(const std::vector<Point>& x, const std::vector<double>& fx, size_t best,
                 size_t worst) const {
    if (!(fx[worst] - fx[best] <= options_.value_tolerance * (1 + std::abs(fx[best])))) {
      return false;
    }
    for (const Point& p : x) {
      for (size_t i = 0; i < p.size(); ++i) {
        if (std::abs(p[i] - x[best][i]) > options_.point_tolerance) return false;
      }
    }
    return true;
  }

  const std::function<double(absl::Span<const double>)>& f_;
  const NelderMeadOptions& options_;
  int evaluations_ = 0;
};

}  // namespace

NelderMeadResult MinimizeNelderMead(const std::function<double(absl::Span<const double>)>& f,
                                    std::vector<double> start, const NelderMeadOptions& options) {
  Minimizer minimizer(f, options);
  NelderMeadResult result;
  result.point = std::move(start);
  result.value = minimizer.Evaluate(result.point);
  if (!std::isfinite(result.value) || result.point.empty()) {
    result.evaluations = minimizer.evaluations();
    return result;
  }
  for (int run = 0; run <= options.max_restarts; ++run) {
    const double before = result.value;
    const bool simplex_converged = minimizer.Run(result.point, result.value);
    if (!simplex_converged) break;
    if (run > 0 && before - result.value <= options.value_tolerance * (1 + std::abs(before))) {
      result.converged = true;
      break;
    }
  }
  result.evaluations = minimizer.evaluations();
  return result;
}

}  // namespace centric::clv
