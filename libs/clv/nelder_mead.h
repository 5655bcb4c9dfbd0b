// A small derivative-free minimiser (Nelder & Mead 1965) for the models' maximum-likelihood
// fits, which have 3 or 4 parameters and cheap, smooth objectives.
#ifndef CENTRIC_LIBS_CLV_NELDER_MEAD_H_
#define CENTRIC_LIBS_CLV_NELDER_MEAD_H_

#include <functional>
#include <vector>

#include "absl/types/span.h"

namespace centric::clv {

struct NelderMeadOptions {
  // Offset of the initial simplex's vertices from the start along each axis.
  double initial_step = 0.5;
  // Converged when the simplex's values differ by at most
  // value_tolerance * (1 + |best value|) and its vertices lie within point_tolerance of
  // the best one in every coordinate...
  double value_tolerance = 1e-12;
  double point_tolerance = 1e-7;
  // ...and a fresh simplex around the best point (a restart, which guards against a
  // collapsed simplex) improves the value by no more than the value tolerance.
  int max_restarts = 20;
  // Upper bound on objective evaluations over all restarts.
  int max_evaluations = 50000;
};

struct NelderMeadResult {
  std::vector<double> point;
  double value = 0;
  int evaluations = 0;
  // False when max_evaluations or max_restarts ran out first.
  bool converged = false;
};

// Minimises `f` from `start`. `f` may return +infinity (or NaN, treated as +infinity) to
// reject a point, e.g. outside the parameter space; `start` must have a finite value.
NelderMeadResult MinimizeNelderMead(const std::function<double(absl::Span<const double>)>& f,
                                    std::vector<double> start,
                                    const NelderMeadOptions& options = {});

}  // namespace centric::clv

#endif  // CENTRIC_LIBS_CLV_NELDER_MEAD_H_
