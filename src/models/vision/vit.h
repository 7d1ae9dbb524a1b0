// The CLIP-style ViT image encoder: patch embedding (optionally with a bias, as SigLIP's), optional
// class token, learned position embeddings (bicubic-resized for other tile resolutions), ln_pre,
// pre-norm blocks. Parameter names follow HF CLIPVisionModel's (and SiglipVisionModel's)
// `vision_model.*` (post_layernorm is not built).
#pragma once
#include <torch/torch.h>

#include "core/config/model_config.h"
#include "models/vision/vit_block.h"

namespace mm::vision {

// Patch + class + position embeddings, as HF CLIPVisionEmbeddings.
class VitEmbeddingsImpl : public torch::nn::Module {
 public:
  explicit VitEmbeddingsImpl(const VisionConfig& cfg);
  // pixels (N, 3, H, W), H and W multiples of patch_size -> (N, [1 +] (H/p)*(W/p), D)
  torch::Tensor forward(const torch::Tensor& pixels);

  torch::nn::Conv2d patch_embedding{nullptr};        // weight (D, 3, p, p), bias (D) with patch_bias
  torch::Tensor class_embedding;                     // (D); undefined without class token
  torch::nn::Embedding position_embedding{nullptr};  // weight ([1 +] g*g, D), g = image_size / p

 private:
  int64_t patch_, grid_;
  bool class_token_;
};
TORCH_MODULE(VitEmbeddings);

class VisionTransformerImpl : public torch::nn::Module {
 public:
  // checkpoint_blocks: recompute each block in backward (activation checkpointing).
  explicit VisionTransformerImpl(const VisionConfig& cfg, bool checkpoint_blocks = false);

  // pixels (N, 3, r, r) -> features (N, P, D), P = (r/p)^2, class token dropped; taken from the
  // output of block `feature_layer` (HF hidden_states indexing: 0 = embeddings after ln_pre,
  // k = block k, -1 = last, -2 = penultimate).
  torch::Tensor forward(const torch::Tensor& pixels);

  void set_activation_checkpointing(bool on) { checkpoint_blocks_ = on; }
  bool activation_checkpointing() const { return checkpoint_blocks_; }
  int64_t width() const { return cfg_.width; }
  int64_t grid() const { return cfg_.image_size / cfg_.patch_size; }           // patches per side at image_size
  int64_t num_blocks() const { return static_cast<int64_t>(layers->size()); }  // blocks built and run
  const VisionConfig& config() const { return cfg_; }

  VitEmbeddings embeddings{nullptr};
  torch::nn::LayerNorm pre_layrnorm{nullptr};  // HF's spelling; absent when pre_norm is false
  std::shared_ptr<torch::nn::Module> encoder;  // holds `layers`, for HF's encoder.layers.N names
  torch::nn::ModuleList layers{nullptr};       // VitBlock x num_blocks()

 private:
  VisionConfig cfg_;
  bool checkpoint_blocks_;
};
TORCH_MODULE(VisionTransformer);

// Number of blocks that feed the features: blocks past feature_layer are never built (they would
// get no gradient). Fails naming vision.feature_layer when out of range.
int64_t vit_blocks_used(const VisionConfig& cfg);

}  // namespace mm::vision
