#include "models/llm/rms_norm.h"

namespace mm::llm {

RMSNormImpl::RMSNormImpl(int64_t dim, double eps_) : eps(eps_) {
  weight = register_parameter("weight", torch::ones({dim}));
}

torch::Tensor RMSNormImpl::forward(const torch::Tensor& x) {
  auto xf = x.to(torch::kFloat);                                        // (..., D)
  auto inv = torch::rsqrt(xf.pow(2).mean(-1, /*keepdim=*/true) + eps);  // (..., 1)
  return weight * (xf * inv).to(x.scalar_type());
}

}  // namespace mm::llm
