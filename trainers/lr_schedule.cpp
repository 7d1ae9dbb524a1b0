// lr_at(): warmup + cosine | linear | constant.
#include "trainers/lr_schedule.h"

#include <algorithm>
#include <cmath>

#include "core/check.h"

namespace mm::train {

double lr_at(const ScheduleConfig& cfg, double peak_lr, int64_t step) {
  MM_CHECK(step >= 0, "lr schedule: step must be >= 0, got {}", step);
  MM_CHECK(cfg.warmup_steps >= 0 && cfg.warmup_steps <= cfg.total_steps,
           "schedule.warmup_steps: must lie in [0, total_steps={}], got {}", cfg.total_steps, cfg.warmup_steps);
  if (step < cfg.warmup_steps) return peak_lr * static_cast<double>(step + 1) / static_cast<double>(cfg.warmup_steps);
  const double floor = cfg.min_lr_ratio * peak_lr;
  const int64_t decay_steps = cfg.total_steps - cfg.warmup_steps;
  const double p =
      decay_steps <= 0 ? 1.0 : std::clamp(static_cast<double>(step - cfg.warmup_steps) / decay_steps, 0.0, 1.0);
  if (cfg.kind == "cosine") return floor + (peak_lr - floor) * 0.5 * (1.0 + std::cos(M_PI * p));
  if (cfg.kind == "linear") return peak_lr - (peak_lr - floor) * p;
  if (cfg.kind == "constant") return peak_lr;
  MM_FAIL("schedule.kind: unknown schedule '{}' (valid: cosine, constant, linear)", cfg.kind);
}

}  // namespace mm::train
