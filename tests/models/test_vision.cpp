// ViT shape contracts: feature shapes, class token, feature_layer, resolution checks, names.
#include <torch/torch.h>
#include <catch2/catch.hpp>

#include "core/check.h"
#include "models/vision/vit.h"

using mm::vision::VisionTransformer;

namespace {

mm::VisionConfig tiny_vision() {
  mm::VisionConfig c;
  c.image_size = 32;
  c.patch_size = 8;
  c.width = 16;
  c.layers = 2;
  c.heads = 2;
  c.mlp_dim = 32;
  return c;
}

bool has_param(torch::nn::Module& m, const std::string& name) { return m.named_parameters().contains(name); }

}  // namespace

TEST_CASE("ViT maps tiles to patch features at the trained and other resolutions", "[vision]") {
  auto cfg = tiny_vision();
  cfg.class_token = true;
  VisionTransformer vit(cfg);
  auto y = vit(torch::randn({3, 3, 32, 32}));
  CHECK(y.sizes() == torch::IntArrayRef({3, 16, 16}));  // 4x4 patches, class token dropped
  auto z = vit(torch::randn({2, 3, 48, 48}));
  CHECK(z.sizes() == torch::IntArrayRef({2, 36, 16}));  // 6x6 patches via interpolated positions
  auto r = vit(torch::randn({1, 3, 32, 48}));
  CHECK(r.sizes() == torch::IntArrayRef({1, 24, 16}));  // 4x6 patches: non-square tiles work too
  CHECK(vit->grid() == 4);
}

TEST_CASE("ViT rejects tiles that are not a multiple of the patch size", "[vision]") {
  VisionTransformer vit(tiny_vision());
  CHECK_THROWS_WITH(vit(torch::randn({1, 3, 30, 32})), Catch::Contains("not a multiple of vision.patch_size = 8"));
  CHECK_THROWS_WITH(vit(torch::randn({1, 1, 32, 32})), Catch::Contains("expected tiles (N, 3, r, r)"));
}

TEST_CASE("ViT config errors name the key", "[vision]") {
  auto cfg = tiny_vision();
  cfg.heads = 3;
  CHECK_THROWS_WITH(VisionTransformer(cfg), Catch::Contains("vision.heads = 3"));
  cfg = tiny_vision();
  cfg.act = "relu";
  CHECK_THROWS_WITH(VisionTransformer(cfg), Catch::Contains("vision.act = 'relu'"));
  cfg = tiny_vision();
  cfg.feature_layer = 5;
  CHECK_THROWS_WITH(VisionTransformer(cfg), Catch::Contains("vision.feature_layer = 5"));
  cfg = tiny_vision();
  cfg.image_size = 30;
  CHECK_THROWS_WITH(VisionTransformer(cfg), Catch::Contains("vision.image_size = 30"));
}

TEST_CASE("ViT builds only the blocks that feed feature_layer", "[vision]") {
  auto cfg = tiny_vision();
  cfg.layers = 3;
  cfg.feature_layer = -2;  // penultimate block, as LLaVA
  VisionTransformer penultimate(cfg);
  CHECK(penultimate->num_blocks() == 2);
  cfg.feature_layer = 1;
  VisionTransformer first(cfg);
  CHECK(first->num_blocks() == 1);
  // Features of feature_layer=1 equal the first block's output of a deeper model with the same weights.
  cfg.feature_layer = -1;
  VisionTransformer full(cfg);
  torch::NoGradGuard no_grad;
  for (auto& kv : first->named_parameters()) full->named_parameters()[kv.key()].copy_(kv.value());
  auto px = torch::randn({2, 3, 32, 32});
  auto x = full->pre_layrnorm(full->embeddings(px));
  x = full->layers[0]->as<mm::vision::VitBlockImpl>()->forward(x);
  CHECK(torch::allclose(first(px), x, 1e-6, 1e-6));
  CHECK_FALSE(torch::allclose(full(px), x, 1e-3, 1e-3));
}

TEST_CASE("ViT parameter names follow HF CLIPVisionModel", "[vision]") {
  auto cfg = tiny_vision();
  cfg.class_token = true;
  VisionTransformer vit(cfg);
  for (const char* n :
       {"embeddings.patch_embedding.weight", "embeddings.class_embedding", "embeddings.position_embedding.weight",
        "pre_layrnorm.weight", "pre_layrnorm.bias", "encoder.layers.0.self_attn.q_proj.weight",
        "encoder.layers.0.self_attn.k_proj.bias", "encoder.layers.1.self_attn.v_proj.weight",
        "encoder.layers.1.self_attn.out_proj.bias", "encoder.layers.0.layer_norm1.weight",
        "encoder.layers.0.layer_norm2.bias", "encoder.layers.1.mlp.fc1.weight", "encoder.layers.1.mlp.fc2.bias"}) {
    INFO(n);
    CHECK(has_param(*vit, n));
  }
  CHECK_FALSE(has_param(*vit, "embeddings.patch_embedding.bias"));   // CLIP's patch conv has no bias
  CHECK(vit->embeddings->position_embedding->weight.size(0) == 17);  // 16 patches + class
}

TEST_CASE("ViT freezing stops gradients per component", "[vision]") {
  VisionTransformer vit(tiny_vision());
  for (auto& p : vit->embeddings->parameters()) p.requires_grad_(false);
  vit(torch::randn({1, 3, 32, 32})).sum().backward();
  for (auto& kv : vit->named_parameters()) {
    INFO(kv.key());
    const bool frozen = kv.key().rfind("embeddings.", 0) == 0;
    CHECK(kv.value().grad().defined() == !frozen);
  }
}
