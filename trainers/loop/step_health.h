// The loop's policy on a step's health: a skipped (non-finite) step is counted and warned about,
// too many in a row abort the stage; a finite loss far above the recent ones is reported as a
// spike. Its memory (the skip count and the spike window) lives in the TrainState it is built from
// and written back to, so a resumed run continues with the same verdicts.
#pragma once
#include <cstdint>
#include <functional>
#include <string>

#include "core/config/train_config.h"
#include "trainers/grad_utils.h"

namespace mm::train {

struct TrainState;
struct StepResult;

class StepHealth {
 public:
  StepHealth(const TrainConfig& tc, const TrainState& state);

  enum class Verdict { kHealthy, kSkipped, kSpike };
  // Accounts for step number `step` (1-based). A skipped step or a spike is logged as a warning
  // naming the step's samples (`samples` is called only then). Throws mm::Error naming the stage,
  // after the warning, when train.max_skipped_steps steps in a row were skipped.
  Verdict account(int64_t step, const StepResult& r, const std::function<std::string()>& samples);

  void save_into(TrainState& state) const;  // consecutive_skips and spike_history
  int64_t consecutive_skips() const { return skips_; }

 private:
  std::string stage_;
  int64_t max_skipped_;
  int64_t skips_ = 0;
  SpikeDetector spikes_;
};

}  // namespace mm::train
