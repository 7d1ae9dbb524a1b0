// SwiGLU feed-forward of the Llama decoder: down(silu(gate(x)) * up(x)), no biases, HF names.
#pragma once
#include <torch/torch.h>

namespace mm::llm {

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
