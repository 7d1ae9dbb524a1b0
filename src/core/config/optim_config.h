// Typed configuration of the optimizer (AdamW | Adafactor) and the learning-rate schedule, plus
// MM1's pretraining learning-rate formula. Plain structs in the visit() pattern of model_config.h.
#pragma once
#include <cmath>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/config/rules.h"

namespace mm {

// One optimizer. `lr` is the peak learning rate the schedule scales; per-module multipliers
// (lr_mults: parameter-name prefix -> factor) apply on top of the schedule.
struct OptimizerConfig {
  std::string name = "adamw";               // adamw | adafactor
  double lr = 1e-3;                         // peak learning rate
  std::vector<double> betas = {0.9, 0.95};  // AdamW (beta1, beta2)
  double eps = 1e-8;                        // AdamW denominator epsilon
  double weight_decay = 0.0;                // decoupled: p -= lr * weight_decay * p
  // Parameters that get no weight decay: 1-d tensors and names containing any of these.
  bool no_decay_1d = true;
  std::vector<std::string> no_decay_names = {"embed", "norm", "bias"};
  std::map<std::string, double> lr_mults;  // name prefix -> lr multiplier (longest prefix wins)
  // Adafactor (Shazeer & Stern 2018; HF transformers with relative_step=False,
  // scale_parameter=False, warmup_init=False).
  double decay_rate = -0.8;                           // beta2_t = 1 - t^decay_rate
  double clip_threshold = 1.0;                        // update clipped to RMS <= clip_threshold
  double beta1 = 0.0;                                 // first moment; 0 = none (HF beta1=None)
  std::vector<double> adafactor_eps = {1e-30, 1e-3};  // (added to grad^2, RMS floor of scale_parameter)
  bool relative_step = false;                         // only false is implemented (explicit lr)

  template <class V>
  void visit(V& v) {
    v("name", name, "optimizer: adamw | adafactor", cfg::one_of({"adamw", "adafactor"}));
    v("lr", lr, "peak learning rate (the schedule scales it)", cfg::positive());
    v("betas", betas, "AdamW (beta1, beta2)", cfg::in_range(0, 1));
    v("eps", eps, "AdamW epsilon", cfg::positive());
    v("weight_decay", weight_decay, "decoupled weight decay coefficient", cfg::non_negative());
    v("no_decay_1d", no_decay_1d, "no weight decay on 1-d parameters (norm gains, biases)");
    v("no_decay_names", no_decay_names, "no weight decay on parameters whose name contains one of these");
    v("lr_mults", lr_mults, "parameter-name prefix -> learning-rate multiplier", cfg::non_negative());
    v("decay_rate", decay_rate, "Adafactor second-moment decay exponent (beta2_t = 1 - t^rate)");
    v("clip_threshold", clip_threshold, "Adafactor update RMS clip threshold", cfg::positive());
    v("beta1", beta1, "Adafactor first-moment decay; 0 = no first moment", cfg::in_range(0, 1));
    v("adafactor_eps", adafactor_eps, "Adafactor (eps1 added to grad^2, eps2 RMS floor)", cfg::positive());
    v("relative_step", relative_step, "Adafactor relative step size (only false is supported)");
  }

  void validate(cfg::Problems& p) const {
    if (betas.size() != 2) p.add("betas", "must hold 2 values (beta1, beta2), got " + std::to_string(betas.size()));
    if (adafactor_eps.size() != 2)
      p.add("adafactor_eps", "must hold 2 values (eps1, eps2), got " + std::to_string(adafactor_eps.size()));
    if (decay_rate >= 0) p.add("decay_rate", "must be negative (e.g. -0.8)");
    if (relative_step) p.add("relative_step", "only false is supported: the schedule gives the lr");
  }
};

// Learning-rate schedule: linear warmup over warmup_steps to the peak, then `kind` until
// total_steps, ending at min_lr_ratio * peak (cosine, linear) or staying at the peak (constant).
struct ScheduleConfig {
  std::string kind = "cosine";  // cosine | constant | linear
  int64_t warmup_steps = 0;
  int64_t total_steps = 0;    // 0 = the stage's train.steps
  double min_lr_ratio = 0.1;  // final lr as a fraction of the peak (0 allowed)

  template <class V>
  void visit(V& v) {
    v("kind", kind, "schedule after warmup: cosine | constant | linear", cfg::one_of({"cosine", "constant", "linear"}));
    v("warmup_steps", warmup_steps, "linear warmup steps", cfg::non_negative());
    v("total_steps", total_steps, "steps of the whole schedule, warmup included (0 = the stage's train.steps)",
      cfg::non_negative());
    v("min_lr_ratio", min_lr_ratio, "final lr / peak lr", cfg::probability());
  }

  void validate(cfg::Problems& p) const {
    if (total_steps > 0 && warmup_steps > total_steps)
      p.add("warmup_steps", "must not exceed total_steps (" + std::to_string(total_steps) + ")");
  }
};

// MM1's pretraining peak learning rate for a model of `num_params` parameters:
// peak_lr = exp(-0.4214 ln N - 0.5535).
inline double mm1_peak_lr(double num_params) { return std::exp(-0.4214 * std::log(num_params) - 0.5535); }

}  // namespace mm
