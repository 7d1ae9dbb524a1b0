// Activation checkpointing (models/recompute.h): gradients identical to the plain run.
#include <torch/torch.h>
#include <catch2/catch.hpp>

#include "models/recompute.h"
#include "models/vision/vit.h"

namespace {

mm::VisionConfig ckpt_vision() {
  mm::VisionConfig c;
  c.image_size = 32;
  c.patch_size = 8;
  c.width = 16;
  c.layers = 3;
  c.heads = 2;
  c.mlp_dim = 32;
  c.class_token = true;
  c.act = "quick_gelu";
  return c;
}

// Runs forward + backward of `vit` on px with upstream gradient g; returns {output, input grad}.
std::pair<torch::Tensor, torch::Tensor> run(mm::vision::VisionTransformer& vit, const torch::Tensor& px,
                                            const torch::Tensor& g) {
  vit->zero_grad();
  auto x = px.clone().requires_grad_(true);
  auto y = vit(x);
  (y * g).sum().backward();
  return {y.detach(), x.grad()};
}

}  // namespace

TEST_CASE("checkpointed ViT blocks give the plain run's outputs and gradients", "[vision][checkpoint]") {
  torch::manual_seed(3);
  mm::vision::VisionTransformer vit(ckpt_vision());
  auto px = torch::randn({2, 3, 32, 32});
  auto g = torch::randn({2, 16, 16});

  auto [y_plain, gx_plain] = run(vit, px, g);
  std::map<std::string, torch::Tensor> plain;
  for (auto& kv : vit->named_parameters()) plain[kv.key()] = kv.value().grad().clone();

  vit->set_activation_checkpointing(true);
  auto [y_ckpt, gx_ckpt] = run(vit, px, g);
  CHECK(torch::equal(y_plain, y_ckpt));
  CHECK(torch::allclose(gx_plain, gx_ckpt, 1e-6, 1e-7));
  for (auto& kv : vit->named_parameters()) {
    INFO(kv.key());
    REQUIRE(kv.value().grad().defined());
    CHECK(torch::allclose(plain[kv.key()], kv.value().grad(), 1e-6, 1e-7));
  }
}

TEST_CASE("checkpointing accumulates parameter gradients across backward calls", "[vision][checkpoint]") {
  torch::manual_seed(4);
  auto w = torch::randn({8, 8}, torch::requires_grad());
  auto fn = [&](const torch::Tensor& x) { return torch::tanh(torch::matmul(x, w)); };
  auto x = torch::randn({4, 8});
  fn(x).sum().backward();
  auto once = w.grad().clone();
  w.mutable_grad() = torch::Tensor();
  mm::recomputed(fn, x, {w}).sum().backward();
  mm::recomputed(fn, x, {w}).sum().backward();
  CHECK(torch::allclose(w.grad(), 2 * once, 1e-6, 1e-7));
}

TEST_CASE("checkpointing stores no activations of the block in the graph", "[vision][checkpoint]") {
  // The recompute counter proves backward re-ran the block; a frozen parameter gets no grad.
  int calls = 0;
  auto w = torch::randn({8, 8}, torch::requires_grad());
  auto frozen = torch::randn({8});
  auto fn = [&](const torch::Tensor& x) {
    ++calls;
    return torch::relu(torch::matmul(x, w) + frozen);
  };
  auto x = torch::randn({4, 8}, torch::requires_grad());
  auto y = mm::recomputed(fn, x, {w, frozen});
  CHECK(calls == 1);
  CHECK(y.requires_grad());
  y.sum().backward();
  CHECK(calls == 2);
  CHECK(x.grad().defined());
  CHECK_FALSE(frozen.grad().defined());
}

TEST_CASE("checkpointing replays the CPU RNG and handles multiple and unused outputs", "[vision][checkpoint]") {
  auto w = torch::randn({6, 6}, torch::requires_grad());
  auto fn = [&](const std::vector<torch::Tensor>& in) {
    auto h = torch::dropout(torch::matmul(in[0], w), 0.5, /*train=*/true);
    return std::vector<torch::Tensor>{h * in[1], h.sum(), torch::ones({2}, torch::kLong)};
  };
  auto a = torch::randn({3, 6}, torch::requires_grad());
  auto b = torch::randn({3, 6}, torch::requires_grad());
  torch::manual_seed(11);
  auto ref = fn({a, b});
  ref[0].sum().backward();
  auto ga = a.grad().clone(), gb = b.grad().clone(), gw = w.grad().clone();
  a.mutable_grad() = torch::Tensor();
  b.mutable_grad() = torch::Tensor();
  w.mutable_grad() = torch::Tensor();

  torch::manual_seed(11);
  auto out = mm::recomputed(fn, {a, b}, {w});
  CHECK(torch::equal(out[0], ref[0].detach()));
  torch::randn({100});      // move the RNG on: backward must still replay the forward's dropout mask
  out[0].sum().backward();  // out[1] unused, out[2] integer
  CHECK(torch::allclose(a.grad(), ga));
  CHECK(torch::allclose(b.grad(), gb));
  CHECK(torch::allclose(w.grad(), gw));
}
