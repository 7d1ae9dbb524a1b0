// Learning-rate schedules as a pure function of the step: linear warmup, then cosine or linear
// decay to min_lr_ratio * peak, or constant.
#pragma once
#include <cstdint>

#include "core/config/optim_config.h"

namespace mm::train {

// The learning rate of optimizer step `step` (0-based: the step about to be taken).
// Warmup (step < warmup_steps): peak * (step + 1) / warmup_steps, so the first step is not wasted
// and step warmup_steps - 1 reaches the peak. After it, with progress
// p = (step - warmup_steps) / (total_steps - warmup_steps) clamped to [0, 1] and floor = min_lr_ratio*peak:
//   cosine:   floor + (peak - floor) * (1 + cos(pi p)) / 2
//   linear:   peak - (peak - floor) * p
//   constant: peak
// Steps at or past total_steps keep the final value. Per-group multipliers apply on top
// (Optimizer::set_lr).
double lr_at(const ScheduleConfig& cfg, double peak_lr, int64_t step);

}  // namespace mm::train
