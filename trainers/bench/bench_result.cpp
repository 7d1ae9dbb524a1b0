// BenchResult as JSON and as a few aligned lines for people (bench.h).
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "trainers/bench/bench.h"

namespace mm::bench {

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
  j["step_s"] = {{"total", r.time.total},         {"data_wait", r.time.data_wait},
                 {"forward", r.time.forward},     {"backward", r.time.backward},
                 {"optimizer", r.time.optimizer}, {"communication", r.time.communication}};
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
  j["cuda_max_allocated_bytes"] =
      r.cuda_max_allocated_bytes < 0 ? nlohmann::ordered_json() : nlohmann::ordered_json(r.cuda_max_allocated_bytes);
  return j;
}

std::string to_text(const BenchResult& r) {
  const auto& t = r.time;
  auto pct = [&](double x) { return t.total > 0 ? 100.0 * x / t.total : 0.0; };
  std::string s;
  s += fmt::format("bench {} ({}, {} data, {} {}, {} threads): B={} T={}, {} steps after {} warm-up\n", r.model,
                   r.decoder_only ? "decoder step" : "multimodal step", r.real_data ? "loader" : "synthetic", r.device,
                   r.precision, r.threads, r.batch, r.seq_len, r.steps, r.warmup);
  s += fmt::format("  tokens/s        {:.1f}\n", r.tokens_per_s);
  if (!r.decoder_only)
    s += fmt::format("  images/s        {:.2f} ({:.1f} tiles per step)\n", r.images_per_s, r.tiles_per_step);
  s += fmt::format(
      "  step            {:.3f} s = data wait {:.3f} ({:.1f}%) + forward {:.3f} ({:.1f}%) + backward "
      "{:.3f} ({:.1f}%) + optimizer {:.3f} ({:.1f}%) + communication {:.3f}\n",
      t.total, t.data_wait, pct(t.data_wait), t.forward, pct(t.forward), t.backward, pct(t.backward), t.optimizer,
      pct(t.optimizer), t.communication);
  s += fmt::format(
      "  model FLOPs     {:.2f} GFLOP/step (decoder matmul {:.2f}, attention {:.2f}, vision {:.2f}, "
      "connector {:.2f})\n",
      r.flops.total() / 1e9, r.flops.decoder_matmul / 1e9, r.flops.decoder_attention / 1e9, r.flops.vision / 1e9,
      r.flops.connector / 1e9);
  s += fmt::format("  model FLOP/s    {:.2f} GFLOP/s; GEMM peak ({}) {:.2f} GFLOP/s; MFU {:.1f}%\n",
                   r.model_flop_per_s / 1e9, r.gemm_dtype, r.gemm_flop_per_s / 1e9, 100.0 * r.mfu);
  s += fmt::format(
      "  paired MFU      {:.1f}% (median over the steps of step FLOP/s / a GEMM timed just before it; "
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

}  // namespace mm::bench
