// Our ViT <-> HF SiglipVisionModel: names, shapes and config.json (see hf_siglip_adapter.h,
// docs/export.md), and the export's choice between SigLIP and CLIP names.
#include "models/vision/hf_siglip_adapter.h"

#include "core/check.h"

namespace mm::vision {

using hf::NamePair;

namespace {
void require_siglip_shape(const VisionConfig& c, const std::string& what) {
  MM_CHECK(c.patch_bias && !c.class_token && !c.pre_norm,
           "{}: SigLIP names need vision.patch_bias true, class_token false and pre_norm false (got {}, {}, {}): "
           "SigLIP has a patch bias, no class token and no pre-norm",
           what, c.patch_bias, c.class_token, c.pre_norm);
}
}  // namespace

TensorMap siglip_vision_state(const TensorMap& ours, const VisionConfig& c) {
  const std::string what = "export vision";
  require_siglip_shape(c, what);
  const int64_t w = c.width, g = c.image_size / c.patch_size;
  std::vector<NamePair> pairs = vision_pairs(c);
  pairs.push_back(
      {"vision.embeddings.position_embedding.weight", "vision_model.embeddings.position_embedding.weight", {g * g, w}});
  TensorMap out = hf::rename(ours, pairs, true, "vision.", what);
  const auto& pos = out.at("vision_model.embeddings.position_embedding.weight");
  out["vision_model.post_layernorm.weight"] = torch::ones({w}, pos.options());
  out["vision_model.post_layernorm.bias"] = torch::zeros({w}, pos.options());
  return out;
}

TensorMap vision_state_from_siglip(const TensorMap& siglip, const VisionConfig& c) {
  const std::string what = "import vision";
  require_siglip_shape(c, what);
  const int64_t w = c.width, g = c.image_size / c.patch_size;
  std::vector<NamePair> pairs = vision_pairs(c);
  pairs.push_back(
      {"vision.embeddings.position_embedding.weight", "vision_model.embeddings.position_embedding.weight", {g * g, w}});
  TensorMap in = siglip;
  for (const char* n : {"vision_model.post_layernorm.weight", "vision_model.post_layernorm.bias"}) {
    hf::need(in, n, {w}, what);
    in.erase(n);
  }
  return hf::rename(in, pairs, false, "", what);
}

nlohmann::json siglip_vision_config(const VisionConfig& c, const std::string& torch_dtype) {
  nlohmann::json j = hf_vision_config_common(c, "SiglipVisionModel", "siglip_vision_model", torch_dtype);
  j["vision_use_head"] = false;  // the attention-pooling head: never trained by mmtrain, not written
  j["mm_layers"] = c.layers;
  j["mm_feature_layer"] = c.feature_layer;
  j["mm_features"] =
      "the connector reads the output of the last block written (no post_layernorm, which is written as weight 1, "
      "bias 0); num_hidden_layers counts only the blocks up to feature_layer";
  return j;
}

TensorMap hf_vision_state(const TensorMap& ours, const VisionConfig& c) {
  return c.patch_bias ? siglip_vision_state(ours, c) : clip_vision_state(ours, c);
}

nlohmann::json hf_vision_config(const VisionConfig& c, const std::string& torch_dtype) {
  return c.patch_bias ? siglip_vision_config(c, torch_dtype) : clip_vision_config(c, torch_dtype);
}

}  // namespace mm::vision
