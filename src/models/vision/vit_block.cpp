// CLIP transformer block: attention as one batched matmul path (SDPA on LibTorch 2.x).
#include "models/vision/vit_block.h"

#include <cmath>

#include "core/check.h"
#include "core/torch_compat.h"

namespace mm::vision {

torch::Tensor quick_gelu(const torch::Tensor& x) { return x * torch::sigmoid(1.702 * x); }

VitAttentionImpl::VitAttentionImpl(int64_t width, int64_t heads) : heads_(heads) {
  MM_CHECK(heads > 0 && width % heads == 0, "vision.width = {} is not divisible by vision.heads = {}", width, heads);
  q_proj = register_module("q_proj", torch::nn::Linear(width, width));
  k_proj = register_module("k_proj", torch::nn::Linear(width, width));
  v_proj = register_module("v_proj", torch::nn::Linear(width, width));
  out_proj = register_module("out_proj", torch::nn::Linear(width, width));
}

torch::Tensor VitAttentionImpl::forward(const torch::Tensor& x) {
  const int64_t n = x.size(0), t = x.size(1), d = x.size(2), hd = d / heads_;
  auto split = [&](const torch::Tensor& y) { return y.view({n, t, heads_, hd}).transpose(1, 2); };
  auto q = split(q_proj(x));  // (N, H, T, hd)
  auto k = split(k_proj(x));  // (N, H, T, hd)
  auto v = split(v_proj(x));  // (N, H, T, hd)
#if MM_TORCH2
  auto o = at::scaled_dot_product_attention(q, k, v);  // (N, H, T, hd)
#else
  const double scale = 1.0 / std::sqrt(static_cast<double>(hd));
  auto scores = torch::matmul(q * scale, k.transpose(-2, -1));  // (N, H, T, T)
  auto o = torch::matmul(torch::softmax(scores, -1), v);        // (N, H, T, hd)
#endif
  return out_proj(o.transpose(1, 2).reshape({n, t, d}));  // (N, T, D)
}

VitMlpImpl::VitMlpImpl(int64_t width, int64_t hidden, const std::string& act) {
  MM_CHECK(act == "gelu" || act == "quick_gelu" || act == "gelu_tanh",
           "vision.act = '{}': expected gelu | quick_gelu | gelu_tanh", act);
  act_ = act;
  fc1 = register_module("fc1", torch::nn::Linear(width, hidden));
  fc2 = register_module("fc2", torch::nn::Linear(hidden, width));
}

torch::Tensor VitMlpImpl::forward(const torch::Tensor& x) {
  auto h = fc1(x);  // (..., hidden)
  if (act_ == "quick_gelu")
    h = quick_gelu(h);
  else
    h = torch::gelu(h, act_ == "gelu_tanh" ? "tanh" : "none");  // tanh: HF's gelu_pytorch_tanh
  return fc2(h);
}

VitBlockImpl::VitBlockImpl(const VitBlockOptions& opt) {
  auto ln = [&](int64_t d) { return torch::nn::LayerNorm(torch::nn::LayerNormOptions({d}).eps(opt.norm_eps())); };
  layer_norm1 = register_module("layer_norm1", ln(opt.width()));
  self_attn = register_module("self_attn", VitAttention(opt.width(), opt.heads()));
  layer_norm2 = register_module("layer_norm2", ln(opt.width()));
  mlp = register_module("mlp", VitMlp(opt.width(), opt.mlp_dim(), opt.act()));
}

torch::Tensor VitBlockImpl::forward(const torch::Tensor& x) {
  auto h = x + self_attn(layer_norm1(x));  // (N, T, D)
  return h + mlp(layer_norm2(h));          // (N, T, D)
}

}  // namespace mm::vision
