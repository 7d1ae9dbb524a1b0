// Mixture-of-experts SwiGLU FFN (Mixtral layout: gate = router, experts.N.w1/w2/w3): softmax
// router, top-k with renormalised weights, dropless dispatch, Switch load-balancing loss and
// router z-loss.
#pragma once
#include <torch/torch.h>

#include "core/config/model_config.h"

namespace mm::llm {

// One expert: w2(silu(w1(x)) * w3(x)) (Mixtral's names for gate/down/up).
class ExpertImpl : public torch::nn::Module {
 public:
  ExpertImpl(int64_t dim, int64_t hidden);
  torch::Tensor forward(const torch::Tensor& x);  // (N, D) -> (N, D); N may be 0

  torch::nn::Linear w1{nullptr};  // D -> F (gate)
  torch::nn::Linear w2{nullptr};  // F -> D (down)
  torch::nn::Linear w3{nullptr};  // D -> F (up)
};
TORCH_MODULE(Expert);

struct MoEOutput {
  torch::Tensor out;       // (B, T, D)
  torch::Tensor aux_loss;  // () aux_loss_coef * E * sum_i f_i * P_i
  torch::Tensor z_loss;    // () z_loss_coef * mean_t logsumexp(logits_t)^2
};

class MoEImpl : public torch::nn::Module {
 public:
  MoEImpl(int64_t dim, int64_t hidden, const MoEConfig& cfg);

  // Tokens are grouped by expert (a stable sort of the token-slots by expert id), gathered with
  // one index_select, run through each expert on its contiguous slice (counts via bincount: one
  // host sync per call), weighted and scattered back with index_add. Experts that receive no
  // token run on an empty slice, so their parameters still get (zero) gradients.
  MoEOutput forward(const torch::Tensor& x);  // x (B, T, D)

  MoEConfig cfg;
  torch::nn::Linear gate{nullptr};  // D -> E, no bias (the router)
  torch::nn::ModuleList experts{nullptr};
  std::vector<Expert> expert_list;
  torch::Tensor last_counts;  // (E) int64: token-slots routed to each expert by the last forward
};
TORCH_MODULE(MoE);

}  // namespace mm::llm
