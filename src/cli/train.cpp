// mmtrain train: runs the stages of a recipe in order (or one with --stage), each handing its final
// checkpoint to the next (init_from: previous); --resume auto continues wherever the recipe stopped.
#include <fmt/format.h>

#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/eval_hook.h"

#include "core/check.h"
#include "core/io.h"
#include "core/logging.h"
#include "dist/dist_env.h"
#include "dist/process_group.h"
#include "trainers/loop/preflight.h"
#include "trainers/loop/run_recipe.h"

namespace fs = std::filesystem;

namespace mm::cli {
namespace {

struct TrainArgs {
  std::string config;
  std::vector<std::string> sets;
  std::string stage;
  std::string resume;
  std::string run_dir;
  bool no_eval = false;
  bool dry_run = false;
};

// The train command of `a` with `resume` as its --resume ("" = none), shell-quoted.
std::string command_of(const TrainArgs& a, const std::string& resume) {
  std::string cmd = "mmtrain train";
  if (!a.config.empty()) cmd += " --config " + io::shell_quote(a.config);
  for (const auto& s : a.sets) cmd += " --set " + io::shell_quote(s);
  if (!a.stage.empty()) cmd += " --stage " + io::shell_quote(a.stage);
  if (!a.run_dir.empty()) cmd += " --run-dir " + io::shell_quote(a.run_dir);
  if (a.no_eval) cmd += " --no-eval";
  return resume.empty() ? cmd : cmd + " --resume " + io::shell_quote(resume);
}

// The command that continues this run: the same config (when one was given; else the run
// directory's recipe.yaml serves again), --set overrides, --stage and --run-dir (the resumed stages
// must be configured as they were), with --resume auto; shell-quoted, so it works pasted as printed.
std::string resume_command(const TrainArgs& a) { return command_of(a, "auto"); }

// The recipe file: --config, or without it (to resume) the resolved recipe the run directory holds.
std::string recipe_path(const TrainArgs& a) {
  if (!a.config.empty()) return a.config;
  MM_CHECK(!a.run_dir.empty() && !a.resume.empty(),
           "train: --config FILE is required (without it, --run-dir DIR --resume auto continues the run in DIR "
           "with the recipe it was started with)");
  const std::string saved = (fs::path(a.run_dir) / train::kResolvedRecipeFile).string();
  MM_CHECK(fs::is_regular_file(saved),
           "train: {} does not exist (a run started before runs kept their recipe): give --config FILE", saved);
  return saved;
}

int run_train(const TrainArgs& a) {
  std::vector<std::string> sets = a.sets;
  if (!a.run_dir.empty()) sets.push_back("run_dir=" + a.run_dir);
  const train::Recipe recipe = train::load_recipe(recipe_path(a), sets);
  const RunConfig& first = recipe.stages.front();

  const dist::DistEnv env = dist::dist_env_from_process();
  // Every stage checked before anything is written (a failed start leaves no run folder behind);
  // ranks of a distributed run check inside run_recipe instead, where they can agree.
  if (a.dry_run || env.world_size == 1) {
    train::PreflightOptions pre_opts;
    pre_opts.only_stage = a.stage;
    const train::PreflightReport pre = train::preflight(recipe, pre_opts);
    if (!pre.ok()) throw mm::Error(pre.to_text(recipe.path));
    if (a.dry_run) {
      std::cout << fmt::format("pre-flight of {}: {} stage(s) checked, no problem; nothing trained (--dry-run)\n",
                               recipe.path, pre.stages_checked);
      return 0;
    }
  }
  dist::Group group;
  if (env.world_size > 1) group = dist::init_process_group(env, first.dist);
  // Locked before anything (train.log included) is written into the run directory.
  const std::optional<RunLock> lock = train::lock_run_dir(first.run_dir, group);
  if (group.is_main()) {
    fs::create_directories(first.run_dir);
    // What `train --run-dir DIR --resume auto` continues with (a resume with another config
    // replaces it; each stage's checkpoints keep their own config.yaml).
    io::write_file_atomic((fs::path(first.run_dir) / train::kResolvedRecipeFile).string(),
                          train::resolved_recipe_yaml(recipe));
  }
  init_logging(first, group.rank(), /*with_file=*/group.is_main());
  train::install_stop_handlers();

  train::RecipeOptions opts;
  opts.only_stage = a.stage;
  opts.resume = a.resume;
  opts.lock_run_dir = false;            // held above
  opts.preflight = env.world_size > 1;  // a single process checked above, before the run directory
  opts.command = command_of(a, a.resume);
  if (!a.no_eval) opts.evaluate = make_eval_hook();
  const train::RecipeResult result = train::run_recipe(recipe, group, opts);
  if (!group.is_main()) return 0;
  if (!result.completed) {
    const train::StageResult& r = result.stages.back();
    std::cout << fmt::format("stopped in stage '{}' at step {}; continue with: {}\n", r.stage, r.steps_done,
                             resume_command(a));
    return 0;
  }
  std::cout << "\n| stage | steps | first loss | last loss | final checkpoint |\n|---|---|---|---|---|\n";
  for (const auto& r : result.stages)
    std::cout << fmt::format("| {} | {} | {} | {} | {} |\n", r.stage, r.steps_done,
                             r.first_loss > 0 ? fmt::format("{:.4f}", r.first_loss) : "(resumed)",
                             r.last_loss > 0 ? fmt::format("{:.4f}", r.last_loss) : "-", r.final_checkpoint);
  return 0;
}

}  // namespace

void add_train(CLI::App& app) {
  auto a = std::make_shared<TrainArgs>();
  auto* sub = app.add_subcommand("train", "run the stages of a recipe (or one stage), with checkpoints and resume");
  sub->add_option("--config", a->config,
                  "recipe or run config YAML (to resume: optional, the run directory's recipe.yaml is the default)");
  sub->add_option("--set", a->sets, "override a key: key.path=value (stages.NAME.key=value for one stage)");
  sub->add_option("--stage", a->stage, "run only this stage");
  sub->add_option("--resume", a->resume, "auto (latest good checkpoint of each stage) or a checkpoint folder");
  sub->add_option("--run-dir", a->run_dir, "run directory (overrides run_dir)");
  sub->add_flag("--no-eval", a->no_eval, "skip evaluation during and after stages");
  sub->add_flag("--dry-run", a->dry_run,
                "check every stage (settings, data, tokenizer, eval sets) as before step 1, then stop");
  sub->callback([a] {
    int rc = run_train(*a);
    if (rc != 0) throw CLI::RuntimeError(rc);
  });
}

}  // namespace mm::cli
