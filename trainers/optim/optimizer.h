// The trainer's optimizer interface: parameter groups (per-group lr multiplier and weight decay),
// step()/zero_grad(), and the whole state as a flat name -> tensor map for safetensors.
#pragma once
#include <torch/types.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/safetensors.h"  // TensorMap

namespace mm::train {

// Parameters that share a learning-rate multiplier and a weight decay. `names` are unique across
// the optimizer: they key the state map ("<name>.exp_avg", ...).
struct ParamGroup {
  std::vector<std::string> names;
  std::vector<torch::Tensor> params;
  double lr_mult = 1.0;
  double weight_decay = 0.0;
};

// One parameter's optimizer state: its step counter and named slot tensors (empty until the
// parameter's first update).
struct ParamState {
  int64_t step = 0;
  std::map<std::string, torch::Tensor> slots;
};

class Optimizer {
 public:
  explicit Optimizer(std::vector<ParamGroup> groups);
  virtual ~Optimizer() = default;

  // The schedule's learning rate for the next step(); group g uses lr * groups[g].lr_mult.
  void set_lr(double lr) { lr_ = lr; }
  double lr() const { return lr_; }

  // One update of every parameter that has a gradient (parameters without one are skipped and
  // keep their step counter, as torch.optim does). Runs under NoGradGuard.
  void step();
  // Drops every gradient (sets it undefined).
  void zero_grad();

  // Every state tensor, keyed "<param name>.<slot>" plus "<param name>.step" (int64 0-d) for each
  // parameter updated at least once. Tensors are copies: later steps do not change the map.
  TensorMap state_dict() const;
  // Restores a state_dict(); throws mm::Error for an unknown key, a missing slot or a wrong shape.
  void load_state_dict(const TensorMap& state);

  const std::vector<ParamGroup>& groups() const { return groups_; }
  // Elements of the state slots a parameter of shape `param_sizes` carries (what dist.shard balances).
  int64_t state_numel(torch::IntArrayRef param_sizes) const;
  const ParamState& state(std::size_t group, std::size_t index) const { return state_[group][index]; }
  virtual const char* name() const = 0;

 protected:
  // Slot name -> shape that a parameter of shape `param_sizes` carries (zeros on first use).
  virtual std::map<std::string, std::vector<int64_t>> slot_shapes(torch::IntArrayRef param_sizes) const = 0;
  // Updates one parameter in place; st.step is already incremented and st.slots initialised.
  virtual void update(torch::Tensor& param, const torch::Tensor& grad, ParamState& st, double lr,
                      double weight_decay) = 0;
  // The parameters of one group that have a gradient this step (states as for update()).
  struct UpdateBatch {
    std::vector<torch::Tensor> params, grads;
    std::vector<ParamState*> states;
  };
  // Updates a group's parameters; the default calls update() for each. An optimizer overrides it
  // to update many tensors per kernel (multi-tensor `_foreach_*` ops), with the same arithmetic.
  virtual void update_group(UpdateBatch& batch, double lr, double weight_decay);

  std::vector<ParamGroup> groups_;
  std::vector<std::vector<ParamState>> state_;  // [group][param]
  double lr_ = 0.0;
};

}  // namespace mm::train
