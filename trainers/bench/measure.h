// What `mmtrain bench` measures the machine with: the GEMM peak (wall and process-CPU FLOP/s of an
// n^3 matmul), process CPU time, peak resident memory, the CUDA allocator's peak, device
// synchronisation and the BLAS thread count.
#pragma once
#include <torch/types.h>

#include <cstdint>

namespace mm::bench {

// Best-of-`repeats` FLOP/s of an n^3 matmul of `dtype` on `device` (after one warm-up): per wall
// second and per process-CPU second.
struct GemmPeak {
  double wall = 0, cpu = 0;
};
GemmPeak measure_gemm(int64_t n, int repeats = 3, const torch::Device& device = torch::kCPU,
                      torch::ScalarType dtype = torch::kFloat);
double measure_gemm_flops(int64_t n, int repeats = 3, const torch::Device& device = torch::kCPU);

// One n^3 GEMM of `dtype` on `device`, operands allocated once, timed per call.
class GemmTimer {
 public:
  GemmTimer(int64_t n, const torch::Device& device, torch::ScalarType dtype);
  GemmPeak time_once();  // FLOP/s of one GEMM, per wall second and per process-CPU second

 private:
  torch::Device device_;
  double flops_;
  torch::Tensor a_, b_, c_;
};

// CPU time of this process (all threads), seconds.
double process_cpu_seconds();

// Peak resident set size of this process (VmHWM), bytes; 0 when /proc is not available.
int64_t peak_rss_bytes();

// Waits for the device's queued work (CUDA); nothing on the CPU.
void sync(const torch::Device& d);

// The CUDA caching allocator's peak of allocated bytes since reset_cuda_peak (what Python's
// torch.cuda.max_memory_allocated reads); -1 on CPUs and in CPU builds.
void reset_cuda_peak(const torch::Device& d);
int64_t cuda_peak_bytes(const torch::Device& d);

// Debian's pthread OpenBLAS keeps its own thread count (all cores) whatever torch::set_num_threads
// says; align it so that the GEMM peak and the steps run on the same number of threads.
void align_blas_threads(int n);

}  // namespace mm::bench
