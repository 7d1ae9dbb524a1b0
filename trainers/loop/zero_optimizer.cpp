// ZeRO-1 over c10d (zero_optimizer.h).
#include "trainers/loop/zero_optimizer.h"

#include <torch/torch.h>

#include <algorithm>

#include "core/check.h"
#include "dist/process_group.h"
#include "trainers/optim/optimizer.h"

namespace mm::train {

std::vector<int> partition_by_bytes(const std::vector<int64_t>& bytes, int world) {
  MM_CHECK(world >= 1, "partition_by_bytes: world size must be >= 1, got {}", world);
  // Largest first (ties in the given order), as ZeroRedundancyOptimizer sorts: better balance than the given
  // order when a few tensors (embeddings) dominate.
  std::vector<size_t> order(bytes.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return bytes[a] > bytes[b]; });
  std::vector<int64_t> load(static_cast<size_t>(world), 0);
  std::vector<int> owner(bytes.size(), 0);
  for (size_t i : order) {
    const auto it = std::min_element(load.begin(), load.end());  // the first (lowest) rank on a tie
    *it += bytes[i];
    owner[i] = static_cast<int>(it - load.begin());
  }
  return owner;
}

ZeroOptimizer::ZeroOptimizer(Optimizer& opt, const dist::Group& group, double bucket_cap_mb)
    : opt_(opt), group_(group), bucket_bytes_(static_cast<int64_t>(bucket_cap_mb * 1024 * 1024)) {
  // Balanced by the bytes of optimizer state each tensor will carry (what sharding saves): AdamW's is twice the
  // parameter, Adafactor's a matrix's row and column statistics only.
  std::vector<int64_t> bytes, state;
  const auto& groups = opt_.groups();
  for (size_t g = 0; g < groups.size(); ++g)
    for (size_t i = 0; i < groups[g].params.size(); ++i) {
      const torch::Tensor& p = groups[g].params[i];
      slots_.push_back(Slot{groups[g].names[i], g, i, 0});
      bytes.push_back(p.numel() * static_cast<int64_t>(p.element_size()));
      state.push_back(opt_.state_numel(p.sizes()) * static_cast<int64_t>(p.element_size()));
    }
  const std::vector<int> owner = partition_by_bytes(state, group_.world_size());
  for (size_t k = 0; k < slots_.size(); ++k) {
    slots_[k].owner = owner[k];
    total_bytes_ += bytes[k];
    owner_[slots_[k].name] = owner[k];
    if (owner[k] == group_.rank()) owned_bytes_ += bytes[k], ++owned_count_;
  }
}

int ZeroOptimizer::owner_of(const std::string& name) const {
  const auto it = owner_.find(name);
  MM_CHECK(it != owner_.end(), "dist.shard: '{}' is not a parameter of the optimizer", name);
  return it->second;
}

bool ZeroOptimizer::owns(const std::string& name) const { return owner_of(name) == group_.rank(); }

void ZeroOptimizer::step() {
  traffic_ = {};
  if (!group_.distributed()) {
    opt_.step();
    return;
  }
  // A gradient this rank does not own is dropped (its memory too): Optimizer::step skips tensors without one.
  for (const Slot& s : slots_)
    if (s.owner != group_.rank()) {
      torch::Tensor p = opt_.groups()[s.group].params[s.index];
      p.mutable_grad() = torch::Tensor();
    }
  opt_.step();
  for (int root = 0; root < group_.world_size(); ++root) broadcast_from(root);
}

void ZeroOptimizer::broadcast_from(int root) {
  torch::NoGradGuard no_grad;
  const bool mine = root == group_.rank();
  // Buckets of consecutive owned tensors of one dtype and device, up to bucket_bytes_ (one tensor at least).
  std::vector<torch::Tensor> bucket;
  int64_t bucket_bytes = 0;
  auto flush = [&] {
    if (bucket.empty()) return;
    std::vector<torch::Tensor> flat;
    if (mine) {
      std::vector<torch::Tensor> views;
      for (const auto& p : bucket) views.push_back(p.reshape({-1}));
      flat.push_back(torch::cat(views));
    } else {
      flat.push_back(torch::empty({bucket_bytes / bucket.front().element_size()}, bucket.front().options()));
    }
    c10d::BroadcastOptions o;
    o.rootRank = root;
    group_.wait(group_.c10d_group()->broadcast(flat, o),
                fmt::format("dist.shard broadcast of {} updated parameters from rank {}", bucket.size(), root));
    ++traffic_.broadcasts;
    (mine ? traffic_.bytes_as_root : traffic_.bytes_received) += bucket_bytes;
    if (!mine) {
      int64_t offset = 0;
      for (auto& p : bucket) {
        p.copy_(flat[0].narrow(0, offset, p.numel()).view(p.sizes()));
        offset += p.numel();
      }
    }
    bucket.clear();
    bucket_bytes = 0;
  };
  for (const Slot& s : slots_) {
    if (s.owner != root) continue;
    const torch::Tensor& p = opt_.groups()[s.group].params[s.index];
    const int64_t b = p.numel() * static_cast<int64_t>(p.element_size());
    if (!bucket.empty() && (bucket.front().scalar_type() != p.scalar_type() || bucket.front().device() != p.device() ||
                            bucket_bytes + b > bucket_bytes_))
      flush();
    bucket.push_back(p);
    bucket_bytes += b;
  }
  flush();
}

TensorMap ZeroOptimizer::owned_entries(const TensorMap& state) const {
  TensorMap out;
  for (const auto& [key, t] : state) {
    // "<param name>.<slot>": slot names hold no '.', parameter names do.
    const size_t dot = key.rfind('.');
    const std::string name = dot == std::string::npos ? key : key.substr(0, dot);
    const auto it = owner_.find(name);
    if (it == owner_.end() || it->second == group_.rank()) out[key] = t;
  }
  return out;
}

int64_t ZeroOptimizer::state_bytes() const {
  int64_t n = 0;
  for (const Slot& s : slots_) {
    const ParamState& st = opt_.state(s.group, s.index);
    if (st.step > 0) n += 8;
    for (const auto& [slot, t] : st.slots) n += t.numel() * static_cast<int64_t>(t.element_size());
  }
  return n;
}

}  // namespace mm::train
