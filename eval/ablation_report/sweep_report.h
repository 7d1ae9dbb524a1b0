// The report of an ablation sweep (`mmtrain ablate report DIR`; docs/ablations.md), in the run
// report's style and with its renderer and canvas (eval/run_report/): per variant and metric the mean
// over seeds and its 95% interval, the change against the baseline marked significant only when
// Holm-corrected Welch p < 0.05, every run with its status (failed and missing ones listed), charts
// (score vs each numeric axis with error bars, scores per variant, the two-metric trade-off with its
// Pareto frontier), and ratios.csv / metrics.csv in Olmix's input shape.
#pragma once
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "eval/ablation_report/sweep_results.h"
#include "eval/run_report/run_report.h"  // Chart

namespace mm::eval::ablation {

std::optional<double> axis_number(const nlohmann::ordered_json& v);
// Axis keys whose value is a number in every variant.
std::vector<std::string> numeric_axes(const SweepResults& r);

Chart axis_chart(const SweepResults& r, const std::string& key);  // charts/axis_<key>.svg
Chart variants_bar_chart(const SweepResults& r);                  // charts/variants.svg
// Variants no other variant matches or beats on both metrics (and beats on one).
std::vector<std::string> pareto_front(const SweepResults& r, const std::string& a, const std::string& b);
Chart pareto_chart(const SweepResults& r, const std::string& a, const std::string& b);
// The two categories (MMBase aside) whose variant means are the most negatively correlated (the
// sharpest trade-off); the first two when fewer than 3 variants have results; {"", ""} with < 2.
std::pair<std::string, std::string> default_pareto_pair(const SweepResults& r);

// The scores table (variant, seeds, mean [95% interval] per metric) and the table against the
// baseline, as Markdown (what the command prints).
std::string scores_markdown(const SweepResults& r);
std::string comparison_markdown(const SweepResults& r);

struct WrittenSweepReport {
  std::string markdown, html, ratios, metrics;  // paths
  std::vector<std::string> charts;
  std::string pareto_a, pareto_b;
};

// Writes report.md, report.html, ratios.csv, metrics.csv and charts/*.svg into `out_dir` (created).
// `pareto`: two metric names, or empty for default_pareto_pair. Throws mm::Error (one line) when a
// --pareto name is not a metric of the sweep.
WrittenSweepReport write_sweep_report(const SweepResults& r, const std::string& out_dir,
                                      const std::vector<std::string>& pareto = {});

}  // namespace mm::eval::ablation
