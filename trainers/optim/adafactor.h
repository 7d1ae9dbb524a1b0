// Adafactor (Shazeer & Stern 2018) as HF transformers' Adafactor with relative_step=False,
// scale_parameter=False, warmup_init=False: the learning rate comes from the schedule.
#pragma once
#include "trainers/optim/optimizer.h"

namespace mm::train {

struct AdafactorOptions {
  double eps1 = 1e-30;          // added to grad^2 before the running averages
  double eps2 = 1e-3;           // RMS floor of scale_parameter (off here; kept for the config)
  double clip_threshold = 1.0;  // the update's RMS is clipped to this
  double decay_rate = -0.8;     // beta2_t = 1 - t^decay_rate
  double beta1 = 0.0;           // 0 = no first moment
};

// Per parameter p with gradient g at step t (group lr, weight decay wd):
//   b2 = 1 - t^decay_rate;  G = g^2 + eps1
//   >= 2-d: R = b2 R + (1-b2) mean_{-1}(G) (..., rows);  C = b2 C + (1-b2) mean_{-2}(G) (..., cols)
//           V = R C / mean_{-1}(R)  (outer product over the last two dims)
//   1-d:    V = b2 V + (1-b2) G
//   u = g / sqrt(V);  u /= max(1, RMS(u) / clip_threshold);  u *= lr
//   beta1 > 0: m = beta1 m + (1-beta1) u;  u = m
//   p -= wd * lr * p;  p -= u
// State slots: "exp_avg_sq_row" (sizes[:-1]), "exp_avg_sq_col" (sizes[:-2] + sizes[-1:]) for
// factored params, "exp_avg_sq" otherwise, plus "exp_avg" when beta1 > 0.
class Adafactor : public Optimizer {
 public:
  Adafactor(std::vector<ParamGroup> groups, AdafactorOptions options);
  const char* name() const override { return "adafactor"; }

 protected:
  std::map<std::string, std::vector<int64_t>> slot_shapes(torch::IntArrayRef param_sizes) const override;
  void update(torch::Tensor& param, const torch::Tensor& grad, ParamState& st, double lr, double weight_decay) override;

 private:
  AdafactorOptions opt_;
};

}  // namespace mm::train
