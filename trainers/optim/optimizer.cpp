// Optimizer base: group validation, the step loop (slots, step counters, one update per group), zero_grad, state
// to/from maps.
#include "trainers/optim/optimizer.h"

#include <torch/torch.h>

#include <set>

#include "core/check.h"

namespace mm::train {

Optimizer::Optimizer(std::vector<ParamGroup> groups) : groups_(std::move(groups)) {
  std::set<std::string> seen;
  for (const auto& g : groups_) {
    MM_CHECK(g.names.size() == g.params.size(), "optimizer: a group has {} names for {} parameters", g.names.size(),
             g.params.size());
    for (std::size_t i = 0; i < g.params.size(); ++i) {
      MM_CHECK(seen.insert(g.names[i]).second, "optimizer: parameter name '{}' appears twice", g.names[i]);
      MM_CHECK(g.params[i].defined() && g.params[i].is_floating_point(),
               "optimizer: parameter '{}' must be a defined floating-point tensor", g.names[i]);
    }
    state_.emplace_back(g.params.size());
  }
}

void Optimizer::step() {
  torch::NoGradGuard no_grad;
  UpdateBatch batch;
  for (std::size_t gi = 0; gi < groups_.size(); ++gi) {
    auto& g = groups_[gi];
    const double lr = lr_ * g.lr_mult;
    for (std::size_t i = 0; i < g.params.size(); ++i) {
      torch::Tensor& p = g.params[i];
      const torch::Tensor& grad = p.grad();
      if (!grad.defined()) continue;
      MM_CHECK(!grad.is_sparse(), "{}: sparse gradient of '{}' is not supported", name(), g.names[i]);
      ParamState& st = state_[gi][i];
      if (st.step == 0 && st.slots.empty())
        for (const auto& [slot, shape] : slot_shapes(p.sizes())) st.slots[slot] = torch::zeros(shape, p.options());
      st.step += 1;
      batch.params.push_back(p);
      batch.grads.push_back(grad);
      batch.states.push_back(&st);
    }
    if (!batch.params.empty()) update_group(batch, lr, g.weight_decay);
    batch = {};
  }
}

void Optimizer::update_group(UpdateBatch& batch, double lr, double weight_decay) {
  for (std::size_t i = 0; i < batch.params.size(); ++i)
    update(batch.params[i], batch.grads[i], *batch.states[i], lr, weight_decay);
}

int64_t Optimizer::state_numel(torch::IntArrayRef param_sizes) const {
  int64_t n = 0;
  for (const auto& [slot, shape] : slot_shapes(param_sizes)) {
    int64_t k = 1;
    for (int64_t d : shape) k *= d;
    n += k;
  }
  return n;
}

void Optimizer::zero_grad() {
  for (auto& g : groups_)
    for (auto& p : g.params) p.mutable_grad() = torch::Tensor();
}

TensorMap Optimizer::state_dict() const {
  TensorMap out;
  for (std::size_t gi = 0; gi < groups_.size(); ++gi)
    for (std::size_t i = 0; i < groups_[gi].params.size(); ++i) {
      const ParamState& st = state_[gi][i];
      if (st.step == 0) continue;
      const std::string& n = groups_[gi].names[i];
      out[n + ".step"] = torch::tensor(st.step, torch::kInt64);
      for (const auto& [slot, t] : st.slots) out[n + "." + slot] = t.detach().clone();
    }
  return out;
}

void Optimizer::load_state_dict(const TensorMap& state) {
  std::set<std::string> used;
  std::vector<std::vector<ParamState>> fresh;
  for (std::size_t gi = 0; gi < groups_.size(); ++gi) {
    fresh.emplace_back(groups_[gi].params.size());
    for (std::size_t i = 0; i < groups_[gi].params.size(); ++i) {
      const std::string& n = groups_[gi].names[i];
      const torch::Tensor& p = groups_[gi].params[i];
      auto it = state.find(n + ".step");
      if (it == state.end()) continue;  // never updated
      used.insert(it->first);
      MM_CHECK(it->second.numel() == 1, "{} state: '{}' must hold one integer", name(), it->first);
      ParamState& st = fresh[gi][i];
      st.step = it->second.to(torch::kInt64).item<int64_t>();
      for (const auto& [slot, shape] : slot_shapes(p.sizes())) {
        auto s = state.find(n + "." + slot);
        MM_CHECK(s != state.end(), "{} state: missing '{}.{}' (saved by another optimizer?)", name(), n, slot);
        MM_CHECK(s->second.sizes() == torch::IntArrayRef(shape), "{} state: '{}' has shape {}, expected {}", name(),
                 s->first, c10::str(s->second.sizes()), c10::str(torch::IntArrayRef(shape)));
        st.slots[slot] = s->second.to(p.options()).clone();
        used.insert(s->first);
      }
    }
  }
  for (const auto& kv : state)
    MM_CHECK(used.count(kv.first), "{} state: unexpected entry '{}' (no such parameter or slot)", name(), kv.first);
  state_ = std::move(fresh);
}

}  // namespace mm::train
