// Global-norm clipping, non-finite detection, loss-spike detection.
#include <torch/torch.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <limits>

#include "trainers/grad_utils.h"

using namespace mm::train;

TEST_CASE("clip_grad_norm returns the pre-clip norm and scales to max_norm", "[trainers][grad]") {
  auto a = torch::zeros({2}).requires_grad_(true);
  auto b = torch::zeros({1}).requires_grad_(true);
  auto c = torch::zeros({3}).requires_grad_(true);  // no gradient: ignored
  a.mutable_grad() = torch::tensor({3.0f, 0.0f});
  b.mutable_grad() = torch::tensor({4.0f});
  CHECK(clip_grad_norm({a, b, c}, 0.0) == Approx(5.0));  // measure only
  CHECK(a.grad()[0].item<float>() == 3.0f);
  CHECK(clip_grad_norm({a, b, c}, 10.0) == Approx(5.0));  // under the threshold: untouched
  CHECK(b.grad()[0].item<float>() == 4.0f);
  CHECK(clip_grad_norm({a, b, c}, 1.0) == Approx(5.0));
  CHECK(clip_grad_norm({a, b, c}, 0.0) == Approx(1.0).epsilon(1e-5));
  CHECK(a.grad()[0].item<float>() == Approx(0.6).epsilon(1e-5));
}

TEST_CASE("all_finite flags NaN/Inf in the loss or any gradient", "[trainers][grad]") {
  auto a = torch::zeros({3}).requires_grad_(true);
  a.mutable_grad() = torch::ones({3});
  CHECK(all_finite(1.0, {a}));
  CHECK_FALSE(all_finite(std::numeric_limits<double>::quiet_NaN(), {a}));
  CHECK_FALSE(all_finite(std::numeric_limits<double>::infinity(), {a}));
  a.mutable_grad()[1] = std::numeric_limits<float>::infinity();
  CHECK_FALSE(all_finite(1.0, {a}));
  a.mutable_grad()[1] = std::numeric_limits<float>::quiet_NaN();
  CHECK_FALSE(all_finite(1.0, {a}));
  CHECK(std::isnan(clip_grad_norm({a}, 1.0)));
}

TEST_CASE("spike detector: z-score over a window", "[trainers][grad]") {
  SpikeDetector d(SpikeDetectorOptions{20, 10, 4.0});
  // Noisy, slowly decreasing losses: no spike.
  for (int i = 0; i < 40; ++i) CHECK_FALSE(d.update(3.0 - 0.01 * i + 0.05 * std::sin(i * 1.7)));
  CHECK(d.history().size() == 20);
  CHECK(d.update(6.0));  // far above
  CHECK(d.last_z() > 4.0);
  CHECK(d.history().size() == 20);
  CHECK(d.history().back() < 3.0);  // the spike is not recorded
  CHECK(d.update(6.0));             // so a second one is flagged too
  CHECK_FALSE(d.update(2.62));      // back to normal
  CHECK_FALSE(d.update(std::nan("")));

  SpikeDetector fresh(SpikeDetectorOptions{20, 10, 4.0});
  for (int i = 0; i < 9; ++i) fresh.update(1.0 + 0.01 * i);
  CHECK_FALSE(fresh.update(100.0));  // not enough history for a verdict
}

// dist.shard gradients: each rank holds its own tensors' gradients; the squared norms summed over the ranks and
// added in the tensors' order give the unsharded norm and scale bit for bit.
TEST_CASE("clip_grad_norm over sharded gradients equals the unsharded one bit for bit", "[trainers][grad]") {
  torch::manual_seed(3);
  std::vector<torch::Tensor> whole, rank0, rank1;
  for (int i = 0; i < 5; ++i) {
    whole.push_back(torch::zeros({7 + i}).requires_grad_(true));
    rank0.push_back(torch::zeros({7 + i}).requires_grad_(true));
    rank1.push_back(torch::zeros({7 + i}).requires_grad_(true));
    const torch::Tensor g = torch::randn({7 + i}) * (i + 1);
    whole[i].mutable_grad() = g.clone();
    (i % 2 ? rank1 : rank0)[i].mutable_grad() = g.clone();  // tensor i owned by rank i % 2
  }
  // The "all-reduce" of rank 0's terms: rank 1's terms, computed first, are added in.
  std::vector<double> other;
  auto capture = [&](std::vector<double> t) {
    other = t;
    return t;
  };
  clip_grad_norm(rank1, 0.0, capture);
  auto sum = [&](std::vector<double> t) {
    for (size_t i = 0; i < t.size(); ++i) t[i] += other[i];
    return t;
  };
  const double expected = clip_grad_norm(whole, 1.0);
  CHECK(expected > 1.0);
  CHECK(clip_grad_norm(rank0, 1.0, sum) == expected);  // bitwise
  for (int i = 0; i < 5; i += 2) CHECK(torch::equal(rank0[i].grad(), whole[i].grad()));
  CHECK_FALSE(rank0[1].grad().defined());
  CHECK_THROWS_WITH(clip_grad_norm(rank0, 1.0, [](std::vector<double>) { return std::vector<double>{1.0}; }),
                    Catch::Contains("1 squared norms summed over ranks, expected 5"));
}
