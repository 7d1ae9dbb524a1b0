// SwiGLU feed-forward of the Llama decoder: down(silu(gate(x)) * up(x)), no biases, HF names.
#pragma once
#include <torch/torch.h>

namespace mm::llm {

// silu(gate) * up for gate, up of the same shape. fp32 CPU tensors take a fused kernel: forward
// one sigmoid + one pass, backward one pass (no exp recomputed, no intermediate products kept
// besides the sigmoid); other devices and dtypes use torch ops. Dense FFN and MoE experts use it.
torch::Tensor swiglu(const torch::Tensor& gate, const torch::Tensor& up);
// The same for gate and up packed along the last dimension: gate_up (..., 2F) -> (..., F), gate
// first. The fused kernel reads both halves in place and writes the gradient of the packed
// tensor directly (no split copies forward, no cat backward).
torch::Tensor swiglu_packed(const torch::Tensor& gate_up);

class SwiGLUImpl : public torch::nn::Module {
 public:
  SwiGLUImpl(int64_t dim, int64_t hidden);
  torch::Tensor forward(const torch::Tensor& x);  // (..., D) -> (..., D)

  torch::nn::Linear gate_proj{nullptr};  // D -> F
  torch::nn::Linear up_proj{nullptr};    // D -> F
  torch::nn::Linear down_proj{nullptr};  // F -> D
};
TORCH_MODULE(SwiGLU);

}  // namespace mm::llm
