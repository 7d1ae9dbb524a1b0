// safetensors reader and writer (the format of huggingface/safetensors, followed exactly):
// 8-byte little-endian header length, JSON header with dtype/shape/data_offsets and optional
// "__metadata__" string map, padded with spaces to 8 bytes, tensors contiguous in offset order.
#pragma once
#include <torch/types.h>

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace mm {

// Tensors by name: a state dict, the contents of a safetensors file.
using TensorMap = std::map<std::string, torch::Tensor>;

}  // namespace mm

namespace mm::safetensors {

using Metadata = std::map<std::string, std::string>;

// Tensors in name order. Reading maps the file; tensors are CPU tensors owning their storage
// or views that keep the mapping alive.
struct File {
  std::map<std::string, torch::Tensor> tensors;
  Metadata metadata;
};

// Throws mm::Error naming the file and the problem for every malformed or hostile input.
// The file is mapped copy-on-write: tensors are zero-copy views into the mapping (each keeps it
// alive), writable without touching the file. A tensor whose bytes are not aligned to its element
// size (legal but unusual) is copied instead.
File load(const std::string& path);

// As load(), but only the named tensors (the whole header is still validated); a name that is
// not in the file is an error listing the names that are.
File load_selected(const std::string& path, const std::vector<std::string>& names);

// One header entry: what load() would build, without mapping the data.
struct TensorInfo {
  std::string dtype;            // "F32", "BF16", ...
  std::vector<int64_t> shape;   // [] for a 0-d tensor
  uint64_t begin = 0, end = 0;  // byte range in the data section (after the header)
};

struct Header {
  std::map<std::string, TensorInfo> tensors;
  Metadata metadata;
  uint64_t data_start = 0;  // 8 + header length: where the data section begins in the file
};

// Reads and validates only the header (reads 8 + header-length bytes, plus the file size).
Header read_header(const std::string& path);

// safetensors dtype name for a torch dtype, and back; both throw for unsupported types.
std::string dtype_name(torch::ScalarType type);
torch::ScalarType scalar_type(const std::string& dtype_name);

// Writes atomically (temporary file, fsync, rename). Tensors are made contiguous on CPU.
// Data is laid out by element size (largest first), then name, so every tensor stays aligned
// and load() can map it without copies; the header lists "__metadata__" first when non-empty.
void save(const std::string& path, const std::map<std::string, torch::Tensor>& tensors, const Metadata& metadata = {});

}  // namespace mm::safetensors
