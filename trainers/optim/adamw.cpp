// AdamW update, in torch.optim.AdamW's (single-tensor, 1.13) order of operations.
#include "trainers/optim/adamw.h"

#include <torch/torch.h>

#include <cmath>

#include "core/check.h"

namespace mm::train {

AdamW::AdamW(std::vector<ParamGroup> groups, AdamWOptions options)
    : Optimizer(std::move(groups)), opt_(options) {
  MM_CHECK(opt_.beta1 >= 0 && opt_.beta1 < 1 && opt_.beta2 >= 0 && opt_.beta2 < 1,
           "adamw: betas must lie in [0, 1), got ({}, {})", opt_.beta1, opt_.beta2);
  MM_CHECK(opt_.eps > 0, "adamw: eps must be positive, got {}", opt_.eps);
}

std::map<std::string, std::vector<int64_t>> AdamW::slot_shapes(torch::IntArrayRef sizes) const {
  std::vector<int64_t> s(sizes.begin(), sizes.end());
  return {{"exp_avg", s}, {"exp_avg_sq", s}};
}

void AdamW::update(torch::Tensor& p, const torch::Tensor& grad, ParamState& st, double lr,
                   double weight_decay) {
  torch::Tensor& m = st.slots.at("exp_avg");     // (shape of p)
  torch::Tensor& v = st.slots.at("exp_avg_sq");  // (shape of p)
  p.mul_(1.0 - lr * weight_decay);
  m.mul_(opt_.beta1).add_(grad, 1.0 - opt_.beta1);
  v.mul_(opt_.beta2).addcmul_(grad, grad, 1.0 - opt_.beta2);
  const double t = static_cast<double>(st.step);
  const double bias_correction1 = 1.0 - std::pow(opt_.beta1, t);
  const double bias_correction2 = 1.0 - std::pow(opt_.beta2, t);
  const double step_size = lr / bias_correction1;
  torch::Tensor denom = (v.sqrt() / std::sqrt(bias_correction2)).add_(opt_.eps);
  p.addcdiv_(m, denom, -step_size);
}

}  // namespace mm::train
