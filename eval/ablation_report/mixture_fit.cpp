// The mixture fit of `mmtrain ablate fit` (mixture_fit.h).
#include "eval/ablation_report/mixture_fit.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/check.h"

namespace mm::eval::ablation {
namespace {

using Matrix = std::vector<std::vector<double>>;

// Solves a x = b (a symmetric positive definite after the ridge floor) by Gaussian elimination with
// partial pivoting.
std::vector<double> solve(Matrix a, std::vector<double> b) {
  const size_t n = b.size();
  for (size_t c = 0; c < n; ++c) {
    size_t piv = c;
    for (size_t r = c + 1; r < n; ++r)
      if (std::fabs(a[r][c]) > std::fabs(a[piv][c])) piv = r;
    std::swap(a[c], a[piv]);
    std::swap(b[c], b[piv]);
    MM_CHECK(std::fabs(a[c][c]) > 1e-300, "ridge: singular system");
    for (size_t r = c + 1; r < n; ++r) {
      const double f = a[r][c] / a[c][c];
      for (size_t k = c; k < n; ++k) a[r][k] -= f * a[c][k];
      b[r] -= f * b[c];
    }
  }
  std::vector<double> x(n);
  for (size_t i = n; i-- > 0;) {
    double s = b[i];
    for (size_t k = i + 1; k < n; ++k) s -= a[i][k] * x[k];
    x[i] = s / a[i][i];
  }
  return x;
}

// trace(Xc' Xc) / p: the features' mean variance scale, which the ridge grid is relative to.
double feature_scale(const Matrix& x) {
  const size_t n = x.size(), p = x.empty() ? 0 : x[0].size();
  double tr = 0;
  for (size_t k = 0; k < p; ++k) {
    double mean = 0;
    for (const auto& row : x) mean += row[k] / double(n);
    for (const auto& row : x) tr += (row[k] - mean) * (row[k] - mean);
  }
  return p ? tr / double(p) : 0;
}

std::optional<double> number_of(const nlohmann::ordered_json& v) {
  if (v.is_number()) return v.get<double>();
  if (v.is_string()) try {
      size_t used = 0;
      const double d = std::stod(v.get<std::string>(), &used);
      if (used == v.get<std::string>().size()) return d;
    } catch (const std::exception&) {
    }
  return std::nullopt;
}

}  // namespace

std::pair<double, std::vector<double>> ridge(const Matrix& x, const std::vector<double>& y, double lambda) {
  const size_t n = x.size(), p = x.empty() ? 0 : x[0].size();
  MM_CHECK(n > 0 && y.size() == n, "ridge: {} rows, {} targets", n, y.size());
  std::vector<double> xm(p, 0);
  for (const auto& row : x)
    for (size_t k = 0; k < p; ++k) xm[k] += row[k] / double(n);
  const double ym = std::accumulate(y.begin(), y.end(), 0.0) / double(n);
  const double floor = 1e-10 * std::max(feature_scale(x), 1e-12);
  Matrix a(p, std::vector<double>(p, 0));
  std::vector<double> b(p, 0);
  for (size_t i = 0; i < n; ++i)
    for (size_t k = 0; k < p; ++k) {
      b[k] += (x[i][k] - xm[k]) * (y[i] - ym);
      for (size_t l = 0; l < p; ++l) a[k][l] += (x[i][k] - xm[k]) * (x[i][l] - xm[l]);
    }
  for (size_t k = 0; k < p; ++k) a[k][k] += std::max(lambda, floor);
  std::vector<double> coef = p ? solve(a, b) : std::vector<double>{};
  double b0 = ym;
  for (size_t k = 0; k < p; ++k) b0 -= xm[k] * coef[k];
  return {b0, coef};
}

double MetricFit::predict(const std::vector<double>& x) const {
  double s = intercept;
  for (size_t k = 0; k < coef.size(); ++k) s += coef[k] * x[k];
  return s;
}

MixtureFit fit_mixture(const SweepResults& r, const FitOptions& o) {
  MixtureFit f;
  f.keys = r.axis_keys;
  const auto runs = r.usable_runs();
  std::vector<std::string> variants;
  for (const SweepRun* run : runs)
    if (std::find(variants.begin(), variants.end(), run->variant) == variants.end()) variants.push_back(run->variant);
  MM_CHECK(variants.size() >= 3,
           "ablate fit: {} has {} variant(s) with results; a fit needs at least 3 (and leaves each out once to "
           "measure its error)",
           r.dir, variants.size());
  MM_CHECK(!f.keys.empty(), "ablate fit: the runs of {}/sweep.json have no axes", r.dir);
  f.runs = runs.size(), f.variants = variants.size();

  // The design: one row per usable run, one column per axis key.
  Matrix x;
  std::vector<size_t> group;  // the run's variant index, for leave-one-variant-out
  for (const SweepRun* run : runs) {
    std::vector<double> row;
    for (const auto& k : f.keys) {
      MM_CHECK(run->axes.contains(k), "ablate fit: run {} has no value for axis '{}'", run->id, k);
      const auto v = number_of(run->axes[k]);
      MM_CHECK(v,
               "ablate fit: axis '{}' has the non-numeric value '{}' (variant {}); a fit needs numeric axes such as "
               "mixture weights",
               k, value_text(run->axes[k]), run->variant);
      row.push_back(*v);
    }
    x.push_back(row);
    group.push_back(std::find(variants.begin(), variants.end(), run->variant) - variants.begin());
  }
  const size_t p = f.keys.size();
  f.scale = std::accumulate(x[0].begin(), x[0].end(), 0.0);
  f.simplex = p >= 2;
  for (const auto& row : x)
    f.simplex &= std::fabs(std::accumulate(row.begin(), row.end(), 0.0) - f.scale) <= 1e-6 * std::max(1.0, f.scale);

  // The objective.
  std::string objective;
  for (const auto& m : r.metrics) {
    std::string a = m, b = o.objective;
    std::transform(a.begin(), a.end(), a.begin(), ::tolower);
    std::transform(b.begin(), b.end(), b.begin(), ::tolower);
    if (a == b) objective = m;
  }
  MM_CHECK(!objective.empty(), "ablate fit: --objective '{}' is not a metric of this sweep (expected one of: {})",
           o.objective, fmt::join(r.metrics, ", "));
  f.objective = objective;

  // Bounds: the observed range of each key unless --bounds says otherwise.
  for (size_t k = 0; k < p; ++k) {
    double lo = x[0][k], hi = x[0][k];
    for (const auto& row : x) lo = std::min(lo, row[k]), hi = std::max(hi, row[k]);
    f.bounds.emplace_back(lo, hi);
  }
  for (const auto& spec : o.bounds) {
    const auto eq = spec.rfind('='), colon = spec.rfind(':');
    MM_CHECK(eq != std::string::npos && colon != std::string::npos && colon > eq,
             "ablate fit: --bounds '{}': expected key=lo:hi (e.g. groups[text-only].weight=0.05:0.3)", spec);
    const std::string key = spec.substr(0, eq);
    double lo = 0, hi = 0;
    try {
      size_t u1 = 0, u2 = 0;
      lo = std::stod(spec.substr(eq + 1, colon - eq - 1), &u1);
      hi = std::stod(spec.substr(colon + 1), &u2);
      MM_CHECK(u1 == colon - eq - 1 && u2 == spec.size() - colon - 1, "trailing characters");
    } catch (const std::exception&) {
      MM_FAIL("ablate fit: --bounds '{}': lo and hi must be numbers (key=lo:hi)", spec);
    }
    MM_CHECK(lo <= hi, "ablate fit: --bounds '{}': lo must be <= hi", spec);
    std::vector<size_t> match;
    for (size_t k = 0; k < p; ++k)
      if (f.keys[k] == key) match = {k};
    if (match.empty())
      for (size_t k = 0; k < p; ++k)
        if (f.keys[k].size() >= key.size() && f.keys[k].compare(f.keys[k].size() - key.size(), key.size(), key) == 0)
          match.push_back(k);
    MM_CHECK(match.size() == 1, "ablate fit: --bounds '{}': '{}' {} (axes: {})", spec, key,
             match.empty() ? "names no axis" : "matches several axes", fmt::join(f.keys, ", "));
    f.bounds[match[0]] = {lo, hi};
  }

  // One fit per metric: the ridge strength with the lowest leave-one-variant-out error.
  const double s = std::max(feature_scale(x), 1e-12);
  const std::vector<double> lambdas = {0, 1e-3 * s, 1e-2 * s, 1e-1 * s, s, 10 * s};
  for (const auto& m : r.metrics) {
    std::vector<double> y;
    Matrix xm;
    std::vector<size_t> gm;
    for (size_t i = 0; i < runs.size(); ++i)
      if (auto it = runs[i]->scores.find(m); it != runs[i]->scores.end())
        y.push_back(it->second), xm.push_back(x[i]), gm.push_back(group[i]);
    MetricFit mf;
    mf.metric = m;
    mf.loo_rmse = INFINITY;
    for (double lambda : lambdas) {
      double se = 0, se_const = 0;
      size_t count = 0;
      for (size_t g = 0; g < variants.size(); ++g) {
        Matrix xt;
        std::vector<double> yt;
        for (size_t i = 0; i < y.size(); ++i)
          if (gm[i] != g) xt.push_back(xm[i]), yt.push_back(y[i]);
        if (yt.empty() || yt.size() == y.size()) continue;
        const auto [b0, coef] = ridge(xt, yt, lambda);
        const double mean = std::accumulate(yt.begin(), yt.end(), 0.0) / double(yt.size());
        for (size_t i = 0; i < y.size(); ++i)
          if (gm[i] == g) {
            double pred = b0;
            for (size_t k = 0; k < p; ++k) pred += coef[k] * xm[i][k];
            se += (pred - y[i]) * (pred - y[i]), se_const += (mean - y[i]) * (mean - y[i]), ++count;
          }
      }
      const double rmse = count ? std::sqrt(se / double(count)) : INFINITY;
      if (rmse < mf.loo_rmse) {
        mf.loo_rmse = rmse, mf.lambda = lambda;
        mf.loo_rmse_constant = count ? std::sqrt(se_const / double(count)) : INFINITY;
      }
    }
    std::tie(mf.intercept, mf.coef) = ridge(xm, y, mf.lambda);
    f.fits.push_back(mf);
  }

  // The optimum of a linear objective: in a box every key at the bound its coefficient favours; on
  // the simplex, from the lower bounds, the rest of the total goes to the keys in order of their
  // coefficients, each up to its upper bound (exact for one equality constraint and box bounds).
  const MetricFit& obj =
      *std::find_if(f.fits.begin(), f.fits.end(), [&](const MetricFit& m) { return m.metric == objective; });
  f.weights.resize(p);
  if (f.simplex) {
    double lo_sum = 0, hi_sum = 0;
    for (const auto& [lo, hi] : f.bounds) lo_sum += lo, hi_sum += hi;
    const double tol = 1e-9 * std::max(1.0, f.scale);
    MM_CHECK(lo_sum <= f.scale + tol && hi_sum >= f.scale - tol,
             "ablate fit: the bounds allow totals from {:g} to {:g}, but the axes sum to {:g} in every run", lo_sum,
             hi_sum, f.scale);
    std::vector<size_t> order(p);
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return obj.coef[a] > obj.coef[b]; });
    double rest = f.scale - lo_sum;
    for (size_t k = 0; k < p; ++k) f.weights[k] = f.bounds[k].first;
    for (size_t k : order) {
      const double add = std::clamp(rest, 0.0, f.bounds[k].second - f.bounds[k].first);
      f.weights[k] += add, rest -= add;
    }
  } else {
    for (size_t k = 0; k < p; ++k) f.weights[k] = obj.coef[k] > 0 ? f.bounds[k].second : f.bounds[k].first;
  }
  f.t_value = stats::t_quantile(0.975, double(f.runs - 1));
  for (const auto& mf : f.fits) {
    const double mean = mf.predict(f.weights), half = f.t_value * mf.loo_rmse;
    f.predicted[mf.metric] = {mean, mean - half, mean + half};
  }
  return f;
}

nlohmann::ordered_json MixtureFit::to_json() const {
  nlohmann::ordered_json j;
  j["model"] = "ridge";
  j["model_description"] =
      "score = intercept + sum_k coef_k * axis_k, ridge-regularised (strength chosen by leave-one-variant-out "
      "RMSE), one fit per metric (RegMix's linear regression on the mixture weights)";
  j["objective"] = objective;
  j["region"] = simplex ? "simplex" : "box";
  if (simplex) j["scale"] = scale;
  j["weights"] = nlohmann::ordered_json::object();
  j["set"] = nlohmann::ordered_json::array();
  for (size_t k = 0; k < keys.size(); ++k) {
    j["weights"][keys[k]] = weights[k];
    j["set"].push_back(fmt::format("{}={}", keys[k], weights[k]));
  }
  j["bounds"] = nlohmann::ordered_json::object();
  for (size_t k = 0; k < keys.size(); ++k) j["bounds"][keys[k]] = {bounds[k].first, bounds[k].second};
  j["predicted"] = nlohmann::ordered_json::object();
  for (const auto& mf : fits) {
    const Prediction& pr = predicted.at(mf.metric);
    j["predicted"][mf.metric] = {{"mean", pr.mean}, {"lo", pr.lo}, {"hi", pr.hi}};
  }
  j["interval"] = fmt::format("95% for one new run: mean +- t(0.975, {} runs - 1) x loo_rmse", runs);
  for (const char* field : {"loo_rmse", "loo_rmse_constant", "lambda"}) {
    j[field] = nlohmann::ordered_json::object();
    for (const auto& mf : fits)
      j[field][mf.metric] = std::string(field) == "loo_rmse"            ? mf.loo_rmse
                            : std::string(field) == "loo_rmse_constant" ? mf.loo_rmse_constant
                                                                        : mf.lambda;
  }
  j["coefficients"] = nlohmann::ordered_json::object();
  for (const auto& mf : fits) {
    auto& c = j["coefficients"][mf.metric];
    c["intercept"] = mf.intercept;
    for (size_t k = 0; k < keys.size(); ++k) c[keys[k]] = mf.coef[k];
  }
  for (const auto& mf : fits)
    if (mf.metric == objective && !(mf.loo_rmse < mf.loo_rmse_constant))
      j["warning"] = "the objective's fit predicts left-out variants no better than their mean";
  j["runs"] = runs;
  j["variants"] = variants;
  return j;
}

std::string MixtureFit::to_text() const {
  std::string t = fmt::format(
      "fit: ridge linear regression of each metric on {} axis value(s), {} runs of {} variants; region: {}\n\n",
      keys.size(), runs, variants, simplex ? fmt::format("the simplex (the axes sum to {:g})", scale) : "a box");
  t += fmt::format("  {:<16} {:>10} {:>14} {:>12}   {}\n", "metric", "LOO RMSE", "constant LOO", "predicted",
                   "95% interval");
  for (const auto& mf : fits) {
    const Prediction& pr = predicted.at(mf.metric);
    t += fmt::format("  {:<16} {:>9.1f}% {:>13.1f}% {:>11.1f}%   [{:.1f}, {:.1f}]%{}{}\n", mf.metric, 100 * mf.loo_rmse,
                     100 * mf.loo_rmse_constant, 100 * pr.mean, 100 * pr.lo, 100 * pr.hi,
                     mf.metric == objective ? "  <- objective" : "",
                     mf.loo_rmse >= mf.loo_rmse_constant ? "  (no better than the mean)" : "");
  }
  for (const auto& mf : fits)
    if (mf.metric == objective && !(mf.loo_rmse < mf.loo_rmse_constant))
      t += fmt::format(
          "\nwarning: the fit of {} predicts left-out variants no better than their mean: the values below "
          "are not supported by the data (more draws or seeds)\n",
          objective);
  t += fmt::format("\nproposed axis values (maximising {} within the bounds):\n", objective);
  for (size_t k = 0; k < keys.size(); ++k)
    t += fmt::format("  {} = {:.4g}   (bounds {:g} .. {:g})\n", keys[k], weights[k], bounds[k].first, bounds[k].second);
  return t;
}

}  // namespace mm::eval::ablation
