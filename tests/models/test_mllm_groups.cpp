// Freezing and learning-rate groups of the multimodal model.
#include <torch/torch.h>
#include <catch2/catch.hpp>

#include <set>

#include "core/check.h"
#include "models/mllm.h"
#include "models/param_rules.h"
#include "test_mllm_helpers.h"

using namespace mm;
using Catch::Matchers::Contains;

namespace {
const ParamRuleGroup* find(const std::vector<ParamRuleGroup>& gs, const std::string& name) {
  for (const auto& g : gs)
    if (g.name == name) return &g;
  return nullptr;
}
}  // namespace

TEST_CASE("selectors: components, aliases, prefixes and globs", "[mllm][groups]") {
  CHECK(selector_matches("vision", "vision.encoder.layers.0.mlp.fc1.weight"));
  CHECK_FALSE(selector_matches("vision", "visionary.x"));
  CHECK(selector_matches("llm.embeddings", "llm.embed_tokens.weight"));
  CHECK(selector_matches("llm.embeddings", "llm.lm_head.weight"));
  CHECK(selector_matches("llm.router", "llm.layers.1.block_sparse_moe.gate.weight"));
  CHECK_FALSE(selector_matches("llm.router", "llm.layers.1.block_sparse_moe.experts.0.w1.weight"));
  CHECK(selector_matches("norms", "vision.encoder.layers.0.layer_norm1.bias"));
  CHECK(selector_matches("norms", "vision.pre_layrnorm.weight"));
  CHECK(selector_matches("norms", "llm.layers.0.input_layernorm.weight"));
  CHECK(selector_matches("norms", "llm.norm.weight"));
  CHECK(selector_matches("norms", "connector.net.0.b1.conv1.bn.weight"));
  CHECK_FALSE(selector_matches("norms", "connector.net.0.b1.conv1.conv.weight"));
  CHECK(selector_matches("llm.norms", "llm.norm.weight"));
  CHECK_FALSE(selector_matches("llm.norms", "vision.pre_layrnorm.weight"));
  CHECK(selector_matches("llm.layers.0", "llm.layers.0.self_attn.q_proj.weight"));
  CHECK_FALSE(selector_matches("llm.layers.1", "llm.layers.10.self_attn.q_proj.weight"));
  CHECK(selector_matches("llm.layers.*.self_attn.*", "llm.layers.3.self_attn.o_proj.weight"));
}

TEST_CASE("rules freeze modules and group the rest by learning-rate multiplier", "[mllm][groups]") {
  MultimodalModel model(test::tiny_model_config(/*moe=*/true));
  auto groups = apply_param_rules(*model, {{"vision", false, 1.0},
                                           {"vision.norms", true, 0.5},
                                           {"connector", true, 10.0},
                                           {"llm.embeddings", true, 0.1},
                                           {"llm.router", true, 2.0},
                                           {"llm.norms", false, 1.0}});
  // default (rest of llm), vision.norms, connector, llm.embeddings, llm.router
  REQUIRE(groups.size() == 5);
  CHECK(groups[0].name == "default");
  CHECK(groups[0].lr_mult == 1.0);
  const auto* router = find(groups, "llm.router");
  REQUIRE(router != nullptr);
  CHECK(router->lr_mult == 2.0);
  REQUIRE(router->names.size() == 1);  // one MoE layer (layer 2 of 2)
  CHECK(router->names[0] == "llm.layers.1.block_sparse_moe.gate.weight");
  CHECK(find(groups, "connector")->params.size() == model->connector->parameters().size());
  CHECK(find(groups, "llm.embeddings")->names == std::vector<std::string>{"llm.embed_tokens.weight"});
  CHECK(find(groups, "llm.norms") == nullptr);  // frozen: in no group

  std::set<std::string> grouped;
  for (const auto& g : groups)
    for (const auto& n : g.names) CHECK(grouped.insert(n).second);  // each parameter at most once
  for (const auto& p : model->named_parameters()) {
    INFO(p.key());
    const bool vision_norm = selector_matches("vision.norms", p.key());
    const bool frozen = (selector_matches("vision", p.key()) && !vision_norm) || selector_matches("llm.norms", p.key());
    CHECK(p.value().requires_grad() == !frozen);
    CHECK(grouped.count(p.key()) == (frozen ? 0u : 1u));
  }

  // frozen parameters get no gradient; the trainable ones behind them still do
  auto out = model->forward(test::tiny_batch(64));
  out.loss().backward();
  CHECK(!model->vision->embeddings->patch_embedding->weight.grad().defined());
  CHECK(!model->llm->norm->weight.grad().defined());
  CHECK(model->vision->pre_layrnorm->weight.grad().defined());
  CHECK(model->connector->parameters()[0].grad().defined());

  // re-applying without rules unfreezes everything into one group
  auto all = apply_param_rules(*model, {});
  REQUIRE(all.size() == 1);
  CHECK(all[0].params.size() == model->parameters().size());
  for (const auto& p : model->parameters()) CHECK(p.requires_grad());
}

TEST_CASE("a selector that matches nothing is an error, an alias is not", "[mllm][groups]") {
  MultimodalModel model(test::tiny_model_config(/*moe=*/false));
  CHECK(apply_param_rules(*model, {{"llm.router", false, 1.0}}).size() == 1);  // dense: no router, fine
  REQUIRE_THROWS_WITH(apply_param_rules(*model, {{"visoin", false, 1.0}}), Contains("'visoin' matches no parameter"));
  REQUIRE_THROWS_WITH(apply_param_rules(*model, {{"llm", true, -1.0}}), Contains("lr_mult must be >= 0"));
}
