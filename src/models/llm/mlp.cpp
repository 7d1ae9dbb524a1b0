#include "models/llm/mlp.h"

#include <ATen/Parallel.h>

namespace mm::llm {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

//   h = g * s * u,  s = sigmoid(g)
//   dg = dh * u * s * (1 + g * (1 - s)),  du = dh * g * s
struct SwiGLUFn : public torch::autograd::Function<SwiGLUFn> {
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& gate, const torch::Tensor& up) {
    auto g = gate.contiguous(), u = up.contiguous();
    auto s = torch::sigmoid(g);  // torch's vectorised exp
    auto h = torch::empty_like(g);
    const float *gp = g.data_ptr<float>(), *up_ = u.data_ptr<float>(), *sp = s.data_ptr<float>();
    float* hp = h.data_ptr<float>();
    at::parallel_for(0, g.numel(), 32768, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) hp[i] = gp[i] * sp[i] * up_[i];
    });
    ctx->save_for_backward({g, u, s});
    return h;
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const torch::Tensor &g = saved[0], &u = saved[1], &s = saved[2];
    auto dh = grads[0].contiguous();
    auto dg = torch::empty_like(g), du = torch::empty_like(u);
    const float *gp = g.data_ptr<float>(), *up_ = u.data_ptr<float>(), *sp = s.data_ptr<float>();
    const float* dhp = dh.data_ptr<float>();
    float *dgp = dg.data_ptr<float>(), *dup = du.data_ptr<float>();
    at::parallel_for(0, g.numel(), 32768, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) {
        const float si = sp[i], gi = gp[i], d = dhp[i];
        dgp[i] = d * up_[i] * si * (1.f + gi * (1.f - si));
        dup[i] = d * gi * si;
      }
    });
    return {dg, du};
  }
};

}  // namespace

torch::Tensor swiglu(const torch::Tensor& gate, const torch::Tensor& up) {
  const bool fused = gate.device().is_cpu() && gate.scalar_type() == torch::kFloat &&
                     up.scalar_type() == torch::kFloat && gate.sizes() == up.sizes() && gate.numel() > 0;
  return fused ? SwiGLUFn::apply(gate, up) : torch::silu(gate) * up;
}

namespace nn = torch::nn;

SwiGLUImpl::SwiGLUImpl(int64_t dim, int64_t hidden) {
  gate_proj = register_module("gate_proj", nn::Linear(nn::LinearOptions(dim, hidden).bias(false)));
  up_proj = register_module("up_proj", nn::Linear(nn::LinearOptions(dim, hidden).bias(false)));
  down_proj = register_module("down_proj", nn::Linear(nn::LinearOptions(hidden, dim).bias(false)));
}

torch::Tensor SwiGLUImpl::forward(const torch::Tensor& x) {
  return down_proj(swiglu(gate_proj(x), up_proj(x)));
}

}  // namespace mm::llm
