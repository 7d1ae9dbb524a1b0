// StepHealth (step_health.h).
#include "trainers/loop/step_health.h"

#include <fmt/format.h>

#include <algorithm>
#include <deque>

#include "core/check.h"
#include "core/logging.h"
#include "trainers/loop/train_state.h"
#include "trainers/loop/train_step.h"

namespace mm::train {

StepHealth::StepHealth(const TrainConfig& tc, const TrainState& state)
    : stage_(tc.stage),
      max_skipped_(tc.max_skipped_steps),
      skips_(state.consecutive_skips),
      spikes_(SpikeDetectorOptions{tc.spike_window, std::min<int64_t>(20, tc.spike_window), tc.spike_z}) {
  if (!state.spike_history.empty())
    spikes_.set_history(std::deque<double>(state.spike_history.begin(), state.spike_history.end()));
}

StepHealth::Verdict StepHealth::account(int64_t step, const StepResult& r,
                                        const std::function<std::string()>& samples) {
  auto log = mm::log::get("trainer");
  if (r.skipped) {
    ++skips_;
    log->warn("step {}: non-finite loss or gradient (loss {}), update skipped ({} in a row); samples: {}", step, r.loss,
              skips_, samples());
    MM_CHECK(skips_ < max_skipped_, "stage '{}': {} consecutive non-finite steps (train.max_skipped_steps)", stage_,
             skips_);
    return Verdict::kSkipped;
  }
  skips_ = 0;
  if (!spikes_.update(r.loss)) return Verdict::kHealthy;
  log->warn("step {}: loss spike {:.4f} (z = {:.1f}); samples: {}", step, r.loss, spikes_.last_z(), samples());
  return Verdict::kSpike;
}

void StepHealth::save_into(TrainState& state) const {
  state.consecutive_skips = skips_;
  state.spike_history.assign(spikes_.history().begin(), spikes_.history().end());
}

}  // namespace mm::train
