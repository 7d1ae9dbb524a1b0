// Activation recomputation (what PyTorch calls activation checkpointing; the config keys keep that
// name): run a function without keeping its activations, recompute it with grad enabled in backward.
// "Checkpoint" in mmtrain means a saved training snapshot (models/checkpoint/) and nothing else.
#pragma once
#include <torch/torch.h>

#include <functional>
#include <vector>

namespace mm {

using RecomputeFn = std::function<std::vector<torch::Tensor>(const std::vector<torch::Tensor>& inputs)>;

// Runs fn(inputs) under no-grad and returns its outputs wired into autograd through one node that
// saves only `inputs`. In backward, fn is re-run with grad enabled on detached copies of the inputs
// and torch::autograd::grad gives the gradients of the inputs and of `params`; the engine then
// accumulates the parameter gradients into .grad exactly as a plain run would.
// Contract: `params` must list every tensor fn reads that needs a gradient and is not in `inputs`
// (usually module->parameters()); anything else fn captures is treated as a constant. fn must be
// deterministic apart from the default CPU generator, whose state is replayed for the recompute.
// Outputs whose gradient is undefined (unused) are skipped; integer outputs get no gradient.
std::vector<torch::Tensor> recomputed(const RecomputeFn& fn, const std::vector<torch::Tensor>& inputs,
                                      const std::vector<torch::Tensor>& params);

// Single-tensor convenience: y = fn(x), x (any shape).
torch::Tensor recomputed(const std::function<torch::Tensor(const torch::Tensor&)>& fn, const torch::Tensor& x,
                         const std::vector<torch::Tensor>& params);

}  // namespace mm
