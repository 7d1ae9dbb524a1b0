// Statistics of the sweep report (`mmtrain ablate report`): Student's t distribution (CDF and
// quantile, any real degrees of freedom: Boost.Math), the 95%
// t-interval of a mean over seeds, Welch's two-sample t-test and the Holm-Bonferroni correction.
// Checked against mpmath (scripts/golden/gen_ablation_stats.py -> tests/data/golden/ablation_stats.json).
#pragma once
#include <cstddef>
#include <optional>
#include <vector>

namespace mm::eval::stats {

// The regularised incomplete beta function I_x(a, b) (a, b > 0, x in [0, 1]): boost::math::ibeta.
double incomplete_beta(double a, double b, double x);

// P(T <= t) for Student's t with `df` > 0 degrees of freedom.
double t_cdf(double t, double df);

// The t with P(T <= t) = p, p in (0, 1): boost::math::quantile.
double t_quantile(double p, double df);

struct Summary {
  size_t n = 0;
  double mean = 0;
  double sd = 0;  // sample standard deviation (n - 1); 0 for n < 2
  // The 95% t-interval of the mean (mean +- t_{0.975, n-1} sd / sqrt(n)); none for n < 2.
  std::optional<double> lo, hi;
};
Summary summarize(const std::vector<double>& values);

struct WelchTest {
  double diff = 0;  // mean(a) - mean(b)
  double t = 0, df = 0;
  double p = 1;  // two-sided
};
// Welch's unequal-variance t-test of mean(a) == mean(b); none when a group has fewer than two values
// or both have no spread (no noise estimate).
std::optional<WelchTest> welch(const std::vector<double>& a, const std::vector<double>& b);

// Holm-Bonferroni adjusted p-values (same order as `p`): sorted ascending, p_(i) x (m - i + 1), made
// non-decreasing, capped at 1. A comparison is significant at level alpha when its adjusted p < alpha.
std::vector<double> holm(const std::vector<double>& p);

}  // namespace mm::eval::stats
