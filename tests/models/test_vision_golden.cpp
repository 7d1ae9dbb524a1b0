// Golden parity of the vision encoder and the connectors against scripts/golden/gen_vision.py
// (an independent torch.nn.functional reference): forward outputs, input and weight gradients.
#include <catch2/catch.hpp>
#include <torch/torch.h>

#include <string>

#include "core/safetensors.h"
#include "models/connectors/connector.h"
#include "models/vision/pos_embed.h"
#include "models/vision/vit.h"
#include "models/vision/vit_block.h"

namespace {

struct Golden {
  mm::safetensors::File file;
  const torch::Tensor& operator[](const std::string& name) const {
    auto it = file.tensors.find(name);
    REQUIRE(it != file.tensors.end());
    return it->second;
  }
  int64_t meta_int(const std::string& key) const { return std::stoll(file.metadata.at(key)); }
  double meta_double(const std::string& key) const { return std::stod(file.metadata.at(key)); }
  const std::string& meta(const std::string& key) const { return file.metadata.at(key); }
};

Golden load(const std::string& name) {
  return Golden{mm::safetensors::load(std::string(MM_TEST_DATA_DIR) + "/golden/" + name + ".safetensors")};
}

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

// Copies every "w.<name>" into the module's parameter <name>; the sets must match exactly.
void load_weights(torch::nn::Module& m, const Golden& g) {
  auto params = m.named_parameters();
  size_t used = 0;
  torch::NoGradGuard no_grad;
  for (const auto& [key, t] : g.file.tensors) {
    if (key.rfind("w.", 0) != 0) continue;
    const std::string name = key.substr(2);
    INFO("golden weight " << name);
    REQUIRE(params.contains(name));
    REQUIRE(params[name].sizes() == t.sizes());
    params[name].copy_(t);
    ++used;
  }
  CHECK(used == params.size());
}

// loss = sum(out * grad_output); compares output, input gradient (when stored) and weight grads.
void check_forward_backward(torch::nn::Module& m, const Golden& g, const torch::Tensor& out, const torch::Tensor& x) {
  check_close("output", out, g["output"]);
  (out * g["grad_output"]).sum().backward();
  if (g.file.tensors.count("grad_input")) check_close("grad_input", x.grad(), g["grad_input"]);
  for (const auto& kv : m.named_parameters()) check_close("grad of " + kv.key(), kv.value().grad(), g["g." + kv.key()]);
}

mm::ConnectorConfig connector_config(const Golden& g) {
  mm::ConnectorConfig c;
  c.type = g.meta("type");
  c.num_tokens = g.meta_int("num_tokens");
  if (c.type == "c_abstractor") {
    c.hidden = g.meta_int("hidden");
    c.depth = g.meta_int("depth");
    c.se_ratio = g.meta_double("se_ratio");
  }
  return c;
}

mm::connectors::Connector golden_connector(const Golden& g) {
  auto conn = mm::connectors::build_connector(connector_config(g), g.meta_int("vision_width"), g.meta_int("grid"),
                                              g.meta_int("llm_dim"));
  load_weights(*conn, g);
  return conn;
}

}  // namespace

TEST_CASE("golden: ViT block forward and gradients", "[vision][golden]") {
  auto g = load("vision_block");
  mm::vision::VitBlock block(mm::vision::VitBlockOptions(g.meta_int("width"), g.meta_int("heads"), g.meta_int("mlp_dim"))
                                 .act(g.meta("act"))
                                 .norm_eps(g.meta_double("norm_eps")));
  load_weights(*block, g);
  auto x = g["input"].clone().requires_grad_(true);
  check_forward_backward(*block, g, block(x), x);
}

TEST_CASE("golden: whole ViT with position-embedding interpolation 32 -> 48", "[vision][golden]") {
  auto g = load("vision_vit");
  mm::VisionConfig cfg;
  cfg.image_size = g.meta_int("image_size");
  cfg.patch_size = g.meta_int("patch_size");
  cfg.width = g.meta_int("width");
  cfg.layers = g.meta_int("layers");
  cfg.heads = g.meta_int("heads");
  cfg.mlp_dim = g.meta_int("mlp_dim");
  cfg.class_token = g.meta_int("class_token") != 0;
  cfg.act = g.meta("act");
  cfg.feature_layer = g.meta_int("feature_layer");
  cfg.pre_norm = g.meta_int("pre_norm") != 0;
  cfg.norm_eps = g.meta_double("norm_eps");
  mm::vision::VisionTransformer vit(cfg);
  load_weights(*vit, g);

  SECTION("position embeddings alone") {
    auto pos = vit->embeddings->position_embedding->weight.detach().slice(0, 1).unsqueeze(0);
    check_close("resized position embedding", mm::vision::resize_pos_grid(pos, 4, 6, 6)[0], g["pos_resized_48"]);
  }
  SECTION("forward at the trained resolution") {
    torch::NoGradGuard no_grad;
    check_close("output at 32x32", vit(g["input_32"]), g["output_32"]);
  }
  SECTION("forward and backward at 48x48, plain and checkpointed") {
    auto run = [&] {
      vit->zero_grad();
      auto x = g["input"].clone();
      check_forward_backward(*vit, g, vit(x), x);
    };
    run();
    vit->set_activation_checkpointing(true);
    run();
  }
}

TEST_CASE("golden: C-Abstractor forward and gradients", "[connectors][golden]") {
  auto g = load("connector_c_abstractor");
  auto conn = golden_connector(g);
  CHECK(conn->num_tokens() == 16);
  SECTION("trained grid 6x6") {
    auto x = g["input"].clone().requires_grad_(true);
    check_forward_backward(*conn, g, conn->forward(x), x);
  }
  SECTION("larger grid 8x8 resizes the position embedding") {
    torch::NoGradGuard no_grad;
    check_close("output on an 8x8 grid", conn->forward(g["input_hr"]), g["output_hr"]);
  }
}

TEST_CASE("golden: average-pooling connector", "[connectors][golden]") {
  auto g = load("connector_avg_pool");
  auto conn = golden_connector(g);
  auto x = g["input"].clone().requires_grad_(true);
  check_forward_backward(*conn, g, conn->forward(x), x);
}

TEST_CASE("golden: MLP connector", "[connectors][golden]") {
  auto g = load("connector_mlp");
  auto conn = golden_connector(g);
  auto x = g["input"].clone().requires_grad_(true);
  check_forward_backward(*conn, g, conn->forward(x), x);
}
