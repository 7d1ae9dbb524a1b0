// One optimizer step, the arithmetic alone: the micro-batches' forward and backward with the loss
// normalised by the global batch's loss tokens (all ranks, all micro-batches), the MoE auxiliary
// losses, a non-finite loss or gradient skipping the update on every rank alike, clipping by the
// global norm, the update. The train loop (trainer.cpp) and `mmtrain bench` run this same function.
#pragma once
#include <torch/types.h>

#include <cstdint>
#include <functional>
#include <vector>

#include "models/mllm.h"

namespace mm::dist {
class DataParallel;
class Group;
}  // namespace mm::dist

namespace mm::train {

class Optimizer;
class ZeroOptimizer;
class ZeroParams;

// What one step works on. `forward` runs the model on one micro-batch (the train loop: the
// multimodal model; bench's decoder-only mode: the decoder alone).
struct StepSetup {
  std::function<MultimodalOutput(const MultimodalBatch&)> forward;
  Optimizer* optimizer = nullptr;
  std::vector<torch::Tensor> trainable;  // the parameters the optimizer updates
  const dist::Group* group = nullptr;    // data-parallel group (a one-process group when alone)
  dist::DataParallel* dp = nullptr;      // null when not distributed
  ZeroOptimizer* zero = nullptr;  // dist.shard: optimizer / gradients (ZeRO-1/2) wraps `optimizer`; null otherwise
  ZeroParams* zero3 = nullptr;    // dist.shard: parameters (ZeRO-3): the model's sharded parameters; else null
  torch::Device device = torch::kCPU;
  bool bf16 = false;          // autocast around the forward (train.precision: bf16)
  double clip_grad_norm = 0;  // <= 0: measure only
};

// This rank's counts of one step's micro-batches (summed over ranks by train_step).
struct StepCounts {
  double loss_targets = 0;  // counted next-token targets
  double tokens = 0;        // real (non-padding) tokens
  double samples = 0;       // documents
};

// Wall seconds per phase; filled only when train_step is given a StepPhases (the device is then
// synchronised at each phase boundary: bench, not training).
struct StepPhases {
  double forward = 0, backward = 0, optimizer = 0;
};

struct StepResult {
  double loss = 0;       // global mean loss over the loss tokens + auxiliary losses
  double aux = 0;        // this rank's auxiliary losses (MoE aux + z), averaged over micro-batches
  double grad_norm = 0;  // before clipping (0 when skipped)
  bool skipped = false;  // a non-finite loss or gradient on some rank: no update anywhere
  StepCounts global;     // the counts summed over ranks
};

// Called after each micro-batch's backward with its logits (detached) and its index.
using MicroBatchHook = std::function<void(const torch::Tensor& logits, size_t micro)>;

// Targets, tokens and samples are this rank's StepCounts of `micro`. Sets the learning rate,
// accumulates the gradients of every micro-batch (DDP synchronises on the last), and unless the
// step is skipped clips and updates; the gradients are zeroed before it returns.
StepResult train_step(const StepSetup& setup, const std::vector<MultimodalBatch>& micro, const StepCounts& local,
                      double lr, const MicroBatchHook& on_micro = nullptr, StepPhases* phases = nullptr);

// Counted next-token targets of a batch's labels (what the loss averages over).
int64_t loss_targets(const torch::Tensor& labels, const torch::Tensor& doc_ids);

}  // namespace mm::train
