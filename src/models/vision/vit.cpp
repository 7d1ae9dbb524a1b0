// CLIP-style ViT forward: embeddings -> ln_pre -> blocks (optionally checkpointed) -> patch tokens.
#include "models/vision/vit.h"

#include "core/check.h"
#include "models/layer_hooks.h"
#include "models/recompute.h"
#include "models/vision/pos_embed.h"

namespace mm::vision {

int64_t vit_blocks_used(const VisionConfig& cfg) {
  const int64_t idx = cfg.feature_layer < 0 ? cfg.layers + 1 + cfg.feature_layer : cfg.feature_layer;
  MM_CHECK(idx >= 0 && idx <= cfg.layers, "vision.feature_layer = {} is out of range for {} layers (expected -{}..{})",
           cfg.feature_layer, cfg.layers, cfg.layers + 1, cfg.layers);
  return idx;
}

VitEmbeddingsImpl::VitEmbeddingsImpl(const VisionConfig& cfg)
    : patch_(cfg.patch_size), grid_(cfg.image_size / cfg.patch_size), class_token_(cfg.class_token) {
  MM_CHECK(cfg.patch_size > 0 && cfg.image_size > 0 && cfg.image_size % cfg.patch_size == 0,
           "vision.image_size = {} is not a positive multiple of vision.patch_size = {}", cfg.image_size,
           cfg.patch_size);
  MM_CHECK(cfg.width > 0, "vision.width must be positive, got {}", cfg.width);
  patch_embedding = register_module(
      "patch_embedding",
      torch::nn::Conv2d(
          torch::nn::Conv2dOptions(3, cfg.width, cfg.patch_size).stride(cfg.patch_size).bias(cfg.patch_bias)));
  if (class_token_) class_embedding = register_parameter("class_embedding", torch::randn({cfg.width}) * 0.02);
  position_embedding =
      register_module("position_embedding", torch::nn::Embedding(grid_ * grid_ + (class_token_ ? 1 : 0), cfg.width));
  torch::NoGradGuard no_grad;
  position_embedding->weight.normal_(0.0, 0.02);
}

torch::Tensor VitEmbeddingsImpl::forward(const torch::Tensor& pixels) {
  MM_CHECK(pixels.dim() == 4 && pixels.size(1) == 3, "vision: expected tiles (N, 3, r, r), got shape [{}]",
           fmt::join(pixels.sizes(), ", "));
  const int64_t hr = pixels.size(2), wr = pixels.size(3);
  MM_CHECK(hr % patch_ == 0 && wr % patch_ == 0 && hr > 0 && wr > 0,
           "vision: tile resolution {}x{} is not a multiple of vision.patch_size = {}", hr, wr, patch_);
  const int64_t h = hr / patch_, w = wr / patch_, n = pixels.size(0);
  auto x = patch_embedding(pixels).flatten(2).transpose(1, 2);  // (N, h*w, D)
  const auto& pos = position_embedding->weight;                 // ([1 +] g*g, D)
  const int64_t off = class_token_ ? 1 : 0;
  auto patch_pos = resize_pos_grid(pos.slice(0, off).unsqueeze(0), grid_, h, w);  // (1, h*w, D)
  x = x + patch_pos;
  if (class_token_) {
    auto cls = (class_embedding + pos[0]).view({1, 1, -1}).expand({n, 1, x.size(2)});  // (N, 1, D)
    x = torch::cat({cls, x}, 1);                                                       // (N, 1+h*w, D)
  }
  return x;
}

VisionTransformerImpl::VisionTransformerImpl(const VisionConfig& cfg, bool checkpoint_blocks)
    : cfg_(cfg), checkpoint_blocks_(checkpoint_blocks) {
  MM_CHECK(cfg.layers >= 0, "vision.layers must be >= 0, got {}", cfg.layers);
  const int64_t used = vit_blocks_used(cfg);
  embeddings = register_module("embeddings", VitEmbeddings(cfg));
  if (cfg.pre_norm) {
    pre_layrnorm = register_module("pre_layrnorm",
                                   torch::nn::LayerNorm(torch::nn::LayerNormOptions({cfg.width}).eps(cfg.norm_eps)));
  }
  encoder = register_module("encoder", std::make_shared<torch::nn::Module>());
  layers = encoder->register_module("layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < used; ++i) {
    layers->push_back(VitBlock(VitBlockOptions(cfg.width, cfg.heads, cfg.mlp_dim).act(cfg.act).norm_eps(cfg.norm_eps)));
  }
}

torch::Tensor VisionTransformerImpl::forward(const torch::Tensor& pixels) {
  // Units of parameters (layer_hooks.h): the embeddings with ln_pre, then each block (hooks outside the recompute).
  auto embed_params = [&] {
    std::vector<torch::Tensor> p = embeddings->parameters();
    if (pre_layrnorm)
      for (const auto& t : pre_layrnorm->parameters()) p.push_back(t);
    return p;
  };
  auto x = run_unit("vision.embeddings", embed_params, [&] {
    auto e = embeddings(pixels);  // (N, T, D), T = [1 +] P
    return std::vector<torch::Tensor>{pre_layrnorm ? pre_layrnorm(e) : e};
  })[0];
  const bool ckpt = checkpoint_blocks_ && is_training() && torch::GradMode::is_enabled();
  for (const auto& m : *layers) {
    auto block = m->as<VitBlockImpl>();
    x = run_unit(
        "vision.block", [&] { return block->parameters(); },
        [&] {
          if (ckpt)
            return std::vector<torch::Tensor>{
                recomputed([block](const torch::Tensor& y) { return block->forward(y); }, x, block->parameters())};
          return std::vector<torch::Tensor>{block->forward(x)};  // (N, T, D)
        })[0];
  }
  if (cfg_.class_token) x = x.slice(1, 1);  // (N, P, D)
  return x;
}

}  // namespace mm::vision
