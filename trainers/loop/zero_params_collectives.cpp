// ZeRO-3 over c10d (zero_params.h): the collectives -- the gathers (with the prefetch), the reductions
// of a unit pass's gradients and the global gradient norm.
#include <torch/torch.h>

#include <cmath>

#include "core/check.h"
#include "dist/collectives.h"
#include "dist/process_group.h"
#include "trainers/loop/zero_params.h"

namespace mm::train {
namespace {

c10d::ReduceOptions reduce_to(int root) {
  c10d::ReduceOptions o;
  o.rootRank = root;
  o.reduceOp = c10d::ReduceOp::SUM;
  return o;
}

}  // namespace

std::vector<std::vector<size_t>> ZeroParams::by_owner(const std::vector<size_t>& slots, bool with_grad_only) const {
  std::vector<std::vector<size_t>> out(static_cast<size_t>(group_.world_size()));
  for (size_t i : slots)
    if (!with_grad_only || slots_[i].param.requires_grad()) out[static_cast<size_t>(slots_[i].owner)].push_back(i);
  return out;
}

// One broadcast per owner of a unit's tensors, issued at once and completed in owner order.
struct ZeroParams::Gather {
  struct Part {
    int root = 0;
    std::vector<size_t> slots;
    torch::Tensor flat;
    c10::intrusive_ptr<c10d::Work> work;
  };
  std::vector<size_t> slots;
  std::vector<Part> parts;
};

std::shared_ptr<ZeroParams::Gather> ZeroParams::start_gather(const std::vector<size_t>& slots) {
  torch::NoGradGuard no_grad;
  auto g = std::make_shared<Gather>();
  g->slots = slots;
  std::vector<std::vector<size_t>> owners = by_owner(slots, /*with_grad_only=*/false);
  for (int root = 0; root < group_.world_size(); ++root) {
    Gather::Part part;
    part.root = root;
    part.slots = std::move(owners[static_cast<size_t>(root)]);
    if (part.slots.empty()) continue;
    bool resident = true;  // every rank counts the same references: all of them skip the broadcast together
    int64_t numel = 0, b = 0;
    for (size_t i : part.slots) {
      resident = resident && slots_[i].refs > 0;
      numel += slots_[i].param.numel();
      b += slots_[i].bytes;
    }
    for (size_t i : part.slots) ++slots_[i].refs;
    if (resident) continue;
    const bool as_root = root == group_.rank();
    const torch::Tensor& first = slots_[part.slots.front()].param;
    if (as_root) {
      std::vector<torch::Tensor> views;
      for (size_t i : part.slots) views.push_back(slots_[i].param.reshape({-1}).to(first.scalar_type()));
      part.flat = torch::cat(views);
    } else {
      part.flat = torch::empty({numel}, first.options());
    }
    std::vector<torch::Tensor> buf{part.flat};
    c10d::BroadcastOptions o;
    o.rootRank = root;
    part.work = group_.c10d_group()->broadcast(buf, o);
    ++traffic_.gathers;
    (as_root ? traffic_.gather_bytes_sent : traffic_.gather_bytes_received) += b;
    g->parts.push_back(std::move(part));
  }
  return g;
}

void ZeroParams::finish_gather(Gather& g) {
  torch::NoGradGuard no_grad;
  for (Gather::Part& part : g.parts) {
    group_.wait(part.work,
                fmt::format("dist.shard parameters: gather of {} tensors from rank {}", part.slots.size(), part.root));
    if (part.root == group_.rank()) continue;
    int64_t offset = 0;
    for (size_t i : part.slots) {
      Slot& s = slots_[i];
      allocate(s);
      // Through a new alias: the parameter's version counter stays (autograd saved it in forward).
      s.param.variable_data().copy_(part.flat.narrow(0, offset, s.param.numel()).view(s.param.sizes()));
      offset += s.param.numel();
    }
  }
  g.parts.clear();
}

void ZeroParams::gather_slots(const std::vector<size_t>& slots) { finish_gather(*start_gather(slots)); }

void ZeroParams::gather_in_sequence(Sequence& seq, const std::vector<size_t>& slots, int64_t& prefetched) {
  if (prefetch_ && prefetch_->slots == slots) {
    finish_gather(*prefetch_);
    prefetch_.reset();
  } else {
    drop_prefetch();
    gather_slots(slots);
  }
  seq.now.push_back(slots);
  if (seq.now.size() < seq.last.size()) {
    prefetch_ = start_gather(seq.last[seq.now.size()]);
    ++prefetched;
  }
}

void ZeroParams::gather_for_backward(const std::vector<size_t>& slots) {
  gather_in_sequence(backward_, slots, traffic_.prefetched_backward);
}

void ZeroParams::drop_prefetch() {
  if (!prefetch_) return;
  finish_gather(*prefetch_);
  release(prefetch_->slots);
  prefetch_.reset();
}

void ZeroParams::release(const std::vector<size_t>& slots) {
  for (size_t i : slots) {
    Slot& s = slots_[i];
    MM_CHECK(s.refs > 0, "dist.shard parameters: '{}' released more often than gathered", s.name);
    if (--s.refs == 0 && !mine(s) && sharded_) free(s);
  }
}

void ZeroParams::reduce_and_release(const std::vector<size_t>& slots, bool dummy) {
  torch::NoGradGuard no_grad;
  const std::vector<std::vector<size_t>> owners = by_owner(slots, /*with_grad_only=*/true);
  for (int root = 0; root < group_.world_size(); ++root) {
    const std::vector<size_t>& part = owners[static_cast<size_t>(root)];
    if (part.empty()) continue;
    int64_t numel = 0, b = 0;
    for (size_t i : part) {
      numel += slots_[i].param.numel();
      b += slots_[i].bytes;
    }
    const bool as_root = root == group_.rank();
    // [gradients / world..., one used flag per tensor]: every rank contributes its own gradient of this pass
    // (zeros without one), scaled as the Reducer scales it (the loss carries the factor world); the owner adds
    // the sum to what the step's earlier micro-batches reduced (begin_micro_batch set it aside). A tensor no
    // rank used keeps no gradient, as under data parallel's find_unused_parameters.
    const torch::Tensor& first = slots_[part.front()].param;
    torch::Tensor flat = torch::zeros({numel + static_cast<int64_t>(part.size())}, first.options());
    int64_t offset = 0;
    for (size_t k = 0; k < part.size(); ++k) {
      Slot& s = slots_[part[k]];
      const torch::Tensor& g = s.param.grad();
      if (g.defined()) flat.narrow(0, offset, s.param.numel()).copy_(g.reshape({-1}));
      const bool used = !dummy && g.defined();
      flat[numel + static_cast<int64_t>(k)] = used ? 1.0 : 0.0;
      offset += s.param.numel();
    }
    flat.narrow(0, 0, numel).mul_(1.0 / group_.world_size());
    std::vector<torch::Tensor> buf{flat};
    group_.wait(group_.c10d_group()->reduce(buf, reduce_to(root)),
                fmt::format("dist.shard parameters: reduce of {} gradients to rank {}", part.size(), root));
    ++traffic_.reduces;
    (as_root ? traffic_.reduce_bytes_received : traffic_.reduce_bytes_sent) += b;
    traffic_.flag_bytes += static_cast<int64_t>(part.size()) * static_cast<int64_t>(first.element_size());
    offset = 0;
    for (size_t k = 0; k < part.size(); ++k) {
      Slot& s = slots_[part[k]];
      if (!as_root) {
        s.param.mutable_grad() = torch::Tensor();
      } else if (buf[0][numel + static_cast<int64_t>(k)].item<double>() > 0) {
        torch::Tensor sum = buf[0].narrow(0, offset, s.param.numel()).view(s.param.sizes());
        s.param.mutable_grad() = s.earlier.defined() ? s.earlier + sum : sum.clone();
      } else {
        s.param.mutable_grad() = s.earlier;
      }
      s.earlier = torch::Tensor();
      offset += s.param.numel();
    }
  }
  release(slots);
  --open_backward_;
}

double ZeroParams::clip_grad_norm(double max_norm) {
  torch::NoGradGuard no_grad;
  // Each tensor's squared norm from its owner (0 elsewhere), summed over the ranks, then added in the tensors'
  // order: the norm of the whole gradients, as clip_grad_norm over unsharded gradients.
  std::vector<double> terms(slots_.size(), 0.0);
  for (size_t i = 0; i < slots_.size(); ++i) {
    const auto& g = slots_[i].param.grad();
    if (!mine(slots_[i]) || !g.defined()) continue;
    const double n = g.to(torch::kDouble).norm(2).item<double>();
    terms[i] = n * n;
  }
  terms = dist::all_reduce(group_, std::move(terms));
  double sq = 0.0;
  for (double t : terms) sq += t;
  const double norm = std::sqrt(sq);
  if (max_norm > 0 && std::isfinite(norm) && norm > max_norm) {
    const double scale = max_norm / (norm + 1e-6);
    for (Slot& s : slots_)
      if (s.param.grad().defined()) s.param.grad().mul_(scale);
  }
  return norm;
}

}  // namespace mm::train
