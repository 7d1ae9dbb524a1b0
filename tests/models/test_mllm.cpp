// MultimodalModel: image-token scatter, slot/tile mismatch errors, text-only batches, loss sum and
// count, activation checkpointing, analytic parameter counts vs the modules' numel.
#include <torch/torch.h>
#include <catch2/catch.hpp>

#include "core/check.h"
#include "models/llm/lm_loss.h"
#include "models/mllm.h"
#include "models/model_size.h"
#include "models/presets.h"
#include "test_mllm_helpers.h"

using namespace mm;
using Catch::Matchers::Contains;

namespace {
int64_t numel(torch::nn::Module& m) {
  int64_t n = 0;
  for (const auto& p : m.parameters()) n += p.numel();
  return n;
}
}  // namespace

TEST_CASE("image tokens land at the image slots in tile order, text embeddings elsewhere", "[mllm]") {
  MultimodalModel model(test::tiny_model_config());
  auto b = test::tiny_batch(64);
  auto img = model->encode_images(b.tiles);  // (3, 4, 32)
  REQUIRE(img.sizes() == torch::IntArrayRef({3, 4, 32}));
  auto flat_img = img.reshape({-1, 32});
  auto embeds = model->embed_with_images(b.input_ids, flat_img, b.image_slots);  // (2, 12, 32)
  auto text = model->llm->embed(b.input_ids);
  // row 0: tile 0 at tokens 1..4, tile 1 at 6..9; row 1: tile 2 at 2..5
  CHECK(torch::equal(embeds[0].slice(0, 1, 5), img[0]));
  CHECK(torch::equal(embeds[0].slice(0, 6, 10), img[1]));
  CHECK(torch::equal(embeds[1].slice(0, 2, 6), img[2]));
  auto is_slot = torch::zeros({24}, torch::kBool).index_fill_(0, b.image_slots, true).view({2, 12});
  CHECK(torch::equal(embeds.index({is_slot.logical_not()}), text.index({is_slot.logical_not()})));
  // the mask form gives the same slots
  CHECK(torch::equal(image_slots_from_mask(is_slot), b.image_slots));

  // forward = decoder over exactly these embeddings
  model->eval();
  auto out = model->forward(b);
  auto ref = model->llm->forward_embeds(embeds, b.positions, b.doc_ids);
  CHECK(torch::allclose(out.logits, ref.logits, 1e-5, 1e-6));
}

TEST_CASE("gradients flow from the loss through the scatter to the encoder and the tiles", "[mllm]") {
  MultimodalModel model(test::tiny_model_config());
  auto b = test::tiny_batch(64);
  b.tiles.requires_grad_(true);
  auto out = model->forward(b);
  out.loss().backward();
  REQUIRE(b.tiles.grad().defined());
  CHECK(b.tiles.grad().abs().sum().item<double>() > 0);
  CHECK(model->vision->embeddings->patch_embedding->weight.grad().abs().sum().item<double>() > 0);
  // embedding rows of the overwritten ids get no gradient from the slots: only text positions count
  CHECK(model->llm->embed_tokens->weight.grad().defined());
}

TEST_CASE("loss_sum and loss_count match the mean next-token loss", "[mllm]") {
  MultimodalModel model(test::tiny_model_config());
  auto b = test::tiny_batch(64);
  auto out = model->forward(b);
  // row 0: targets t = 1..11 minus image slots (8 ignored) -> 3; row 1: doc 0 tokens 1..6 minus 4
  // slots -> 2, doc 1 tokens 8, 9 -> 2 (no target crosses 6 -> 7 or into padding)
  CHECK(out.loss_count.item<int64_t>() == 3 + 2 + 2);
  auto mean = llm::causal_lm_loss(out.logits, b.labels, b.doc_ids);
  CHECK(out.loss_sum.item<double>() / 7.0 == Approx(mean.item<double>()).epsilon(1e-5));
  CHECK(out.aux_loss.item<double>() == 0.0);  // dense
  CHECK(out.loss().item<double>() == Approx(mean.item<double>()).epsilon(1e-5));
}

TEST_CASE("a slot/tile mismatch is an error naming the sample", "[mllm]") {
  MultimodalModel model(test::tiny_model_config());
  auto b = test::tiny_batch(64);
  SECTION("more slots than tiles: the sample whose slots have no tile") {
    b.tiles = b.tiles.slice(0, 0, 2);  // tile of row 1 missing
    REQUIRE_THROWS_AS(model->forward(b), mm::Error);
    REQUIRE_THROWS_WITH(model->forward(b), Contains("sample 1 (batch row 1)"));
  }
  SECTION("more tiles than slots") {
    b.tiles = torch::randn({4, 3, 16, 16});
    REQUIRE_THROWS_WITH(model->forward(b), Contains("4 tiles x 4 tokens per tile = 16 image tokens but only 12"));
  }
  SECTION("tiles_per_sample pins the sample exactly") {
    b.tiles_per_sample = torch::tensor({1, 2}, torch::kLong);
    REQUIRE_THROWS_WITH(model->forward(b), Contains("sample 0 (batch row 0) has 8 image slots but 1 tiles"));
  }
  SECTION("a row with a partial tile") {
    b.image_slots = b.image_slots.slice(0, 0, 11);  // row 1 keeps 3 of its tile's 4 slots
    REQUIRE_THROWS_WITH(model->forward(b), Contains("sample 1 (batch row 1) has 3 image slots"));
  }
  SECTION("a tile split across two samples") {
    // 4 slots per row, but tile 0 takes tokens 10, 11 of row 0 and 0, 1 of row 1
    b.image_slots = torch::tensor({10, 11, 12, 13, 0, 1, 14, 15}, torch::kLong);
    b.tiles = b.tiles.slice(0, 0, 2);
    REQUIRE_THROWS_WITH(model->forward(b), Contains("tile 0 spans batch rows 0 and 1"));
  }
  SECTION("a slot outside the batch") {
    b.image_slots[11] = 24;
    REQUIRE_THROWS_WITH(model->forward(b), Contains("outside the batch"));
  }
  SECTION("a duplicated slot") {
    b.image_slots[11] = b.image_slots[10].item<int64_t>();
    REQUIRE_THROWS_WITH(model->forward(b), Contains("twice"));
  }
  SECTION("tile starts running past the sequence") {
    REQUIRE_THROWS_WITH(image_slots_from_tile_starts({{}, {10}}, 12, 4), Contains("sample 1"));
  }
}

TEST_CASE("a text-only batch runs the decoder alone", "[mllm]") {
  MultimodalModel model(test::tiny_model_config());
  auto b = test::tiny_batch(64);
  b.tiles = torch::Tensor();
  b.image_slots = torch::Tensor();
  auto out = model->forward(b);
  auto ref = model->llm->forward(b.input_ids, b.positions, b.doc_ids);
  CHECK(torch::allclose(out.logits, ref.logits));
  out.loss().backward();
  CHECK(!model->vision->embeddings->patch_embedding->weight.grad().defined());
  CHECK(model->llm->embed_tokens->weight.grad().defined());
  // empty tensors mean the same
  b.tiles = torch::zeros({0, 3, 16, 16});
  b.image_slots = torch::zeros({0}, torch::kLong);
  CHECK(torch::allclose(model->forward(b).logits, ref.logits));
  // slots without any tiles: the error names the sample
  b.image_slots = image_slots_from_tile_starts({{}, {0}}, 12, 4);
  REQUIRE_THROWS_WITH(model->forward(b), Contains("sample 1"));
}

TEST_CASE("tiles at another resolution go through the interpolated position embeddings", "[mllm]") {
  MultimodalModel model(test::tiny_model_config());
  auto b = test::tiny_batch(64, /*res=*/24);  // 6x6 patches instead of 4x4; still 4 tokens per tile
  auto out = model->forward(b);
  CHECK(std::isfinite(out.loss().item<double>()));
}

TEST_CASE("activation checkpointing on and off give the same loss and gradients", "[mllm]") {
  const auto cfg = test::tiny_model_config(/*moe=*/true);
  MultimodalModel plain(cfg);
  auto ck_cfg = cfg;
  ck_cfg.activation_checkpointing = true;
  MultimodalModel ckpt(ck_cfg);
  {
    torch::NoGradGuard ng;
    auto src = plain->named_parameters();
    for (auto& p : ckpt->named_parameters()) p.value().copy_(src[p.key()]);
  }
  REQUIRE(ckpt->vision->activation_checkpointing());
  REQUIRE(ckpt->llm->activation_checkpointing);
  auto b = test::tiny_batch(64);
  auto o1 = plain->forward(b);
  auto o2 = ckpt->forward(b);
  CHECK(o1.aux_loss.item<double>() > 0);
  auto l1 = o1.loss(), l2 = o2.loss();
  CHECK(l1.item<double>() == Approx(l2.item<double>()).epsilon(1e-6));
  l1.backward();
  l2.backward();
  auto g2 = ckpt->named_parameters();
  int64_t compared = 0;
  for (auto& p : plain->named_parameters()) {
    INFO(p.key());
    const auto& a = p.value().grad();
    const auto& c = g2[p.key()].grad();
    REQUIRE(a.defined() == c.defined());
    if (!a.defined()) continue;
    CHECK(torch::allclose(a, c, 1e-5, 1e-6));
    ++compared;
  }
  CHECK(compared == static_cast<int64_t>(plain->parameters().size()));
}

TEST_CASE("the analytic parameter counts equal the modules' numel", "[mllm][size]") {
  auto check = [](const ModelConfig& cfg) {
    INFO(cfg.name << " connector " << cfg.connector.type);
    MultimodalModel m(cfg);
    const auto s = model_size(cfg);
    CHECK(s.vision == numel(*m->vision));
    CHECK(s.connector == numel(*m->connector));
    CHECK(s.llm == numel(*m->llm));
    CHECK(s.total == numel(*m));
    if (cfg.llm.moe.num_experts == 0) CHECK(s.active == s.total);
  };
  check(model_preset("debug"));
  check(model_preset("small"));
  auto moe = test::tiny_model_config(true);
  moe.llm.moe.top_k = 1;
  check(moe);
  // active = total minus the (E - top_k) unused experts of each MoE layer
  const auto s = model_size(moe);
  CHECK(s.total - s.active == (4 - 1) * 3 * 32 * 16);
  auto variants = test::tiny_model_config();
  variants.vision.class_token = true;
  variants.vision.feature_layer = -2;  // the last block is not built
  variants.vision.pre_norm = false;
  variants.llm.tie_embeddings = false;
  variants.connector.se_ratio = 0.0;
  check(variants);
  variants.connector.type = "avg_pool";
  check(variants);
  variants.connector.type = "mlp";
  variants.connector.num_tokens = 16;
  check(variants);
}
