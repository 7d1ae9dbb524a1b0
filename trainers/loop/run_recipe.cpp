// run_recipe (run_recipe.h).
#include "trainers/loop/run_recipe.h"

#include <filesystem>
#include <optional>

#include "core/check.h"
#include "core/logging.h"
#include "core/run_lock.h"
#include "core/timer.h"
#include "dist/collectives.h"
#include "dist/process_group.h"
#include "models/checkpoint/checkpoint_manager.h"
#include "models/checkpoint/model_state.h"
#include "trainers/loop/preflight.h"
#include "trainers/loop/run_history.h"
#include "trainers/loop/stage_run.h"

namespace fs = std::filesystem;

namespace mm::train {
namespace {

// The stage a --resume folder belongs to (one of the recipe's).
std::string stage_of_resume(const Recipe& recipe, const std::string& resume) {
  std::string stage;
  try {
    stage = read_train_state(resolve_checkpoint(resume)).stage;
  } catch (const std::exception& e) {
    throw mm::Error(fmt::format("--resume {}: cannot read the checkpoint's state.json ({})", resume, e.what()));
  }
  MM_CHECK(!stage.empty(), "--resume {}: the checkpoint's state.json names no stage", resume);
  recipe.index_of(stage);
  return stage;
}

}  // namespace

std::optional<RunLock> lock_run_dir(const std::string& run_dir, const dist::Group& group) {
  std::optional<RunLock> lock;
  std::string refused;
  if (group.is_main()) {
    try {
      lock.emplace(run_dir);
    } catch (const mm::Error& e) {
      refused = e.what();
    }
  }
  if (dist::any_rank(group, !refused.empty()))
    throw mm::Error(refused.empty() ? "rank 0 could not lock the run directory (its log says why)" : refused);
  return lock;
}

bool stage_completed(const RunConfig& cfg, std::string* folder) {
  const std::string dir = (fs::path(stage_dir(cfg)) / "checkpoints").string();
  if (!fs::exists(dir)) return false;
  auto good = CheckpointManager(dir).find_latest_good();
  if (!good) return false;
  try {
    if (!read_train_state(*good).stage_complete) return false;
  } catch (const std::exception&) {
    return false;
  }
  if (folder) *folder = *good;
  return true;
}

RecipeResult run_recipe(const Recipe& recipe, const dist::Group& group, const RecipeOptions& opts) {
  // Every stage about to run, checked before step 1 and before the run directory is touched, on
  // every rank (each reads its own files); all ranks stop together.
  if (opts.preflight) {
    PreflightOptions pre_opts;
    pre_opts.only_stage = opts.only_stage;
    const PreflightReport pre = preflight(recipe, pre_opts);
    if (dist::any_rank(group, !pre.ok()))
      throw mm::Error(pre.ok() ? "another rank found problems before step 1 (its log says which)"
                               : pre.to_text(recipe.path));
  }
  std::optional<RunLock> lock;
  if (opts.lock_run_dir) lock = lock_run_dir(recipe.stages.front().run_dir, group);
  size_t begin = 0, end = recipe.stages.size();
  if (!opts.only_stage.empty()) begin = recipe.index_of(opts.only_stage), end = begin + 1;
  const std::string resume_stage =
      opts.resume.empty() || opts.resume == "auto" ? "" : stage_of_resume(recipe, opts.resume);
  if (opts.resume.empty())
    for (size_t i = begin; i < end; ++i) require_fresh_stage(recipe.stages[i]);
  std::string previous;  // the final checkpoint of the stage before
  if (begin > 0 && recipe.stages[begin].train.init_from == "previous") {
    const RunConfig& prev = recipe.stages[begin - 1];
    MM_CHECK(stage_completed(prev, &previous),
             "stage '{}' starts from the final checkpoint of stage '{}', which has not completed in {} (run it first)",
             recipe.stages[begin].train.stage, prev.train.stage, stage_dir(prev));
  }
  if (group.is_main()) {
    std::string names;
    for (size_t i = begin; i < end; ++i) names += (i > begin ? " -> " : "") + recipe.stages[i].train.stage;
    mm::log::get("train")->info("recipe {}: {} stage(s): {}; run directory {}", recipe.path, recipe.stages.size(),
                                names, recipe.stages.front().run_dir);
    std::vector<std::string> stages;
    for (size_t i = begin; i < end; ++i) stages.push_back(recipe.stages[i].train.stage);
    append_run_history(recipe.stages.front().run_dir,
                       run_start_record(recipe.path, stages, group.world_size(), opts.command, opts.resume));
  }
  RecipeResult out;
  for (size_t i = begin; i < end; ++i) {
    const RunConfig& cfg = recipe.stages[i];
    TrainOptions stage_opts;
    stage_opts.resume = opts.resume == "auto" || opts.resume.empty() ? opts.resume
                        : cfg.train.stage == resume_stage            ? opts.resume
                                                                     : "auto";
    stage_opts.init_override = previous;
    stage_opts.evaluate = opts.evaluate;
    stage_opts.progress = opts.progress;
    const Stopwatch watch;
    out.stages.push_back(train_stage(cfg, group, stage_opts));
    const StageResult& r = out.stages.back();
    if (group.is_main())
      append_run_history(cfg.run_dir,
                         stage_end_record(r.stage, r.completed, r.steps_done, watch.seconds(), r.final_checkpoint));
    if (!out.stages.back().completed) return out;
    previous = out.stages.back().final_checkpoint;
  }
  out.completed = true;
  return out;
}

}  // namespace mm::train
