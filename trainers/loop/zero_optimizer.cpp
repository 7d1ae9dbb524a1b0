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

int gloo_broadcast_sends(int rank, int root, int world) {
  MM_CHECK(world >= 1 && rank >= 0 && rank < world && root >= 0 && root < world,
           "gloo_broadcast_sends: rank {} and root {} must lie in [0, {})", rank, root, world);
  // gloo::broadcast: virtual rank v = (rank - root) mod world; in round i (i = 0 .. ceil(log2 world) - 1) the
  // virtual ranks whose bits above i are zero take part, and one whose bit i is zero sends to v ^ (1 << i) when
  // that rank exists.
  const int v = (rank - root + world) % world;
  int dim = 0;
  while ((1 << dim) < world) ++dim;
  int sends = 0, mask = (1 << dim) - 1;
  for (int i = 0; i < dim; ++i) {
    mask ^= 1 << i;
    if ((v & mask) != 0) continue;
    if ((v & (1 << i)) == 0 && (v ^ (1 << i)) < world) ++sends;
  }
  return sends;
}

ZeroOptimizer::ZeroOptimizer(Optimizer& opt, const dist::Group& group, double bucket_cap_mb, bool shard_gradients)
    : opt_(opt),
      group_(group),
      bucket_bytes_(static_cast<int64_t>(bucket_cap_mb * 1024 * 1024)),
      shard_gradients_(shard_gradients) {
  // Balanced by the bytes each tensor's owner alone keeps (what sharding saves): its optimizer state (AdamW's is
  // twice the parameter, Adafactor's a matrix's row and column statistics only) and, with sharded gradients, its
  // reduced gradient (the parameter's bytes).
  std::vector<int64_t> bytes, state;
  const auto& groups = opt_.groups();
  for (size_t g = 0; g < groups.size(); ++g)
    for (size_t i = 0; i < groups[g].params.size(); ++i) {
      const torch::Tensor& p = groups[g].params[i];
      slots_.push_back(Slot{groups[g].names[i], g, i, 0});
      bytes.push_back(p.numel() * static_cast<int64_t>(p.element_size()));
      state.push_back((opt_.state_numel(p.sizes()) + (shard_gradients_ ? p.numel() : 0)) *
                      static_cast<int64_t>(p.element_size()));
    }
  const std::vector<int> owner = partition_by_bytes(state, group_.world_size());
  for (size_t k = 0; k < slots_.size(); ++k) {
    slots_[k].owner = owner[k];
    total_bytes_ += bytes[k];
    owner_[slots_[k].name] = owner[k];
    if (owner[k] == group_.rank()) owned_bytes_ += bytes[k], ++owned_count_;
  }
  build_buckets();
  if (group_.distributed()) open_reduction();
}

int ZeroOptimizer::owner_of(const std::string& name) const {
  const auto it = owner_.find(name);
  MM_CHECK(it != owner_.end(), "dist.shard: '{}' is not a parameter of the optimizer", name);
  return it->second;
}

bool ZeroOptimizer::owns(const std::string& name) const { return owner_of(name) == group_.rank(); }

void ZeroOptimizer::step() {
  if (!reduced_) traffic_ = {};  // else the reduction's counts stay: one step's traffic
  reduced_ = false;
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
    traffic_.broadcast_sent += gloo_broadcast_sends(group_.rank(), root, group_.world_size()) * bucket_bytes;
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
