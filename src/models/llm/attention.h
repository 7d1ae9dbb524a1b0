// Grouped-query self-attention of the Llama decoder (q/k/v/o projections, HF names; q/k/v biases
// with llm.attention_bias as in Qwen2, o_proj never has one),
// with RoPE from explicit positions, the document mask and an optional per-layer KV cache.
#pragma once
#include <torch/torch.h>

#include "core/config/model_config.h"
#include "models/llm/attention_mask.h"
#include "models/llm/rope.h"

namespace mm::llm {

// One layer's cached keys/values (after RoPE), appended step by step during generation.
struct LayerKV {
  torch::Tensor k;  // (B, KV, T_past, hd)
  torch::Tensor v;  // (B, KV, T_past, hd)
};

// The width of one head: llm.head_dim, or dim / heads when it is 0.
inline int64_t head_dim_of(const LLMConfig& cfg) { return cfg.head_dim > 0 ? cfg.head_dim : cfg.dim / cfg.heads; }

class AttentionImpl : public torch::nn::Module {
 public:
  explicit AttentionImpl(const LLMConfig& cfg);

  // x (B, T, D) -> (B, T, D). `rope` covers the T new tokens, `mask` is (B, 1, T, T_past + T).
  torch::Tensor forward(const torch::Tensor& x, const RopeTables& rope, const AttentionMask& mask,
                        LayerKV* cache = nullptr);

  // Convenience for a standalone call: builds RoPE tables and the document mask itself.
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& positions, const torch::Tensor& doc_ids);

  int64_t heads, kv_heads, head_dim;
  double rope_theta;
  RopeScalingConfig rope_scaling;
  torch::nn::Linear q_proj{nullptr};  // D -> H*hd
  torch::nn::Linear k_proj{nullptr};  // D -> KV*hd
  torch::nn::Linear v_proj{nullptr};  // D -> KV*hd
  torch::nn::Linear o_proj{nullptr};  // H*hd -> D
};
TORCH_MODULE(Attention);

// softmax(q k^T / sqrt(hd) + mask) v with GQA (query head h reads kv head h / (H / KV)).
// q (B, H, T, hd), k/v (B, KV, Tk, hd) -> (B, H, T, hd); the queries are the last T of the Tk
// keys. LibTorch 1.13: batched matmuls over 128-row query chunks that skip the keys after the
// chunk (causal), no copies of k/v per query head (fp32 CPU: the Function of attention_bthd on
// transposed views); LibTorch 2.x: at::scaled_dot_product_attention.
torch::Tensor grouped_attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                                const AttentionMask& mask);

// The same attention in the layout RoPE produces (AttentionImpl::forward without a KV cache):
// q (B, T, H, hd), k/v (B, Tk, KV, hd) (any strides, e.g. views of the q/k/v GEMM's output; the
// queries are the last T of the Tk keys) -> (B, T, H*hd), ready for o_proj. With `fused` (AttentionImpl passes
// fused_kernels_enabled()) fp32 CPU tensors outside autocast take a chunked autograd Function with a hand-written
// backward that makes no full-size transpose copies (its gradients come back in the same
// layouts); otherwise, or on LibTorch 2.x, the composite path of grouped_attention.
torch::Tensor attention_bthd(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                             const AttentionMask& mask, bool fused);

}  // namespace mm::llm
