// bf16 autocast around a forward (train.precision: bf16): matmuls and convolutions in bf16,
// reductions and the loss in fp32, on CUDA or on the CPU; restores the previous state. Used by the
// trainer, `mmtrain bench` and the [gpu] tests.
#pragma once
#include <ATen/autocast_mode.h>
#include <c10/core/Device.h>

namespace mm::train {

class AutocastScope {
 public:
  AutocastScope(bool on, const c10::Device& dev) : on_(on), cuda_(dev.is_cuda()) {
    if (!on_) return;
    if (cuda_) {
      prev_ = at::autocast::is_enabled();
      at::autocast::set_autocast_gpu_dtype(at::kBFloat16);
      at::autocast::set_enabled(true);
    } else {
      prev_ = at::autocast::is_cpu_enabled();
      at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
      at::autocast::set_cpu_enabled(true);
    }
  }
  ~AutocastScope() {
    if (!on_) return;
    if (cuda_) {
      at::autocast::set_enabled(prev_);
    } else {
      at::autocast::set_cpu_enabled(prev_);
    }
    at::autocast::clear_cache();
  }
  AutocastScope(const AutocastScope&) = delete;
  AutocastScope& operator=(const AutocastScope&) = delete;

 private:
  bool on_, cuda_, prev_ = false;
};

}  // namespace mm::train
