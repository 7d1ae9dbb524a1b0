#include "models/llm/mlp.h"

namespace mm::llm {

namespace nn = torch::nn;

SwiGLUImpl::SwiGLUImpl(int64_t dim, int64_t hidden) {
  gate_proj = register_module("gate_proj", nn::Linear(nn::LinearOptions(dim, hidden).bias(false)));
  up_proj = register_module("up_proj", nn::Linear(nn::LinearOptions(dim, hidden).bias(false)));
  down_proj = register_module("down_proj", nn::Linear(nn::LinearOptions(hidden, dim).bias(false)));
}

torch::Tensor SwiGLUImpl::forward(const torch::Tensor& x) {
  return down_proj(torch::silu(gate_proj(x)) * up_proj(x));
}

}  // namespace mm::llm
