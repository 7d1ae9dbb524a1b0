// The vision tower's HF adapter: our "vision.*" names and shapes <-> Hugging Face
// CLIPVisionModel's (vision_model.*), both directions, and its config.json. Used by the export
// (trainers/export), the import (hf_vision_import.h) and their tests; docs/export.md explains the
// deviations. SigLIP's names: hf_siglip_adapter.h.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/config/model_config.h"
#include "models/hf_names.h"

namespace mm::vision {

// "vision.*" -> CLIPVisionModel names (vision_model.embeddings.patch_embedding.weight, ...).
// Without our class token, a zero class_embedding and a zero position row 0 are added so the
// shapes are CLIP's (HF then prepends a class token we never had: see mm_class_token in the
// config and docs/export.md). Without pre_norm, pre_layrnorm is written as weight 1, bias 0.
// post_layernorm (HF applies it only to the pooled class token) is written as weight 1, bias 0.
// Checked like llm::hf_llm_state: every name with its shape, no other "vision.*" name.
TensorMap clip_vision_state(const TensorMap& ours, const VisionConfig& cfg);

// The inverse (drops the added class token row / identity norms again). Errors start with
// "import vision: ".
TensorMap vision_state_from_clip(const TensorMap& clip, const VisionConfig& cfg);

// CLIPVisionConfig JSON (the vision/config.json of an export); keys HF ignores start with mm_.
nlohmann::json clip_vision_config(const VisionConfig& cfg, const std::string& torch_dtype);

// The tensors whose names map one to one in CLIP and SigLIP alike: the patch embedding (with its bias
// under patch_bias), pre_layrnorm (pre_norm), the blocks up to feature_layer.
std::vector<hf::NamePair> vision_pairs(const VisionConfig& cfg);

// The keys CLIPVisionConfig and SiglipVisionConfig share (sizes, layers written, heads, the image and patch
// sizes, hidden_act: our gelu_tanh as gelu_pytorch_tanh, gelu and quick_gelu as they are, ...).
nlohmann::json hf_vision_config_common(const VisionConfig& cfg, const std::string& architecture,
                                       const std::string& model_type, const std::string& torch_dtype);

}  // namespace mm::vision
