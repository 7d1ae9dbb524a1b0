// dist.shard gradients (ZeRO-2) in ZeroOptimizer (zero_optimizer.h): the reduction buckets, the hooks on the
// gradient accumulators that send each bucket while backward runs, and the all-to-all that sums every rank's copy
// of a tensor's gradient on its owner.
//
// Gloo in LibTorch 1.13 has no reduce_scatter ("ProcessGroupGloo does not support reduce_scatter"), and a c10d
// reduce per owner costs more than a ring (Gloo's reduce is a ring reduce-scatter plus a gather to the root).
// alltoall_base with split sizes is a reduce-scatter with unequal shards: each rank sends segment r of its bucket
// to rank r and receives every rank's copy of its own segment, which it sums in rank order.
#include <torch/csrc/autograd/utils/lambda_post_hook.h>
#include <torch/torch.h>

#include <algorithm>
#include <mutex>
#include <unordered_set>

#include "core/check.h"
#include "dist/process_group.h"
#include "trainers/loop/zero_optimizer.h"
#include "trainers/optim/optimizer.h"

namespace mm::train {

struct ZeroOptimizer::Reduction {
  struct InFlight {
    torch::Tensor in, out;  // the bucket as sent (world segments), every rank's copy of this rank's segment
    c10::intrusive_ptr<c10d::Work> work;
  };
  std::mutex mu;
  bool armed = false;  // between begin_reduction and finish_reduction
  double scale = 1;
  std::vector<char> final;       // per slot: its gradient is final for this step
  std::vector<int32_t> used;     // per slot: it had a gradient on this rank when sent
  std::vector<int64_t> pending;  // per bucket: slots not yet final
  size_t next = 0;               // the next bucket to send (in bucket order on every rank)
  size_t done = 0;               // buckets summed and unpacked
  std::vector<InFlight> flight;  // per bucket
  std::vector<std::shared_ptr<torch::autograd::Node>> accumulators;  // per slot; they carry the hooks
  std::vector<uintptr_t> hook_keys;
};

namespace {

torch::Tensor param_of(const Optimizer& opt, size_t group, size_t index) { return opt.groups()[group].params[index]; }

}  // namespace

void ZeroOptimizer::build_buckets() {
  bucket_of_.assign(slots_.size(), 0);
  std::vector<size_t> run;  // consecutive slots of one dtype and device, up to bucket_bytes_ (one at least)
  int64_t run_bytes = 0;
  auto flush = [&] {
    if (run.empty()) return;
    Bucket b;
    b.split.assign(static_cast<size_t>(group_.world_size()), 0);
    std::stable_sort(run.begin(), run.end(), [&](size_t a, size_t c) { return slots_[a].owner < slots_[c].owner; });
    for (size_t k : run) {
      b.split[static_cast<size_t>(slots_[k].owner)] += param_of(opt_, slots_[k].group, slots_[k].index).numel();
      bucket_of_[k] = buckets_.size();
    }
    b.slots = std::move(run);
    buckets_.push_back(std::move(b));
    run.clear();
    run_bytes = 0;
  };
  for (size_t j = slots_.size(); j-- > 0;) {  // the last parameters first: backward finishes them first
    const torch::Tensor p = param_of(opt_, slots_[j].group, slots_[j].index);
    const int64_t bytes = p.numel() * static_cast<int64_t>(p.element_size());
    if (!run.empty()) {
      const torch::Tensor first = param_of(opt_, slots_[run.front()].group, slots_[run.front()].index);
      if (first.scalar_type() != p.scalar_type() || first.device() != p.device() || run_bytes + bytes > bucket_bytes_)
        flush();
    }
    run.push_back(j);
    run_bytes += bytes;
  }
  flush();
}

void ZeroOptimizer::open_reduction() {
  red_ = std::make_shared<Reduction>();
  if (!shard_gradients_) return;  // dist.shard optimizer: reduce_gradients after backward, no hooks
  for (size_t k = 0; k < slots_.size(); ++k) {
    const torch::Tensor p = param_of(opt_, slots_[k].group, slots_[k].index);
    std::shared_ptr<torch::autograd::Node> acc = torch::autograd::impl::grad_accumulator(p);
    MM_CHECK(acc != nullptr, "dist.shard gradients: '{}' has no gradient accumulator (not a leaf?)", slots_[k].name);
    // Runs on the autograd engine's thread once the gradient is accumulated into .grad.
    red_->hook_keys.push_back(acc->add_post_hook(std::make_unique<torch::autograd::utils::LambdaPostHook>(
        [this, k](const torch::autograd::variable_list& outputs, const torch::autograd::variable_list&) {
          std::lock_guard<std::mutex> lock(red_->mu);
          if (red_->armed) on_final(k);
          return outputs;
        })));
    red_->accumulators.push_back(std::move(acc));
  }
}

ZeroOptimizer::~ZeroOptimizer() {
  if (!red_) return;
  for (size_t k = 0; k < red_->accumulators.size(); ++k) red_->accumulators[k]->del_post_hook(red_->hook_keys[k]);
}

void ZeroOptimizer::begin_reduction(double scale, const torch::Tensor& loss) {
  MM_CHECK(shard_gradients_ || !loss.defined(),
           "ZeroOptimizer: reducing gradients during backward only under dist.shard gradients");
  traffic_ = {};
  reduced_ = true;
  if (!group_.distributed()) return;
  std::lock_guard<std::mutex> lock(red_->mu);
  MM_CHECK(!red_->armed, "ZeroOptimizer::begin_reduction: the previous reduction was not finished");
  Reduction& r = *red_;
  r.armed = true;
  r.scale = scale;
  r.final.assign(slots_.size(), 0);
  r.used.assign(slots_.size(), 0);
  r.pending.clear();
  for (const Bucket& b : buckets_) r.pending.push_back(static_cast<int64_t>(b.slots.size()));
  r.next = r.done = 0;
  r.flight.assign(buckets_.size(), {});
  if (!loss.defined() || !loss.grad_fn()) return;  // everything is sent by finish_reduction
  // The tensors this backward does not reach get nothing more: final now (as the Reducer's unused parameters).
  std::unordered_set<const torch::autograd::Node*> seen;
  std::vector<const torch::autograd::Node*> stack{loss.grad_fn().get()};
  seen.insert(stack.back());
  while (!stack.empty()) {
    const torch::autograd::Node* node = stack.back();
    stack.pop_back();
    for (const auto& edge : node->next_edges())
      if (edge.function && seen.insert(edge.function.get()).second) stack.push_back(edge.function.get());
  }
  for (size_t k = 0; k < slots_.size(); ++k)
    if (!seen.count(r.accumulators[k].get())) on_final(k);
}

void ZeroOptimizer::on_final(size_t k) {
  Reduction& r = *red_;
  MM_CHECK(!r.final[k], "dist.shard gradients: the gradient of '{}' was accumulated twice in one backward",
           slots_[k].name);
  r.final[k] = 1;
  if (--r.pending[bucket_of_[k]] == 0) launch_ready_buckets();
}

void ZeroOptimizer::launch_ready_buckets() {
  Reduction& r = *red_;
  torch::NoGradGuard no_grad;
  const int me = group_.rank(), world = group_.world_size();
  // Sums bucket `b` on its owner: every rank's copy of this rank's segment, added in rank order (deterministic;
  // on 2 ranks the same sum as the ring all-reduce's); the owned tensors' gradients become views of the sum.
  auto complete = [&](size_t b) {
    Reduction::InFlight& f = r.flight[b];
    group_.wait(f.work, fmt::format("dist.shard gradients: all-to-all of a gradient bucket of {} tensors",
                                    buckets_[b].slots.size()));
    const int64_t mine = buckets_[b].split[static_cast<size_t>(me)];
    torch::Tensor sum = f.out.narrow(0, 0, mine).clone();  // (own elements,)
    for (int q = 1; q < world; ++q) sum.add_(f.out.narrow(0, q * mine, mine));
    f = {};
    int64_t offset = 0;
    for (size_t k : buckets_[b].slots) {
      if (slots_[k].owner != me) continue;
      torch::Tensor p = param_of(opt_, slots_[k].group, slots_[k].index);
      p.mutable_grad() = sum.narrow(0, offset, p.numel()).view(p.sizes());
      offset += p.numel();
    }
  };
  while (r.next < buckets_.size() && r.pending[r.next] == 0) {
    const size_t b = r.next++;
    const Bucket& bucket = buckets_[b];
    // One bucket in flight: the previous one (sent while this one's gradients were computed) is summed first
    // and its buffers freed, so the reduction needs two buckets' memory (the packed bucket, every rank's copy
    // of this rank's segment), as the memory planner counts.
    while (r.done < b) complete(r.done++);
    // Every rank's whole bucket, owners' segments in rank order, scaled as the Reducer does (zeros for a tensor
    // without a gradient here); the gradients this rank does not own are dropped once packed.
    std::vector<torch::Tensor> parts;
    for (size_t k : bucket.slots) {
      torch::Tensor p = param_of(opt_, slots_[k].group, slots_[k].index);
      const torch::Tensor& g = p.grad();
      r.used[k] = g.defined();
      parts.push_back(g.defined() ? g.reshape({-1}) : torch::zeros({p.numel()}, p.options()));
      if (slots_[k].owner != me) p.mutable_grad() = torch::Tensor();
    }
    Reduction::InFlight& f = r.flight[b];
    f.in = torch::cat(parts).mul_(r.scale);  // (bucket elements,)
    parts.clear();
    const int64_t mine = bucket.split[static_cast<size_t>(me)];
    f.out = torch::empty({mine * world}, f.in.options());  // (world * own elements,)
    std::vector<int64_t> out_split(static_cast<size_t>(world), mine), in_split = bucket.split;
    f.work = group_.c10d_group()->alltoall_base(f.out, f.in, out_split, in_split);
    ++traffic_.reductions;
    traffic_.reduce_sent += (f.in.numel() - mine) * static_cast<int64_t>(f.in.element_size());
  }
  if (!r.armed || r.next < buckets_.size()) return;
  while (r.done < buckets_.size()) complete(r.done++);
}

void ZeroOptimizer::finish_reduction() {
  if (!group_.distributed()) return;
  std::lock_guard<std::mutex> lock(red_->mu);
  Reduction& r = *red_;
  MM_CHECK(r.armed, "ZeroOptimizer::finish_reduction without begin_reduction");
  for (size_t k = 0; k < slots_.size(); ++k)  // no gradient in this backward (or no hooks): final now
    if (!r.final[k]) on_final(k);
  while (r.done < buckets_.size()) launch_ready_buckets();  // sums what is still in flight
  r.armed = false;
  // A tensor no rank had a gradient for (an MoE expert no token chose anywhere) keeps none, as under data
  // parallel, so the optimizer skips it (AdamW's weight decay included).
  torch::Tensor used = torch::from_blob(r.used.data(), {static_cast<int64_t>(r.used.size())}, torch::kInt32).clone();
  std::vector<torch::Tensor> t{used};
  c10d::AllreduceOptions o;
  o.reduceOp = c10d::ReduceOp::MAX;
  group_.wait(group_.c10d_group()->allreduce(t, o), "dist.shard: all_reduce of the used-tensor flags");
  traffic_.used_map_bytes = used.numel() * 4;
  auto acc = used.accessor<int32_t, 1>();
  for (size_t k = 0; k < slots_.size(); ++k) {
    torch::Tensor p = param_of(opt_, slots_[k].group, slots_[k].index);
    if (!acc[static_cast<int64_t>(k)]) p.mutable_grad() = torch::Tensor();
    const torch::Tensor& g = p.grad();
    if (g.defined()) traffic_.grad_bytes_held += g.numel() * static_cast<int64_t>(g.element_size());
  }
}

void ZeroOptimizer::reduce_gradients(double scale) {
  begin_reduction(scale, torch::Tensor());
  finish_reduction();
}

}  // namespace mm::train
