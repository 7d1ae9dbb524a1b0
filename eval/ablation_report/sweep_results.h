// The results of an ablation sweep (`mmtrain ablate run` writes <dir>/sweep.json; docs/ablations.md),
// read as plain JSON so that eval/ does not depend on trainers/: every run with its status, axes,
// final eval report (per-category scores, MMBase, items per category) and mixture shares; per
// variant x metric the mean over seeds with its 95% interval; the differences against the baseline
// variant with Welch's t-test and Holm's correction over all variant x metric comparisons.
#pragma once
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "eval/ablation_report/stats.h"

namespace mm::eval::ablation {

inline constexpr const char* kMMBase = "MMBase";

struct SweepRun {
  std::string id;  // the run folder's name: <variant>-seed<N>
  std::string variant;
  int64_t seed = 0;
  std::string status;  // pending | running | done | failed ("done" when sweep.json has none but an eval exists)
  std::string error;
  std::optional<double> wall_s;
  std::string run_dir;                    // resolved
  std::string eval_path;                  // the final eval JSON of the last stage, "" when none found
  nlohmann::ordered_json axes;            // key path -> value
  std::map<std::string, double> scores;   // metric (category or MMBase) -> score in [0, 1]
  std::map<std::string, int64_t> items;   // metric -> items scored (accuracy benchmarks)
  std::map<std::string, double> mixture;  // group -> normalised weight of the varying stage
  std::string mixture_stage;              // the stage the mixture comes from
  bool usable() const { return !eval_path.empty() && !scores.empty(); }
};

struct Cell {  // one variant x metric
  stats::Summary summary;
  std::optional<double> wilson_lo, wilson_hi;  // one seed: the binomial interval over the items
  // Against the baseline (non-baseline variants with results on both sides):
  std::optional<double> diff;            // mean - baseline mean
  std::optional<stats::WelchTest> test;  // none without seed noise (a side with < 2 seeds)
  std::optional<double> p_holm;          // the Holm-adjusted p over all tested comparisons
  bool significant = false;              // p_holm < 0.05
};

struct SweepResults {
  std::string dir, name, baseline;
  std::vector<std::string> stages, varying_stages;
  std::optional<double> train_s, overhead_s;
  std::vector<SweepRun> runs;                                // sweep.json order
  std::vector<std::string> variants;                         // in first-appearance order
  std::vector<std::string> metrics;                          // categories (canonical order), then MMBase
  std::vector<std::string> axis_keys;                        // key paths, first-appearance order
  std::vector<std::string> mixture_groups;                   // ratios.csv columns
  std::map<std::string, std::map<std::string, Cell>> cells;  // variant -> metric -> cell
  size_t comparisons = 0;                                    // the Holm family's size
  int max_seeds = 0;                                         // most usable seeds of any variant
  std::vector<std::string> notes;                            // unreadable files, missing evals, ...

  std::vector<const SweepRun*> usable_runs(const std::string& variant = "") const;
  std::vector<double> values(const std::string& variant, const std::string& metric) const;
  nlohmann::ordered_json axes_of(const std::string& variant) const;  // the first run's axes
};

// Reads <dir>/sweep.json and every run's eval JSON and stage config, then computes the cells.
// `baseline` overrides sweep.json's ("" = its own; none = no comparisons). Throws mm::Error with one
// line for a missing or malformed sweep.json or an unknown --baseline.
SweepResults load_sweep_results(const std::string& dir, const std::string& baseline = "");

// The cells: per-variant summaries, Wilson intervals for single seeds, Welch tests against the
// baseline and Holm's correction (load_sweep_results calls it; tests call it on built results).
void compute_cells(SweepResults* r);

// CSV files in Olmix's input shape, joined on run_id (usable runs only): ratios.csv
// "run_id,name,<group>..." (the normalised mixture weights, summing to one) and metrics.csv
// "run_id,name,<category>...,MMBase".
std::string ratios_csv(const SweepResults& r);
std::string metrics_csv(const SweepResults& r);

// A JSON value as a short text ("0.1", "dynamic"; numbers to 4 significant digits).
std::string value_text(const nlohmann::ordered_json& v);

}  // namespace mm::eval::ablation
