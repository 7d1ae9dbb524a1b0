// What the HF adapters (llm/hf_llama_adapter.h, vision/hf_clip_adapter.h) share: a checked
// one-to-one renaming between our module names and a Hugging Face model's, with shapes.
#pragma once
#include <torch/types.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/safetensors.h"  // TensorMap

namespace mm {

namespace hf {

// One tensor under our name and HF's, with the shape both sides must have.
struct NamePair {
  std::string ours, theirs;
  std::vector<int64_t> shape;
};

// Renames `in` by `pairs` (ours -> theirs when to_theirs, else back): every `from` name must be
// present with its shape, and no other name under `scope` (a prefix; "" = every name) may be in
// `in`. Errors are one line starting with `what`, naming the tensor.
TensorMap rename(const TensorMap& in, const std::vector<NamePair>& pairs, bool to_theirs, const std::string& scope,
                 const std::string& what);

// m[name], which must exist with `shape` (else one error line starting with `what`).
const torch::Tensor& need(const TensorMap& m, const std::string& name, const std::vector<int64_t>& shape,
                          const std::string& what);

}  // namespace hf
}  // namespace mm
