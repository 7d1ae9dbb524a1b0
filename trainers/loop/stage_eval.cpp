// Evaluation inside a stage (stage_run.h): held-out losses and the evaluation hook, on rank 0.
#include <filesystem>

#include "core/config/mixture_config.h"
#include "data_pipeline/loader/loader.h"
#include "data_pipeline/loader/model_batch.h"
#include "data_pipeline/quarantine.h"
#include "dist/collectives.h"
#include "dist/process_group.h"
#include "trainers/autocast_scope.h"
#include "trainers/loop/stage_run.h"

namespace fs = std::filesystem;

namespace mm::train {
namespace {

// Loss of every held-out source (data.heldout) on its first heldout_batches batches: the same
// batches at every eval, no update. The batches are read once, at the first eval, and kept (a
// few micro-batches), instead of reopening and re-indexing the sources each time.
nlohmann::json heldout_losses(StageRun& run) {
  const RunConfig& cfg = run.cfg;
  nlohmann::json out = nlohmann::json::object();
  torch::NoGradGuard ng;
  run.model->eval();
  for (const auto& src : cfg.data.heldout) {
    auto& batches = run.heldout[src.name];
    if (batches.empty()) {
      data::Quarantine q;
      MixtureConfig flat;
      auto hl = data::make_loader({src}, flat, cfg.image, *run.tokenizer, run.model->tokens_per_tile(),
                                  loader_config(run), &q);
      for (int64_t b = 0; b < cfg.data.heldout_batches; ++b) batches.push_back(hl->next());
    }
    double sum = 0, count = 0;
    for (const data::Batch& batch : batches) {
      AutocastScope autocast(run.step.bf16, run.step.device);
      MultimodalOutput o = run.model->forward(to_device(data::to_model_batch(batch), run.step.device));
      sum += o.loss_sum.item<double>();
      count += o.loss_count.item<double>();
    }
    out[src.name] = sum / std::max(1.0, count);
  }
  run.model->train();
  return out;
}

}  // namespace

void evaluate_stage(StageRun& run) {
  const bool main = run.group.is_main();
  const int64_t step = run.state.step;
  const WholeParameters whole(run);  // dist.shard parameters: rank 0 evaluates the whole model alone
  if (main && !run.cfg.data.heldout.empty()) run.metrics->log_heldout(step, heldout_losses(run));
  if (main && run.opts.evaluate && !run.cfg.eval.sets.empty()) {
    run.model->eval();
    const std::string out = (fs::path(run.dir) / "eval" / (CheckpointManager::folder_name(step) + ".json")).string();
    run.result.last_eval = run.opts.evaluate(run.model, run.cfg, step, out);
    run.model->train();
    run.metrics->log_eval(step, run.result.last_eval);
  }
  dist::barrier(run.group);
}

}  // namespace mm::train
