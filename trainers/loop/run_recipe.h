// run_recipe: the stages of a recipe in order (or one), each handing its final checkpoint to the
// next (init_from: previous), with per-stage resume. A library call: `mmtrain train` parses flags
// around it and prints its results; other commands (ablation sweeps) call it the same way.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "core/run_lock.h"
#include "trainers/loop/recipe.h"
#include "trainers/loop/trainer.h"

namespace mm::train {

struct RecipeOptions {
  std::string only_stage;    // "" = every stage; else run only this one (its predecessor must be complete)
  std::string resume;        // "" = fresh (refused over existing checkpoints) | auto | a checkpoint folder
  EvalHook evaluate;         // null = no evaluation
  bool progress = true;      // console progress lines on rank 0
  bool lock_run_dir = true;  // false: the caller holds the run directory's lock (lock_run_dir below)
  bool preflight = true;     // false: the caller has run preflight() on this recipe already
  std::string command;       // the command line that started the run, for run_history.jsonl ("" = unknown)
};

struct RecipeResult {
  std::vector<StageResult> stages;  // the stages run, in order (the last one may have stopped early)
  bool completed = false;           // every stage asked for completed (false after a stop signal)
};

// One trainer per run directory: rank 0 takes the lock of `run_dir` (core/run_lock.h), every rank
// agrees; throws mm::Error (one line naming the directory and the holder) on all ranks when it is
// busy. Other ranks get an empty optional.
std::optional<RunLock> lock_run_dir(const std::string& run_dir, const dist::Group& group);

// Runs the recipe's stages on `group` (every rank calls it). First, unless opts.preflight is false,
// the pre-flight check of every stage to run (preflight.h: all problems in one error, before the
// run directory is touched).
// Unless opts.lock_run_dir is false, the run directory is then locked until it returns
// (lock_run_dir). Before any stage starts: a fresh run
// is refused when a stage to run already holds checkpoints, a --resume folder must belong to one of
// the recipe's stages, and a single stage whose init_from is `previous` needs its predecessor
// completed. Throws mm::Error (one line) on each. Rank 0 appends to <run_dir>/run_history.jsonl
// when the stages start and as each ends (run_history.h).
RecipeResult run_recipe(const Recipe& recipe, const dist::Group& group, const RecipeOptions& opts);

// True when the stage's checkpoints hold a verified checkpoint whose state says the stage
// completed; `folder` receives it.
bool stage_completed(const RunConfig& cfg, std::string* folder = nullptr);

}  // namespace mm::train
