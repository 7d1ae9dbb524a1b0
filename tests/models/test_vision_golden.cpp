// Golden parity of the vision encoder and the connectors against scripts/golden/gen_vision.py
// (an independent torch.nn.functional reference): forward outputs, input and weight gradients.
#include <torch/torch.h>
#include <catch2/catch.hpp>

#include <string>

#include "models/connectors/connector.h"
#include "models/vision/pos_embed.h"
#include "models/vision/vit.h"
#include "models/vision/vit_block.h"
#include "support/golden_file.h"

namespace {

using mm::test::Golden;
using mm::test::load_weights;

// fp32 against a float64 reference stored as fp32: |got - want| <= 1e-5 * (1 + max|want|).
void check_close(const std::string& what, const torch::Tensor& got, const torch::Tensor& want) {
  INFO(what);
  REQUIRE(got.defined());
  REQUIRE(got.sizes() == want.sizes());
  const double err = (got - want).abs().max().item<double>();
  const double scale = 1.0 + want.abs().max().item<double>();
  INFO("max abs error " << err << ", reference scale " << scale);
  CHECK(err <= 1e-5 * scale);
}

// loss = sum(out * grad_output); compares output, input gradient (when stored) and weight grads.
void check_forward_backward(torch::nn::Module& m, const Golden& g, const torch::Tensor& out, const torch::Tensor& x) {
  check_close("output", out, g.at("output"));
  (out * g.at("grad_output")).sum().backward();
  if (g.file.tensors.count("grad_input")) check_close("grad_input", x.grad(), g.at("grad_input"));
  for (const auto& kv : m.named_parameters())
    check_close("grad of " + kv.key(), kv.value().grad(), g.at("g." + kv.key()));
}

mm::ConnectorConfig connector_config(const Golden& g) {
  mm::ConnectorConfig c;
  c.type = g.meta("type");
  c.num_tokens = g.integer("num_tokens");
  if (c.type == "c_abstractor") {
    c.hidden = g.integer("hidden");
    c.depth = g.integer("depth");
    c.se_ratio = g.num("se_ratio");
  }
  return c;
}

mm::connectors::Connector golden_connector(const Golden& g) {
  auto conn = mm::connectors::build_connector(connector_config(g), g.integer("vision_width"), g.integer("grid"),
                                              g.integer("llm_dim"));
  load_weights(*conn, g);
  return conn;
}

}  // namespace

TEST_CASE("golden: ViT block forward and gradients", "[vision][golden]") {
  auto g = mm::test::load_golden("vision_block");
  mm::vision::VitBlock block(mm::vision::VitBlockOptions(g.integer("width"), g.integer("heads"), g.integer("mlp_dim"))
                                 .act(g.meta("act"))
                                 .norm_eps(g.num("norm_eps")));
  load_weights(*block, g);
  auto x = g.at("input").clone().requires_grad_(true);
  check_forward_backward(*block, g, block(x), x);
}

TEST_CASE("golden: whole ViT with position-embedding interpolation 32 -> 48", "[vision][golden]") {
  auto g = mm::test::load_golden("vision_vit");
  mm::VisionConfig cfg;
  cfg.image_size = g.integer("image_size");
  cfg.patch_size = g.integer("patch_size");
  cfg.width = g.integer("width");
  cfg.layers = g.integer("layers");
  cfg.heads = g.integer("heads");
  cfg.mlp_dim = g.integer("mlp_dim");
  cfg.class_token = g.integer("class_token") != 0;
  cfg.act = g.meta("act");
  cfg.feature_layer = g.integer("feature_layer");
  cfg.pre_norm = g.integer("pre_norm") != 0;
  cfg.norm_eps = g.num("norm_eps");
  mm::vision::VisionTransformer vit(cfg);
  load_weights(*vit, g);

  SECTION("position embeddings alone") {
    auto pos = vit->embeddings->position_embedding->weight.detach().slice(0, 1).unsqueeze(0);
    check_close("resized position embedding", mm::vision::resize_pos_grid(pos, 4, 6, 6)[0], g.at("pos_resized_48"));
  }
  SECTION("forward at the trained resolution") {
    torch::NoGradGuard no_grad;
    check_close("output at 32x32", vit(g.at("input_32")), g.at("output_32"));
  }
  SECTION("forward and backward at 48x48, plain and checkpointed") {
    auto run = [&] {
      vit->zero_grad();
      auto x = g.at("input").clone();
      check_forward_backward(*vit, g, vit(x), x);
    };
    run();
    vit->set_activation_checkpointing(true);
    run();
  }
}

TEST_CASE("golden: C-Abstractor forward and gradients", "[connectors][golden]") {
  auto g = mm::test::load_golden("connector_c_abstractor");
  auto conn = golden_connector(g);
  CHECK(conn->num_tokens() == 16);
  SECTION("trained grid 6x6") {
    auto x = g.at("input").clone().requires_grad_(true);
    check_forward_backward(*conn, g, conn->forward(x), x);
  }
  SECTION("larger grid 8x8 resizes the position embedding") {
    torch::NoGradGuard no_grad;
    check_close("output on an 8x8 grid", conn->forward(g.at("input_hr")), g.at("output_hr"));
  }
}

TEST_CASE("golden: average-pooling connector", "[connectors][golden]") {
  auto g = mm::test::load_golden("connector_avg_pool");
  auto conn = golden_connector(g);
  auto x = g.at("input").clone().requires_grad_(true);
  check_forward_backward(*conn, g, conn->forward(x), x);
}

TEST_CASE("golden: MLP connector", "[connectors][golden]") {
  auto g = mm::test::load_golden("connector_mlp");
  auto conn = golden_connector(g);
  auto x = g.at("input").clone().requires_grad_(true);
  check_forward_backward(*conn, g, conn->forward(x), x);
}
