// `mmtrain ablate fit`: each metric (category, MMBase) of a sweep's runs fitted as a linear function
// of the sweep's numeric axes (the mixture weights: RegMix's linear regression on the weights),
// ridge-regularised with the strength chosen by leave-one-variant-out error, and the axis values that
// maximise one metric (the objective) within bounds: on the simplex when every run's axes sum to the
// same total (Dirichlet draws), else in a box. docs/ablations.md says why this model and its limits.
#pragma once
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "eval/ablation_report/sweep_results.h"

namespace mm::eval::ablation {

struct MetricFit {
  std::string metric;
  double intercept = 0;
  std::vector<double> coef;      // one per axis key
  double lambda = 0;             // the ridge strength chosen
  double loo_rmse = 0;           // leave-one-variant-out RMSE over the runs
  double loo_rmse_constant = 0;  // the same for predicting the mean of the other variants
  double predict(const std::vector<double>& x) const;
};

struct Prediction {
  double mean = 0, lo = 0, hi = 0;
};

struct MixtureFit {
  std::vector<std::string> keys;  // the sweep's axis key paths (as in sweep.json: valid --set paths)
  bool simplex = false;           // the axes sum to `scale` in every run
  double scale = 0;
  std::vector<std::pair<double, double>> bounds;  // per key
  std::vector<MetricFit> fits;                    // per metric, SweepResults::metrics order
  std::string objective;
  std::vector<double> weights;                  // the proposed axis values
  std::map<std::string, Prediction> predicted;  // metric -> at `weights`, 95% interval for one new run
  double t_value = 0;                           // t_{0.975, runs - 1}, the interval's multiplier
  size_t runs = 0, variants = 0;

  nlohmann::ordered_json to_json() const;
  std::string to_text() const;
};

struct FitOptions {
  std::string objective = kMMBase;  // a metric name (case-insensitive)
  std::vector<std::string> bounds;  // "key=lo:hi"; key: a whole axis key path or its unique ending
};

// Throws mm::Error (one line) for fewer than 3 variants with results, a non-numeric axis, an
// unknown objective, a malformed or unknown --bounds key, or bounds that leave no feasible point.
MixtureFit fit_mixture(const SweepResults& r, const FitOptions& options);

// Ridge regression with an unpenalised intercept: rows x (n x p), y (n); lambda >= 0 (a tiny floor
// keeps it solvable when the features are collinear, as axes summing to a constant are: the
// minimum-norm solution). Returns {intercept, coef}.
std::pair<double, std::vector<double>> ridge(const std::vector<std::vector<double>>& x, const std::vector<double>& y,
                                             double lambda);

}  // namespace mm::eval::ablation
