#include "models/llm/rope.h"

#include <ATen/Parallel.h>

#include <cmath>

#include "models/llm/fused.h"

#include "core/check.h"

namespace mm::llm {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// out[i] = x[i] * c[i] + rot[i] * s[i], rot = (-x2, x1) over the two halves of head_dim. With
// sign = -1 it applies the transpose (the backward): (g1*c1 + g2*s2, g2*c2 - g1*s1).
// x: (B, T, H, hd) with heads of hd contiguous floats, `x_row` floats apart per (b, t) (H*hd when
// contiguous; more for a view of the fused q/k/v GEMM's output); out: (B, T, H, hd) contiguous;
// cos, sin: (B, T, 1, hd) contiguous.
void rope_kernel(const float* x, int64_t x_row, const float* cs, const float* sn, float* out, int64_t bt, int64_t h,
                 int64_t hd, bool transpose) {
  const int64_t half = hd / 2;
  at::parallel_for(0, bt, 8, [&](int64_t begin, int64_t end) {
    for (int64_t p = begin; p < end; ++p) {
      const float* c = cs + p * hd;
      const float* s = sn + p * hd;
      for (int64_t head = 0; head < h; ++head) {
        const float* xi = x + p * x_row + head * hd;
        float* o = out + (p * h + head) * hd;
        if (!transpose) {
          for (int64_t i = 0; i < half; ++i) o[i] = xi[i] * c[i] - xi[i + half] * s[i];
          for (int64_t i = half; i < hd; ++i) o[i] = xi[i] * c[i] + xi[i - half] * s[i];
        } else {
          for (int64_t i = 0; i < half; ++i) o[i] = xi[i] * c[i] + xi[i + half] * s[i + half];
          for (int64_t i = half; i < hd; ++i) o[i] = xi[i] * c[i] - xi[i - half] * s[i - half];
        }
      }
    }
  });
}

struct RopeFn : public torch::autograd::Function<RopeFn> {
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& x, const torch::Tensor& cos,
                               const torch::Tensor& sin) {
    // Read x in place when each (b, t) row holds its H heads densely at a fixed row stride (a
    // view of the q/k/v GEMM's output); otherwise one contiguous copy.
    const int64_t b = x.size(0), t = x.size(1), h = x.size(2), hd = x.size(3);
    const bool rows = x.stride(3) == 1 && (h == 1 || x.stride(2) == hd) && x.stride(1) >= h * hd &&
                      (b == 1 || x.stride(0) == t * x.stride(1));
    auto xc = rows ? x : x.contiguous();
    const int64_t x_row = rows ? x.stride(1) : h * hd;
    auto c = cos.contiguous(), s = sin.contiguous();
    auto out = torch::empty({b, t, h, hd}, x.options());
    rope_kernel(xc.data_ptr<float>(), x_row, c.data_ptr<float>(), s.data_ptr<float>(), out.data_ptr<float>(), b * t, h,
                hd, false);
    ctx->save_for_backward({c, s});
    return out;
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    auto g = grads[0].contiguous();
    auto dx = torch::empty_like(g);
    rope_kernel(g.data_ptr<float>(), g.size(2) * g.size(3), saved[0].data_ptr<float>(), saved[1].data_ptr<float>(),
                dx.data_ptr<float>(), g.size(0) * g.size(1), g.size(2), g.size(3), true);
    return {dx, torch::Tensor(), torch::Tensor()};
  }
};

torch::Tensor rope_composite(const torch::Tensor& x, const RopeTables& rope) {
  auto halves = x.chunk(2, -1);                            // split (not narrow): its backward is one cat, no zero fill
  auto rotated = torch::cat({-halves[1], halves[0]}, -1);  // (B, T, H, hd)
  return x * rope.cos + rotated * rope.sin;
}

}  // namespace

torch::Tensor rope_inv_freq(int64_t head_dim, double theta, const RopeScalingConfig& scaling, torch::Device device) {
  MM_CHECK(head_dim % 2 == 0, "rope: head_dim must be even, got {}", head_dim);
  auto fopt = torch::TensorOptions().dtype(torch::kFloat).device(device);
  auto exponent = torch::arange(0, head_dim, 2, fopt.dtype(torch::kLong)).to(torch::kFloat) /
                  static_cast<double>(head_dim);      // (hd/2)
  auto inv_freq = 1.0 / torch::pow(theta, exponent);  // (hd/2)
  if (scaling.type == "none") return inv_freq;
  MM_CHECK(scaling.type == "llama3", "rope: unknown rope_scaling type '{}' (expected none | llama3)", scaling.type);
  MM_CHECK(scaling.high_freq_factor > scaling.low_freq_factor,
           "rope: rope_scaling.high_freq_factor ({}) must exceed low_freq_factor ({})", scaling.high_freq_factor,
           scaling.low_freq_factor);
  // transformers' _compute_llama3_parameters, op for op (fp32 tensors, double scalars).
  const double old_len = static_cast<double>(scaling.original_max_position_embeddings);
  const double low_wavelen = old_len / scaling.low_freq_factor, high_wavelen = old_len / scaling.high_freq_factor;
  auto wavelen = 2 * M_PI / inv_freq;
  auto scaled = torch::where(wavelen > low_wavelen, inv_freq / scaling.factor, inv_freq);
  auto smooth = (old_len / wavelen - scaling.low_freq_factor) / (scaling.high_freq_factor - scaling.low_freq_factor);
  auto smoothed = (1 - smooth) * scaled / scaling.factor + smooth * scaled;
  auto medium = torch::logical_not(wavelen < high_wavelen) * torch::logical_not(wavelen > low_wavelen);
  return torch::where(medium, smoothed, scaled);
}

RopeTables rope_tables(const torch::Tensor& positions, int64_t head_dim, double theta, torch::ScalarType dtype,
                       const RopeScalingConfig& scaling) {
  MM_CHECK(positions.dim() == 2, "rope: positions must be (B, T), got {} dims", positions.dim());
  auto inv_freq = rope_inv_freq(head_dim, theta, scaling, positions.device());  // (hd/2)
  auto freqs = positions.to(torch::kFloat).unsqueeze(-1) * inv_freq;            // (B, T, hd/2)
  auto emb = torch::cat({freqs, freqs}, -1).unsqueeze(2);                       // (B, T, 1, hd)
  return {emb.cos().to(dtype), emb.sin().to(dtype)};
}

RopeTables rope_tables(const torch::Tensor& positions, int64_t head_dim, double theta, torch::ScalarType dtype) {
  return rope_tables(positions, head_dim, theta, dtype, RopeScalingConfig{});
}

torch::Tensor apply_rope(const torch::Tensor& x, const RopeTables& rope) {
  // The fused kernel needs fp32 CPU tensors and tables of exactly (B, T, 1, hd) (no broadcasting
  // over B or T, and no gradient into the tables); anything else takes the composite.
  const bool fused =
      fused_kernels_enabled() && x.dim() == 4 && x.device().is_cpu() && x.scalar_type() == torch::kFloat &&
      rope.cos.scalar_type() == torch::kFloat && rope.sin.scalar_type() == torch::kFloat &&
      rope.cos.sizes() == torch::IntArrayRef({x.size(0), x.size(1), 1, x.size(3)}) &&
      rope.sin.sizes() == rope.cos.sizes() && !rope.cos.requires_grad() && !rope.sin.requires_grad() && x.numel() > 0;
  return fused ? RopeFn::apply(x, rope.cos, rope.sin) : rope_composite(x, rope);
}

}  // namespace mm::llm
