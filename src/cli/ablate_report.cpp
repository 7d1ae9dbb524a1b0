// mmtrain ablate report / ablate fit (ablate_commands.h): the analysis of a sweep that `ablate run`
// trained. The report: eval/ablation_report/sweep_report.h; the fit: eval/ablation_report/mixture_fit.h.
#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include <algorithm>
#include <filesystem>
#include <iostream>

#include "cli/ablate_commands.h"
#include "core/check.h"
#include "core/io.h"
#include "eval/ablation_report/mixture_fit.h"
#include "eval/ablation_report/sweep_report.h"

namespace mm::cli {
namespace {

// Parses `args` with `app`; usage errors become one-line mm::Errors, --help prints and returns false.
bool parse(CLI::App& app, const std::vector<std::string>& args, const std::string& command) {
  std::vector<std::string> reversed(args.rbegin(), args.rend());  // CLI11 takes them last first
  try {
    app.parse(reversed);
  } catch (const CLI::Success&) {
    std::cout << app.help();
    return false;
  } catch (const CLI::ParseError& e) {
    throw mm::Error(fmt::format("{} ({} --help)", e.what(), command));
  }
  return true;
}

}  // namespace

int ablate_report_main(const std::vector<std::string>& args) {
  CLI::App app{
      "Report a trained sweep: scores per variant over seeds with 95% intervals, changes against the "
      "baseline (Welch, Holm-corrected), charts, a Pareto plot, ratios.csv and metrics.csv (Olmix's shape)",
      "mmtrain ablate report"};
  std::string dir, baseline, pareto, out;
  app.add_option("dir", dir, "the sweep's out_dir (holds sweep.json)")->required();
  app.add_option("--baseline", baseline, "the variant the others are compared with (default: the sweep's)");
  app.add_option("--pareto", pareto,
                 "two categories for the trade-off plot, CAT_A,CAT_B (default: the most "
                 "negatively correlated pair)");
  app.add_option("--out", out, "where report.md, report.html, the CSV files and charts/ go (default DIR)");
  if (!parse(app, args, "mmtrain ablate report")) return 0;
  std::vector<std::string> pair;
  if (!pareto.empty()) {
    const auto comma = pareto.find(',');
    MM_CHECK(comma != std::string::npos && pareto.find(',', comma + 1) == std::string::npos,
             "ablate report: --pareto '{}': expected two categories CAT_A,CAT_B", pareto);
    pair = {pareto.substr(0, comma), pareto.substr(comma + 1)};
  }
  const eval::ablation::SweepResults r = eval::ablation::load_sweep_results(dir, baseline);
  const auto w = eval::ablation::write_sweep_report(r, out.empty() ? dir : out, pair);
  std::cout << "sweep " << r.name << ": " << r.variants.size() << " variant(s), " << r.runs.size() << " run(s)\n\n"
            << eval::ablation::scores_markdown(r);
  if (!r.baseline.empty())
    std::cout << "against the baseline " << r.baseline << " (points):\n\n"
              << eval::ablation::comparison_markdown(r) << "\n";
  for (const auto& run : r.runs)
    if (!run.usable())
      std::cout << fmt::format("run {}: {}{}\n", run.id, run.status, run.error.empty() ? "" : ": " + run.error);
  for (const auto& n : r.notes) std::cout << "note: " << n << "\n";
  std::cout << "\nreport: " << w.markdown << "\n        " << w.html << "\ncsv:    " << w.ratios << "\n        "
            << w.metrics << "\ncharts: " << w.charts.size() << " SVG files (" << (out.empty() ? dir : out)
            << "/charts/)\n";
  return 0;
}

int ablate_fit_main(const std::vector<std::string>& args) {
  CLI::App app{
      "Fit each category's score as a linear function of the sweep's mixture weights (ridge, leave-one-"
      "variant-out error) and propose the weights that maximise an objective within bounds; writes "
      "DIR/fit.json",
      "mmtrain ablate fit"};
  std::string dir;
  eval::ablation::FitOptions o;
  bool json = false;
  app.add_option("dir", dir, "the sweep's out_dir (holds sweep.json)")->required();
  app.add_option("--objective", o.objective, "the metric to maximise: MMBase (default) or a category");
  app.add_option("--bounds", o.bounds,
                 "key=lo:hi, the range an axis may take (repeatable; default: the range the "
                 "sweep tried); key: the axis key path or its unique ending");
  app.add_flag("--json", json, "print fit.json instead of the summary");
  if (!parse(app, args, "mmtrain ablate fit")) return 0;
  const eval::ablation::SweepResults r = eval::ablation::load_sweep_results(dir);
  const eval::ablation::MixtureFit fit = eval::ablation::fit_mixture(r, o);
  const std::string path = (std::filesystem::path(dir) / "fit.json").string();
  const std::string text = fit.to_json().dump(2) + "\n";
  io::write_file_atomic(path, text);
  std::cout << (json ? text : fit.to_text()) << "\nfit: " << path << "\n";
  return 0;
}

}  // namespace mm::cli
