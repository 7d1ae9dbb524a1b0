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
#include "trainers/loop/zero_params.h"
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

  const bool overlapped = s.zero && s.zero->shards_gradients();  // dist.shard gradients
  PhaseClock clock(phases, s.device);
  if (s.zero3) s.zero3->begin_step();
  double loss_sum = 0;
  for (size_t m = 0; m < micro.size(); ++m) {
    if (s.dp) s.dp->prepare_forward(/*sync=*/m + 1 == micro.size());
    if (s.zero3) s.zero3->begin_micro_batch();
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
    // dist.shard gradients: the last micro-batch's backward sends each gradient bucket to the owners as it fills.
    if (overlapped && m + 1 == micro.size()) s.zero->begin_reduction(1.0 / world, loss);
    if (s.dp)
      s.dp->backward(loss);
    else
      loss.backward();
    if (s.zero3) s.zero3->end_backward();  // every unit's gradients went to their owners in backward
    loss_sum += out.loss_sum.item<double>();
    r.aux += extra.item<double>();
    if (phases) clock.mark(&phases->backward);
    if (on_micro) on_micro(out.logits.detach(), m);
  }
  r.loss = dist::all_reduce(group, loss_sum) / global_targets + r.aux;
  // dist.shard optimizer and gradients: no Reducer; the accumulated gradients go to their owners (the mean over
  // ranks, as the Reducer's), during the last backward (gradients) or after it (optimizer), and each rank keeps
  // only its own tensors' gradients.
  if (overlapped)
    s.zero->finish_reduction();
  else if (s.zero)
    s.zero->reduce_gradients(1.0 / world);

  // Every rank agrees: one rank's non-finite loss or gradient skips the update everywhere (under sharded
  // gradients each rank checks its own tensors' reduced gradients: together, all of them).
  r.skipped = dist::any_rank(group, !all_finite(r.loss, s.trainable));
  if (!r.skipped) {
    if (s.zero3)  // the global norm over the owners' gradients
      r.grad_norm = s.zero3->clip_grad_norm(s.clip_grad_norm);
    else if (s.zero)  // the global norm: each tensor's squared norm from its owner, summed in order
      r.grad_norm = clip_grad_norm(s.trainable, s.clip_grad_norm,
                                   [&group](std::vector<double> sq) { return dist::all_reduce(group, std::move(sq)); });
    else
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
