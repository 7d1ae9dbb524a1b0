// mmtrain train: runs the stages of a recipe in order (or one with --stage), each handing its final
// checkpoint to the next (init_from: previous); --resume auto continues wherever the recipe stopped.
#include <fmt/format.h>

#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/eval_hook.h"
#include <nlohmann/json.hpp>

#include "core/check.h"
#include "core/io.h"
#include "core/logging.h"
#include "dist/dist_env.h"
#include "dist/process_group.h"
#include "trainers/checkpoint/checkpoint_manager.h"
#include "trainers/checkpoint/model_state.h"
#include "trainers/loop/recipe.h"
#include "trainers/loop/trainer.h"

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
};

// The stage named in a checkpoint's state.json ("" when unreadable); train_stage verifies the
// whole checkpoint when it loads it, so only the small state file is read here.
std::string stage_of_checkpoint(const std::string& folder) {
  try {
    const auto st = nlohmann::json::parse(io::read_file((fs::path(folder) / "state.json").string()));
    return st.value("stage", std::string());
  } catch (const std::exception&) {
    return {};
  }
}

int run_train(const TrainArgs& a) {
  std::vector<std::string> sets = a.sets;
  if (!a.run_dir.empty()) sets.push_back("run_dir=" + a.run_dir);
  train::Recipe recipe = train::load_recipe(a.config, sets);
  const RunConfig& first = recipe.stages.front();

  const dist::DistEnv env = dist::dist_env_from_process();
  dist::Group group;
  if (env.world_size > 1) group = dist::init_process_group(env, first.dist);
  if (group.is_main()) fs::create_directories(first.run_dir);
  init_logging(first, group.rank(), /*with_file=*/group.is_main());
  auto log = mm::log::get("train");
  train::install_stop_handlers();

  size_t begin = 0, end = recipe.stages.size();
  if (!a.stage.empty()) begin = recipe.index_of(a.stage), end = begin + 1;

  std::string resume_stage;  // the stage a --resume PATH belongs to
  if (!a.resume.empty() && a.resume != "auto") {
    resume_stage = stage_of_checkpoint(train::resolve_checkpoint(a.resume));
    MM_CHECK(!resume_stage.empty(), "--resume {}: cannot read the checkpoint's state.json", a.resume);
    recipe.index_of(resume_stage);
  }
  if (a.resume.empty()) {
    for (size_t i = begin; i < end; ++i) {
      const fs::path ck = fs::path(train::stage_dir(recipe.stages[i])) / "checkpoints";
      MM_CHECK(!fs::exists(ck) || train::CheckpointManager(ck.string()).list().empty(),
               "{}: already holds checkpoints of stage '{}': pass --resume auto to continue, or another --run-dir",
               ck.string(), recipe.stages[i].train.stage);
    }
  }

  std::string previous;  // final checkpoint of the stage before
  if (begin > 0) {
    const RunConfig& prev = recipe.stages[begin - 1];
    if (recipe.stages[begin].train.init_from == "previous")
      MM_CHECK(train::stage_completed(prev, &previous),
               "stage '{}' starts from the final checkpoint of stage '{}', which has not completed in {} (run it "
               "first)",
               recipe.stages[begin].train.stage, prev.train.stage, train::stage_dir(prev));
  }

  if (group.is_main())
    log->info("recipe {}: {} stage(s): {}; run directory {}", a.config, recipe.stages.size(),
              [&] {
                std::string s;
                for (size_t i = begin; i < end; ++i) s += (i > begin ? " -> " : "") + recipe.stages[i].train.stage;
                return s;
              }(),
              first.run_dir);

  std::vector<train::StageResult> results;
  for (size_t i = begin; i < end; ++i) {
    const RunConfig& cfg = recipe.stages[i];
    train::TrainOptions opts;
    if (a.resume == "auto") opts.resume = "auto";
    else if (!a.resume.empty()) opts.resume = cfg.train.stage == resume_stage ? a.resume : "auto";
    opts.init_override = previous;
    if (!a.no_eval) opts.evaluate = make_eval_hook();
    train::StageResult r = train::train_stage(cfg, group, opts);
    results.push_back(r);
    if (!r.completed) {
      if (group.is_main())
        std::cout << fmt::format("stopped in stage '{}' at step {}; continue with: mmtrain train --config {} "
                                 "--resume auto{}\n",
                                 r.stage, r.steps_done, a.config, a.run_dir.empty() ? "" : " --run-dir " + a.run_dir);
      return 0;
    }
    previous = r.final_checkpoint;
  }
  if (group.is_main()) {
    std::cout << "\n| stage | steps | first loss | last loss | final checkpoint |\n|---|---|---|---|---|\n";
    for (const auto& r : results)
      std::cout << fmt::format("| {} | {} | {} | {} | {} |\n", r.stage, r.steps_done,
                               r.first_loss > 0 ? fmt::format("{:.4f}", r.first_loss) : "(resumed)",
                               r.last_loss > 0 ? fmt::format("{:.4f}", r.last_loss) : "-", r.final_checkpoint);
  }
  return 0;
}

}  // namespace

void add_train(CLI::App& app) {
  auto a = std::make_shared<TrainArgs>();
  auto* sub = app.add_subcommand("train", "run the stages of a recipe (or one stage), with checkpoints and resume");
  sub->add_option("--config", a->config, "recipe or run config YAML")->required()->check(CLI::ExistingFile);
  sub->add_option("--set", a->sets, "override a key: key.path=value (stages.NAME.key=value for one stage)");
  sub->add_option("--stage", a->stage, "run only this stage");
  sub->add_option("--resume", a->resume, "auto (latest good checkpoint of each stage) or a checkpoint folder");
  sub->add_option("--run-dir", a->run_dir, "run directory (overrides run_dir)");
  sub->add_flag("--no-eval", a->no_eval, "skip evaluation during and after stages");
  sub->callback([a] {
    int rc = run_train(*a);
    if (rc != 0) throw CLI::RuntimeError(rc);
  });
}

}  // namespace mm::cli
