// MoE behaviour beyond the golden files: dropless dispatch equals a dense mixture, counts,
// starving experts keeps gradients defined, the loss terms react to routing.
#include <torch/torch.h>
#include <catch2/catch.hpp>

#include "models/llm/moe.h"

using namespace mm::llm;

namespace {

mm::MoEConfig moe_cfg(int64_t experts, int64_t k) {
  mm::MoEConfig c;
  c.num_experts = experts;
  c.top_k = k;
  return c;
}

}  // namespace

TEST_CASE("MoE dispatch equals a dense mixture over the top-k gates", "[moe]") {
  torch::manual_seed(10);
  MoE moe(16, 20, moe_cfg(5, 2));
  auto x = torch::randn({3, 7, 16});
  auto out = moe->forward(x);
  // Dense evaluation: every expert on every token, weighted by the renormalised top-2 gates.
  auto xf = x.view({-1, 16});
  auto probs = torch::softmax(moe->gate(xf), -1);
  auto top = probs.topk(2, -1);
  auto w = std::get<0>(top) / std::get<0>(top).sum(-1, true);
  auto gates = torch::zeros_like(probs).scatter(1, std::get<1>(top), w);  // (N, E)
  auto ref = torch::zeros_like(xf);
  for (int64_t e = 0; e < 5; ++e) ref += gates.select(1, e).unsqueeze(1) * moe->expert_list[e]->forward(xf);
  CHECK(torch::allclose(out.out.view({-1, 16}), ref, 1e-5, 1e-6));
  CHECK(moe->last_counts.sum().item<int64_t>() == 21 * 2);
  CHECK(torch::equal(moe->last_counts, torch::bincount(std::get<1>(top).reshape(-1), {}, 5)));
}

TEST_CASE("An expert without tokens gets zero (defined) gradients", "[moe]") {
  torch::manual_seed(11);
  MoE moe(8, 12, moe_cfg(4, 1));
  {
    torch::NoGradGuard no_grad;
    moe->gate->weight[2].fill_(-5.0);  // with positive inputs expert 2 never wins
  }
  auto x = torch::rand({2, 5, 8}) + 0.1;
  auto out = moe->forward(x);
  REQUIRE(moe->last_counts[2].item<int64_t>() == 0);
  (out.out.sum() + out.aux_loss + out.z_loss).backward();
  for (auto& p : moe->named_parameters()) {
    INFO(p.key());
    REQUIRE(p.value().grad().defined());
  }
  CHECK(moe->expert_list[2]->w1->weight.grad().abs().max().item<float>() == 0.0f);
  CHECK(moe->expert_list[0]->w1->weight.grad().abs().max().item<float>() +
            moe->expert_list[1]->w1->weight.grad().abs().max().item<float>() >
        0.0f);
}

TEST_CASE("Load-balancing loss is minimal (coef) for uniform routing and grows when skewed", "[moe]") {
  MoE moe(4, 8, moe_cfg(4, 1));
  torch::NoGradGuard no_grad;
  moe->gate->weight.zero_();
  auto x = torch::randn({1, 16, 4});
  // All logits equal: P_i = 1/E; topk picks expert 0 for everyone: f_0 = 1 -> E * 1 * 1/E = 1.
  auto out = moe->forward(x);
  CHECK(out.aux_loss.item<float>() == Approx(0.01));
  CHECK(out.z_loss.item<float>() == Approx(0.001 * std::pow(std::log(4.0), 2)));
  moe->gate->weight[0].fill_(0.0);
  moe->gate->weight[1].fill_(3.0);
  auto pos = x.abs() + 0.5;
  auto skew = moe->forward(pos);  // expert 1 takes everything with P_1 close to 1
  CHECK(skew.aux_loss.item<float>() > 0.03);
  CHECK(moe->last_counts[1].item<int64_t>() == 16);
}
