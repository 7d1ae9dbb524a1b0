#include "models/llm/param_count.h"

#include "models/llm/decoder_layer.h"

namespace mm::llm {

ParamCount llm_param_count(const LLMConfig& cfg) {
  const int64_t d = cfg.dim, hd = head_dim_of(cfg);
  const int64_t attn = d * cfg.heads * hd * 2 + d * cfg.kv_heads * hd * 2 +             // q, o + k, v
                       (cfg.attention_bias ? (cfg.heads + 2 * cfg.kv_heads) * hd : 0);  // q/k/v biases
  const int64_t norms = 2 * d;
  const int64_t expert_hidden = cfg.moe.expert_hidden > 0 ? cfg.moe.expert_hidden : cfg.ffn_hidden;
  ParamCount pc;
  pc.total = pc.active = cfg.vocab_size * d * (cfg.tie_embeddings ? 1 : 2) + d;  // embed (+ head), final norm
  for (int64_t i = 0; i < cfg.layers; ++i) {
    pc.total += attn + norms;
    pc.active += attn + norms;
    if (is_moe_layer(cfg, i)) {
      const int64_t expert = 3 * d * expert_hidden;
      pc.total += d * cfg.moe.num_experts + cfg.moe.num_experts * expert;
      pc.active += d * cfg.moe.num_experts + cfg.moe.top_k * expert;
    } else {
      pc.total += 3 * d * cfg.ffn_hidden;
      pc.active += 3 * d * cfg.ffn_hidden;
    }
  }
  return pc;
}

}  // namespace mm::llm
