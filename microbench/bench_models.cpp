// Decoder forward+backward throughput vs the machine's large-GEMM peak, measured in the same run.
// Each benchmark sets both torch's and OpenBLAS's thread count to its Arg (Debian's pthread
// OpenBLAS ignores torch::set_num_threads; openblas_set_num_threads is looked up at run time, as
// `mmtrain bench` does). On a shared machine compare vs_gemm_cpu (FLOPs per process-CPU-second
// of the decoder over the same for the GEMM) and vs_gemm_paired (each step against a GEMM timed
// just before it); vs_gemm uses wall time against the best-of-3 GEMM.
// MM_BENCH_TRACE=FILE writes a chrome://tracing profile of one step.
// Achieved FLOPs per step = 6 * N_matmul * tokens + 12 * layers * tokens * seq * dim (PaLM's
// accounting: N_matmul counts every weight used in a matmul, the tied LM head included, the
// embedding lookup not; attention counted as full, not causal). Counters: FLOP/s and vs_gemm.
//
//   bench_models --benchmark_filter='Gemm|Small'   (the Arg is the number of intra-op threads)
#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include <dlfcn.h>
#include <time.h>

#include <torch/csrc/autograd/profiler_legacy.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <vector>

#include "core/config/model_config.h"
#include "core/timer.h"
#include "models/llm/decoder.h"
#include "models/llm/lm_loss.h"
#include "models/llm/param_count.h"

namespace {

constexpr int64_t kGemm = 2048;

double cpu_seconds() {  // CPU time of the whole process (all threads)
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

// torch intra-op threads and, when the BLAS is OpenBLAS, its own pool: the GEMM peak and the
// decoder steps then run on the same number of threads.
void set_threads(int n) {
  torch::set_num_threads(n);
  using SetThreads = void (*)(int);
  if (auto f = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"))) f(n);
}

struct Peak {
  double wall = 0.0;  // FLOP per wall second
  double cpu = 0.0;   // FLOP per process-CPU second
};

// Best-of-3 FLOP/s of a kGemm^3 fp32 matmul with `threads` threads (cached per count).
Peak gemm_peak(int threads) {
  static std::map<int, Peak> cache;
  auto it = cache.find(threads);
  if (it != cache.end()) return it->second;
  set_threads(threads);
  auto a = torch::randn({kGemm, kGemm}), b = torch::randn({kGemm, kGemm}), c = torch::empty({kGemm, kGemm});
  torch::mm_out(c, a, b);  // warm-up
  Peak best;
  const double flops = 2.0 * kGemm * kGemm * kGemm;
  for (int r = 0; r < 3; ++r) {
    const mm::Stopwatch watch;
    const double c0 = cpu_seconds();
    torch::mm_out(c, a, b);
    best.wall = std::max(best.wall, flops / watch.seconds());
    best.cpu = std::max(best.cpu, flops / (cpu_seconds() - c0));
  }
  return cache[threads] = best;
}

void BM_Gemm(benchmark::State& state) {
  const int threads = static_cast<int>(state.range(0));
  set_threads(threads);
  auto a = torch::randn({kGemm, kGemm}), b = torch::randn({kGemm, kGemm}), c = torch::empty({kGemm, kGemm});
  for (auto _ : state) torch::mm_out(c, a, b);
  state.counters["FLOP/s"] =
      benchmark::Counter(2.0 * kGemm * kGemm * kGemm * state.iterations(), benchmark::Counter::kIsRate);
}

mm::LLMConfig small_llm() {  // the CPU benchmark size ("small"-like)
  mm::LLMConfig c;
  c.vocab_size = 4096;
  c.dim = 512;
  c.layers = 8;
  c.heads = 8;
  c.kv_heads = 4;
  c.ffn_hidden = 1408;
  return c;
}

mm::LLMConfig debug_llm() { return mm::LLMConfig{}; }  // struct defaults = the debug preset

double step_flops(const mm::LLMConfig& cfg, int64_t batch, int64_t seq) {
  const auto pc = mm::llm::llm_param_count(cfg);
  // Matmul weights: active params minus the norms; the embedding table counts once, as the head.
  const int64_t norms = cfg.dim * (2 * cfg.layers + 1);
  const int64_t embed_lookup = cfg.tie_embeddings ? 0 : cfg.vocab_size * cfg.dim;
  const double n = static_cast<double>(pc.active - norms - embed_lookup);
  const double tokens = static_cast<double>(batch * seq);
  return 6.0 * n * tokens + 12.0 * cfg.layers * tokens * seq * cfg.dim;
}

void run_decoder(benchmark::State& state, const mm::LLMConfig& cfg, int64_t batch, int64_t seq) {
  const int threads = static_cast<int>(state.range(0));
  const Peak peak = gemm_peak(threads);
  set_threads(threads);
  torch::manual_seed(0);
  mm::llm::Decoder dec(cfg);
  dec->train();
  auto ids = torch::randint(0, cfg.vocab_size, {batch, seq});
  auto pos = torch::arange(seq).repeat({batch, 1});
  auto doc = torch::zeros({batch, seq}, torch::kLong);
  auto step = [&] {
    dec->zero_grad(/*set_to_none=*/true);
    auto out = dec->forward(ids, pos, doc);
    (mm::llm::causal_lm_loss(out.logits, ids, doc) + out.aux_loss + out.z_loss).backward();
  };
  step();                                                   // warm-up: allocator, thread pools
  if (const char* trace = std::getenv("MM_BENCH_TRACE")) {  // chrome trace of one step per op
    torch::autograd::profiler::RecordProfile guard(trace);
    step();
  }
  // Each timed step is paired with a GEMM timed right before it (outside the measurement), so
  // that on a shared machine the ratio compares like with like: vs_gemm_paired = median ratio.
  const double flops = step_flops(cfg, batch, seq);
  auto ga = torch::randn({kGemm, kGemm}), gb = torch::randn({kGemm, kGemm}), gc = torch::empty({kGemm, kGemm});
  std::vector<double> ratios;
  double wall = 0.0, cpu = 0.0;
  for (auto _ : state) {
    state.PauseTiming();
    const mm::Stopwatch gemm;
    torch::mm_out(gc, ga, gb);
    const double gemm_rate = 2.0 * kGemm * kGemm * kGemm / gemm.seconds();
    state.ResumeTiming();
    const mm::Stopwatch step_watch;
    const double c0 = cpu_seconds();
    step();
    const double w = step_watch.seconds();
    wall += w;
    cpu += cpu_seconds() - c0;
    ratios.push_back(flops / w / gemm_rate);
  }
  std::sort(ratios.begin(), ratios.end());
  state.counters["vs_gemm_paired"] = ratios[ratios.size() / 2];
  state.counters["FLOP/s"] = benchmark::Counter(flops * state.iterations(), benchmark::Counter::kIsRate);
  state.counters["gemm_FLOP/s"] = peak.wall;
  state.counters["tokens/s"] =
      benchmark::Counter(static_cast<double>(batch * seq) * state.iterations(), benchmark::Counter::kIsRate);
  state.counters["step_GFLOP"] = flops / 1e9;
  const double total = flops * static_cast<double>(state.iterations());
  state.counters["vs_gemm"] = total / wall / peak.wall;
  state.counters["vs_gemm_cpu"] = total / cpu / peak.cpu;
}

void BM_DecoderSmall_FwdBwd(benchmark::State& state) { run_decoder(state, small_llm(), 4, 512); }
void BM_DecoderDebug_FwdBwd(benchmark::State& state) { run_decoder(state, debug_llm(), 8, 128); }

}  // namespace

BENCHMARK(BM_Gemm)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_DecoderDebug_FwdBwd)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_DecoderSmall_FwdBwd)->Arg(1)->Arg(2)->Iterations(3)->Unit(benchmark::kMillisecond)->UseRealTime();

BENCHMARK_MAIN();
