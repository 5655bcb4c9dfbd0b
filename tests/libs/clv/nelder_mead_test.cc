#include "libs/clv/nelder_mead.h"

#include <cmath>
#include <limits>
#include <vector>

#include "gtest/gtest.h"

namespace centric::clv {
namespace {

double Rosenbrock(absl::Span<const double> v) {
  return 100 * std::pow(v[1] - v[0] * v[0], 2) + std::pow(1 - v[0], 2);
}

TEST(NelderMeadTest, FindsTheRosenbrockMinimum) {
  NelderMeadResult result = MinimizeNelderMead(Rosenbrock, {-1.2, 1});
  ASSERT_TRUE(result.converged);
  EXPECT_NEAR(result.point[0], 1, 1e-5);
  EXPECT_NEAR(result.point[1], 1, 1e-5);
  EXPECT_LT(result.value, 1e-10);
}

TEST(NelderMeadTest, FindsAnIllScaledQuadraticMinimumInFourDimensions) {
  const std::vector<double> target = {3, -1, 0.5, 10};
  const std::vector<double> scale = {1, 100, 0.01, 5};
  auto f = [&](absl::Span<const double> v) {
    double sum = 0;
    for (size_t i = 0; i < v.size(); ++i) sum += scale[i] * std::pow(v[i] - target[i], 2);
    return sum;
  };
  NelderMeadResult result = MinimizeNelderMead(f, {0, 0, 0, 0});
  ASSERT_TRUE(result.converged);
  for (size_t i = 0; i < target.size(); ++i) EXPECT_NEAR(result.point[i], target[i], 1e-3);
}

TEST(NelderMeadTest, StaysInsideARegionMarkedByInfinity) {
  // Minimum of (x - 2)^2 restricted to x <= 1 is at the boundary x = 1.
  auto f = [](absl::Span<const double> v) {
    return v[0] > 1 ? std::numeric_limits<double>::infinity() : std::pow(v[0] - 2, 2);
  };
  NelderMeadResult result = MinimizeNelderMead(f, {0});
  ASSERT_TRUE(result.converged);
  EXPECT_NEAR(result.point[0], 1, 1e-6);
}

TEST(NelderMeadTest, ReportsAnExhaustedBudget) {
  NelderMeadOptions options;
  options.max_evaluations = 20;
  NelderMeadResult result = MinimizeNelderMead(Rosenbrock, {-1.2, 1}, options);
  EXPECT_FALSE(result.converged);
  EXPECT_LE(result.evaluations, 25);
}

TEST(NelderMeadTest, ReportsAStartWithoutAFiniteValue) {
  auto f = [](absl::Span<const double>) { return std::nan(""); };
  EXPECT_FALSE(MinimizeNelderMead(f, {0, 0}).converged);
}

}  // namespace
}  // namespace centric::clv
