// mmtrain bench: timed full training steps of the configured model (trainers/bench/bench.h):
// tokens/s, images/s, model FLOP/s, MFU against a GEMM measured in the same process, the step-time
// breakdown and peak memory; --python-ref also times the decoder step in eager python3-torch
// (scripts/reference/decoder_step_ref.py) at the same thread count and prints the C++/Python ratio.
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "core/check.h"
#include "core/config/run_config.h"
#include "trainers/bench/bench.h"
#include "trainers/loop/recipe.h"

namespace mm::cli {
namespace {

struct BenchArgs {
  std::string config;
  std::vector<std::string> sets;
  std::string stage;  // a recipe's stage (default: its first)
  bench::BenchOptions opt;
  bool json = false;
  bool python_ref = false;
  std::string script;
};

void run_bench_cmd(const BenchArgs& a) {
  MM_CHECK(!a.config.empty(), "bench: --config FILE is required");
  // A run config, or a recipe: one of its stages (a file without `stages:` is a one-stage recipe).
  const train::Recipe recipe = train::load_recipe(a.config, a.sets);
  RunConfig cfg = recipe.stages[a.stage.empty() ? 0 : recipe.index_of(a.stage)];
  init_logging(cfg);
  bench::BenchOptions opt = a.opt;
  if (a.python_ref) opt.decoder_only = true;  // the reference is the decoder step
  const bench::BenchResult r = bench::run_bench(cfg, opt);
  auto j = bench::to_json(r);
  if (a.python_ref) {
    const std::string script = a.script.empty() ? bench::default_python_ref_script() : a.script;
    const auto py = bench::run_python_ref(script, cfg, opt, r.batch, r.seq_len, r.threads);
    const double py_tps = py.at("tokens_per_s").get<double>();
    const double ratio = py_tps > 0 ? r.tokens_per_s / py_tps : 0.0;
    // The same ratio on process CPU time (robust when other processes share the cores).
    const double py_cpu = py.value("tokens_per_cpu_s", 0.0);
    const double cpp_cpu = r.step_cpu_s > 0 ? static_cast<double>(r.batch * r.seq_len) / r.step_cpu_s : 0.0;
    const double ratio_cpu = py_cpu > 0 ? cpp_cpu / py_cpu : 0.0;
    j["python_ref"] = py;
    j["cpp_over_python"] = ratio;
    j["cpp_over_python_cpu"] = ratio_cpu;
    if (!a.json) {
      std::cout << bench::to_text(r)
                << fmt::format(
                       "  python3-torch   {:.1f} tokens/s (torch {}, {} threads)\n"
                       "  C++ / Python    {:.3f} (wall); {:.3f} (per process CPU-second)\n",
                       py_tps, py.value("torch", std::string("?")), py.value("threads", 0), ratio, ratio_cpu);
    }
  } else if (!a.json) {
    std::cout << bench::to_text(r);
  }
  if (a.json) std::cout << j.dump() << "\n";
}

}  // namespace

void add_bench(CLI::App& app) {
  auto* cmd = app.add_subcommand("bench",
                                 "Time full training steps: tokens/s, images/s, model FLOP/s, MFU vs a GEMM, "
                                 "step-time breakdown, peak memory");
  auto args = std::make_shared<BenchArgs>();
  cmd->add_option("--config", args->config,
                  "YAML run config or recipe (model, loader.micro_batch/seq_len, optimizer, train)")
      ->required();
  cmd->add_option("--set", args->sets, "override a key, value parsed as YAML: a.b.c=value (repeatable)");
  cmd->add_option("--stage", args->stage, "with a recipe: the stage to time (default: its first)");
  cmd->add_option("--steps", args->opt.steps, "timed steps")->capture_default_str();
  cmd->add_option("--warmup", args->opt.warmup, "untimed warm-up steps before them")->capture_default_str();
  cmd->add_option("--images-per-seq", args->opt.images_per_seq, "synthetic batches: single-tile images per sequence")
      ->capture_default_str();
  cmd->add_option("--docs-per-seq", args->opt.docs_per_seq, "synthetic batches: packed documents per sequence")
      ->capture_default_str();
  cmd->add_option("--gemm", args->opt.gemm_size, "n of the n^3 fp32 GEMM that measures the peak")
      ->capture_default_str();
  cmd->add_flag("--decoder-only", args->opt.decoder_only, "time the decoder step alone (no images)");
  cmd->add_flag("--real-data", args->opt.real_data, "batches from the real loader over data.sources (data wait)");
  cmd->add_flag("--python-ref", args->python_ref,
                "also run scripts/reference/decoder_step_ref.py (python3-torch) on the decoder step, print C++/Python");
  cmd->add_option("--python-script", args->script, "reference script (default: the source tree's)");
  cmd->add_option("--trace", args->opt.trace, "write a chrome://tracing profile of the first timed step to FILE");
  cmd->add_flag("--json", args->json, "print one JSON object");
  cmd->callback([args]() { run_bench_cmd(*args); });
}

}  // namespace mm::cli
