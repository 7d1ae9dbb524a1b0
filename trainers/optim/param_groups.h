// Builds optimizer parameter groups from named parameters: no weight decay on 1-d tensors and
// names containing "embed"/"norm"/"bias" (configurable), per-module lr multipliers by prefix;
// and the optimizer factory (registry: adamw | adafactor).
#pragma once
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/config/optim_config.h"
#include "trainers/optim/optimizer.h"

namespace mm::train {

using NamedParams = std::vector<std::pair<std::string, torch::Tensor>>;

// True when `name`/`param` get no weight decay under `cfg` (no_decay_1d, no_decay_names).
bool is_no_decay(const OptimizerConfig& cfg, const std::string& name, const torch::Tensor& param);

// The lr multiplier of `name`: the value of the longest prefix in cfg.lr_mults, else 1.
double lr_mult_for(const OptimizerConfig& cfg, const std::string& name);

// Groups the parameters that require grad by (lr multiplier, decay or not), in first-seen
// order; parameters keep their order inside a group. A multiplier of 0 freezes nothing by
// itself: the trainer decides what requires grad.
std::vector<ParamGroup> make_param_groups(const OptimizerConfig& cfg, const NamedParams& params);

// AdamW or Adafactor over make_param_groups(cfg, params); an unknown name lists the valid ones.
std::unique_ptr<Optimizer> make_optimizer(const OptimizerConfig& cfg, const NamedParams& params);

}  // namespace mm::train
