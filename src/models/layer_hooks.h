// Hooks around the units of parameters the layer loops run (each ViT block, each decoder block, the ViT's
// embeddings, the connector, the token embeddings, the final norm and head). Nothing is installed by default;
// dist.shard: parameters (ZeRO-3, trainers/loop/zero_params.h) installs one that gathers a unit's parameters
// just before its forward, releases them after, and wires the unit's backward (docs/distributed.md "Sharding").
#pragma once
#include <torch/types.h>

#include <vector>

namespace mm {

class LayerHooks {
 public:
  virtual ~LayerHooks() = default;
  // Before a unit's forward: its parameters must be usable when this returns.
  virtual void before_unit(const char* unit, const std::vector<torch::Tensor>& params) = 0;
  // After it: the unit's outputs (any number of tensors), returned possibly wrapped for backward; the
  // parameters may be released.
  virtual std::vector<torch::Tensor> after_unit(const char* unit, const std::vector<torch::Tensor>& params,
                                                std::vector<torch::Tensor> outputs) = 0;
  // True when every process must run every unit in the same order (collectives inside): the multimodal model
  // then runs its image encoder on a dummy tile for a batch without images, inside dummy_units(true/false).
  virtual bool needs_every_unit() const = 0;
  virtual void dummy_units(bool on) = 0;
};

// The installed hooks (null: none). Process-wide; installed and removed by LayerHooksScope.
LayerHooks* layer_hooks();

class LayerHooksScope {
 public:
  explicit LayerHooksScope(LayerHooks* hooks);
  ~LayerHooksScope();
  LayerHooksScope(const LayerHooksScope&) = delete;
  LayerHooksScope& operator=(const LayerHooksScope&) = delete;

 private:
  LayerHooks* previous_;
};

// Runs `fn` (returning the unit's outputs) as one unit: before_unit, fn, after_unit; fn alone when no hooks are
// installed. `params` returns the unit's parameters (called only with hooks).
template <typename ParamsFn, typename Fn>
std::vector<torch::Tensor> run_unit(const char* unit, ParamsFn&& params, Fn&& fn) {
  LayerHooks* h = layer_hooks();
  if (!h) return fn();
  const std::vector<torch::Tensor> p = params();
  h->before_unit(unit, p);
  return h->after_unit(unit, p, fn());
}

}  // namespace mm
