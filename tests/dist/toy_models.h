// Toy models, data and a plain (1-process) SGD loop shared by dist_worker and the tests: the
// data-parallel runs must reproduce train_reference() exactly.
#pragma once
#include <torch/torch.h>

#include <string>
#include <vector>

namespace mm::dist::toy {

constexpr int64_t kIn = 6, kHidden = 8, kOut = 3, kExperts = 4, kBatch = 8;
constexpr double kLr = 0.1;

struct Batch {
  torch::Tensor x;      // (B, kIn)
  torch::Tensor y;      // (B, kOut)
  torch::Tensor route;  // (B,) int64 expert per row; rows 0-3 use 0,1,2,0; rows 4-7 use 1,0,1,0
};

// The full batch of step `step`; rank r of 2 takes rows [4r, 4r+4).
inline Batch make_batch(int64_t step) {
  auto gen = at::detail::createCPUGenerator(1000 + static_cast<uint64_t>(step));
  Batch b;
  b.x = at::randn({kBatch, kIn}, gen, torch::kFloat64);
  b.y = at::randn({kBatch, kOut}, gen, torch::kFloat64);
  b.route = torch::tensor({0, 1, 2, 0, 1, 0, 1, 0}, torch::kInt64);  // expert 2: rank 0 only; 3: never
  return b;
}

inline Batch slice(const Batch& b, int64_t lo, int64_t hi) {
  return {b.x.slice(0, lo, hi), b.y.slice(0, lo, hi), b.route.slice(0, lo, hi)};
}

// A dense MLP, or (moe=true) a shared layer followed by hard-routed experts: an expert with no
// rows in the batch takes no part in the graph, so it gets no gradient on that rank.
struct ToyNetImpl : torch::nn::Module {
  bool moe;
  torch::nn::Linear in{nullptr}, out{nullptr};
  std::vector<torch::nn::Linear> experts;

  explicit ToyNetImpl(bool moe_) : moe(moe_) {
    in = register_module("in", torch::nn::Linear(kIn, kHidden));
    if (!moe) out = register_module("out", torch::nn::Linear(kHidden, kOut));
    for (int64_t e = 0; moe && e < kExperts; ++e)
      experts.push_back(register_module("expert" + std::to_string(e), torch::nn::Linear(kHidden, kOut)));
    to(torch::kFloat64);
  }

  torch::Tensor forward(const Batch& b) {
    torch::Tensor h = torch::tanh(in(b.x));  // (B, kHidden)
    if (!moe) return out(h);                 // (B, kOut)
    torch::Tensor y = torch::zeros({b.x.size(0), kOut}, h.options());
    for (int64_t e = 0; e < kExperts; ++e) {
      torch::Tensor idx = (b.route == e).nonzero().view({-1});  // rows routed to e
      if (idx.numel() == 0) continue;
      y = y.index_add(0, idx, experts[static_cast<size_t>(e)](h.index_select(0, idx)));
    }
    return y;
  }
};
TORCH_MODULE(ToyNet);

inline ToyNet make_net(bool moe, uint64_t seed) {
  torch::manual_seed(seed);
  return ToyNet(moe);
}

inline std::vector<torch::Tensor> snapshot(ToyNet& net) {
  std::vector<torch::Tensor> out;
  for (const auto& p : net->parameters()) out.push_back(p.detach().clone());
  return out;
}

// One process, the full batch each step, plain SGD.
inline std::vector<torch::Tensor> train_reference(bool moe, int steps) {
  ToyNet net = make_net(moe, 7);
  torch::optim::SGD opt(net->parameters(), torch::optim::SGDOptions(kLr));
  for (int s = 0; s < steps; ++s) {
    opt.zero_grad();
    Batch b = make_batch(s);
    torch::mse_loss(net->forward(b), b.y).backward();
    opt.step();
  }
  return snapshot(net);
}

}  // namespace mm::dist::toy
