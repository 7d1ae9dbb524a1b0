// Rotary position embedding with HF Llama's rotate-half convention, driven by explicit position
// ids so that packed documents restart at position 0.
#pragma once
#include <torch/torch.h>

#include "core/config/model_config.h"

namespace mm::llm {

// cos/sin tables for one forward, shared by every layer.
struct RopeTables {
  torch::Tensor cos;  // (B, T, 1, hd)
  torch::Tensor sin;  // (B, T, 1, hd)
};

// positions (B, T) int64 -> tables in `dtype`; inv_freq_i = theta^(-2i/hd), angles duplicated
// over both halves (HF: emb = cat(freqs, freqs)).
RopeTables rope_tables(const torch::Tensor& positions, int64_t head_dim, double theta,
                       torch::ScalarType dtype = torch::kFloat);

// The same with Hugging Face's `rope_scaling` applied to the frequencies (type none: as above).
RopeTables rope_tables(const torch::Tensor& positions, int64_t head_dim, double theta, torch::ScalarType dtype,
                       const RopeScalingConfig& scaling);

// inv_freq (hd/2) fp32: theta^(-2i/hd), then for llama3 transformers' _compute_llama3_parameters:
// wavelengths 2*pi/f above original/low_freq_factor are divided by factor, those below
// original/high_freq_factor kept, those between interpolated smoothly.
torch::Tensor rope_inv_freq(int64_t head_dim, double theta, const RopeScalingConfig& scaling,
                            torch::Device device = torch::kCPU);

// x (B, T, H, hd) -> x * cos + rotate_half(x) * sin, rotate_half(x) = cat(-x2, x1). fp32 CPU
// tensors take a fused one-pass kernel (forward and backward); otherwise torch ops.
torch::Tensor apply_rope(const torch::Tensor& x, const RopeTables& rope);

}  // namespace mm::llm
