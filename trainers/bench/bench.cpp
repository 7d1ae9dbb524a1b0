// mmtrain bench (bench.h): model + optimizer + batches, the train loop's step (train_step) timed with
// a per-phase breakdown, the GEMM peak before and after. Measurements: measure.h; output:
// bench_result.cpp; the python3-torch reference: python_ref.cpp; synthetic batches: synthetic_batch.cpp.
#include "trainers/bench/bench.h"

#include <fmt/format.h>
#include <torch/csrc/autograd/profiler_legacy.h>
#include <torch/cuda.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <memory>

#include "core/check.h"
#include "core/device.h"
#include "core/logging.h"
#include "core/timer.h"
#include "data_pipeline/loader/loader.h"
#include "data_pipeline/loader/model_batch.h"
#include "dist/process_group.h"
#include "models/llm/decoder.h"
#include "tokenizer/tokenizer.h"
#include "trainers/bench/measure.h"
#include "trainers/loop/train_step.h"
#include "trainers/optim/param_groups.h"

namespace mm::bench {
namespace {

using Clock = SteadyClock;

int64_t tiles_of(const MultimodalBatch& b) { return b.tiles.defined() ? b.tiles.size(0) : 0; }

}  // namespace

BenchResult run_bench(const RunConfig& cfg, const BenchOptions& opt) {
  auto log = log::get("bench");
  MM_CHECK(opt.steps >= 1, "bench: --steps must be >= 1, got {}", opt.steps);
  MM_CHECK(opt.warmup >= 0, "bench: --warmup must be >= 0, got {}", opt.warmup);
  MM_CHECK(!(opt.real_data && cfg.data.sources.empty()),
           "bench: --real-data needs data.sources in the config (none are listed)");
  if (cfg.train.threads > 0) torch::set_num_threads(static_cast<int>(cfg.train.threads));
  align_blas_threads(torch::get_num_threads());
  const torch::Device device = pick_device(cfg.train.device, "train.device");

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
      batch = to_device(data::to_model_batch(b), device);
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
  for (double* x :
       {&r.time.data_wait, &r.time.forward, &r.time.backward, &r.time.optimizer, &r.time.total, &r.step_cpu_s})
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
  r.mfu_paired = paired.size() % 2 == 1 ? paired[paired.size() / 2]
                                        : 0.5 * (paired[paired.size() / 2 - 1] + paired[paired.size() / 2]);
  r.mfu_paired_min = paired.front();
  r.mfu_paired_max = paired.back();
  r.gemm_flop_per_cpu_s = std::max(gemm_before.cpu, gemm_after.cpu);
  r.mfu_cpu = r.step_cpu_s > 0 ? r.flops.total() / r.step_cpu_s / r.gemm_flop_per_cpu_s : 0.0;
  r.peak_rss_bytes = peak_rss_bytes();
  return r;
}

}  // namespace mm::bench
