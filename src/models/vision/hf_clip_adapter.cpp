// Our ViT <-> HF CLIPVisionModel: names, shapes and config.json (see hf_clip_adapter.h,
// docs/export.md).
#include "models/vision/hf_clip_adapter.h"

#include "core/check.h"
#include "models/vision/vit.h"

namespace mm::vision {
using hf::NamePair;

std::vector<NamePair> vision_pairs(const VisionConfig& c) {
  const int64_t w = c.width, m = c.mlp_dim, p = c.patch_size;
  std::vector<NamePair> out;
  auto add = [&](const std::string& n, std::vector<int64_t> shape) {
    out.push_back({"vision." + n, "vision_model." + n, std::move(shape)});
  };
  add("embeddings.patch_embedding.weight", {w, 3, p, p});
  if (c.patch_bias) add("embeddings.patch_embedding.bias", {w});
  if (c.pre_norm) {
    add("pre_layrnorm.weight", {w});
    add("pre_layrnorm.bias", {w});
  }
  const int64_t blocks = vit_blocks_used(c);
  for (int64_t i = 0; i < blocks; ++i) {
    const std::string b = "encoder.layers." + std::to_string(i) + ".";
    for (const char* ln : {"layer_norm1", "layer_norm2"}) {
      add(b + ln + ".weight", {w});
      add(b + ln + ".bias", {w});
    }
    for (const char* proj : {"q_proj", "k_proj", "v_proj", "out_proj"}) {
      add(b + "self_attn." + proj + ".weight", {w, w});
      add(b + "self_attn." + proj + ".bias", {w});
    }
    add(b + "mlp.fc1.weight", {m, w});
    add(b + "mlp.fc1.bias", {m});
    add(b + "mlp.fc2.weight", {w, m});
    add(b + "mlp.fc2.bias", {w});
  }
  return out;
}

TensorMap clip_vision_state(const TensorMap& ours, const VisionConfig& c) {
  const std::string what = "export vision";
  MM_CHECK(!c.patch_bias,
           "{}: vision.patch_bias is true, but CLIP's patch embedding has no bias (SigLIP names: "
           "hf_siglip_adapter.h)",
           what);
  const int64_t w = c.width, g = c.image_size / c.patch_size;
  std::vector<NamePair> pairs = vision_pairs(c);
  const auto& pos =
      hf::need(ours, "vision.embeddings.position_embedding.weight", {g * g + (c.class_token ? 1 : 0), w}, what);
  pairs.push_back({"vision.embeddings.position_embedding.weight", "vision_model.embeddings.position_embedding.weight",
                   pos.sizes().vec()});
  if (c.class_token)
    pairs.push_back({"vision.embeddings.class_embedding", "vision_model.embeddings.class_embedding", {w}});
  TensorMap out = hf::rename(ours, pairs, true, "vision.", what);
  if (!c.class_token) {
    out["vision_model.embeddings.class_embedding"] = torch::zeros({w}, pos.options());
    out["vision_model.embeddings.position_embedding.weight"] =
        torch::cat({torch::zeros({1, w}, pos.options()), pos}, 0);
  }
  if (!c.pre_norm) {
    out["vision_model.pre_layrnorm.weight"] = torch::ones({w}, pos.options());
    out["vision_model.pre_layrnorm.bias"] = torch::zeros({w}, pos.options());
  }
  out["vision_model.post_layernorm.weight"] = torch::ones({w}, pos.options());
  out["vision_model.post_layernorm.bias"] = torch::zeros({w}, pos.options());
  return out;
}

TensorMap vision_state_from_clip(const TensorMap& clip, const VisionConfig& c) {
  const std::string what = "import vision";
  const int64_t w = c.width, g = c.image_size / c.patch_size;
  std::vector<NamePair> pairs = vision_pairs(c);
  if (c.class_token) {
    pairs.push_back({"vision.embeddings.class_embedding", "vision_model.embeddings.class_embedding", {w}});
    pairs.push_back({"vision.embeddings.position_embedding.weight",
                     "vision_model.embeddings.position_embedding.weight",
                     {g * g + 1, w}});
  }
  TensorMap in = clip;  // drop what has no counterpart in our model before the strict rename
  std::vector<std::string> identity_norms = {"vision_model.post_layernorm.weight", "vision_model.post_layernorm.bias"};
  if (!c.pre_norm)
    identity_norms.insert(identity_norms.end(), {"vision_model.pre_layrnorm.weight", "vision_model.pre_layrnorm.bias"});
  for (const auto& n : identity_norms) {
    hf::need(in, n, {w}, what);
    in.erase(n);
  }
  TensorMap out;
  if (!c.class_token) {
    const auto pos = hf::need(in, "vision_model.embeddings.position_embedding.weight", {g * g + 1, w}, what);
    hf::need(in, "vision_model.embeddings.class_embedding", {w}, what);
    out["vision.embeddings.position_embedding.weight"] = pos.slice(0, 1);
    in.erase("vision_model.embeddings.position_embedding.weight");
    in.erase("vision_model.embeddings.class_embedding");
  }
  for (auto& [k, v] : hf::rename(in, pairs, false, "", what)) out[k] = v;
  return out;
}

nlohmann::json hf_vision_config_common(const VisionConfig& c, const std::string& architecture,
                                       const std::string& model_type, const std::string& torch_dtype) {
  using json = nlohmann::json;
  json j;
  j["architectures"] = json::array({architecture});
  j["model_type"] = model_type;
  j["hidden_size"] = c.width;
  j["intermediate_size"] = c.mlp_dim;
  j["num_hidden_layers"] = vit_blocks_used(c);
  j["num_attention_heads"] = c.heads;
  j["num_channels"] = 3;
  j["image_size"] = c.image_size;
  j["patch_size"] = c.patch_size;
  // HF ACT2FN: "gelu" (erf), "quick_gelu", "gelu_pytorch_tanh" are ours.
  j["hidden_act"] = c.act == "gelu_tanh" ? "gelu_pytorch_tanh" : c.act;
  j["layer_norm_eps"] = c.norm_eps;
  j["attention_dropout"] = 0.0;
  j["torch_dtype"] = torch_dtype;
  return j;
}

nlohmann::json clip_vision_config(const VisionConfig& c, const std::string& torch_dtype) {
  nlohmann::json j = hf_vision_config_common(c, "CLIPVisionModel", "clip_vision_model", torch_dtype);
  j["initializer_range"] = 0.02;
  j["initializer_factor"] = 1.0;
  j["projection_dim"] = c.width;
  // Ours vs CLIP (docs/export.md "Deviations"); HF ignores these keys.
  j["mm_class_token"] = c.class_token;
  j["mm_pre_norm"] = c.pre_norm;
  j["mm_layers"] = c.layers;
  j["mm_feature_layer"] = c.feature_layer;
  j["mm_features"] =
      "the connector reads last_hidden_state (no post_layernorm) without the class token; "
      "num_hidden_layers counts only the blocks up to feature_layer";
  if (!c.class_token)
    j["mm_note"] =
        "trained without a class token: class_embedding and position row 0 are zero padding; "
        "stock HF CLIPVisionModel prepends a class token, so its patch features differ from ours";
  return j;
}

}  // namespace mm::vision
