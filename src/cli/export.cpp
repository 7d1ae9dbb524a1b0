// mmtrain export: a checkpoint as HF Llama/Mixtral/Qwen2-MoE + CLIP vision folders, the connector, the
// tokenizer model and a top-level config.json (trainers/export/hf_export.h, docs/export.md).
#include <fmt/format.h>

#include <cstdint>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "trainers/export/hf_export.h"

namespace mm::cli {
namespace {

struct ExportArgs {
  std::string checkpoint;
  std::string out;
  std::string dtype = "fp32";
};

std::string human_size(uint64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024.0 && u < 4) {
    v /= 1024.0;
    ++u;
  }
  return u == 0 ? fmt::format("{} B", bytes) : fmt::format("{:.1f} {}", v, units[u]);
}

void run_export(const ExportArgs& a) {
  train::ExportOptions opt;
  opt.dtype = a.dtype;
  const train::ExportSummary s = train::export_checkpoint(a.checkpoint, a.out, opt);
  uint64_t total = 0;
  std::cout << fmt::format("exported {} (step {}) to {} [{}, llm: {}]\n", s.checkpoint, s.step, a.out, a.dtype,
                           s.llm_architecture);
  for (const auto& f : s.files) {
    total += f.bytes;
    const std::string rel = std::filesystem::path(f.path).lexically_relative(a.out).string();
    std::cout << fmt::format("  {:<28} {:>10}{}\n", rel.empty() ? f.path : rel, human_size(f.bytes),
                             f.tensors > 0 ? fmt::format("  ({} tensors)", f.tensors) : "");
  }
  std::cout << fmt::format("  total {} in {} files", human_size(total), s.files.size());
  if (!s.warnings.empty()) std::cout << fmt::format(", {} warning(s) (see above and config.json)", s.warnings.size());
  std::cout << "\n";
}

}  // namespace

void add_export(CLI::App& app) {
  auto args = std::make_shared<ExportArgs>();
  CLI::App* sub = app.add_subcommand(
      "export",
      "write a checkpoint as HF Llama, Mixtral or Qwen2-MoE (llm/) and CLIP vision (vision/) folders plus the "
      "connector, tokenizer and a joining config.json (docs/export.md)");
  sub->add_option("--checkpoint", args->checkpoint, "a step_NNNNNN folder, a checkpoints/ folder or a run directory")
      ->required();
  sub->add_option("--out", args->out, "output folder (created; files are replaced atomically)")->required();
  sub->add_option("--dtype", args->dtype, "dtype of the written tensors")->check(CLI::IsMember({"fp32", "bf16"}));
  sub->callback([args]() { run_export(*args); });
}

}  // namespace mm::cli
