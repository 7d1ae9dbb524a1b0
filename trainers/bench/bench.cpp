// mmtrain bench (bench.h): model + optimizer + batches, timed steps with a per-phase breakdown,
// the GEMM peak before and after, and the python3-torch reference of the decoder step.
#include "trainers/bench/bench.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <torch/csrc/autograd/profiler_legacy.h>
#include <torch/cuda.h>
#ifdef MM_WITH_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#endif

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>

#include <dlfcn.h>
#include <time.h>

#include "core/check.h"
#include "core/logging.h"
#include "data_pipeline/loader/loader.h"
#include "models/llm/decoder.h"
#include "tokenizer/tokenizer.h"
#include "dist/process_group.h"
#include "trainers/loop/train_step.h"
#include "trainers/model_batch.h"
#include "trainers/optim/param_groups.h"

#ifndef MM_BENCH_REF_SCRIPT
#define MM_BENCH_REF_SCRIPT "scripts/bench/decoder_step_ref.py"
#endif

namespace mm::bench {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

torch::Device pick_device(const std::string& want) {
  const bool cuda = torch::cuda::is_available();
  if (want == "cuda") {
    MM_CHECK(cuda, "bench: train.device = cuda but no CUDA device is available to this LibTorch build");
    return torch::kCUDA;
  }
  if (want == "auto" && cuda) return torch::kCUDA;
  return torch::kCPU;
}

// Debian's pthread OpenBLAS keeps its own thread count (all cores) whatever torch::set_num_threads
// says; align it so that the GEMM peak and the steps run on the same number of threads.
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

int64_t tiles_of(const MultimodalBatch& b) { return b.tiles.defined() ? b.tiles.size(0) : 0; }

std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

}  // namespace

MultimodalBatch synthetic_batch(const ModelConfig& model, int64_t batch, int64_t seq_len, int64_t images_per_seq,
                                int64_t docs_per_seq, uint64_t seed) {
  MM_CHECK(batch > 0 && seq_len > 1, "bench: need micro_batch > 0 and seq_len > 1, got {} x {}", batch, seq_len);
  MM_CHECK(docs_per_seq >= 1 && docs_per_seq <= seq_len / 2,
           "bench: --docs-per-seq {} must be in 1..{} for seq_len {}", docs_per_seq, seq_len / 2, seq_len);
  MM_CHECK(images_per_seq >= 0, "bench: --images-per-seq must be >= 0, got {}", images_per_seq);
  const int64_t m = model.connector.num_tokens, doc_len = seq_len / docs_per_seq;
  const int64_t per_doc = (images_per_seq + docs_per_seq - 1) / docs_per_seq;  // most images in one document
  MM_CHECK(per_doc * m + 2 <= doc_len,
           "bench: {} images per sequence x {} tokens per tile do not fit {} documents of {} tokens (loader.seq_len "
           "= {}); lower --images-per-seq or --docs-per-seq",
           images_per_seq, m, docs_per_seq, doc_len, seq_len);
  torch::manual_seed(static_cast<uint64_t>(seed));
  auto ids = torch::randint(0, model.llm.vocab_size, {batch, seq_len}, torch::kLong);
  auto positions = torch::empty({batch, seq_len}, torch::kLong);
  auto doc_ids = torch::empty({batch, seq_len}, torch::kLong);
  auto pa = positions.accessor<int64_t, 2>();
  auto da = doc_ids.accessor<int64_t, 2>();
  std::vector<int64_t> doc_start(docs_per_seq);
  for (int64_t d = 0; d < docs_per_seq; ++d) doc_start[d] = d * doc_len;
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t t = 0; t < seq_len; ++t) {
      const int64_t d = std::min(t / doc_len, docs_per_seq - 1);  // the last document takes the remainder
      da[b][t] = d;
      pa[b][t] = t - doc_start[d];
    }
  }
  // Image k of a row goes to document k % docs, after that document's first token and its earlier images.
  std::vector<std::vector<int64_t>> starts(batch);
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t k = 0; k < images_per_seq; ++k) {
      const int64_t d = k % docs_per_seq, j = k / docs_per_seq;
      starts[b].push_back(doc_start[d] + 1 + j * m);
    }
    std::sort(starts[b].begin(), starts[b].end());  // tiles in sequence order, as the collator emits them
  }
  MultimodalBatch out;
  out.input_ids = ids;
  out.positions = positions;
  out.doc_ids = doc_ids;
  out.labels = ids.clone();
  out.tiles_per_sample = torch::full({batch}, images_per_seq, torch::kLong);
  if (images_per_seq > 0) {
    out.image_slots = image_slots_from_tile_starts(starts, seq_len, m);
    out.labels.view({-1}).index_fill_(0, out.image_slots, -100);
    const int64_t r = model.vision.image_size;
    out.tiles = torch::randn({batch * images_per_seq, 3, r, r});
  }
  return out;
}

double process_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

double measure_gemm_flops(int64_t n, int repeats, const torch::Device& device) {
  return measure_gemm(n, repeats, device).wall;
}

namespace {

// One n^3 GEMM of `dtype` on `device`, operands allocated once, timed per call.
class GemmTimer {
 public:
  GemmTimer(int64_t n, const torch::Device& device, torch::ScalarType dtype)
      : device_(device), flops_(2.0 * static_cast<double>(n) * n * n) {
    torch::NoGradGuard no_grad;
    auto opts = torch::TensorOptions().dtype(dtype).device(device);
    a_ = torch::randn({n, n}, opts), b_ = torch::randn({n, n}, opts), c_ = torch::empty({n, n}, opts);
  }
  // FLOP/s of one GEMM, per wall second and per process-CPU second.
  GemmPeak time_once() {
    torch::NoGradGuard no_grad;
    sync(device_);
    const auto t0 = Clock::now();
    const double c0 = process_cpu_seconds();
    torch::mm_out(c_, a_, b_);
    sync(device_);
    return {flops_ / seconds_since(t0), flops_ / std::max(process_cpu_seconds() - c0, 1e-9)};
  }

 private:
  torch::Device device_;
  double flops_;
  torch::Tensor a_, b_, c_;
};

}  // namespace

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

BenchResult run_bench(const RunConfig& cfg, const BenchOptions& opt) {
  auto log = log::get("bench");
  MM_CHECK(opt.steps >= 1, "bench: --steps must be >= 1, got {}", opt.steps);
  MM_CHECK(opt.warmup >= 0, "bench: --warmup must be >= 0, got {}", opt.warmup);
  MM_CHECK(!(opt.real_data && cfg.data.sources.empty()),
           "bench: --real-data needs data.sources in the config (none are listed)");
  if (cfg.train.threads > 0) torch::set_num_threads(static_cast<int>(cfg.train.threads));
  align_blas_threads(torch::get_num_threads());
  const torch::Device device = pick_device(cfg.train.device);

  BenchResult r;
  r.model = cfg.model.name;
  r.device = device.is_cuda() ? "cuda" : "cpu";
  r.precision = cfg.train.precision;
  r.decoder_only = opt.decoder_only;
  r.real_data = opt.real_data;
  r.batch = cfg.loader.micro_batch;
  r.seq_len = cfg.loader.seq_len;
  r.threads = torch::get_num_threads();
  r.steps = opt.steps;
  r.warmup = opt.warmup;

  // The peak in the precision the steps' matmuls run in: a bf16 run against an fp32 (TF32) GEMM
  // would compare different hardware units.
  const bool bf16_gemm = r.precision == "bf16";
  const torch::ScalarType gemm_dtype = bf16_gemm ? torch::kBFloat16 : torch::kFloat;
  r.gemm_dtype = bf16_gemm ? "bf16" : "fp32";
  const GemmPeak gemm_before = measure_gemm(opt.gemm_size, 3, device, gemm_dtype);
  log->info("GEMM {}^3 {}: {:.1f} GFLOP/s ({} threads, {})", opt.gemm_size, r.gemm_dtype, gemm_before.wall / 1e9,
            r.threads, r.device);

  // Model and optimizer (every parameter trains; train.params rules are not applied).
  torch::manual_seed(static_cast<uint64_t>(cfg.seed));
  MultimodalModel model{nullptr};
  llm::Decoder decoder{nullptr};
  std::shared_ptr<torch::nn::Module> module;
  if (opt.decoder_only) {
    decoder = llm::Decoder(cfg.model.llm);
    module = decoder.ptr();
  } else {
    model = MultimodalModel(cfg.model);
    module = model.ptr();
  }
  module->to(device);
  module->train();
  train::NamedParams named;
  for (const auto& p : module->named_parameters()) named.emplace_back(p.key(), p.value());
  auto optimizer = train::make_optimizer(cfg.optimizer, named);
  // The train loop's own step (train_step.h): one process, one micro-batch, every parameter trains.
  const dist::Group single;
  train::StepSetup setup;
  for (const auto& p : named) setup.trainable.push_back(p.second);
  setup.optimizer = optimizer.get();
  setup.group = &single;
  setup.device = device;
  setup.bf16 = cfg.train.precision == "bf16";
  setup.clip_grad_norm = cfg.train.clip_grad_norm;
  if (opt.decoder_only) {
    setup.forward = [decoder](const MultimodalBatch& b) mutable {
      auto out = decoder->forward(b.input_ids, b.positions, b.doc_ids);
      auto [sum, count] = causal_lm_loss_sum(out.logits, b.labels, b.doc_ids);
      return MultimodalOutput{out.logits, sum, count, out.aux_loss, out.z_loss};
    };
  } else {
    setup.forward = [model](const MultimodalBatch& b) mutable { return model->forward(b); };
  }

  // Batches: two synthetic ones alternating (built up front: their data wait is ~0), or the loader.
  std::vector<MultimodalBatch> pool;
  std::unique_ptr<data::Loader> loader;
  std::unique_ptr<tok::Tokenizer> tokenizer;
  const int64_t images = opt.decoder_only ? 0 : opt.images_per_seq;
  if (opt.real_data) {
    MM_CHECK(!opt.decoder_only, "bench: --real-data runs the full multimodal step (drop the decoder-only mode)");
    MM_CHECK(cfg.image.tile_size == cfg.model.vision.image_size,
             "bench: image.tile_size = {} must equal model.vision.image_size = {} for --real-data", cfg.image.tile_size,
             cfg.model.vision.image_size);
    tokenizer = std::make_unique<tok::Tokenizer>(tok::Tokenizer::load(cfg.tokenizer));
    loader = data::make_loader(cfg.data.sources, cfg.data.mixture, cfg.image, *tokenizer,
                               cfg.model.connector.num_tokens, cfg.loader);
  } else {
    for (uint64_t i = 0; i < 2; ++i)
      pool.push_back(synthetic_batch(cfg.model, r.batch, r.seq_len, images, opt.docs_per_seq, opt.seed + i));
  }

  double sum_tiles = 0, sum_images = 0;
  StepFlops flops_sum;
  GemmTimer paired_gemm_timer(opt.gemm_size, device, gemm_dtype);  // the paired GEMM, same as the peak's
  std::vector<double> paired;  // per timed step: step FLOP/s over the GEMM FLOP/s just before it
  for (int64_t step = 0; step < opt.warmup + opt.steps; ++step) {
    const bool timed = step >= opt.warmup;
    std::unique_ptr<torch::autograd::profiler::RecordProfile> profile;
    if (step == opt.warmup && !opt.trace.empty())
      profile = std::make_unique<torch::autograd::profiler::RecordProfile>(opt.trace);
    const double paired_gemm = timed ? paired_gemm_timer.time_once().wall : 0.0;  // FLOP/s just before the step
    if (step == opt.warmup) reset_cuda_peak(device);  // the peak of the timed steps (model, optimizer state too)
    sync(device);
    const auto t0 = Clock::now();
    const double cpu0 = process_cpu_seconds();
    MultimodalBatch batch;
    int64_t n_images = 0;
    if (loader) {
      data::Batch b = loader->next();
      n_images = b.images;
      batch = to_device(train::to_model_batch(b), device);
    } else {
      batch = to_device(pool[step % pool.size()], device);
      n_images = tiles_of(batch);
    }
    train::StepCounts local;
    local.loss_targets = static_cast<double>(train::loss_targets(batch.labels, batch.doc_ids));
    sync(device);
    const auto t1 = Clock::now();
    train::StepPhases phases;
    const train::StepResult res = train::train_step(setup, {batch}, local, cfg.optimizer.lr, nullptr, &phases);
    const double loss_value = res.loss;
    const auto t4 = Clock::now();
    profile.reset();  // writes the trace
    if (step == 0) r.loss_first = loss_value;
    r.loss_last = loss_value;
    if (!timed) continue;
    auto secs = [](Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); };
    r.time.data_wait += secs(t0, t1);
    r.time.forward += phases.forward;
    r.time.backward += phases.backward;
    r.time.optimizer += phases.optimizer;
    r.time.total += secs(t0, t4);
    r.step_cpu_s += process_cpu_seconds() - cpu0;
    const int64_t tiles = tiles_of(batch);
    sum_tiles += static_cast<double>(tiles);
    sum_images += static_cast<double>(n_images);
    const StepFlops f = training_step_flops(cfg.model, r.batch, r.seq_len, tiles);
    flops_sum.decoder_matmul += f.decoder_matmul;
    flops_sum.decoder_attention += f.decoder_attention;
    flops_sum.vision += f.vision;
    flops_sum.connector += f.connector;
    paired.push_back(f.total() / secs(t0, t4) / paired_gemm);
    log->info("step {}/{}: {:.3f} s, loss {:.4f}", step - opt.warmup + 1, opt.steps, secs(t0, t4), loss_value);
  }
  const double n = static_cast<double>(opt.steps);
  for (double* x : {&r.time.data_wait, &r.time.forward, &r.time.backward, &r.time.optimizer, &r.time.total,
                    &r.step_cpu_s})
    *x /= n;
  r.tiles_per_step = sum_tiles / n;
  r.images_per_step = sum_images / n;
  r.flops = {flops_sum.decoder_matmul / n, flops_sum.decoder_attention / n, flops_sum.vision / n,
             flops_sum.connector / n};
  r.tokens_per_s = static_cast<double>(r.batch * r.seq_len) / r.time.total;
  r.images_per_s = r.images_per_step / r.time.total;
  r.tiles_per_s = r.tiles_per_step / r.time.total;
  r.model_flop_per_s = r.flops.total() / r.time.total;
  r.cuda_max_allocated_bytes = cuda_peak_bytes(device);
  loader.reset();  // stop the loader threads before the second GEMM
  const GemmPeak gemm_after = measure_gemm(opt.gemm_size, 3, device, gemm_dtype);
  r.gemm_flop_per_s = std::max(gemm_before.wall, gemm_after.wall);
  r.mfu = r.model_flop_per_s / r.gemm_flop_per_s;
  std::sort(paired.begin(), paired.end());
  r.mfu_paired = paired.size() % 2 == 1 ? paired[paired.size() / 2] :
                                          0.5 * (paired[paired.size() / 2 - 1] + paired[paired.size() / 2]);
  r.mfu_paired_min = paired.front();
  r.mfu_paired_max = paired.back();
  r.gemm_flop_per_cpu_s = std::max(gemm_before.cpu, gemm_after.cpu);
  r.mfu_cpu = r.step_cpu_s > 0 ? r.flops.total() / r.step_cpu_s / r.gemm_flop_per_cpu_s : 0.0;
  r.peak_rss_bytes = peak_rss_bytes();
  return r;
}

nlohmann::ordered_json to_json(const BenchResult& r) {
  nlohmann::ordered_json j;
  j["model"] = r.model;
  j["mode"] = r.decoder_only ? "decoder" : "multimodal";
  j["data"] = r.real_data ? "loader" : "synthetic";
  j["device"] = r.device;
  j["precision"] = r.precision;
  j["threads"] = r.threads;
  j["batch"] = r.batch;
  j["seq_len"] = r.seq_len;
  j["steps"] = r.steps;
  j["warmup"] = r.warmup;
  j["tiles_per_step"] = r.tiles_per_step;
  j["images_per_step"] = r.images_per_step;
  j["tokens_per_s"] = r.tokens_per_s;
  j["images_per_s"] = r.images_per_s;
  j["tiles_per_s"] = r.tiles_per_s;
  j["step_s"] = {{"total", r.time.total},         {"data_wait", r.time.data_wait}, {"forward", r.time.forward},
                 {"backward", r.time.backward},   {"optimizer", r.time.optimizer},
                 {"communication", r.time.communication}};
  j["flops_per_step"] = {{"total", r.flops.total()},
                         {"decoder_matmul", r.flops.decoder_matmul},
                         {"decoder_attention", r.flops.decoder_attention},
                         {"vision", r.flops.vision},
                         {"connector", r.flops.connector}};
  j["model_flop_per_s"] = r.model_flop_per_s;
  j["gemm_dtype"] = r.gemm_dtype;
  j["gemm_flop_per_s"] = r.gemm_flop_per_s;
  j["mfu"] = r.mfu;
  j["mfu_paired"] = r.mfu_paired;
  j["mfu_paired_range"] = {r.mfu_paired_min, r.mfu_paired_max};
  j["step_cpu_s"] = r.step_cpu_s;
  j["gemm_flop_per_cpu_s"] = r.gemm_flop_per_cpu_s;
  j["mfu_cpu"] = r.mfu_cpu;
  j["loss_first"] = r.loss_first;
  j["loss_last"] = r.loss_last;
  j["peak_rss_bytes"] = r.peak_rss_bytes;
  j["cuda_max_allocated_bytes"] = r.cuda_max_allocated_bytes < 0 ? nlohmann::ordered_json() :
                                                                   nlohmann::ordered_json(r.cuda_max_allocated_bytes);
  return j;
}

std::string to_text(const BenchResult& r) {
  const auto& t = r.time;
  auto pct = [&](double x) { return t.total > 0 ? 100.0 * x / t.total : 0.0; };
  std::string s;
  s += fmt::format("bench {} ({}, {} data, {} {}, {} threads): B={} T={}, {} steps after {} warm-up\n", r.model,
                   r.decoder_only ? "decoder step" : "multimodal step", r.real_data ? "loader" : "synthetic",
                   r.device, r.precision, r.threads, r.batch, r.seq_len, r.steps, r.warmup);
  s += fmt::format("  tokens/s        {:.1f}\n", r.tokens_per_s);
  if (!r.decoder_only) s += fmt::format("  images/s        {:.2f} ({:.1f} tiles per step)\n", r.images_per_s, r.tiles_per_step);
  s += fmt::format("  step            {:.3f} s = data wait {:.3f} ({:.1f}%) + forward {:.3f} ({:.1f}%) + backward "
                   "{:.3f} ({:.1f}%) + optimizer {:.3f} ({:.1f}%) + communication {:.3f}\n",
                   t.total, t.data_wait, pct(t.data_wait), t.forward, pct(t.forward), t.backward, pct(t.backward),
                   t.optimizer, pct(t.optimizer), t.communication);
  s += fmt::format("  model FLOPs     {:.2f} GFLOP/step (decoder matmul {:.2f}, attention {:.2f}, vision {:.2f}, "
                   "connector {:.2f})\n",
                   r.flops.total() / 1e9, r.flops.decoder_matmul / 1e9, r.flops.decoder_attention / 1e9,
                   r.flops.vision / 1e9, r.flops.connector / 1e9);
  s += fmt::format("  model FLOP/s    {:.2f} GFLOP/s; GEMM peak ({}) {:.2f} GFLOP/s; MFU {:.1f}%\n",
                   r.model_flop_per_s / 1e9, r.gemm_dtype, r.gemm_flop_per_s / 1e9, 100.0 * r.mfu);
  s += fmt::format("  paired MFU      {:.1f}% (median over the steps of step FLOP/s / a GEMM timed just before it; "
                   "range {:.1f}-{:.1f}%)\n",
                   100.0 * r.mfu_paired, 100.0 * r.mfu_paired_min, 100.0 * r.mfu_paired_max);
  s += fmt::format("  CPU-time MFU    {:.1f}% ({:.2f} process CPU-s per step; GEMM {:.2f} GFLOP per CPU-s)\n",
                   100.0 * r.mfu_cpu, r.step_cpu_s, r.gemm_flop_per_cpu_s / 1e9);
  s += fmt::format("  loss            {:.4f} -> {:.4f}\n", r.loss_first, r.loss_last);
  s += fmt::format("  peak memory     {:.1f} MiB RSS (VmHWM)", static_cast<double>(r.peak_rss_bytes) / (1 << 20));
  if (r.cuda_max_allocated_bytes >= 0)
    s += fmt::format("; {:.2f} GiB CUDA (allocator peak over the timed steps)",
                     static_cast<double>(r.cuda_max_allocated_bytes) / (1 << 30));
  s += "\n";
  return s;
}

std::string default_python_ref_script() { return MM_BENCH_REF_SCRIPT; }

nlohmann::json run_python_ref(const std::string& script, const RunConfig& cfg, const BenchOptions& opt,
                              int64_t batch, int64_t seq_len, int64_t threads) {
  const auto& l = cfg.model.llm;
  MM_CHECK(l.moe.num_experts == 0, "bench --python-ref: the reference script implements the dense decoder only "
                                   "(model.llm.moe.num_experts = {})", l.moe.num_experts);
  MM_CHECK(cfg.optimizer.name == "adamw", "bench --python-ref: the reference step uses AdamW (optimizer.name = {})",
           cfg.optimizer.name);
  MM_CHECK(std::ifstream(script).good(), "bench --python-ref: cannot read the reference script {}", script);
  const char* py_env = std::getenv("MM_PYTHON");
  const std::string python = py_env != nullptr && *py_env != '\0' ? py_env : "/usr/bin/python3";
  nlohmann::json spec = {{"vocab_size", l.vocab_size}, {"dim", l.dim}, {"layers", l.layers}, {"heads", l.heads},
                         {"kv_heads", l.kv_heads}, {"ffn_hidden", l.ffn_hidden}, {"rope_theta", l.rope_theta},
                         {"norm_eps", l.norm_eps}, {"tie_embeddings", l.tie_embeddings}, {"batch", batch},
                         {"seq_len", seq_len}, {"docs_per_seq", opt.docs_per_seq}, {"steps", opt.steps},
                         {"warmup", opt.warmup}, {"threads", threads}, {"lr", cfg.optimizer.lr},
                         {"betas", cfg.optimizer.betas}, {"eps", cfg.optimizer.eps},
                         {"weight_decay", cfg.optimizer.weight_decay}, {"clip_grad_norm", cfg.train.clip_grad_norm},
                         {"seed", cfg.seed}};
  const std::string n = std::to_string(threads);
  const std::string cmd = "OMP_NUM_THREADS=" + n + " OPENBLAS_NUM_THREADS=" + n + " MKL_NUM_THREADS=" + n + " " +
                          shell_quote(python) + " " + shell_quote(script) + " --spec " + shell_quote(spec.dump());
  log::get("bench")->info("python reference: {}", cmd);
  FILE* pipe = ::popen(cmd.c_str(), "r");
  MM_CHECK(pipe != nullptr, "bench --python-ref: cannot start {}", python);
  std::string out;
  char buf[4096];
  while (size_t got = std::fread(buf, 1, sizeof buf, pipe)) out.append(buf, got);
  const int status = ::pclose(pipe);
  std::string last;  // the last non-empty line is the JSON result
  std::istringstream lines(out);
  for (std::string line; std::getline(lines, line);)
    if (!line.empty()) last = line;
  MM_CHECK(status == 0, "bench --python-ref: {} {} failed (exit status {}): {}", python, script, status, last);
  nlohmann::json j = nlohmann::json::parse(last, nullptr, /*allow_exceptions=*/false);
  MM_CHECK(j.is_object() && j.contains("tokens_per_s"),
           "bench --python-ref: {} printed no JSON object with tokens_per_s (last line: {})", script, last);
  return j;
}

}  // namespace mm::bench
