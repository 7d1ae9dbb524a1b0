// The console progress line of the train loop, as pure functions of the numbers shown.
#pragma once
#include <cstdint>
#include <string>

namespace mm::train {

struct ProgressInfo {
  std::string stage;        // "pretrain", "sft", ...
  int64_t step = 0;         // steps done
  int64_t total_steps = 0;  // steps of the stage (0 = unknown)
  double loss = 0.0;
  double lr = 0.0;
  double tokens_per_s = 0.0;
  double data_wait_frac = 0.0;  // share of step time spent waiting for the loader, 0..1
  double sec_per_step = 0.0;    // recent average, drives the ETA
};

// "1h02m", "3m05s", "42s", "2d03h"; "--" for a negative or non-finite value.
std::string format_duration(double seconds);
// "950", "12.3k", "4.56M" (3 significant digits above 1000).
std::string format_count(double value);
// Seconds left for (total - step) steps at sec_per_step; 0 when done or unknown total.
double eta_seconds(int64_t step, int64_t total_steps, double sec_per_step);
// "[pretrain] step 120/1000 (12.0%) | loss 3.2145 | lr 2.50e-04 | 12.3k tok/s | data wait 5.0% | ETA 1h02m"
std::string format_progress(const ProgressInfo& p);

}  // namespace mm::train
