// One pre-norm Llama block: x + attn(norm(x)), then + ffn(norm(x)), where the FFN is a dense
// SwiGLU (`mlp`) or, on MoE layers, the mixture of experts (`block_sparse_moe`, Mixtral's name).
#pragma once
#include <torch/torch.h>

#include "core/config/model_config.h"
#include "models/llm/attention.h"
#include "models/llm/mlp.h"
#include "models/llm/moe.h"
#include "models/llm/rms_norm.h"

namespace mm::llm {

struct LayerOutput {
  torch::Tensor hidden;    // (B, T, D)
  torch::Tensor aux_loss;  // () MoE load-balancing loss (0 on dense layers)
  torch::Tensor z_loss;    // () MoE router z-loss (0 on dense layers)
};

class DecoderLayerImpl : public torch::nn::Module {
 public:
  DecoderLayerImpl(const LLMConfig& cfg, bool use_moe);
  LayerOutput forward(const torch::Tensor& x, const RopeTables& rope, const AttentionMask& mask,
                      LayerKV* cache = nullptr);

  bool use_moe;
  RMSNorm input_layernorm{nullptr};
  Attention self_attn{nullptr};
  RMSNorm post_attention_layernorm{nullptr};
  SwiGLU mlp{nullptr};            // dense layers
  MoE block_sparse_moe{nullptr};  // MoE layers
};
TORCH_MODULE(DecoderLayer);

// Layer i (0-based) is an MoE layer when num_experts > 0 and (i + 1) % every == 0, i.e. layers
// every-1, 2*every-1, ...: with every = 2 the 2nd, 4th, ... blocks (MM1.5: every 2nd layer).
bool is_moe_layer(const LLMConfig& cfg, int64_t layer);

}  // namespace mm::llm
