// One stage while it trains: what train_stage opens (the resume point or the init_from weights,
// the model with its freezing and learning-rate multipliers, the optimizer and schedule, data
// parallelism, the tokenizer and the loader, the metrics sinks), the live TrainState, and the
// stage's own actions: fetching a step's micro-batches, saving a checkpoint, evaluating.
#pragma once
#include <nlohmann/json.hpp>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/config/run_config.h"
#include "core/timer.h"
#include "data_pipeline/loader/batch.h"
#include "models/checkpoint/checkpoint_manager.h"
#include "models/mllm.h"
#include "tokenizer/tokenizer.h"
#include "trainers/loop/step_health.h"
#include "trainers/loop/train_metrics.h"
#include "trainers/loop/train_state.h"
#include "trainers/loop/train_step.h"
#include "trainers/loop/trainer.h"

namespace mm::data {
class Loader;
class Quarantine;
}  // namespace mm::data
namespace mm::dist {
class DataParallel;
}

namespace mm::train {

class Optimizer;
class ZeroOptimizer;
class ZeroParams;

// The micro-batches of one optimizer step: as the loader made them (for per-source losses and
// sample names) and as the model reads them, with this rank's counts and the time spent waiting.
struct MicroBatches {
  std::vector<data::Batch> batches;
  std::vector<MultimodalBatch> model;
  StepCounts counts;
  double data_wait = 0;
};

struct StageRun {
  const RunConfig& cfg;
  const dist::Group& group;
  const TrainOptions& opts;
  std::string dir;                // <run_dir>/<stage>
  CheckpointManager checkpoints;  // <dir>/checkpoints
  TrainState state;               // the live state: what the next checkpoint's state.json holds
  StageResult result;

  MultimodalModel model{nullptr};
  std::unique_ptr<Optimizer> optimizer;
  std::unique_ptr<dist::DataParallel> dp;
  std::unique_ptr<ZeroParams> zero3;    // dist.shard: parameters on several ranks (ZeRO-3), else null
  std::unique_ptr<ZeroOptimizer> zero;  // dist.shard: optimizer on several ranks (ZeRO-1), else null
  StepSetup step;
  ScheduleConfig schedule;
  std::unique_ptr<tok::Tokenizer> tokenizer;
  std::string tokenizer_bytes;  // carried into every checkpoint as tokenizer.model
  std::unique_ptr<data::Quarantine> quarantine;
  std::unique_ptr<data::Loader> loader;
  std::unique_ptr<TrainMetrics> metrics;
  std::unique_ptr<StepHealth> health;
  std::map<std::string, std::vector<data::Batch>> heldout;  // data.heldout batches, read at the first eval
  Stopwatch started;                                        // since the stage opened

  StageRun(const RunConfig& c, const dist::Group& g, const TrainOptions& o);
  ~StageRun();
  // The stage's step or token budget is spent.
  bool finished() const;
};

// Opens the stage: finds the resume point (or refuses a fresh start over checkpoints), builds
// everything above. A stage whose checkpoint says it completed comes back with result.completed
// and nothing else opened.
std::unique_ptr<StageRun> open_stage(const RunConfig& cfg, const dist::Group& group, const TrainOptions& opts);

// The next train.grad_accum micro-batches on the stage's device.
MicroBatches next_micro_batches(StageRun& run);

// Saves a checkpoint of the current step (every rank's loader state gathered; rank 0 writes; under
// dist.shard: optimizer every rank writes its own optimizer shard) and returns its folder. `complete`: the stage's last
// step is done.
std::string save_checkpoint(StageRun& run, bool complete);

// dist.shard parameters (stage_zero3.cpp). open_zero3 makes run.zero3 over the model; write_zero3_shard logs the
// rank's parameter memory and traffic and writes its optimizer shard (returns every rank's shard file);
// WholeParameters holds every parameter whole on every rank while it lives (a collective; nothing without zero3).
void open_zero3(StageRun& run);
std::vector<std::string> write_zero3_shard(StageRun& run);
struct WholeParameters {
  explicit WholeParameters(StageRun& r);
  ~WholeParameters();
  StageRun& run;
};

// data.max_bad_fraction over the records quarantined so far (data::check_bad_fraction), agreed by
// every rank: throws mm::Error (one line naming the source) on all of them when one exceeds it.
void check_data_quality(StageRun& run);

// Held-out losses (data.heldout) and the evaluation hook (eval.sets), rank 0; every rank waits.
void evaluate_stage(StageRun& run);

// The stage's loader settings: cfg.loader with pinned batches on a CUDA device.
LoaderConfig loader_config(const StageRun& run);
// The seed of the training sample stream: loader.seed mixed with the run's `seed`, so that seeds 0, 1, 2, ...
// draw different data orders (an ablation's seeds differ in data order even when every run starts from the same
// checkpoint); seed 0 leaves loader.seed as it is. Held-out evaluation keeps loader.seed: every seed is scored
// on the same held-out stream.
uint64_t sample_stream_seed(const RunConfig& cfg);

// "src:id, src:id, ... (N documents)": the documents of a step, for warnings.
std::string docs_summary(const std::vector<data::Batch>& batches, size_t max_docs = 12);

// Throws mm::Error (one line) when the stage's checkpoint folder already holds checkpoints: a fresh
// start must not mix with an earlier run (pass --resume auto, or another run directory).
void require_fresh_stage(const RunConfig& cfg);

}  // namespace mm::train
