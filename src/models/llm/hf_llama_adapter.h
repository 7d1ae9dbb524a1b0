// The decoder's HF adapter: our "llm.*" names and shapes <-> the Hugging Face decoder families our
// decoder can be written as, both directions, and their config.json. One file for the family:
//   Llama      (moe.num_experts == 0)   LlamaForCausalLM
//   Qwen2      (dense, attention_bias)  Qwen2ForCausalLM
//   Mixtral    (MoE on every layer)     MixtralForCausalLM
//   Qwen2-MoE  (moe.every > 1: MoE layers interleaved with dense ones)  Qwen2MoeForCausalLM
// Used by the export (trainers/export) and its tests; docs/export.md explains the deviations.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "core/config/model_config.h"
#include "models/hf_names.h"

namespace mm::llm {

// The HF layout a decoder config is written in (checks moe.every >= 1 for a MoE decoder).
// Refuses (one line) what no HF layout can hold: biases with MoE on every layer, a Qwen2 head_dim
// other than dim / heads.
enum class HfLayout { kLlama, kQwen2, kMixtral, kQwen2Moe };
HfLayout hf_layout(const LLMConfig& cfg);

// Special token ids written into the HF config (-1 = unknown, written as null).
struct TokenIds {
  int64_t bos = -1, eos = -1, pad = -1;
};

// "llm.*" tensors of a checkpoint -> HF names (model.embed_tokens.weight,
// model.layers.N.self_attn.q_proj.weight, ..., model.norm.weight, lm_head.weight when untied) in
// the layout the config implies: Llama, Mixtral (block_sparse_moe.*) or Qwen2-MoE (mlp.gate /
// mlp.experts.E.{gate,up,down}_proj on MoE layers, plus (without attention_bias) zero q/k/v biases on every layer and a
// zero width-1 shared expert on MoE layers, which Qwen2-MoE always has and our decoder lacks).
// Every expected name must be present with the expected shape and no other "llm.*" name may be:
// the mapping is checked, not a blind prefix swap. Our RoPE is HF's rotate-half convention, so
// q/k rows are not permuted. Errors are one line ("export llm: ...").
TensorMap hf_llm_state(const TensorMap& ours, const LLMConfig& cfg);

// The inverse: HF names -> "llm.*" names (same checks; every name of `hf` must be mapped).
// Qwen2-MoE's biases and shared expert are dropped after checking that they are all zero (else
// one error line naming the tensor). Errors start with "import llm: ".
TensorMap llm_state_from_hf(const TensorMap& hf_state, const LLMConfig& cfg);

// LlamaConfig / Qwen2Config / MixtralConfig / Qwen2MoeConfig JSON (head_dim, rope_scaling llama3) (the llm/config.json
// of an export); keys HF does not read start with mm_.
nlohmann::json hf_llm_config(const LLMConfig& cfg, const TokenIds& ids, const std::string& torch_dtype);

}  // namespace mm::llm
