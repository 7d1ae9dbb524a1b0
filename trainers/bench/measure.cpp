// Machine measurements of `mmtrain bench` (measure.h).
#include "trainers/bench/measure.h"

#include <torch/cuda.h>
#include <torch/torch.h>
#ifdef MM_WITH_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#endif

#include <algorithm>
#include <chrono>
#include <fstream>
#include <sstream>
#include <string>

#include <dlfcn.h>
#include <time.h>

#include "core/timer.h"

namespace mm::bench {
using Clock = SteadyClock;

void align_blas_threads(int n) {
  using SetThreads = void (*)(int);
  if (auto f = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"))) f(n);
}

void sync(const torch::Device& d) {
  if (d.is_cuda()) torch::cuda::synchronize();
}

// The CUDA caching allocator's peak of allocated bytes since reset_cuda_peak (what Python's
// torch.cuda.max_memory_allocated reads); -1 on CPUs and in CPU builds. allocated_bytes[0] is
// StatType::AGGREGATE, whose namespace moved between LibTorch versions.
#ifdef MM_WITH_CUDA
c10::DeviceIndex cuda_index(const torch::Device& d) { return d.has_index() ? d.index() : 0; }
#endif

void reset_cuda_peak(const torch::Device& d) {
#ifdef MM_WITH_CUDA
  if (d.is_cuda()) c10::cuda::CUDACachingAllocator::resetPeakStats(cuda_index(d));
#else
  (void)d;
#endif
}

int64_t cuda_peak_bytes(const torch::Device& d) {
#ifdef MM_WITH_CUDA
  if (d.is_cuda()) return c10::cuda::CUDACachingAllocator::getDeviceStats(cuda_index(d)).allocated_bytes[0].peak;
#else
  (void)d;
#endif
  return -1;
}

double process_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

double measure_gemm_flops(int64_t n, int repeats, const torch::Device& device) {
  return measure_gemm(n, repeats, device).wall;
}

GemmTimer::GemmTimer(int64_t n, const torch::Device& device, torch::ScalarType dtype)
    : device_(device), flops_(2.0 * static_cast<double>(n) * n * n) {
  torch::NoGradGuard no_grad;
  auto opts = torch::TensorOptions().dtype(dtype).device(device);
  a_ = torch::randn({n, n}, opts), b_ = torch::randn({n, n}, opts), c_ = torch::empty({n, n}, opts);
}
GemmPeak GemmTimer::time_once() {
  torch::NoGradGuard no_grad;
  sync(device_);
  const auto t0 = Clock::now();
  const double c0 = process_cpu_seconds();
  torch::mm_out(c_, a_, b_);
  sync(device_);
  return {flops_ / seconds_since(t0), flops_ / std::max(process_cpu_seconds() - c0, 1e-9)};
}

GemmPeak measure_gemm(int64_t n, int repeats, const torch::Device& device, torch::ScalarType dtype) {
  GemmTimer gemm(n, device, dtype);
  gemm.time_once();  // warm-up: thread pool, BLAS buffers
  GemmPeak best;
  for (int r = 0; r < repeats; ++r) {
    const GemmPeak g = gemm.time_once();
    best.wall = std::max(best.wall, g.wall);
    best.cpu = std::max(best.cpu, g.cpu);
  }
  return best;
}

int64_t peak_rss_bytes() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0) {
      std::istringstream ss(line.substr(6));
      int64_t kb = 0;
      ss >> kb;
      return kb * 1024;
    }
  }
  return 0;
}

}  // namespace mm::bench
