// `mmtrain bench`: full training steps (forward, loss, backward, clipping, optimizer) of the model
// a RunConfig describes on synthetic batches shaped like the loader's (or the real loader with
// real_data), warm-up steps excluded, against a large GEMM measured in the same process. Reports
// tokens/s, images/s, model FLOP/s (flops.h) and MFU = model FLOP/s / GEMM FLOP/s, the mean step
// time split into data wait / forward / backward / optimizer / communication, and peak memory.
// decoder_only runs the decoder alone (the step scripts/reference/decoder_step_ref.py mirrors).
#pragma once
#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <string>

#include "core/config/run_config.h"
#include "models/mllm.h"
#include "trainers/bench/flops.h"
#include "trainers/bench/measure.h"

namespace mm::bench {

struct BenchOptions {
  int64_t steps = 5;           // timed steps
  int64_t warmup = 1;          // untimed steps before them
  int64_t images_per_seq = 1;  // synthetic: single-tile images per sequence
  int64_t docs_per_seq = 2;    // synthetic: packed documents per sequence (equal lengths)
  bool decoder_only = false;   // decoder step only (no images, no vision/connector)
  bool real_data = false;      // batches from make_loader(cfg.data...) instead of synthetic ones
  int64_t gemm_size = 2048;    // n of the n x n x n GEMM (in the run's precision) that defines the peak
  uint64_t seed = 0;
  std::string trace;  // non-empty: chrome://tracing profile of the first timed step here
};

// Mean seconds per timed step; total is the whole step measured end to end.
struct StepTimes {
  double data_wait = 0, forward = 0, backward = 0, optimizer = 0, communication = 0, total = 0;
};

struct BenchResult {
  std::string model;  // cfg.model.name
  std::string device = "cpu";
  std::string precision = "fp32";  // train.precision: fp32 | bf16 (autocast around the forward)
  bool decoder_only = false, real_data = false;
  int64_t batch = 0, seq_len = 0, threads = 0, steps = 0, warmup = 0;
  double tiles_per_step = 0, images_per_step = 0;  // means over the timed steps
  StepTimes time;
  StepFlops flops;          // per step (means over the timed steps with real data)
  double tokens_per_s = 0;  // B x T per step time (image slots and padding included)
  double images_per_s = 0, tiles_per_s = 0;
  double model_flop_per_s = 0;
  std::string gemm_dtype = "fp32";  // the peak's GEMM: bf16 when precision is bf16, fp32 otherwise
  double gemm_flop_per_s = 0;       // best of the GEMM runs before and after the steps
  double mfu = 0;                   // model_flop_per_s / gemm_flop_per_s
  // Paired: one GEMM is timed right before every timed step (outside the step's time) and each
  // step's FLOP/s is divided by that GEMM's; mfu_paired is the median of these ratios. On a
  // machine whose speed drifts (shared cores, turbo) this compares like with like (docs/bench.md).
  double mfu_paired = 0;
  double mfu_paired_min = 0, mfu_paired_max = 0;
  // The same on process CPU time (all threads): model FLOPs per CPU-second of the steps over GEMM
  // FLOPs per CPU-second. Robust to other processes sharing the cores (docs/bench.md).
  double step_cpu_s = 0;  // mean process CPU seconds per step
  double gemm_flop_per_cpu_s = 0;
  double mfu_cpu = 0;
  double loss_first = 0, loss_last = 0;
  int64_t peak_rss_bytes = 0;             // VmHWM of the process
  int64_t cuda_max_allocated_bytes = -1;  // peak of the CUDA caching allocator over the timed steps; -1 on CPUs
};

// Synthetic batch shaped like the loader's: B x T fully packed with `docs_per_seq` documents of
// equal length per row, positions restarting per document, `images_per_seq` single-tile images
// (tiles (B*k, 3, r, r), r = model.vision.image_size) whose M slots follow each document's first
// token (round-robin over the documents), labels = ids except -100 at image slots. Fails with one
// line when the images do not fit.
MultimodalBatch synthetic_batch(const ModelConfig& model, int64_t batch, int64_t seq_len, int64_t images_per_seq,
                                int64_t docs_per_seq, uint64_t seed);

// Runs the benchmark; threads from cfg.train.threads (0 = LibTorch's default), device from
// cfg.train.device. Logs progress to the "bench" logger.
BenchResult run_bench(const RunConfig& cfg, const BenchOptions& opt);

nlohmann::ordered_json to_json(const BenchResult& r);
std::string to_text(const BenchResult& r);  // a few aligned lines for people

// Runs `script` (scripts/reference/decoder_step_ref.py) with /usr/bin/python3 (or $MM_PYTHON) on the
// decoder of cfg at batch x seq_len, `threads` threads (OMP/OPENBLAS/MKL_NUM_THREADS set for the
// child), and returns the JSON object it prints last. Fails with one line when the script cannot
// run (python3-torch missing, MoE decoder, ...).
nlohmann::json run_python_ref(const std::string& script, const RunConfig& cfg, const BenchOptions& opt, int64_t batch,
                              int64_t seq_len, int64_t threads);

// The script's default path (the source tree's scripts/reference/decoder_step_ref.py).
std::string default_python_ref_script();

}  // namespace mm::bench
