// bf16 autocast around a forward (train.precision: bf16): matmuls and convolutions in bf16,
// reductions and the loss in fp32, on CUDA or on the CPU; restores the previous state. Used by the
// trainer, `mmtrain bench` and the [gpu] tests.
#pragma once
#include <ATen/autocast_mode.h>
#include <c10/core/Device.h>
#include <torch/version.h>

namespace mm::train {

class AutocastScope {
 public:
  AutocastScope(bool on, const c10::Device& dev) : on_(on), type_(dev.is_cuda() ? at::kCUDA : at::kCPU) {
    if (!on_) return;
    prev_ = enabled(type_);
    set_dtype(type_, at::kBFloat16);
    set_enabled(type_, true);
  }
  ~AutocastScope() {
    if (!on_) return;
    set_enabled(type_, prev_);
    at::autocast::clear_cache();
  }
  AutocastScope(const AutocastScope&) = delete;
  AutocastScope& operator=(const AutocastScope&) = delete;

 private:
  // LibTorch >= 2.4 has the device-generic calls (the per-device ones are deprecated there).
#if defined(TORCH_VERSION_MAJOR) && (TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4))
  static bool enabled(at::DeviceType t) { return at::autocast::is_autocast_enabled(t); }
  static void set_enabled(at::DeviceType t, bool on) { at::autocast::set_autocast_enabled(t, on); }
  static void set_dtype(at::DeviceType t, at::ScalarType s) { at::autocast::set_autocast_dtype(t, s); }
#else
  static bool enabled(at::DeviceType t) {
    return t == at::kCUDA ? at::autocast::is_enabled() : at::autocast::is_cpu_enabled();
  }
  static void set_enabled(at::DeviceType t, bool on) {
    t == at::kCUDA ? at::autocast::set_enabled(on) : at::autocast::set_cpu_enabled(on);
  }
  static void set_dtype(at::DeviceType t, at::ScalarType s) {
    t == at::kCUDA ? at::autocast::set_autocast_gpu_dtype(s) : at::autocast::set_autocast_cpu_dtype(s);
  }
#endif
  bool on_;
  at::DeviceType type_;
  bool prev_ = false;
};

}  // namespace mm::train
