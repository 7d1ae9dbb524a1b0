#include "models/llm/moe.h"

#include "core/check.h"
#include "models/llm/mlp.h"

namespace mm::llm {

namespace nn = torch::nn;

ExpertImpl::ExpertImpl(int64_t dim, int64_t hidden) {
  w1 = register_module("w1", nn::Linear(nn::LinearOptions(dim, hidden).bias(false)));
  w2 = register_module("w2", nn::Linear(nn::LinearOptions(hidden, dim).bias(false)));
  w3 = register_module("w3", nn::Linear(nn::LinearOptions(dim, hidden).bias(false)));
}

torch::Tensor ExpertImpl::forward(const torch::Tensor& x) {
  return w2(swiglu_packed(torch::linear(x, torch::cat({w1->weight, w3->weight}, 0))));  // one GEMM for w1, w3
}

MoEImpl::MoEImpl(int64_t dim, int64_t hidden, const MoEConfig& cfg_) : cfg(cfg_) {
  MM_CHECK(cfg.num_experts > 0, "llm.moe.num_experts must be > 0 for an MoE layer, got {}", cfg.num_experts);
  MM_CHECK(cfg.top_k >= 1 && cfg.top_k <= cfg.num_experts, "llm.moe.top_k must be in [1, num_experts={}], got {}",
           cfg.num_experts, cfg.top_k);
  gate = register_module("gate", nn::Linear(nn::LinearOptions(dim, cfg.num_experts).bias(false)));
  experts = register_module("experts", nn::ModuleList());
  for (int64_t e = 0; e < cfg.num_experts; ++e) {
    expert_list.push_back(Expert(dim, hidden));
    experts->push_back(expert_list.back());
  }
}

MoEOutput MoEImpl::forward(const torch::Tensor& x) {
  const int64_t d = x.size(-1), e_count = cfg.num_experts, k = cfg.top_k;
  auto xf = x.reshape({-1, d});  // (N, D)
  const int64_t n = xf.size(0);
  auto logits = gate(xf).to(torch::kFloat);  // (N, E)
  auto probs = torch::softmax(logits, -1);   // (N, E)
  auto top = probs.topk(k, -1);              // values/indices (N, k)
  auto weights = std::get<0>(top);
  weights = weights / weights.sum(-1, /*keepdim=*/true);  // (N, k) renormalised
  auto slot_expert = std::get<1>(top).reshape({-1});      // (N*k)
  auto sorted = torch::sort(slot_expert, /*stable=*/true, /*dim=*/0, /*descending=*/false);
  auto order = std::get<1>(sorted);                         // (N*k) slot ids grouped by expert
  auto slot_token = order.div(k, "floor");                  // (N*k) token of each sorted slot
  auto xs = xf.index_select(0, slot_token);                 // (N*k, D)
  auto counts = torch::bincount(slot_expert, {}, e_count);  // (E)
  auto counts_cpu = counts.to(torch::kCPU);
  const int64_t* c = counts_cpu.data_ptr<int64_t>();

  std::vector<torch::Tensor> ys;
  ys.reserve(e_count);
  int64_t offset = 0;
  for (int64_t e = 0; e < e_count; ++e) {
    ys.push_back(expert_list[e]->forward(xs.narrow(0, offset, c[e])));  // (c_e, D)
    offset += c[e];
  }
  auto slot_weight = weights.reshape({-1}).index_select(0, order).unsqueeze(1);  // (N*k, 1)
  auto y = torch::cat(ys, 0) * slot_weight.to(x.scalar_type());                  // (N*k, D)
  auto out = torch::zeros_like(xf).index_add(0, slot_token, y);                  // (N, D)

  auto frac = counts.to(torch::kFloat) / static_cast<double>(n * k);  // f_i (E)
  auto mean_prob = probs.mean(0);                                     // P_i (E)
  auto aux = (frac * mean_prob).sum() * (cfg.aux_loss_coef * static_cast<double>(e_count));
  auto z = torch::logsumexp(logits, -1).pow(2).mean() * cfg.z_loss_coef;
  last_counts = counts;
  return {out.view(x.sizes()), aux, z};
}

}  // namespace mm::llm
