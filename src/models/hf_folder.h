// The weights of a Hugging Face model folder as the hub ships them: one model.safetensors, or shards
// listed by model.safetensors.index.json. Every file's header is read and checked up front (the index
// against the shards, every tensor's bytes inside its file); tensors are then read one at a time with
// pread and converted to the wanted dtype, so loading never holds more than the result plus one tensor
// in the disk's dtype (docs/pretrained.md). Used by `model.llm.from: hf:DIR` (llm/hf_import.h) and `model.vision.from`
// (vision/hf_vision_import.h).
#pragma once
#include <torch/types.h>

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "core/safetensors.h"

namespace mm::hf {

struct WeightFiles {
  std::string dir;
  std::string index;                                    // "" or dir/model.safetensors.index.json
  std::vector<std::string> files;                       // the safetensors files (full paths), sorted
  std::map<std::string, std::string> file_of;           // tensor name -> its file
  std::map<std::string, safetensors::TensorInfo> info;  // tensor name -> header entry
  std::map<std::string, uint64_t> data_start;           // file -> where its data section begins
  std::set<std::string> dtypes;                         // on disk: "BF16", "F32", ...
  uint64_t bytes = 0;                                   // tensor bytes on disk
};

// Lists and checks the weight files of `dir` (one error line naming the file and the tensor: no
// weight file, an index that is not a weight_map, a tensor the index lists but its shard lacks, a
// tensor of a shard the index does not list or lists under another file, a truncated file, a tensor
// that is not F32/F16/BF16; I64 only for the `*.position_ids` index buffers older CLIP folders hold, which
// `dtypes` does not list).
WeightFiles list_weights(const std::string& dir);

// One tensor read from its file and converted to `dtype` (a CPU tensor of its own).
torch::Tensor read_tensor(const WeightFiles& w, const std::string& name, torch::ScalarType dtype);

// Every tensor, by HF name, in `dtype`.
TensorMap read_all(const WeightFiles& w, torch::ScalarType dtype);

}  // namespace mm::hf
