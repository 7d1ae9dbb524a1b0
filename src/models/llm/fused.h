// Switch for the fused fp32 CPU kernels (RMSNorm, RoPE, SwiGLU): on unless the environment sets
// MM_FUSED_KERNELS=0, which selects the torch-op composites (to bisect a numerical question).
#pragma once
#include <cstdlib>
#include <cstring>

namespace mm::llm {

inline bool fused_kernels_enabled() {
  static const bool on = [] {
    const char* v = std::getenv("MM_FUSED_KERNELS");
    return v == nullptr || std::strcmp(v, "0") != 0;
  }();
  return on;
}

}  // namespace mm::llm
