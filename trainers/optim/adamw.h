// AdamW (Loshchilov & Hutter): Adam with decoupled weight decay, matching torch.optim.AdamW
// (amsgrad=False, maximize=False) step for step.
#pragma once
#include "trainers/optim/optimizer.h"

namespace mm::train {

struct AdamWOptions {
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
};

// Per parameter p with gradient g at step t (group lr, weight decay wd):
//   p *= 1 - lr*wd;  m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2
//   p -= lr / (1-b1^t) * m / (sqrt(v) / sqrt(1-b2^t) + eps)
// State slots: "exp_avg", "exp_avg_sq" (shape of p).
class AdamW : public Optimizer {
 public:
  AdamW(std::vector<ParamGroup> groups, AdamWOptions options);
  const char* name() const override { return "adamw"; }

 protected:
  std::map<std::string, std::vector<int64_t>> slot_shapes(torch::IntArrayRef param_sizes) const override;
  void update(torch::Tensor& param, const torch::Tensor& grad, ParamState& st, double lr, double weight_decay) override;
  // The same arithmetic in multi-tensor `_foreach_*` ops: one kernel per operation for many
  // parameters on a GPU (one per parameter before: a third of the 1b bf16 step on an H100,
  // docs/gpu.md); the same per-tensor loop on the CPU, so the results are bitwise the same.
  void update_group(UpdateBatch& batch, double lr, double weight_decay) override;

 private:
  AdamWOptions opt_;
};

}  // namespace mm::train
