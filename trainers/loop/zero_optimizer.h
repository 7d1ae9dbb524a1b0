// dist.shard: optimizer (ZeRO-1) and gradients (ZeRO-2) over c10d. The optimizer's parameters are partitioned over
// the ranks by whole tensors (so Adafactor's factored row/column statistics stay whole), balanced by the bytes of
// their optimizer state; each rank keeps optimizer state for and updates only the tensors it owns, and the updated
// tensors go back to every rank as bucketed broadcasts from their owner. No Reducer: the gradients are
// reduce-scattered to their owners (one all-to-all per bucket, each rank sums the copies of its own tensors in rank
// order) and the other ranks drop theirs. `optimizer`: after the last micro-batch's backward (reduce_gradients),
// so every rank holds its full local gradients until then; `gradients`: during that backward, each bucket as soon
// as its gradients are final (begin_reduction / finish_reduction). The reduction plus the broadcasts send what one
// ring all-reduce sends, in both modes; on 2 ranks the sums are the all-reduce's bit for bit (addition commutes).
// docs/distributed.md "Sharding".
#pragma once
#include <cstdint>
#include <map>
#include <memory>
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

// The sends of Gloo's binomial-tree broadcast (gloo/broadcast.cc) made by `rank` when `root` broadcasts to `world`
// ranks: the root and the forwarding ranks send the whole buffer once per child; the ranks send world - 1 in all.
int gloo_broadcast_sends(int rank, int root, int world);

// Traffic of the last step on this rank (reduce_gradients and step), counted in the collective wrappers below from
// the sizes each collective is given and the algorithm Gloo runs (docs/distributed.md "Sharding").
struct ZeroTraffic {
  int64_t broadcasts = 0;       // broadcasts issued (one per bucket, every rank takes part in each)
  int64_t bytes_as_root = 0;    // payload this rank broadcast (its own updated tensors)
  int64_t bytes_received = 0;   // payload it received (the other ranks' tensors)
  int64_t broadcast_sent = 0;   // bytes it sent in the broadcasts (as root or forwarding: gloo_broadcast_sends)
  int64_t reductions = 0;       // gradient all-to-alls issued (one per bucket; dist.shard: gradients)
  int64_t reduce_sent = 0;      // gradient bytes it sent to their owners (every segment of a bucket but its own)
  int64_t used_map_bytes = 0;   // the used-tensor flags it all-reduced (4 bytes a tensor, before the reduction)
  int64_t grad_bytes_held = 0;  // gradient bytes it held after the reduction (its own tensors' reduced gradients)
  // Gradient and parameter bytes this rank sent (the flags aside): compare with 2 (N-1)/N of the gradients.
  int64_t sent() const { return reduce_sent + broadcast_sent; }
};

class ZeroOptimizer {
 public:
  // `opt` and `group` must outlive this object; `bucket_cap_mb` bounds one collective's flat buffer.
  // `shard_gradients`: dist.shard gradients (the reduction overlaps backward: begin_reduction, finish_reduction);
  // otherwise dist.shard optimizer (reduce_gradients after backward).
  ZeroOptimizer(Optimizer& opt, const dist::Group& group, double bucket_cap_mb, bool shard_gradients = false);

  bool shards_gradients() const { return shard_gradients_; }

  // The tensors' gradients multiplied by `scale` (1/world: the mean over ranks, as the
  // Reducer) and summed over the ranks into their owner, bucket by bucket (one all-to-all each, in the same order
  // on every rank). A tensor without a gradient on a rank counts as zeros there; one without a gradient on every
  // rank keeps none, as under data parallel. Afterwards a rank holds only its own tensors' reduced gradients.
  // begin_reduction (dist.shard gradients), before the backward of the last micro-batch (the one that reduces): each
  // bucket is sent as soon as its gradients are final while that backward runs (hooks on the gradient accumulators; the
  // tensors `loss` does not reach are final at once), and a rank drops the gradients it does not own once sent.
  // finish_reduction, after it: sends what is left, waits, sums the copies of its own tensors.
  void begin_reduction(double scale, const torch::Tensor& loss);
  void finish_reduction();
  // Both at once, after backward (nothing overlaps).
  void reduce_gradients(double scale);
  ~ZeroOptimizer();
  ZeroOptimizer(const ZeroOptimizer&) = delete;
  ZeroOptimizer& operator=(const ZeroOptimizer&) = delete;

  // After the gradients are reduced (and clipped): drops the gradients of the tensors this rank does not
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
  // A bucket of the gradient reduction: consecutive slots of one dtype and device up to bucket_bytes_, the last
  // parameters first (their gradients are final first in backward), ordered by owner (in slot order within an
  // owner); `split[r]` elements belong to rank r.
  struct Bucket {
    std::vector<size_t> slots;
    std::vector<int64_t> split;
  };
  // One step's reduction in flight (zero_gradients.cpp).
  struct Reduction;
  void broadcast_from(int root);
  void build_buckets();
  void open_reduction();        // the reduction's state; under dist.shard gradients its hooks
  void on_final(size_t slot);   // under the reduction's lock
  void launch_ready_buckets();  // under the reduction's lock

  Optimizer& opt_;
  const dist::Group& group_;
  int64_t bucket_bytes_;
  bool shard_gradients_ = false;
  bool reduced_ = false;  // reduce_gradients ran since the last step (its traffic is this step's)
  std::vector<Slot> slots_;
  std::vector<Bucket> buckets_;
  std::vector<size_t> bucket_of_;     // slot -> its bucket
  std::shared_ptr<Reduction> red_;    // dist.shard gradients on several ranks (shared_ptr: Reduction is incomplete)
  std::map<std::string, int> owner_;  // parameter name -> owner rank
  int64_t owned_bytes_ = 0, total_bytes_ = 0, owned_count_ = 0;
  ZeroTraffic traffic_;
};

}  // namespace mm::train
