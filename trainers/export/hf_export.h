// `mmtrain export`: a checkpoint as folders common tools load (DESIGN.md "Export", docs/export.md).
//   out/llm/        HF Llama (dense), Mixtral (MoE on every layer) or Qwen2-MoE (MoE layers
//                   interleaved with dense ones) folder: config.json + model.safetensors
//   out/vision/     HF CLIPVisionModel folder: config.json + model.safetensors
//   out/connector/  our connector: config.json + model.safetensors (connector module names)
//   out/tokenizer.model, out/config.json (how the parts join: image preprocessing, template, ids)
// The name mappings are pure functions, exposed so tests (and a future import) can invert them.
#pragma once
#include <torch/types.h>

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/config/model_config.h"

namespace mm::train {

using TensorMap = std::map<std::string, torch::Tensor>;

struct ExportOptions {
  std::string dtype = "fp32";  // fp32 | bf16: floating tensors are written in this type
};

struct ExportedFile {
  std::string path;  // as written (out_dir joined with the relative name)
  uint64_t bytes = 0;
  int64_t tensors = 0;  // 0 for non-safetensors files
};

struct ExportSummary {
  std::string checkpoint;  // the resolved checkpoint folder
  int64_t step = 0;
  std::string llm_architecture;  // LlamaForCausalLM | MixtralForCausalLM | Qwen2MoeForCausalLM
  std::vector<ExportedFile> files;
  std::vector<std::string> warnings;  // also logged
};

// Loads `checkpoint` (a step folder, a checkpoints/ folder or a run directory; see
// load_model_checkpoint) and writes the export into `out_dir` (created; files replaced atomically).
// Throws mm::Error with one line for a missing/corrupt checkpoint or a bad dtype.
ExportSummary export_checkpoint(const std::string& checkpoint, const std::string& out_dir,
                                const ExportOptions& options = {});

// ---- name mappings (our MultimodalModel names <-> HF names) -------------------------------------

// Special token ids written into the HF config (-1 = unknown, written as null).
struct TokenIds {
  int64_t bos = -1, eos = -1, pad = -1;
};

// Decoder: "llm.*" tensors of the checkpoint -> HF names (model.embed_tokens.weight,
// model.layers.N.self_attn.q_proj.weight, ..., model.norm.weight, lm_head.weight when untied) in
// the layout the config implies: Llama (moe.num_experts == 0), Mixtral (moe.every == 1:
// block_sparse_moe.*) or Qwen2-MoE (moe.every > 1: mlp.gate / mlp.experts.E.{gate,up,down}_proj
// on MoE layers, plus zero q/k/v biases on every layer and a zero width-1 shared expert on MoE
// layers, which Qwen2-MoE always has and our decoder lacks). Every expected name must be present
// with the expected shape and nothing else may be: the mapping is checked, not a blind prefix
// swap. Our RoPE is HF's rotate-half convention, so q/k rows are not permuted.
TensorMap hf_llm_state(const TensorMap& ours, const LLMConfig& cfg);
// The inverse: HF names -> "llm.*" names (same checks). Qwen2-MoE's biases and shared expert are
// dropped after checking that they are all zero (else one error line naming the tensor).
TensorMap llm_state_from_hf(const TensorMap& hf, const LLMConfig& cfg);
// LlamaConfig / MixtralConfig / Qwen2MoeConfig JSON.
nlohmann::json hf_llm_config(const LLMConfig& cfg, const TokenIds& ids,
                             const std::string& torch_dtype);

// Vision tower: "vision.*" -> CLIPVisionModel names
// (vision_model.embeddings.patch_embedding.weight,
// ...). Without our class token, a zero class_embedding and a zero position row 0 are added so
// the shapes are CLIP's (HF then prepends a class token we never had: see mm_class_token in the
// config and docs/export.md). Without pre_norm, pre_layrnorm is written as weight 1, bias 0.
// post_layernorm (HF applies it only to the pooled class token) is written as weight 1, bias 0.
TensorMap clip_vision_state(const TensorMap& ours, const VisionConfig& cfg);
// The inverse (drops the added class token row / identity norms again).
TensorMap vision_state_from_clip(const TensorMap& clip, const VisionConfig& cfg);
nlohmann::json clip_vision_config(const VisionConfig& cfg, const std::string& torch_dtype);

}  // namespace mm::train
