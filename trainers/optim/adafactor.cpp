// Adafactor update, in HF transformers' order of operations (fp32 math for low-precision params).
#include "trainers/optim/adafactor.h"

#include <torch/torch.h>

#include <cmath>

#include "core/check.h"

namespace mm::train {
namespace {

// Root mean square as a 0-d tensor (HF's _rms).
torch::Tensor rms(const torch::Tensor& t) { return t.norm(2) / std::sqrt(static_cast<double>(t.numel())); }

}  // namespace

Adafactor::Adafactor(std::vector<ParamGroup> groups, AdafactorOptions options)
    : Optimizer(std::move(groups)), opt_(options) {
  MM_CHECK(opt_.beta1 >= 0 && opt_.beta1 < 1, "adafactor: beta1 must lie in [0, 1), got {}", opt_.beta1);
  MM_CHECK(opt_.decay_rate < 0, "adafactor: decay_rate must be negative, got {}", opt_.decay_rate);
  MM_CHECK(opt_.clip_threshold > 0, "adafactor: clip_threshold must be positive, got {}", opt_.clip_threshold);
  MM_CHECK(opt_.eps1 > 0, "adafactor: eps1 must be positive, got {}", opt_.eps1);
}

std::map<std::string, std::vector<int64_t>> Adafactor::slot_shapes(torch::IntArrayRef sizes) const {
  std::vector<int64_t> s(sizes.begin(), sizes.end());
  std::map<std::string, std::vector<int64_t>> out;
  if (s.size() >= 2) {
    std::vector<int64_t> row(s.begin(), s.end() - 1);
    std::vector<int64_t> col(s.begin(), s.end() - 2);
    col.push_back(s.back());
    out["exp_avg_sq_row"] = row;
    out["exp_avg_sq_col"] = col;
  } else {
    out["exp_avg_sq"] = s;
  }
  if (opt_.beta1 > 0) out["exp_avg"] = s;
  return out;
}

void Adafactor::update(torch::Tensor& p, const torch::Tensor& grad_in, ParamState& st, double lr, double weight_decay) {
  // State lives in p's dtype; the math runs in at least fp32 (HF does the same for fp16/bf16).
  const auto math_type = p.scalar_type() == torch::kDouble ? torch::kDouble : torch::kFloat;
  torch::Tensor grad = grad_in.to(math_type);
  torch::Tensor p32 = p.to(math_type);
  const double beta2t = 1.0 - std::pow(static_cast<double>(st.step), opt_.decay_rate);
  torch::Tensor g2 = grad * grad + opt_.eps1;
  torch::Tensor u;
  if (p.dim() >= 2) {
    torch::Tensor& r = st.slots.at("exp_avg_sq_row");  // (..., rows)
    torch::Tensor& c = st.slots.at("exp_avg_sq_col");  // (..., cols)
    torch::Tensor r32 = r.to(math_type), c32 = c.to(math_type);
    r32.mul_(beta2t).add_(g2.mean(-1), 1.0 - beta2t);
    c32.mul_(beta2t).add_(g2.mean(-2), 1.0 - beta2t);
    torch::Tensor r_factor = (r32 / r32.mean(-1, /*keepdim=*/true)).rsqrt_().unsqueeze(-1);  // (..., rows, 1)
    torch::Tensor c_factor = c32.unsqueeze(-2).rsqrt();                                      // (..., 1, cols)
    u = torch::mul(r_factor, c_factor).mul_(grad);
    r.copy_(r32);
    c.copy_(c32);
  } else {
    torch::Tensor& v = st.slots.at("exp_avg_sq");
    torch::Tensor v32 = v.to(math_type);
    v32.mul_(beta2t).add_(g2, 1.0 - beta2t);
    u = v32.rsqrt().mul_(grad);
    v.copy_(v32);
  }
  u.div_((rms(u) / opt_.clip_threshold).clamp_min_(1.0));
  u.mul_(lr);
  if (opt_.beta1 > 0) {
    torch::Tensor& m = st.slots.at("exp_avg");
    torch::Tensor m32 = m.to(math_type);
    m32.mul_(opt_.beta1).add_(u, 1.0 - opt_.beta1);
    m.copy_(m32);
    u = m32;
  }
  if (weight_decay != 0) p32.add_(p32, -weight_decay * lr);
  p32.add_(-u);
  p.copy_(p32);
}

}  // namespace mm::train
