// Shared helpers of the decoder/MoE tests: tolerance checks that report the worst element
// (golden files and weight loading come from golden_file.h).
#pragma once
#include <torch/torch.h>
#include <catch2/catch.hpp>

#include <string>

#include "support/golden_file.h"

namespace mm::test {

// Worst violation of |a - b| <= atol + rtol * |b| (<= 0 means all close).
inline double excess(const torch::Tensor& a, const torch::Tensor& b, double atol, double rtol) {
  auto ad = a.detach().to(torch::kDouble), bd = b.detach().to(torch::kDouble);
  return ((ad - bd).abs() - rtol * bd.abs() - atol).max().item<double>();
}

inline void check_close(const std::string& what, const torch::Tensor& a, const torch::Tensor& b_in, double atol = 1e-5,
                        double rtol = 1e-4) {
  // scripts/golden/safetensors_io.py stores 0-d tensors as (1) (np.ascontiguousarray).
  const auto b = (a.defined() && a.dim() == 0 && b_in.numel() == 1) ? b_in.reshape({}) : b_in;
  INFO(what << ": max |diff| = " << (a.detach().to(torch::kDouble) - b.to(torch::kDouble)).abs().max().item<double>());
  REQUIRE(a.defined());
  REQUIRE(a.sizes() == b.sizes());
  CHECK(excess(a, b, atol, rtol) <= 0.0);
}

// Compares every parameter's gradient with "grad.<name>".
inline void check_param_grads(torch::nn::Module& m, const Golden& g, double atol = 1e-5, double rtol = 1e-4) {
  for (auto& p : m.named_parameters()) {
    INFO("parameter " << p.key());
    REQUIRE(p.value().grad().defined());
    check_close("grad." + p.key(), p.value().grad(), g.at("grad." + p.key()), atol, rtol);
  }
}

}  // namespace mm::test
