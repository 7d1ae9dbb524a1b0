// RMSNorm as in Llama: y = w * x / sqrt(mean(x^2) + eps), statistics in fp32. fp32 CPU tensors
// take a fused kernel (one pass forward, one backward: an autograd Function); other devices and
// dtypes the composite of torch ops. Both match the golden reference (tests/models).
#pragma once
#include <torch/torch.h>

namespace mm::llm {

class RMSNormImpl : public torch::nn::Module {
 public:
  RMSNormImpl(int64_t dim, double eps);
  torch::Tensor forward(const torch::Tensor& x);  // (..., D) -> (..., D)

  torch::Tensor weight;  // (D), initialised to ones
  double eps;
};
TORCH_MODULE(RMSNorm);

}  // namespace mm::llm
