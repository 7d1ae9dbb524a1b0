// One optimizer step (train_step.h).
#include "trainers/loop/train_step.h"

#include <torch/cuda.h>

#include <chrono>

#include "core/timer.h"
#include "dist/collectives.h"
#include "dist/data_parallel.h"
#include "dist/process_group.h"
#include "models/llm/lm_loss.h"
#include "trainers/autocast_scope.h"
#include "trainers/grad_utils.h"
#include "trainers/loop/zero_optimizer.h"
#include "trainers/optim/optimizer.h"

namespace mm::train {
namespace {

// Phase boundaries for bench: wall seconds since the last mark, the device synchronised first.
class PhaseClock {
 public:
  PhaseClock(StepPhases* phases, const torch::Device& dev) : phases_(phases), dev_(dev) { mark(nullptr); }
  void mark(double* into) {
    if (!phases_) return;
    if (dev_.is_cuda()) torch::cuda::synchronize();
    const auto now = SteadyClock::now();
    if (into) *into += std::chrono::duration<double>(now - last_).count();
    last_ = now;
  }

 private:
  StepPhases* phases_;
  torch::Device dev_;
  SteadyClock::time_point last_;
};

}  // namespace

int64_t loss_targets(const torch::Tensor& labels, const torch::Tensor& doc_ids) {
  return llm::causal_lm_targets(labels, doc_ids).sum().item<int64_t>();
}

StepResult train_step(const StepSetup& s, const std::vector<MultimodalBatch>& micro, const StepCounts& local, double lr,
                      const MicroBatchHook& on_micro, StepPhases* phases) {
  const dist::Group& group = *s.group;
  StepResult r;
  const auto sums = dist::all_reduce(group, {local.loss_targets, local.tokens, local.samples});
  r.global = StepCounts{sums[0], sums[1], sums[2]};
  const double global_targets = std::max(1.0, sums[0]);
  const double world = static_cast<double>(group.world_size());
  const double n_micro = static_cast<double>(micro.size());
  s.optimizer->set_lr(lr);

  PhaseClock clock(phases, s.device);
  double loss_sum = 0;
  for (size_t m = 0; m < micro.size(); ++m) {
    if (s.dp) s.dp->prepare_forward(/*sync=*/m + 1 == micro.size());
    MultimodalOutput out;
    {
      AutocastScope autocast(s.bf16, s.device);
      out = s.forward(micro[m]);
    }
    // Each rank's summed loss over the global batch's targets: DDP averages over ranks, so the
    // factor `world` makes the all-reduced gradient that of the global mean.
    torch::Tensor extra = (out.aux_loss + out.z_loss) / n_micro;
    torch::Tensor loss = out.loss_sum * (world / global_targets) + extra;
    if (phases) clock.mark(&phases->forward);
    if (s.dp)
      s.dp->backward(loss);
    else
      loss.backward();
    loss_sum += out.loss_sum.item<double>();
    r.aux += extra.item<double>();
    if (phases) clock.mark(&phases->backward);
    if (on_micro) on_micro(out.logits.detach(), m);
  }
  r.loss = dist::all_reduce(group, loss_sum) / global_targets + r.aux;

  // Every rank agrees: one rank's non-finite loss or gradient skips the update everywhere.
  r.skipped = dist::any_rank(group, !all_finite(r.loss, s.trainable));
  if (!r.skipped) {
    r.grad_norm = clip_grad_norm(s.trainable, s.clip_grad_norm);
    if (s.zero)
      s.zero->step();  // owners update their tensors, then broadcast them
    else
      s.optimizer->step();
  }
  s.optimizer->zero_grad();
  if (phases) clock.mark(&phases->optimizer);
  return r;
}

}  // namespace mm::train
