// mmtrain report: the report of a whole run (eval/run_report/run_report.h): prints the per-stage score
// and training tables and writes report.md, report.html, loss.svg, scores.svg and charts/*.svg.
#include <fmt/format.h>

#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "core/logging.h"
#include "eval/run_report/run_report.h"
#include "trainers/loop/recipe.h"

namespace mm::cli {
namespace {

struct ReportArgs {
  std::string run_dir;
  std::string config;
  std::string out_dir;
};

void run_report(const ReportArgs& a) {
  std::vector<std::string> stages;  // run order: the recipe's, else the metrics files' age
  if (!a.config.empty())
    for (const auto& s : train::load_recipe(a.config).stages) stages.push_back(s.train.stage);
  eval::RunSummary run = eval::read_run(a.run_dir, stages);
  run.recipe_path = a.config;
  const auto written = eval::write_run_report(run, a.out_dir.empty() ? a.run_dir : a.out_dir);
  auto log = mm::log::get("report");
  for (const auto& n : run.notes) log->warn("{}", n);
  std::cout << eval::scores_table_markdown(run) << "\n" << eval::training_table_markdown(run);
  if (run.wall_seconds)
    std::cout << fmt::format("\nwall time: {:.0f} s ({:.1f} min)\n", *run.wall_seconds, *run.wall_seconds / 60);
  std::cout << "\nchance: " << run.chance_source << "\n";
  std::cout << "report: " << written.markdown << "\n        " << written.html << "\ncharts: " << written.charts.size()
            << " SVG files (" << written.loss_svg << ", " << written.scores_svg << ", charts/)\n";
}

}  // namespace

void add_report(CLI::App& app) {
  auto* cmd = app.add_subcommand("report",
                                 "Summarise a training run: settings, scores per stage and over the steps vs chance, "
                                 "per-benchmark intervals, training curves, examples with images (MD/HTML/SVG)");
  auto args = std::make_shared<ReportArgs>();
  cmd->add_option("--run-dir", args->run_dir, "the run directory of mmtrain train (one folder per stage)")->required();
  cmd->add_option("--config", args->config,
                  "the recipe the run used (gives the stage order; default: metrics file age)");
  cmd->add_option("--out-dir", args->out_dir, "where report.md, report.html and the charts go (default --run-dir)");
  cmd->callback([args]() { run_report(*args); });
}

}  // namespace mm::cli
