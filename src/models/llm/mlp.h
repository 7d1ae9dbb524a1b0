// SwiGLU feed-forward of the Llama decoder: down(silu(gate(x)) * up(x)), no biases, HF names.
#pragma once
#include <torch/torch.h>

namespace mm::llm {

// silu(gate) * up with gate and up packed along the last dimension: gate_up (..., 2F) -> (..., F),
// gate first. fp32 CPU tensors take a fused kernel that reads both halves in place (forward: one
// sigmoid + one pass; backward: one pass writing the packed gradient, no exp recomputed); other
// devices and dtypes use torch ops. The dense FFN and the MoE experts both use it.
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
