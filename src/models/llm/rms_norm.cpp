#include "models/llm/rms_norm.h"

#include <ATen/Parallel.h>

#include "models/llm/fused.h"

#include <cmath>
#include <vector>

namespace mm::llm {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// Reference composite: five elementwise passes forward, more backward (each a kernel + a tensor).
torch::Tensor rms_norm_composite(const torch::Tensor& x, const torch::Tensor& w, double eps) {
  auto xf = x.to(torch::kFloat);                                        // (..., D)
  auto inv = torch::rsqrt(xf.pow(2).mean(-1, /*keepdim=*/true) + eps);  // (..., 1)
  return w * (xf * inv).to(x.scalar_type());
}

// Fused fp32 CPU RMSNorm: one pass over the rows forward (keeps 1/rms per row), one backward.
//   y = w * (x * r),  r = 1 / sqrt(mean(x^2) + eps)
//   dx = r * (g*w) - x * r^3 * mean(g*w*x),   dw = sum over rows of g * x * r
struct RMSNormFn : public torch::autograd::Function<RMSNormFn> {
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& x, const torch::Tensor& w, double eps) {
    const int64_t d = x.size(-1), n = x.numel() / d;
    auto xc = x.contiguous();
    auto y = torch::empty_like(xc);
    auto rstd = torch::empty({n}, xc.options());
    const float* xp = xc.data_ptr<float>();
    const float* wp = w.data_ptr<float>();
    float* yp = y.data_ptr<float>();
    float* rp = rstd.data_ptr<float>();
    at::parallel_for(0, n, 16, [&](int64_t begin, int64_t end) {
      for (int64_t row = begin; row < end; ++row) {
        const float* xr = xp + row * d;
        float* yr = yp + row * d;
        float ss = 0.f;
        for (int64_t j = 0; j < d; ++j) ss += xr[j] * xr[j];
        const float r = 1.f / std::sqrt(ss / float(d) + float(eps));
        rp[row] = r;
        for (int64_t j = 0; j < d; ++j) yr[j] = wp[j] * (xr[j] * r);
      }
    });
    ctx->save_for_backward({xc, w, rstd});
    return y;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const torch::Tensor &x = saved[0], &w = saved[1], &rstd = saved[2];
    auto g = grads[0].contiguous();
    const int64_t d = x.size(-1), n = x.numel() / d;
    auto dx = torch::empty_like(x);
    const float* xp = x.data_ptr<float>();
    const float* wp = w.data_ptr<float>();
    const float* rp = rstd.data_ptr<float>();
    const float* gp = g.data_ptr<float>();
    float* dxp = dx.data_ptr<float>();
    // dw: one partial row per chunk of rows, in double, summed after (deterministic: the chunking
    // depends only on n). Double keeps dw as accurate as torch's cascade sum, so splitting a batch
    // across ranks changes it no more than the composite does.
    const int64_t chunks = std::min<int64_t>(n, 64), per = (n + chunks - 1) / chunks;
    std::vector<double> partial(size_t(chunks * d), 0.0);
    at::parallel_for(0, chunks, 1, [&](int64_t cb, int64_t ce) {
      for (int64_t c = cb; c < ce; ++c) {
        double* pw = partial.data() + c * d;
        for (int64_t row = c * per; row < std::min(n, (c + 1) * per); ++row) {
          const float* xr = xp + row * d;
          const float* gr = gp + row * d;
          float* dr = dxp + row * d;
          const float r = rp[row];
          float dot = 0.f;
          for (int64_t j = 0; j < d; ++j) dot += gr[j] * wp[j] * xr[j];
          const float k = r * r * r * dot / float(d);
          for (int64_t j = 0; j < d; ++j) {
            dr[j] = r * gr[j] * wp[j] - xr[j] * k;
            pw[j] += double(gr[j] * (xr[j] * r));
          }
        }
      }
    });
    std::vector<double> total(size_t(d), 0.0);
    for (int64_t c = 0; c < chunks; ++c) {
      const double* pw = partial.data() + c * d;
      for (int64_t j = 0; j < d; ++j) total[size_t(j)] += pw[j];
    }
    auto dw = torch::empty_like(w);
    float* dwp = dw.data_ptr<float>();
    for (int64_t j = 0; j < d; ++j) dwp[j] = float(total[size_t(j)]);
    return {dx, dw, torch::Tensor()};
  }
};

}  // namespace

RMSNormImpl::RMSNormImpl(int64_t dim, double eps_) : eps(eps_) {
  weight = register_parameter("weight", torch::ones({dim}));
}

torch::Tensor RMSNormImpl::forward(const torch::Tensor& x) {
  const bool fused = fused_kernels_enabled() && x.device().is_cpu() && x.scalar_type() == torch::kFloat &&
                     weight.scalar_type() == torch::kFloat && weight.is_contiguous() && x.numel() > 0;
  return fused ? RMSNormFn::apply(x, weight, eps) : rms_norm_composite(x, weight, eps);
}

}  // namespace mm::llm
