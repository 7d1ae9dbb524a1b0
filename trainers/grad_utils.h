// Gradient utilities of the train loop: global-norm clipping, non-finite detection of the loss
// and gradients, and a loss-spike detector (z-score over a sliding window).
#pragma once
#include <torch/types.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <vector>

namespace mm::train {

// The L2 norm over all defined gradients (computed in fp64), returned before clipping; when it
// exceeds max_norm > 0, every gradient is scaled by max_norm / (norm + 1e-6) (torch's
// clip_grad_norm_). max_norm <= 0 only measures. A non-finite norm leaves the gradients alone.
double clip_grad_norm(const std::vector<torch::Tensor>& params, double max_norm);

// The same over gradients sharded by tensor (dist.shard gradients: a rank holds only its own tensors' gradients):
// `sum_over_ranks` sums each tensor's squared norm over the ranks (an all-reduce; 0 where a rank holds none), then
// the terms are added in the tensors' order, so the norm equals the one over the whole gradients bit for bit.
double clip_grad_norm(const std::vector<torch::Tensor>& params, double max_norm,
                      const std::function<std::vector<double>(std::vector<double>)>& sum_over_ranks);

// True when the loss and every defined gradient are finite (no NaN/Inf).
bool all_finite(double loss, const std::vector<torch::Tensor>& params);

struct SpikeDetectorOptions {
  int64_t window = 100;      // past losses kept
  int64_t min_history = 20;  // no verdict before this many losses were seen
  double z_threshold = 6.0;  // spike when (loss - mean) / std > z_threshold
};

// Flags a loss far above the recent ones: z = (loss - mean) / std over the last `window`
// finite losses (a spike is not added to the window, so one spike does not hide the next).
// A non-finite loss is neither a spike nor recorded (all_finite() handles it).
class SpikeDetector {
 public:
  explicit SpikeDetector(SpikeDetectorOptions options = {});
  // Records `loss` and returns whether it is a spike.
  bool update(double loss);
  double last_z() const { return last_z_; }  // z-score of the last update (0 without a verdict)
  const std::deque<double>& history() const { return history_; }
  void set_history(std::deque<double> h);  // for resume

 private:
  SpikeDetectorOptions opt_;
  std::deque<double> history_;
  double last_z_ = 0.0;
};

}  // namespace mm::train
