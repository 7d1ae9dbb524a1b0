// Every LibTorch version difference lives here (Debian's 1.13 on CPU, PyTorch 2.x with CUDA on GPUs).
#pragma once
#include <torch/torch.h>

#if defined(TORCH_VERSION_MAJOR) && TORCH_VERSION_MAJOR >= 2
#define MM_TORCH2 1
#else
#define MM_TORCH2 0
#endif

namespace mm::compat {

// True when at::scaled_dot_product_attention exists (LibTorch >= 2.0).
constexpr bool kHasSdpa = MM_TORCH2 != 0;

}  // namespace mm::compat
