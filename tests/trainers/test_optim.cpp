// Optimizer plumbing: no-decay grouping, lr multipliers, the factory, state round trips that
// continue bitwise identically, and rejection of mismatched state.
#include <torch/torch.h>

#include <catch2/catch.hpp>
#include <filesystem>

#include "core/check.h"
#include "core/config/config.h"
#include "core/safetensors.h"
#include "support/temp_dir.h"
#include "trainers/optim/adamw.h"
#include "trainers/optim/param_groups.h"

using namespace mm::train;

namespace {

NamedParams toy_params() {
  torch::manual_seed(3);
  return {{"embed_tokens.weight", torch::randn({10, 4}).requires_grad_(true)},
          {"layers.0.attn.q.weight", torch::randn({4, 4}).requires_grad_(true)},
          {"layers.0.attn.q.bias", torch::randn({4}).requires_grad_(true)},
          {"layers.0.norm.weight", torch::randn({4}).requires_grad_(true)},
          {"vision.blocks.0.fc.weight", torch::randn({3, 4, 2}).requires_grad_(true)},
          {"frozen.weight", torch::randn({4, 4})}};
}

// Deterministic pseudo-gradient of step t for every parameter.
void set_grads(const NamedParams& params, int t) {
  for (std::size_t i = 0; i < params.size(); ++i) {
    if (!params[i].second.requires_grad()) continue;
    auto g =
        torch::sin(torch::arange(params[i].second.numel(), torch::kFloat) * (0.37 + 0.11 * t) + static_cast<double>(i))
            .reshape(params[i].second.sizes());
    params[i].second.mutable_grad() = g;
  }
}

NamedParams clone_params(const NamedParams& p) {
  NamedParams out;
  for (const auto& [n, t] : p) out.emplace_back(n, t.detach().clone().requires_grad_(t.requires_grad()));
  return out;
}

}  // namespace

TEST_CASE("no-decay rule and lr multipliers build the parameter groups", "[trainers][optim]") {
  mm::OptimizerConfig cfg;
  cfg.weight_decay = 0.1;
  cfg.lr_mults = {{"vision.", 0.1}, {"vision.blocks.0.", 0.5}};
  const auto params = toy_params();
  CHECK(is_no_decay(cfg, "embed_tokens.weight", params[0].second));
  CHECK_FALSE(is_no_decay(cfg, "layers.0.attn.q.weight", params[1].second));
  CHECK(is_no_decay(cfg, "layers.0.attn.q.bias", params[2].second));
  CHECK(is_no_decay(cfg, "x.scale", torch::ones({4})));         // 1-d
  CHECK(lr_mult_for(cfg, "vision.blocks.0.fc.weight") == 0.5);  // longest prefix
  CHECK(lr_mult_for(cfg, "vision.proj") == 0.1);
  CHECK(lr_mult_for(cfg, "llm.x") == 1.0);

  const auto groups = make_param_groups(cfg, params);
  REQUIRE(groups.size() == 3);  // (1, no decay), (1, decay), (0.5, decay); frozen left out
  CHECK(groups[0].names ==
        std::vector<std::string>{"embed_tokens.weight", "layers.0.attn.q.bias", "layers.0.norm.weight"});
  CHECK(groups[0].weight_decay == 0.0);
  CHECK(groups[1].names == std::vector<std::string>{"layers.0.attn.q.weight"});
  CHECK(groups[1].weight_decay == Approx(0.1));
  CHECK(groups[2].lr_mult == 0.5);
}

TEST_CASE("lr multiplier scales the step, weight decay only where configured", "[trainers][optim]") {
  mm::OptimizerConfig cfg;
  cfg.weight_decay = 0.5;
  cfg.lr_mults = {{"b", 0.0}};
  auto a = torch::ones({2, 2}).requires_grad_(true);
  auto b = torch::ones({2, 2}).requires_grad_(true);
  auto opt = make_optimizer(cfg, {{"a", a}, {"b", b}});
  a.mutable_grad() = torch::zeros({2, 2});
  b.mutable_grad() = torch::ones({2, 2});
  opt->set_lr(0.1);
  opt->step();
  // a: zero gradient, only decay: 1 * (1 - 0.1 * 0.5); b: multiplier 0, untouched.
  CHECK(a.detach().allclose(torch::full({2, 2}, 0.95)));
  CHECK(torch::equal(b.detach(), torch::ones({2, 2})));
}

TEST_CASE("optimizer state round trip continues bitwise identically", "[trainers][optim]") {
  for (const char* name : {"adamw", "adafactor"}) {
    SECTION(name) {
      mm::OptimizerConfig cfg;
      cfg.name = name;
      cfg.weight_decay = 0.01;
      cfg.beta1 = 0.9;
      auto ref = toy_params();
      auto ref_opt = make_optimizer(cfg, ref);
      for (int t = 0; t < 3; ++t) {
        set_grads(ref, t);
        ref_opt->set_lr(1e-2 * (t + 1));
        ref_opt->step();
      }
      // Save mid-run through safetensors, restore into fresh params + optimizer.
      const mm::test::TempDir tmp("mm_optim_state_" + std::string(name));
      const std::filesystem::path dir = tmp.path();
      mm::safetensors::save((dir / "optimizer.safetensors").string(), ref_opt->state_dict());
      auto resumed = clone_params(ref);
      auto res_opt = make_optimizer(cfg, resumed);
      res_opt->load_state_dict(mm::safetensors::load((dir / "optimizer.safetensors").string()).tensors);
      for (int t = 3; t < 6; ++t) {
        set_grads(ref, t);
        set_grads(resumed, t);
        ref_opt->set_lr(1e-2 * (t + 1));
        res_opt->set_lr(1e-2 * (t + 1));
        ref_opt->step();
        res_opt->step();
      }
      for (std::size_t i = 0; i < ref.size(); ++i) {
        INFO(ref[i].first);
        CHECK(torch::equal(ref[i].second.detach(), resumed[i].second.detach()));
      }
      const auto sd = res_opt->state_dict();
      CHECK(sd.at("layers.0.attn.q.weight.step").item<int64_t>() == 6);
      CHECK(sd.count("frozen.weight.step") == 0);
    }
  }
}

namespace {
// AdamW through the base class's per-parameter loop (update() for each parameter).
struct PerParamAdamW : AdamW {
  using AdamW::AdamW;
  void update_group(UpdateBatch& b, double lr, double wd) override { Optimizer::update_group(b, lr, wd); }
};
}  // namespace

TEST_CASE("AdamW's multi-tensor update equals its per-parameter update bitwise", "[trainers][optim]") {
  // Two groups (lr multiplier, weight decay) and a parameter that misses its gradient on some
  // steps, so that the parameters of one update are at different step counts.
  auto make = [](const NamedParams& np, bool per_param) -> std::unique_ptr<Optimizer> {
    std::vector<ParamGroup> groups = {{{np[0].first, np[1].first}, {np[0].second, np[1].second}, 1.0, 0.1},
                                      {{np[2].first, np[4].first}, {np[2].second, np[4].second}, 0.5, 0.0}};
    const AdamWOptions o{0.9, 0.95, 1e-8};
    if (per_param) return std::make_unique<PerParamAdamW>(groups, o);
    return std::make_unique<AdamW>(groups, o);
  };
  const NamedParams a = toy_params(), b = clone_params(a);
  auto fast = make(a, false), slow = make(b, true);
  for (int t = 0; t < 6; ++t) {
    set_grads(a, t);
    set_grads(b, t);
    if (t % 2 == 1) {  // layers.0.attn.q.bias skips odd steps
      a[2].second.mutable_grad() = torch::Tensor();
      b[2].second.mutable_grad() = torch::Tensor();
    }
    for (auto* o : {fast.get(), slow.get()}) o->set_lr(1e-2 * (t + 1));
    fast->step();
    slow->step();
  }
  CHECK(fast->state(1, 0).step == 3);
  CHECK(fast->state(1, 1).step == 6);
  for (std::size_t i = 0; i < a.size(); ++i) {
    INFO(a[i].first);
    CHECK(torch::equal(a[i].second, b[i].second));
  }
  const auto sa = fast->state_dict(), sb = slow->state_dict();
  REQUIRE(sa.size() == sb.size());
  for (const auto& [k, v] : sa) {
    INFO(k);
    CHECK(torch::equal(v, sb.at(k)));
  }
}

TEST_CASE("optimizer state of the wrong kind or shape is rejected", "[trainers][optim]") {
  mm::OptimizerConfig adamw_cfg, ada_cfg;
  ada_cfg.name = "adafactor";
  auto params = toy_params();
  auto adamw = make_optimizer(adamw_cfg, params);
  set_grads(params, 0);
  adamw->set_lr(1e-3);
  adamw->step();
  auto ada = make_optimizer(ada_cfg, clone_params(params));
  CHECK_THROWS_AS(ada->load_state_dict(adamw->state_dict()), mm::Error);  // missing adafactor slots

  auto sd = adamw->state_dict();
  sd["layers.0.attn.q.weight.exp_avg"] = torch::zeros({3, 3});
  auto other = make_optimizer(adamw_cfg, clone_params(params));
  CHECK_THROWS_WITH(other->load_state_dict(sd), Catch::Contains("shape"));
  sd = adamw->state_dict();
  sd["no.such.param.step"] = torch::tensor(int64_t{1});
  CHECK_THROWS_WITH(other->load_state_dict(sd), Catch::Contains("unexpected"));

  mm::OptimizerConfig bad;
  bad.name = "sgd";
  CHECK_THROWS_WITH(make_optimizer(bad, params), Catch::Contains("adamw, adafactor"));
}

TEST_CASE("MM1 pretraining learning-rate formula", "[trainers][optim]") {
  // peak_lr = exp(-0.4214 ln N - 0.5535) = e^-0.5535 * N^-0.4214
  for (double n : {1e6, 1e9, 3e9}) CHECK(mm::mm1_peak_lr(n) == Approx(std::exp(-0.5535) * std::pow(n, -0.4214)));
  CHECK(mm::mm1_peak_lr(1.2e9) < mm::mm1_peak_lr(1e8));  // larger models, smaller lr
  CHECK(mm::mm1_peak_lr(1e9) == Approx(9.27e-5).epsilon(0.001));
}

TEST_CASE("optimizer and schedule configs parse and validate", "[trainers][optim][config]") {
  const auto o = mm::cfg::parse_config<mm::OptimizerConfig>(
      "name: adafactor\nlr: 2.0e-5\nbeta1: 0.9\nlr_mults: {vision.: 0.1}\nadafactor_eps: [1.0e-30, 1.0e-3]\n");
  CHECK(o.name == "adafactor");
  CHECK(o.lr == Approx(2e-5));
  CHECK(o.lr_mults.at("vision.") == Approx(0.1));
  CHECK(o.decay_rate == -0.8);
  CHECK(o.clip_threshold == 1.0);
  CHECK_THROWS_WITH(mm::cfg::parse_config<mm::OptimizerConfig>("name: sgd\n"), Catch::Contains("adamw"));
  CHECK_THROWS_WITH(mm::cfg::parse_config<mm::OptimizerConfig>("betas: [0.9]\n"), Catch::Contains("betas"));
  CHECK_THROWS_WITH(mm::cfg::parse_config<mm::OptimizerConfig>("relative_step: true\n"),
                    Catch::Contains("relative_step"));
  const auto s = mm::cfg::parse_config<mm::ScheduleConfig>("kind: cosine\nwarmup_steps: 2000\ntotal_steps: 200000\n");
  CHECK(s.warmup_steps == 2000);
  CHECK_THROWS_WITH(mm::cfg::parse_config<mm::ScheduleConfig>("warmup_steps: 20\ntotal_steps: 10\n"),
                    Catch::Contains("warmup_steps"));
}
