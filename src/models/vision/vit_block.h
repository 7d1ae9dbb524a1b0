// One pre-norm CLIP transformer block: LayerNorm -> multi-head self-attention -> residual,
// LayerNorm -> MLP (fc1, GELU, quick-GELU or tanh-GELU, fc2) -> residual. Names follow HF CLIPEncoderLayer
// (and SiglipEncoderLayer, which has the same ones).
#pragma once
#include <torch/torch.h>

#include <string>

namespace mm::vision {

struct VitBlockOptions {
  VitBlockOptions(int64_t width, int64_t heads, int64_t mlp_dim) : width_(width), heads_(heads), mlp_dim_(mlp_dim) {}
  TORCH_ARG(int64_t, width);             // D
  TORCH_ARG(int64_t, heads);             // H; D % H == 0
  TORCH_ARG(int64_t, mlp_dim);           // MLP hidden width
  TORCH_ARG(std::string, act) = "gelu";  // gelu | quick_gelu | gelu_tanh
  TORCH_ARG(double, norm_eps) = 1e-5;
};

// Self-attention without mask over all T tokens (patches + optional class token).
class VitAttentionImpl : public torch::nn::Module {
 public:
  VitAttentionImpl(int64_t width, int64_t heads);
  torch::Tensor forward(const torch::Tensor& x);  // (N, T, D) -> (N, T, D)

  torch::nn::Linear q_proj{nullptr}, k_proj{nullptr}, v_proj{nullptr}, out_proj{nullptr};  // (D, D) + bias

 private:
  int64_t heads_;
};
TORCH_MODULE(VitAttention);

class VitMlpImpl : public torch::nn::Module {
 public:
  VitMlpImpl(int64_t width, int64_t hidden, const std::string& act);
  torch::Tensor forward(const torch::Tensor& x);  // (..., D) -> (..., D)

  torch::nn::Linear fc1{nullptr};  // (hidden, D)
  torch::nn::Linear fc2{nullptr};  // (D, hidden)

 private:
  std::string act_;  // gelu (erf) | quick_gelu | gelu_tanh (SigLIP's gelu_pytorch_tanh)
};
TORCH_MODULE(VitMlp);

class VitBlockImpl : public torch::nn::Module {
 public:
  explicit VitBlockImpl(const VitBlockOptions& opt);
  torch::Tensor forward(const torch::Tensor& x);  // (N, T, D) -> (N, T, D)

  torch::nn::LayerNorm layer_norm1{nullptr}, layer_norm2{nullptr};
  VitAttention self_attn{nullptr};
  VitMlp mlp{nullptr};
};
TORCH_MODULE(VitBlock);

// x * sigmoid(1.702 x), the activation of OpenAI's CLIP.
torch::Tensor quick_gelu(const torch::Tensor& x);

}  // namespace mm::vision
