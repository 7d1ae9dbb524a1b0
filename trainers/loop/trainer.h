// The stage-agnostic training loop: train_stage runs one stage (a RunConfig): model (fresh or
// init_from a checkpoint), freezing and lr multipliers, optimizer, schedule, the data loader,
// gradient accumulation with the loss averaged over the global batch's loss tokens, clipping,
// non-finite skips and loss-spike reports, metrics (console, metrics.jsonl, TensorBoard), periodic
// eval and checkpoints, exact resume, and SIGINT/SIGTERM preemption. Where each part lives:
// stage_run.h (opening a stage, checkpoints, evaluation), train_step.h (one optimizer step),
// train_state.h (state.json), step_health.h (skips, spikes), train_metrics.h (records).
// run_recipe.h runs the stages of a recipe in order.
#pragma once
#include <nlohmann/json.hpp>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "core/config/run_config.h"
#include "models/mllm.h"

namespace mm::dist {
class Group;
}

namespace mm::train {

// Runs an evaluation of `model` for the stage `cfg` after optimizer step `step` and writes the
// report to `out_json` (plus a Markdown twin). Returns {"categories": {name: score}, "mmbase": x,
// ...} (eval/eval_report.h JSON). Provided by the caller (mmtrain train wires eval/generation).
using EvalHook = std::function<nlohmann::json(MultimodalModel& model, const RunConfig& cfg, int64_t step,
                                              const std::string& out_json)>;

struct StageResult {
  std::string stage;
  std::string final_checkpoint;  // folder of the last checkpoint written ("" if none)
  int64_t steps_done = 0;        // optimizer steps taken (skipped ones included), resumed ones too
  bool completed = false;        // false when stopped by a signal before the last step
  double first_loss = 0.0;       // mean loss of the first logged interval of this process
  double last_loss = 0.0;        // mean loss of the last logged interval
  nlohmann::json last_eval;      // the last eval result (null when none ran)
};

struct TrainOptions {
  std::string resume;         // "" = start fresh (fails if the stage has checkpoints) | auto | checkpoint path
  std::string init_override;  // checkpoint folder used for init_from: previous (the recipe runner sets it)
  EvalHook evaluate;          // null = no evaluation
  bool progress = true;       // console progress lines on rank 0
};

// Set by SIGINT, SIGTERM, SIGUSR1, SIGUSR2 and SIGHUP (install_stop_handlers); the loop finishes
// the current step, saves and returns with completed = false.
std::atomic<bool>& stop_requested();
void install_stop_handlers();

// True when `interval` > 0 and `step` is a multiple of it: "every interval steps" (0 = never).
inline bool due(int64_t step, int64_t interval) { return interval > 0 && step % interval == 0; }

// Runs one stage. `group` is the data-parallel group (single process when not distributed).
StageResult train_stage(const RunConfig& cfg, const dist::Group& group, const TrainOptions& opts);

}  // namespace mm::train
