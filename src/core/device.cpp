// pick_device: auto | cpu | cuda.
#include "core/device.h"

#include <torch/cuda.h>

#include "core/check.h"

namespace mm {

c10::Device pick_device(const std::string& name, const char* key_for_errors) {
  MM_CHECK(name == "auto" || name == "cpu" || name == "cuda", "{}: expected auto, cpu or cuda, got '{}'",
           key_for_errors, name);
  if (name == "cpu") return c10::Device(c10::kCPU);
  const bool cuda = torch::cuda::is_available();
  MM_CHECK(cuda || name == "auto", "{}: cuda requested but no CUDA device is visible to this LibTorch", key_for_errors);
  return c10::Device(cuda ? c10::kCUDA : c10::kCPU);
}

}  // namespace mm
