// dist.shard: parameters (ZeRO-3 / full sharding) over c10d. Every parameter of the model has one owner rank
// (partition_by_bytes over the parameters' bytes, whole tensors: Adafactor's factored statistics stay whole); a
// rank keeps the storage of the tensors it owns (the fp32 master weights), their gradients and their optimizer
// state, and releases the storage of the others (the tensor objects stay, so the optimizer and autograd keep
// pointing at them). Installed as the model's LayerHooks (models/layer_hooks.h), it gathers a unit's parameters
// (one broadcast per owner) just before the unit's forward and releases them after; two autograd nodes around the
// unit gather them again before the unit's backward and, after it, reduce the unit's gradients to their owners
// (c10d reduce, one per owner) and release the parameters and the other ranks' gradients. The optimizer then
// updates only owned tensors; nothing is broadcast after the step (the next forward gathers). In forward the next
// unit's gather is started (asynchronous broadcasts) as soon as the current unit's is done, so that it travels
// while the current unit computes: the next unit is the one that came next in the previous micro-batch's forward
// (the same sequence on every rank, since every rank runs every unit); a unit that is not the one prefetched is
// gathered as usual, after the prefetched one is completed and released. Backward does the same with the gather
// nodes' sequence: while a unit's backward computes, the gather of the unit whose backward came next in the
// previous micro-batch travels.
// docs/distributed.md "Sharding".
#pragma once
#include <torch/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/safetensors.h"  // TensorMap
#include "models/layer_hooks.h"

namespace torch::nn {
class Module;
}
namespace mm::dist {
class Group;
}

namespace mm::train {

// What one step moved on this rank, counted in the collectives' wrappers (payload bytes).
struct ZeroParamsTraffic {
  int64_t gathers = 0;                // broadcasts issued (one per unit pass and owner; forward and backward)
  int64_t gather_bytes_received = 0;  // parameter bytes received from their owners
  int64_t gather_bytes_sent = 0;      // bytes broadcast as the owner
  int64_t reduces = 0;                // reductions issued (one per unit pass and owner, in backward)
  int64_t reduce_bytes_sent = 0;      // gradient bytes contributed to the other ranks' tensors
  int64_t reduce_bytes_received = 0;  // gradient bytes reduced into this rank's own tensors
  int64_t flag_bytes = 0;             // the used-tensor flags sent along with the gradients
  int64_t prefetched = 0;             // forward unit gathers started during the previous unit's forward
  int64_t prefetched_backward = 0;    // backward unit gathers started during the previous unit's backward
};

class ZeroParams : public LayerHooks {
 public:
  // Every parameter of `model` (trainable or not) is partitioned; installs itself as the layer hooks until
  // destroyed. `group` must outlive this object. Nothing is released before shard().
  ZeroParams(torch::nn::Module& model, const dist::Group& group);
  ~ZeroParams() override;

  // Releases the storage of every parameter this rank does not own (after the weights are loaded).
  void shard();
  // Collective: every parameter whole on every rank until release_all() (checkpoint, evaluation on rank 0);
  // the hooks do nothing meanwhile.
  void gather_all();
  void release_all();

  // Resets the step's traffic and peak counters (the train step calls it first).
  void begin_step();
  // Before each micro-batch's forward: an owned tensor's gradient (the earlier micro-batches' reduced sum) is
  // set aside, so that backward accumulates this micro-batch's own gradient alone; the units of the forward
  // before become the sequence the next forward prefetches.
  void begin_micro_batch();
  // After a micro-batch's backward: every unit pass was reduced and no other rank's gradient is left here.
  void end_backward();
  // The squared L2 norm of every owned gradient summed over the ranks (fp64, one all-reduce), and clipping of
  // the owned gradients by the global norm as clip_grad_norm does; returns the norm before clipping.
  double clip_grad_norm(double max_norm);

  bool owns(const std::string& name) const;
  int owner_of(const std::string& name) const;
  // The entries of an optimizer state map that belong to this rank's tensors (as ZeroOptimizer::owned_entries).
  TensorMap owned_entries(const TensorMap& state) const;

  int64_t resident_bytes() const { return resident_; }  // parameter storage held now
  int64_t peak_bytes() const { return peak_; }          // the most held since begin_step()
  int64_t owned_bytes() const { return owned_; }
  int64_t total_bytes() const { return total_; }
  int64_t largest_unit_bytes() const { return largest_unit_; }  // the largest unit passed so far
  int64_t owned_tensors() const;
  int64_t total_tensors() const { return static_cast<int64_t>(slots_.size()); }
  const ZeroParamsTraffic& traffic() const { return traffic_; }

  // LayerHooks.
  void before_unit(const char* unit, const std::vector<torch::Tensor>& params) override;
  std::vector<torch::Tensor> after_unit(const char* unit, const std::vector<torch::Tensor>& params,
                                        std::vector<torch::Tensor> outputs) override;
  bool needs_every_unit() const override { return sharded_ && all_gathered_ == 0; }
  void dummy_units(bool on) override {
    dummy_ = on;
    if (on) ++dummy_encoder_runs_;
  }
  // Batches on which this rank ran the image encoder on a blank tile (no images), since construction.
  int64_t dummy_encoder_runs() const { return dummy_encoder_runs_; }

  // Called by the backward nodes (zero_params.cpp): gather a unit pass's parameters again (prefetched when it is
  // the backward sequence's next) and start the next one's; reduce its gradients to their owners and release.
  void gather_for_backward(const std::vector<size_t>& slots);
  void reduce_and_release(const std::vector<size_t>& slots, bool dummy);

 private:
  struct Gather;  // broadcasts in flight (zero_params_collectives.cpp)
  std::shared_ptr<Gather> start_gather(const std::vector<size_t>& slots);
  void finish_gather(Gather& g);
  void gather_slots(const std::vector<size_t>& slots);
  // The units (their slots) gathered in one direction, in order: in the last complete micro-batch and in the
  // current one.
  struct Sequence {
    std::vector<std::vector<size_t>> last, now;
  };
  // Gathers `slots` (completing the prefetch when it is of them; else it is completed and released first:
  // drop_prefetch), appends them to `seq` and starts the gather of the unit that came next in seq.last;
  // `prefetched` counts those starts.
  void gather_in_sequence(Sequence& seq, const std::vector<size_t>& slots, int64_t& prefetched);
  void drop_prefetch();
  struct Slot {
    std::string name;
    torch::Tensor param;
    int owner = 0;
    int64_t bytes = 0;
    int refs = 0;           // open gathers (forward, backward, gather_all)
    torch::Tensor earlier;  // owner: the reduced gradient of the step's earlier micro-batches, during backward
  };
  std::vector<size_t> slots_of(const std::vector<torch::Tensor>& params) const;
  // `slots` grouped by owner (index: rank), in order; with_grad_only keeps those that require grad.
  std::vector<std::vector<size_t>> by_owner(const std::vector<size_t>& slots, bool with_grad_only) const;
  void release(const std::vector<size_t>& slots);
  void allocate(Slot& s);
  void free(Slot& s);
  bool mine(const Slot& s) const;

  const dist::Group& group_;
  std::vector<Slot> slots_;
  std::map<const void*, size_t> by_impl_;  // TensorImpl -> slot
  std::map<std::string, size_t> by_name_;
  torch::Tensor anchor_;  // a leaf that requires grad: the input of every reduce node
  struct Open {
    std::vector<size_t> slots;
    c10::intrusive_ptr<torch::CustomClassHolder> pass;  // the pass's state (zero_params.cpp), with grad only
    torch::Tensor anchor_out;                           // the reduce node's output
  };
  std::vector<Open> open_;  // units between before_unit and after_unit
  // Prefetch: the forward's and the backward's unit sequences, and the next unit's gather in flight.
  Sequence forward_, backward_;
  std::shared_ptr<Gather> prefetch_;  // shared_ptr: Gather is incomplete here
  int64_t open_backward_ = 0;         // unit passes whose reduce node has not run yet
  bool sharded_ = false, dummy_ = false;
  int all_gathered_ = 0;
  int64_t dummy_encoder_runs_ = 0;
  int64_t resident_ = 0, peak_ = 0, owned_ = 0, total_ = 0, largest_unit_ = 0;
  ZeroParamsTraffic traffic_;
  LayerHooksScope scope_;
};

}  // namespace mm::train
