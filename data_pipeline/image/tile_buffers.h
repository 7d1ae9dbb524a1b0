// Recycled float buffers for tile tensors. A tensor from pooled_float_tensor hands its memory back
// to a process-wide free list when its last reference goes; the next request that fits (a buffer
// at most twice the size asked for) reuses it. Why: a 10-tile 672 px image is 54 MB of floats and
// a fresh allocation of that size is a fresh mmap whose ~13k pages the kernel faults in and zeroes
// on first touch, about a third of decode + split + normalise time. The loader's tiles (per image
// and per batch) come from here, so in steady state no fresh pages are touched.
#pragma once
#include <torch/types.h>

#include <cstdint>

namespace mm::data {

// An uninitialised float32 CPU tensor of `sizes` backed by a recycled buffer.
torch::Tensor pooled_float_tensor(at::IntArrayRef sizes);

struct TileBufferStats {
  int64_t reused = 0;        // requests served from the free list
  int64_t allocated = 0;     // requests that allocated a new buffer
  int64_t cached_bytes = 0;  // bytes waiting in the free list now
};
TileBufferStats tile_buffer_stats();

// Most bytes the free list keeps (default 1 GiB); a buffer returned beyond it is freed. 0 turns
// recycling off. Returns the previous limit.
int64_t set_tile_buffer_cache_limit(int64_t bytes);

}  // namespace mm::data
