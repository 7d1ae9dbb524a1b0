// Activation recomputation: one custom autograd Function whose backward recomputes the forward.
#include "models/recompute.h"

#include <ATen/CPUGeneratorImpl.h>

namespace mm {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// Keeps the function (and the CPU RNG state at forward time) alive until backward.
struct CheckpointState : torch::CustomClassHolder {
  RecomputeFn fn;
  size_t num_inputs = 0;
  torch::Tensor rng_state;  // default CPU generator state before the forward run
};

torch::Tensor cpu_rng_state() {
  auto gen = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(gen.mutex());
  return gen.get_state();
}

void set_cpu_rng_state(const torch::Tensor& state) {
  auto gen = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(gen.mutex());
  gen.set_state(state);
}

bool wants_grad(const torch::Tensor& t) { return t.defined() && t.requires_grad(); }

struct CheckpointFunction : public torch::autograd::Function<CheckpointFunction> {
  // `state` is not a tensor (no gradient slot); `inputs` and `params` are flattened tensor lists.
  static variable_list forward(AutogradContext* ctx, c10::intrusive_ptr<CheckpointState> state, at::TensorList inputs,
                               at::TensorList params) {
    state->num_inputs = inputs.size();
    state->rng_state = cpu_rng_state();
    variable_list to_save(inputs.begin(), inputs.end());
    to_save.insert(to_save.end(), params.begin(), params.end());
    ctx->save_for_backward(to_save);
    ctx->saved_data["state"] = c10::IValue::make_capsule(state);
    torch::NoGradGuard no_grad;
    return state->fn(std::vector<torch::Tensor>(inputs.begin(), inputs.end()));
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    auto state = c10::static_intrusive_pointer_cast<CheckpointState>(ctx->saved_data["state"].toCapsule());
    const variable_list saved = ctx->get_saved_variables();
    const size_t n_in = state->num_inputs;

    // Recompute on detached inputs so the local graph ends at this node.
    std::vector<torch::Tensor> inputs;
    inputs.reserve(n_in);
    for (size_t i = 0; i < n_in; ++i) {
      const auto& x = saved[i];
      if (!x.defined()) {
        inputs.push_back(x);
        continue;
      }
      auto d = x.detach();
      if (x.requires_grad()) d.requires_grad_(true);
      inputs.push_back(d);
    }
    variable_list outputs;
    {
      const torch::Tensor rng_now = cpu_rng_state();
      set_cpu_rng_state(state->rng_state);
      torch::AutoGradMode enable_grad(true);
      outputs = state->fn(inputs);
      set_cpu_rng_state(rng_now);
    }

    // Pair each differentiable output with its incoming gradient.
    variable_list outs, grads;
    for (size_t i = 0; i < outputs.size() && i < grad_outputs.size(); ++i) {
      if (grad_outputs[i].defined() && wants_grad(outputs[i])) {
        outs.push_back(outputs[i]);
        grads.push_back(grad_outputs[i]);
      }
    }
    // Targets: inputs and params that need gradients; the rest get undefined gradients.
    variable_list targets;
    std::vector<int64_t> slot;  // index into [inputs..., params...]
    for (size_t i = 0; i < saved.size(); ++i) {
      const torch::Tensor& t = i < n_in ? inputs[i] : saved[i];
      if (wants_grad(t)) {
        targets.push_back(t);
        slot.push_back(static_cast<int64_t>(i));
      }
    }
    variable_list result(1 + saved.size());  // [state, inputs..., params...]
    if (!outs.empty() && !targets.empty()) {
      const variable_list g = torch::autograd::grad(outs, targets, grads, /*retain_graph=*/false,
                                                    /*create_graph=*/false, /*allow_unused=*/true);
      for (size_t k = 0; k < g.size(); ++k) result[1 + slot[k]] = g[k];
    }
    return result;
  }
};

}  // namespace

std::vector<torch::Tensor> recomputed(const RecomputeFn& fn, const std::vector<torch::Tensor>& inputs,
                                      const std::vector<torch::Tensor>& params) {
  auto state = c10::make_intrusive<CheckpointState>();
  state->fn = fn;
  return CheckpointFunction::apply(state, at::TensorList(inputs), at::TensorList(params));
}

torch::Tensor recomputed(const std::function<torch::Tensor(const torch::Tensor&)>& fn, const torch::Tensor& x,
                         const std::vector<torch::Tensor>& params) {
  auto outs = recomputed([fn](const std::vector<torch::Tensor>& in) { return std::vector<torch::Tensor>{fn(in[0])}; },
                         std::vector<torch::Tensor>{x}, params);
  return outs[0];
}

}  // namespace mm
