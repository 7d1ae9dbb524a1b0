// AdamW update, in torch.optim.AdamW's (single-tensor, 1.13) order of operations.
#include "trainers/optim/adamw.h"

#include <torch/torch.h>

#include <cmath>

#include "core/check.h"

namespace mm::train {

AdamW::AdamW(std::vector<ParamGroup> groups, AdamWOptions options) : Optimizer(std::move(groups)), opt_(options) {
  MM_CHECK(opt_.beta1 >= 0 && opt_.beta1 < 1 && opt_.beta2 >= 0 && opt_.beta2 < 1,
           "adamw: betas must lie in [0, 1), got ({}, {})", opt_.beta1, opt_.beta2);
  MM_CHECK(opt_.eps > 0, "adamw: eps must be positive, got {}", opt_.eps);
}

std::map<std::string, std::vector<int64_t>> AdamW::slot_shapes(torch::IntArrayRef sizes) const {
  std::vector<int64_t> s(sizes.begin(), sizes.end());
  return {{"exp_avg", s}, {"exp_avg_sq", s}};
}

void AdamW::update(torch::Tensor& p, const torch::Tensor& grad, ParamState& st, double lr, double weight_decay) {
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

void AdamW::update_group(UpdateBatch& batch, double lr, double weight_decay) {
  // Chunks of at most kChunk elements bound the sqrt(v) temporaries (256 MiB in fp32).
  constexpr int64_t kChunk = int64_t{1} << 26;
  const std::size_t n = batch.params.size();
  for (std::size_t begin = 0; begin < n;) {
    std::vector<torch::Tensor> p, g, m, v;
    std::vector<at::Scalar> sqrt_bc2, neg_step_size;  // per parameter: steps may differ
    int64_t numel = 0;
    std::size_t end = begin;
    for (; end < n && (end == begin || numel + batch.params[end].numel() <= kChunk); ++end) {
      ParamState& st = *batch.states[end];
      p.push_back(batch.params[end]);
      g.push_back(batch.grads[end]);
      m.push_back(st.slots.at("exp_avg"));
      v.push_back(st.slots.at("exp_avg_sq"));
      const double t = static_cast<double>(st.step);
      sqrt_bc2.emplace_back(std::sqrt(1.0 - std::pow(opt_.beta2, t)));
      neg_step_size.emplace_back(-(lr / (1.0 - std::pow(opt_.beta1, t))));
      numel += batch.params[end].numel();
    }
    torch::_foreach_mul_(p, 1.0 - lr * weight_decay);
    torch::_foreach_mul_(m, opt_.beta1);
    torch::_foreach_add_(m, g, 1.0 - opt_.beta1);
    torch::_foreach_mul_(v, opt_.beta2);
    torch::_foreach_addcmul_(v, g, g, 1.0 - opt_.beta2);
    std::vector<torch::Tensor> denom = torch::_foreach_sqrt(v);
    torch::_foreach_div_(denom, sqrt_bc2);
    torch::_foreach_add_(denom, opt_.eps);
    torch::_foreach_addcdiv_(p, m, denom, neg_step_size);
    begin = end;
  }
}

}  // namespace mm::train
