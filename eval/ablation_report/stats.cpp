// Student's t (Boost.Math), Welch's test and Holm's correction (stats.h).
#include "eval/ablation_report/stats.h"

#include <algorithm>
#include <boost/math/distributions/students_t.hpp>
#include <boost/math/special_functions/beta.hpp>
#include <cmath>
#include <numeric>

#include "core/check.h"

namespace mm::eval::stats {

// Boost.Math (Debian's libboost-dev, header-only): the regularized incomplete beta and Student's t, to full
// double precision. Domain errors are checked here first, so Boost's own policies never see them.
double incomplete_beta(double a, double b, double x) {
  MM_CHECK(a > 0 && b > 0 && x >= 0 && x <= 1, "incomplete_beta({}, {}, {}): out of range", a, b, x);
  return boost::math::ibeta(a, b, x);
}

double t_cdf(double t, double df) {
  MM_CHECK(df > 0, "t_cdf: degrees of freedom must be > 0, got {}", df);
  if (std::isinf(t)) return t > 0 ? 1 : 0;
  return boost::math::cdf(boost::math::students_t(df), t);
}

double t_quantile(double p, double df) {
  MM_CHECK(p > 0 && p < 1, "t_quantile: p must be in (0, 1), got {}", p);
  MM_CHECK(df > 0, "t_quantile: degrees of freedom must be > 0, got {}", df);
  return boost::math::quantile(boost::math::students_t(df), p);
}

Summary summarize(const std::vector<double>& v) {
  Summary s;
  s.n = v.size();
  if (v.empty()) return s;
  s.mean = std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
  if (v.size() < 2) return s;
  double ss = 0;
  for (double x : v) ss += (x - s.mean) * (x - s.mean);
  s.sd = std::sqrt(ss / static_cast<double>(v.size() - 1));
  const double half = t_quantile(0.975, static_cast<double>(v.size() - 1)) * s.sd / std::sqrt(double(v.size()));
  s.lo = s.mean - half, s.hi = s.mean + half;
  return s;
}

std::optional<WelchTest> welch(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.size() < 2 || b.size() < 2) return std::nullopt;
  const Summary sa = summarize(a), sb = summarize(b);
  const double va = sa.sd * sa.sd / double(a.size()), vb = sb.sd * sb.sd / double(b.size());
  if (va + vb <= 0) return std::nullopt;
  WelchTest w;
  w.diff = sa.mean - sb.mean;
  w.t = w.diff / std::sqrt(va + vb);
  w.df = (va + vb) * (va + vb) / (va * va / double(a.size() - 1) + vb * vb / double(b.size() - 1));
  w.p = std::min(1.0, 2 * t_cdf(-std::fabs(w.t), w.df));
  return w;
}

std::vector<double> holm(const std::vector<double>& p) {
  const size_t m = p.size();
  std::vector<size_t> order(m);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t i, size_t j) { return p[i] < p[j]; });
  std::vector<double> adj(m);
  double running = 0;
  for (size_t r = 0; r < m; ++r) {
    running = std::max(running, std::min(1.0, double(m - r) * p[order[r]]));
    adj[order[r]] = running;
  }
  return adj;
}

}  // namespace mm::eval::stats
