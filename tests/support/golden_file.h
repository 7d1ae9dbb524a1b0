// Golden files (tests/data/golden/<name>.safetensors, written by scripts/golden/gen_*.py): locating
// and loading them, typed metadata, and copying the reference weights ("w.<parameter name>") into a
// module.
#pragma once
#include <torch/torch.h>
#include <catch2/catch.hpp>

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
  const std::string& meta(const std::string& key) const { return file.metadata.at(key); }
  double num(const std::string& key) const { return std::stod(meta(key)); }
  int64_t integer(const std::string& key) const { return static_cast<int64_t>(num(key)); }
};

// tests/data/golden/<name>.safetensors (name without the extension, e.g. "vision_vit").
std::string golden_path(const std::string& name);
// Loads golden_path(name); throws mm::Error when it is missing or malformed.
Golden load_golden(const std::string& name);

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

}  // namespace mm::test
