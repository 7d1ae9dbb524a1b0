// Shared helpers of the decoder/MoE tests: golden files (scripts/golden/gen_llm.py), weight
// loading by parameter name, tolerance checks that report the worst element.
#pragma once
#include <catch2/catch.hpp>
#include <torch/torch.h>

#include <string>

#include "core/safetensors.h"

namespace mm::test {

struct Golden {
  mm::safetensors::File file;
  const torch::Tensor& at(const std::string& name) const {
    auto it = file.tensors.find(name);
    if (it == file.tensors.end()) FAIL("golden tensor missing: " << name);
    return it->second;
  }
  double num(const std::string& key) const { return std::stod(file.metadata.at(key)); }
  int64_t integer(const std::string& key) const { return static_cast<int64_t>(num(key)); }
};

inline Golden load_golden(const std::string& name) {
  return Golden{mm::safetensors::load(std::string(MM_TEST_DATA_DIR) + "/golden/" + name + ".safetensors")};
}

// Copies "w.<name>" into every parameter; every parameter must have a golden weight and vice versa.
inline void load_weights(torch::nn::Module& m, const Golden& g) {
  torch::NoGradGuard no_grad;
  size_t golden_weights = 0;
  for (const auto& kv : g.file.tensors) golden_weights += kv.first.rfind("w.", 0) == 0;
  auto params = m.named_parameters();
  CHECK(params.size() == golden_weights);
  for (auto& p : params) {
    const auto& w = g.at("w." + p.key());
    REQUIRE(w.sizes() == p.value().sizes());
    p.value().copy_(w);
  }
}

// Worst violation of |a - b| <= atol + rtol * |b| (<= 0 means all close).
inline double excess(const torch::Tensor& a, const torch::Tensor& b, double atol, double rtol) {
  auto ad = a.detach().to(torch::kDouble), bd = b.detach().to(torch::kDouble);
  return ((ad - bd).abs() - rtol * bd.abs() - atol).max().item<double>();
}

inline void check_close(const std::string& what, const torch::Tensor& a, const torch::Tensor& b_in,
                        double atol = 1e-5, double rtol = 1e-4) {
  // scripts/golden/safetensors_io.py stores 0-d tensors as (1) (np.ascontiguousarray).
  const auto b = (a.defined() && a.dim() == 0 && b_in.numel() == 1) ? b_in.reshape({}) : b_in;
  INFO(what << ": max |diff| = " << (a.detach().to(torch::kDouble) - b.to(torch::kDouble)).abs().max().item<double>());
  REQUIRE(a.defined());
  REQUIRE(a.sizes() == b.sizes());
  CHECK(excess(a, b, atol, rtol) <= 0.0);
}

// Compares every parameter's gradient with "grad.<name>".
inline void check_param_grads(torch::nn::Module& m, const Golden& g, double atol = 1e-5,
                              double rtol = 1e-4) {
  for (auto& p : m.named_parameters()) {
    INFO("parameter " << p.key());
    REQUIRE(p.value().grad().defined());
    check_close("grad." + p.key(), p.value().grad(), g.at("grad." + p.key()), atol, rtol);
  }
}

}  // namespace mm::test
