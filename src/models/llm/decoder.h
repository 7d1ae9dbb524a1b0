// The Llama-style decoder (dense or MoE): token embeddings, pre-norm blocks, final RMSNorm and a
// tied or untied LM head, parameter names matching HF Llama/Mixtral after a "model." prefix
// (embed_tokens, layers.N.self_attn.q_proj, layers.N.mlp.gate_proj,
// layers.N.block_sparse_moe.experts.E.w1, norm; lm_head sits outside "model." in HF).
#pragma once
#include <torch/torch.h>

#include <vector>

#include "core/config/model_config.h"
#include "models/llm/decoder_layer.h"

namespace mm::llm {

// Generation state: per-layer keys/values (after RoPE) and the doc ids of the cached tokens.
struct KVCache {
  std::vector<LayerKV> layers;
  torch::Tensor doc_ids;  // (B, T_past)
  int64_t length() const { return doc_ids.defined() ? doc_ids.size(1) : 0; }
};

struct DecoderOutput {
  torch::Tensor logits;    // (B, T, V); undefined when logits were not requested
  torch::Tensor hidden;    // (B, T, D) after the final norm
  torch::Tensor aux_loss;  // () sum over MoE layers of the load-balancing loss (coef applied)
  torch::Tensor z_loss;    // () sum over MoE layers of the router z-loss (coef applied)
};

class DecoderImpl : public torch::nn::Module {
 public:
  explicit DecoderImpl(const LLMConfig& cfg, bool activation_checkpointing = false);

  torch::Tensor embed(const torch::Tensor& ids);  // (B, T) int64 -> (B, T, D)

  // positions (B, T): RoPE position of each token (reset per packed document, continuing the
  // cache during generation); doc_ids (B, T): document of each token, < 0 = padding.
  DecoderOutput forward(const torch::Tensor& ids, const torch::Tensor& positions, const torch::Tensor& doc_ids,
                        KVCache* cache = nullptr);
  DecoderOutput forward_embeds(const torch::Tensor& embeds, const torch::Tensor& positions,
                               const torch::Tensor& doc_ids, KVCache* cache = nullptr, bool compute_logits = true);
  torch::Tensor lm_logits(const torch::Tensor& hidden);  // (B, T, D) -> (B, T, V)

  // Llama init: every matrix ~ N(0, 0.02), norms = 1, q/k/v biases = 0.
  void reset_parameters(double std = 0.02);

  // Token-slots per expert of each MoE layer from the last forward: one (E) tensor per MoE layer.
  std::vector<torch::Tensor> expert_counts() const;

  LLMConfig cfg;
  bool activation_checkpointing;
  torch::nn::Embedding embed_tokens{nullptr};  // (V, D)
  torch::nn::ModuleList layers{nullptr};
  std::vector<DecoderLayer> layer_list;
  RMSNorm norm{nullptr};
  torch::nn::Linear lm_head{nullptr};  // untied only: D -> V
};
TORCH_MODULE(Decoder);

}  // namespace mm::llm
