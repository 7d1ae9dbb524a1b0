// Parameter grouping by the no-decay name rule and lr-multiplier prefixes; optimizer factory.
#include "trainers/optim/param_groups.h"

#include <torch/torch.h>

#include "core/check.h"
#include "trainers/optim/adafactor.h"
#include "trainers/optim/adamw.h"

namespace mm::train {

bool is_no_decay(const OptimizerConfig& cfg, const std::string& name, const torch::Tensor& param) {
  if (cfg.no_decay_1d && param.dim() <= 1) return true;
  for (const auto& key : cfg.no_decay_names)
    if (!key.empty() && name.find(key) != std::string::npos) return true;
  return false;
}

double lr_mult_for(const OptimizerConfig& cfg, const std::string& name) {
  double mult = 1.0;
  std::size_t best = 0;
  bool found = false;
  for (const auto& [prefix, m] : cfg.lr_mults)
    if (name.compare(0, prefix.size(), prefix) == 0 && (!found || prefix.size() > best)) {
      mult = m, best = prefix.size(), found = true;
    }
  return mult;
}

std::vector<ParamGroup> make_param_groups(const OptimizerConfig& cfg, const NamedParams& params) {
  std::vector<ParamGroup> groups;
  for (const auto& [name, p] : params) {
    if (!p.requires_grad()) continue;
    const double mult = lr_mult_for(cfg, name);
    const double wd = is_no_decay(cfg, name, p) ? 0.0 : cfg.weight_decay;
    ParamGroup* g = nullptr;
    for (auto& existing : groups)
      if (existing.lr_mult == mult && existing.weight_decay == wd) g = &existing;
    if (!g) {
      groups.push_back(ParamGroup{{}, {}, mult, wd});
      g = &groups.back();
    }
    g->names.push_back(name);
    g->params.push_back(p);
  }
  return groups;
}

std::unique_ptr<Optimizer> make_optimizer(const OptimizerConfig& cfg, const NamedParams& params) {
  auto groups = make_param_groups(cfg, params);
  if (cfg.name == "adamw") {
    MM_CHECK(cfg.betas.size() == 2, "optimizer.betas: expected 2 values, got {}", cfg.betas.size());
    return std::make_unique<AdamW>(std::move(groups), AdamWOptions{cfg.betas[0], cfg.betas[1], cfg.eps});
  }
  if (cfg.name == "adafactor") {
    MM_CHECK(cfg.adafactor_eps.size() == 2, "optimizer.adafactor_eps: expected 2 values, got {}",
             cfg.adafactor_eps.size());
    MM_CHECK(!cfg.relative_step, "optimizer.relative_step: only false is supported");
    AdafactorOptions o{cfg.adafactor_eps[0], cfg.adafactor_eps[1], cfg.clip_threshold, cfg.decay_rate, cfg.beta1};
    return std::make_unique<Adafactor>(std::move(groups), o);
  }
  MM_FAIL("optimizer.name: unknown optimizer '{}' (valid: adamw, adafactor)", cfg.name);
}

}  // namespace mm::train
