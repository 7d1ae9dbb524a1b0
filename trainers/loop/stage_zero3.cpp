// dist.shard: parameters inside a stage (stage_run.h): opening the sharded parameters, the checkpoint's optimizer
// shard and the whole weights for the model file and for evaluation.
#include <filesystem>

#include "core/logging.h"
#include "core/safetensors.h"
#include "dist/process_group.h"
#include "trainers/loop/stage_run.h"
#include "trainers/loop/zero_params.h"
#include "trainers/optim/optimizer.h"

namespace fs = std::filesystem;

namespace mm::train {

void open_zero3(StageRun& run) {
  run.zero3 = std::make_unique<ZeroParams>(*run.model, run.group);
  const ZeroParams& z = *run.zero3;
  mm::log::get("trainer")->info(
      "stage '{}': dist.shard parameters: rank {} owns {} of {} parameter tensors ({:.2f} of {:.2f} MiB)",
      run.cfg.train.stage, run.group.rank(), z.owned_tensors(), z.total_tensors(), z.owned_bytes() / 1048576.0,
      z.total_bytes() / 1048576.0);
}

std::vector<std::string> write_zero3_shard(StageRun& run) {
  const ZeroParams& z = *run.zero3;
  const ZeroParamsTraffic& t = z.traffic();
  // The tests read these lines (tests/cli/test_cli_zero3.cpp): keep their words.
  auto log = mm::log::get("trainer");
  log->info(
      "dist.shard parameters, stage '{}': rank {} holds {} parameter bytes between steps (owns {} of {}); peak {} in "
      "its last "
      "step (largest unit {}); {} batches without images ran the encoder on a blank tile",
      run.cfg.train.stage, run.group.rank(), z.resident_bytes(), z.owned_bytes(), z.total_bytes(), z.peak_bytes(),
      z.largest_unit_bytes(), z.dummy_encoder_runs());
  log->info(
      "dist.shard parameters, stage '{}': rank {} last step: {} gathers received {} bytes and sent {}; {} reduces sent "
      "{} bytes "
      "and received {} ({} flag bytes); {} gathers prefetched in forward and {} in backward",
      run.cfg.train.stage, run.group.rank(), t.gathers, t.gather_bytes_received, t.gather_bytes_sent, t.reduces,
      t.reduce_bytes_sent, t.reduce_bytes_received, t.flag_bytes, t.prefetched, t.prefetched_backward);
  // Every rank writes its own optimizer shard (in parallel), as under dist.shard optimizer.
  const fs::path staging = run.checkpoints.shard_staging_dir(run.state.step);
  fs::create_directories(staging);
  TensorMap mine = run.optimizer->state_dict();
  for (auto& [k, v] : mine) v = v.to(torch::kCPU);
  safetensors::save((staging / CheckpointManager::shard_file_name(run.group.rank())).string(), mine);
  std::vector<std::string> shards;
  for (int r = 0; r < run.group.world_size(); ++r)
    shards.push_back((staging / CheckpointManager::shard_file_name(r)).string());
  return shards;
}

WholeParameters::WholeParameters(StageRun& r) : run(r) {
  if (run.zero3) run.zero3->gather_all();
}

WholeParameters::~WholeParameters() {
  if (run.zero3) run.zero3->release_all();
}

}  // namespace mm::train
