// The analytic size of a model config: parameters per component, total and active (MoE), and
// the image-token budget; the summaries `mmtrain info` prints. Presets: models/presets.h.
#pragma once
#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <string>

#include "core/config/model_config.h"

namespace mm {

struct ModelSize {
  int64_t vision = 0;  // ViT parameters (blocks past feature_layer are not built, not counted)
  int64_t connector = 0;
  int64_t llm = 0;         // decoder, all experts
  int64_t llm_active = 0;  // decoder parameters used per token (top_k of E experts per MoE layer)
  int64_t total = 0;       // vision + connector + llm
  int64_t active = 0;      // vision + connector + llm_active
};

// Analytic parameter counts (equal to the modules' numel; tested).
ModelSize model_size(const ModelConfig& cfg);
int64_t vision_param_count(const VisionConfig& cfg);
int64_t connector_param_count(const ConnectorConfig& cfg, const VisionConfig& vision, int64_t llm_dim);

// Image-token budget of one sample: tiles x connector.num_tokens.
int64_t image_token_budget(const ModelConfig& cfg, int64_t tiles);

// {"name", "params": {"total", "active", "vision", "connector", "llm", "llm_active"},
//  "tokens_per_tile", "image_tokens": {"single": 1 tile, "static": 2x2 + overview,
//  "dynamic_4_9": 9 + overview}} for `mmtrain info --json`.
nlohmann::ordered_json model_summary_json(const ModelConfig& cfg);

// The same summary as a few human-readable lines (for `mmtrain info`).
std::string model_summary_text(const ModelConfig& cfg);

}  // namespace mm
