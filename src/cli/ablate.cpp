// mmtrain ablate: ablation sweeps (issue 26; docs/ablations.md). `ablate plan FILE` resolves every
// run of a sweep file and prints the runs, the shared prefixes (stages trained once) and the cost,
// before anything trains; `ablate run`, `ablate slurm` and `ablate verify` (ablate_run.cpp) train
// it; `ablate report` and `ablate fit` (ablate_report.cpp, when built in) read what it trained.
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "cli/ablate_commands.h"  // ablate_report_main, ablate_fit_main (ablate_report.cpp)
#include "cli/ablate_run.h"
#include "cli/commands.h"
#include "core/check.h"
#include "trainers/ablation/sweep.h"

namespace mm::cli {
namespace {

struct PlanArgs {
  std::string file;
  std::vector<std::string> sets;
  bool json = false;
  double tokens_per_s = 0;
};

void run_plan(const PlanArgs& a) {
  MM_CHECK(a.tokens_per_s >= 0, "ablate plan: --tokens-per-s must be >= 0, got {}", a.tokens_per_s);
  const ablation::SweepConfig sweep = ablation::load_sweep(a.file, a.sets);
  const ablation::SweepPlan plan = ablation::plan_sweep(a.file, sweep);
  if (a.json)
    std::cout << plan.to_json(a.tokens_per_s).dump(2) << "\n";
  else
    std::cout << plan.to_text(a.tokens_per_s);
}

}  // namespace

void add_ablate(CLI::App& app) {
  auto* ablate = app.add_subcommand("ablate", "Ablation sweeps over a recipe (data mixtures and any config key)");
  ablate->require_subcommand(1);
  auto* plan = ablate->add_subcommand(
      "plan", "Print a sweep's runs, the stages they share (trained once) and the estimated cost; trains nothing");
  auto a = std::make_shared<PlanArgs>();
  plan->add_option("file", a->file, "sweep file (YAML: recipe, seeds, and grid | variants | dirichlet)")->required();
  plan->add_option("--set", a->sets, "override a key of the sweep file: seeds=[0,1], out_dir=DIR (repeatable)");
  plan->add_flag("--json", a->json, "print the plan as one JSON object");
  plan->add_option("--tokens-per-s", a->tokens_per_s, "training throughput, for a time estimate");
  plan->callback([a]() { run_plan(*a); });
  add_ablate_run(*ablate);
  add_ablate_slurm(*ablate);
  add_ablate_verify(*ablate);
  // Their own parsers read the rest of the command line.
  const std::pair<const char*, const char*> readers[] = {
      {"report", "Scores per variant and seed against the baseline, from a sweep's sweep.json"},
      {"fit", "Fit the scores of a sweep's runs as a function of its axes (mixture weights)"}};
  for (const auto& [name, help] : readers) {
    auto* sub = ablate->add_subcommand(name, help);
    sub->prefix_command();
    sub->set_help_flag();
    const std::string n = name;
    sub->callback([sub, n]() {
      const int rc = n == "report" ? ablate_report_main(sub->remaining()) : ablate_fit_main(sub->remaining());
      if (rc != 0) throw CLI::RuntimeError(rc);
    });
  }
}

}  // namespace mm::cli
