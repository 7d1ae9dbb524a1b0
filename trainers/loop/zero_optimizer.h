// dist.shard: optimizer (ZeRO-1) over c10d. The optimizer's parameters are partitioned over the ranks by whole
// tensors (so Adafactor's factored row/column statistics stay whole), balanced by the bytes of their optimizer
// state; each rank keeps optimizer state for and updates only the tensors it owns, and the updated tensors go
// back to every rank as bucketed broadcasts from their owner. Gradients are all-reduced as under plain data
// parallel (the Reducer), so the result is bitwise that of data parallel. docs/distributed.md "Sharding".
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/safetensors.h"  // TensorMap

namespace mm::dist {
class Group;
}

namespace mm::train {

class Optimizer;

// The owner rank of each tensor, given the bytes each carries (ZeroOptimizer: its optimizer state): greedy,
// largest tensor first (ties in the given order), each tensor to the rank
// with the fewest bytes so far (the lowest rank on a tie). Deterministic: every rank computes the same
// assignment; the most loaded rank exceeds the least loaded one by at most the largest tensor.
std::vector<int> partition_by_bytes(const std::vector<int64_t>& bytes, int world);

// Traffic of the last step() on this rank, counted in the broadcast wrapper.
struct ZeroTraffic {
  int64_t broadcasts = 0;      // collectives issued (one per bucket, every rank takes part in each)
  int64_t bytes_as_root = 0;   // payload this rank broadcast (its own updated tensors)
  int64_t bytes_received = 0;  // payload it received (the other ranks' tensors)
};

class ZeroOptimizer {
 public:
  // `opt` and `group` must outlive this object; `bucket_cap_mb` bounds one broadcast's flat buffer.
  ZeroOptimizer(Optimizer& opt, const dist::Group& group, double bucket_cap_mb);

  // After the gradients are all-reduced (and clipped): drops the gradients of the tensors this rank does not
  // own, updates the owned ones, broadcasts every tensor from its owner.
  void step();

  bool owns(const std::string& name) const;
  int owner_of(const std::string& name) const;
  // The entries of an optimizer state map (whole, or the union of every rank's shard) that belong to the
  // tensors this rank owns ("<name>.<slot>", "<name>.step"); entries naming no parameter of the optimizer
  // are kept so that Optimizer::load_state_dict reports them.
  TensorMap owned_entries(const TensorMap& state) const;

  // Bytes of the optimizer state tensors this rank holds (slots and step counters).
  int64_t state_bytes() const;
  // Bytes of the parameters this rank owns, and of all the optimizer's parameters.
  int64_t owned_param_bytes() const { return owned_bytes_; }
  int64_t total_param_bytes() const { return total_bytes_; }
  int64_t owned_tensors() const { return owned_count_; }
  int64_t total_tensors() const { return static_cast<int64_t>(slots_.size()); }
  const ZeroTraffic& last_traffic() const { return traffic_; }

 private:
  struct Slot {  // one parameter of the optimizer, in the optimizer's order
    std::string name;
    size_t group = 0, index = 0;
    int owner = 0;
  };
  void broadcast_from(int root);

  Optimizer& opt_;
  const dist::Group& group_;
  int64_t bucket_bytes_;
  std::vector<Slot> slots_;
  std::map<std::string, int> owner_;  // parameter name -> owner rank
  int64_t owned_bytes_ = 0, total_bytes_ = 0, owned_count_ = 0;
  ZeroTraffic traffic_;
};

}  // namespace mm::train
