// The vision tower's HF adapter for SigLIP: our "vision.*" names and shapes <-> Hugging Face
// SiglipVisionModel's (vision_model.*), both directions, and its config.json; and what the export writes
// (SigLIP names for a tower with a patch bias, else CLIP's). Used by the export (trainers/export), the
// import (hf_vision_import.h) and their tests; docs/export.md "SigLIP names".
#pragma once
#include <nlohmann/json.hpp>
#include <string>

#include "core/config/model_config.h"
#include "models/hf_names.h"
#include "models/vision/hf_clip_adapter.h"

namespace mm::vision {

// SigLIP: "vision.*" -> SiglipVisionModel names (patch_embedding with its bias, position_embedding of
// g*g rows, no class token, no pre-norm: the config must say patch_bias, no class_token, no pre_norm,
// else one error). post_layernorm is written as weight 1, bias 0; the attention-pooling head is not
// written (vision_use_head false).
TensorMap siglip_vision_state(const TensorMap& ours, const VisionConfig& cfg);

// The inverse: post_layernorm dropped (shape checked); any other name must map (the importer removes
// the pooling head first). Errors start with "import vision: ".
TensorMap vision_state_from_siglip(const TensorMap& siglip, const VisionConfig& cfg);

// SiglipVisionConfig JSON with vision_use_head false and the mm_ keys of clip_vision_config.
nlohmann::json siglip_vision_config(const VisionConfig& cfg, const std::string& torch_dtype);

// What the export writes: SigLIP names when vision.patch_bias (CLIP's patch embedding has no bias),
// else CLIP names.
TensorMap hf_vision_state(const TensorMap& ours, const VisionConfig& cfg);
nlohmann::json hf_vision_config(const VisionConfig& cfg, const std::string& torch_dtype);

}  // namespace mm::vision
