// AdamW against torch.optim.AdamW and Adafactor against the paper-derived reference of
// scripts/golden/gen_optim.py: parameters after each of 5 steps within 1e-6.
#include <torch/torch.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "core/safetensors.h"
#include "support/golden_file.h"
#include "trainers/optim/adafactor.h"
#include "trainers/optim/adamw.h"

using namespace mm::train;

namespace {

struct Golden {
  mm::safetensors::File file;
  std::vector<double> lrs;
  int steps = 0;
};

Golden load_optim_golden(const std::string& name) {
  Golden g;
  g.file = mm::test::load_golden(name).file;
  g.lrs = nlohmann::json::parse(g.file.metadata.at("lrs")).get<std::vector<double>>();
  g.steps = std::stoi(g.file.metadata.at("steps"));
  return g;
}

double meta(const Golden& g, const std::string& key) { return std::stod(g.file.metadata.at(key)); }

// Runs the golden's gradient sequence through `opt` (params in `names` order) and compares.
void run_and_compare(const Golden& g, Optimizer& opt, std::vector<torch::Tensor>& params,
                     const std::vector<std::string>& names) {
  for (int t = 1; t <= g.steps; ++t) {
    for (std::size_t i = 0; i < names.size(); ++i)
      params[i].mutable_grad() = g.file.tensors.at("grad." + std::to_string(t) + "." + names[i]).clone();
    opt.set_lr(g.lrs[t - 1]);
    opt.step();
    for (std::size_t i = 0; i < names.size(); ++i) {
      const auto& want = g.file.tensors.at("param." + std::to_string(t) + "." + names[i]);
      const double err = (params[i].detach() - want).abs().max().item<double>();
      INFO("step " << t << " param " << names[i] << " max abs err " << err);
      CHECK(err < 1e-6);
    }
  }
}

}  // namespace

TEST_CASE("AdamW matches torch.optim.AdamW step by step", "[trainers][optim][golden]") {
  const Golden g = load_optim_golden("optim_adamw");
  std::vector<std::string> names = {"w", "b"};
  std::vector<torch::Tensor> params;
  for (const auto& n : names) params.push_back(g.file.tensors.at("init." + n).clone().requires_grad_(true));
  std::vector<ParamGroup> groups = {{{"w"}, {params[0]}, meta(g, "mult_w"), meta(g, "wd_w")},
                                    {{"b"}, {params[1]}, meta(g, "mult_b"), meta(g, "wd_b")}};
  AdamW opt(groups, AdamWOptions{meta(g, "beta1"), meta(g, "beta2"), meta(g, "eps")});
  run_and_compare(g, opt, params, names);
  CHECK(opt.state(0, 0).step == g.steps);
}

TEST_CASE("Adafactor matches the reference of the paper's algorithm", "[trainers][optim][golden]") {
  for (const char* file : {"optim_adafactor", "optim_adafactor_beta1"}) {
    SECTION(file) {
      const Golden g = load_optim_golden(file);
      std::vector<std::string> names = {"w2", "w3", "b"};
      std::vector<torch::Tensor> params;
      for (const auto& n : names) params.push_back(g.file.tensors.at("init." + n).clone().requires_grad_(true));
      std::vector<ParamGroup> groups = {{names, params, 1.0, meta(g, "weight_decay")}};
      AdafactorOptions o;
      o.beta1 = meta(g, "beta1");
      Adafactor opt(groups, o);
      run_and_compare(g, opt, params, names);
      // Factored second moments for >= 2-d params: rows/cols over the last two dims.
      const auto& st = opt.state(0, 1).slots;  // w3: (2, 3, 4)
      CHECK(st.at("exp_avg_sq_row").sizes() == torch::IntArrayRef({2, 3}));
      CHECK(st.at("exp_avg_sq_col").sizes() == torch::IntArrayRef({2, 4}));
      CHECK(opt.state(0, 2).slots.count("exp_avg_sq") == 1);
      CHECK(opt.state(0, 0).slots.count("exp_avg") == (o.beta1 > 0 ? 1u : 0u));
    }
  }
}
