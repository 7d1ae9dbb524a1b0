#include "models/llm/decoder_layer.h"

#include "core/check.h"

namespace mm::llm {

bool is_moe_layer(const LLMConfig& cfg, int64_t layer) {
  if (cfg.moe.num_experts <= 0) return false;
  MM_CHECK(cfg.moe.every >= 1, "llm.moe.every must be >= 1, got {}", cfg.moe.every);
  return (layer + 1) % cfg.moe.every == 0;
}

DecoderLayerImpl::DecoderLayerImpl(const LLMConfig& cfg, bool use_moe_) : use_moe(use_moe_) {
  input_layernorm = register_module("input_layernorm", RMSNorm(cfg.dim, cfg.norm_eps));
  self_attn = register_module("self_attn", Attention(cfg));
  post_attention_layernorm = register_module("post_attention_layernorm", RMSNorm(cfg.dim, cfg.norm_eps));
  if (use_moe) {
    const int64_t hidden = cfg.moe.expert_hidden > 0 ? cfg.moe.expert_hidden : cfg.ffn_hidden;
    block_sparse_moe = register_module("block_sparse_moe", MoE(cfg.dim, hidden, cfg.moe));
  } else {
    mlp = register_module("mlp", SwiGLU(cfg.dim, cfg.ffn_hidden));
  }
}

LayerOutput DecoderLayerImpl::forward(const torch::Tensor& x, const RopeTables& rope, const AttentionMask& mask,
                                      LayerKV* cache) {
  auto h = x + self_attn->forward(input_layernorm(x), rope, mask, cache);  // (B, T, D)
  auto normed = post_attention_layernorm(h);
  if (!use_moe) {
    auto zero = torch::zeros({}, h.options().dtype(torch::kFloat));
    return {h + mlp(normed), zero, zero};
  }
  auto moe = block_sparse_moe->forward(normed);
  return {h + moe.out, moe.aux_loss, moe.z_loss};
}

}  // namespace mm::llm
