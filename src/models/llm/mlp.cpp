#include "models/llm/mlp.h"

#include <ATen/Parallel.h>

#include <vector>

#include "models/llm/fused.h"

namespace mm::llm {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

//   h = g * s * u,  s = sigmoid(g)
//   dg = dh * u * s * (1 + g * (1 - s)),  du = dh * g * s
// gate_up (N, 2F) contiguous: g = row[0:F], u = row[F:2F].
struct PackedSwiGLUFn : public torch::autograd::Function<PackedSwiGLUFn> {
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& gate_up) {
    auto gu = gate_up.contiguous();
    const int64_t f = gu.size(-1) / 2, n = gu.numel() / (2 * f);
    auto s = torch::sigmoid(gu.narrow(-1, 0, f));  // (..., F) contiguous, torch's vectorised exp
    std::vector<int64_t> out_sizes(gu.sizes().begin(), gu.sizes().end());
    out_sizes.back() = f;
    auto h = torch::empty(out_sizes, gu.options());
    const float* gp = gu.data_ptr<float>();
    const float* sp = s.data_ptr<float>();
    float* hp = h.data_ptr<float>();
    at::parallel_for(0, n, 16, [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; ++r) {
        const float *g = gp + r * 2 * f, *u = g + f, *sr = sp + r * f;
        float* hr = hp + r * f;
        for (int64_t j = 0; j < f; ++j) hr[j] = g[j] * sr[j] * u[j];
      }
    });
    ctx->save_for_backward({gu, s});
    return h;
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const torch::Tensor &gu = saved[0], &s = saved[1];
    auto dh = grads[0].contiguous();
    const int64_t f = gu.size(-1) / 2, n = gu.numel() / (2 * f);
    auto dgu = torch::empty_like(gu);
    const float *gp = gu.data_ptr<float>(), *sp = s.data_ptr<float>(), *dhp = dh.data_ptr<float>();
    float* dp = dgu.data_ptr<float>();
    at::parallel_for(0, n, 16, [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; ++r) {
        const float *g = gp + r * 2 * f, *u = g + f, *sr = sp + r * f, *d = dhp + r * f;
        float *dg = dp + r * 2 * f, *du = dg + f;
        for (int64_t j = 0; j < f; ++j) {
          const float si = sr[j], gi = g[j];
          dg[j] = d[j] * u[j] * si * (1.f + gi * (1.f - si));
          du[j] = d[j] * gi * si;
        }
      }
    });
    return {dgu};
  }
};

}  // namespace

torch::Tensor swiglu_packed(const torch::Tensor& gate_up) {
  const int64_t f2 = gate_up.size(-1);
  const bool fused = fused_kernels_enabled() && gate_up.device().is_cpu() && gate_up.scalar_type() == torch::kFloat &&
                     f2 % 2 == 0 && gate_up.numel() > 0;
  if (fused) return PackedSwiGLUFn::apply(gate_up);
  auto parts = gate_up.chunk(2, -1);
  return torch::silu(parts[0]) * parts[1];
}

namespace nn = torch::nn;

SwiGLUImpl::SwiGLUImpl(int64_t dim, int64_t hidden) {
  gate_proj = register_module("gate_proj", nn::Linear(nn::LinearOptions(dim, hidden).bias(false)));
  up_proj = register_module("up_proj", nn::Linear(nn::LinearOptions(dim, hidden).bias(false)));
  down_proj = register_module("down_proj", nn::Linear(nn::LinearOptions(hidden, dim).bias(false)));
}

torch::Tensor SwiGLUImpl::forward(const torch::Tensor& x) {
  // One GEMM for gate and up (weights stacked per call; the parameters keep HF's names), then
  // the packed SwiGLU: fewer, larger matmuls forward and backward.
  auto gate_up = torch::linear(x, torch::cat({gate_proj->weight, up_proj->weight}, 0));  // (..., 2F)
  return down_proj(swiglu_packed(gate_up));
}

}  // namespace mm::llm
