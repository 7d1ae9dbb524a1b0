// Golden parity of the MoE layer (router, top-2 dispatch, experts, both auxiliary losses) against
// scripts/golden/gen_llm.py, including a case where one expert receives no token.
#include <torch/torch.h>
#include <catch2/catch.hpp>

#include "models/llm/moe.h"
#include "test_llm_helpers.h"

using namespace mm::llm;
using mm::test::check_close;
using mm::test::check_param_grads;
using mm::test::load_golden;
using mm::test::load_weights;

namespace {

void check_moe_golden(const std::string& name) {
  auto g = load_golden(name);
  mm::MoEConfig cfg;
  cfg.num_experts = g.integer("num_experts");
  cfg.top_k = g.integer("top_k");
  cfg.aux_loss_coef = g.num("aux_loss_coef");
  cfg.z_loss_coef = g.num("z_loss_coef");
  MoE moe(g.integer("dim"), g.integer("hidden"), cfg);
  load_weights(*moe, g);
  auto x = g.at("in.x").clone().requires_grad_(true);
  auto out = moe->forward(x);
  check_close("y", out.out, g.at("out.y"));
  check_close("aux_loss", out.aux_loss, g.at("out.aux_loss"), 1e-8);
  check_close("z_loss", out.z_loss, g.at("out.z_loss"), 1e-8);
  CHECK(torch::equal(moe->last_counts, g.at("out.counts")));
  ((out.out * g.at("in.g")).sum() + 100.0 * out.aux_loss + 100.0 * out.z_loss).backward();
  check_close("grad x", x.grad(), g.at("grad.in.x"));
  check_param_grads(*moe, g);  // requires every gradient to be defined
}

}  // namespace

TEST_CASE("MoE layer matches the reference output, aux losses and gradients", "[moe][golden]") {
  check_moe_golden("moe_layer");
}

TEST_CASE("MoE layer with an expert that gets no token: zero, defined gradients", "[moe][golden]") {
  check_moe_golden("moe_layer_starved");
  auto g = load_golden("moe_layer_starved");
  CHECK(g.at("out.counts")[3].item<int64_t>() == 0);
  CHECK(g.at("grad.experts.3.w1.weight").abs().max().item<float>() == 0.0f);
}
