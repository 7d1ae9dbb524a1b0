// mmtrain eval: scores a checkpoint on the eval sets of a config (its `eval:` section) with greedy
// decoding, prints the category table and writes the JSON + Markdown report (eval/generation/).
#include <fmt/format.h>

#include <filesystem>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "core/check.h"
#include "core/config/run_config.h"
#include "core/logging.h"
#include "eval/eval_report.h"
#include "eval/generation/evaluate_model.h"
#include "models/checkpoint/checkpoint_tokenizer.h"
#include "models/checkpoint/model_state.h"
#include "trainers/loop/recipe.h"

namespace fs = std::filesystem;

namespace mm::cli {
namespace {

struct EvalArgs {
  std::string config;
  std::string checkpoint;
  std::vector<std::string> sets;
  std::string out;
};

// <run dir>/eval/step_NNNNNN.json for a checkpoint at <run dir>/checkpoints/step_NNNNNN.
std::string default_report_path(const mm::LoadedModel& loaded) {
  const fs::path ckpt = fs::absolute(loaded.path).lexically_normal();
  fs::path parent = ckpt.parent_path();
  if (parent.filename().empty()) parent = parent.parent_path();  // trailing slash
  const std::string run_dir =
      parent.filename() == "checkpoints" ? parent.parent_path().string() : loaded.config.run_dir;
  return gen::eval_report_path(run_dir, loaded.step);
}

void run_eval(const EvalArgs& a) {
  // A run config, or a recipe: its last stage's eval section (the shared one unless overridden).
  const RunConfig eval_cfg = train::load_recipe(a.config, a.sets).stages.back();
  init_logging(eval_cfg);
  mm::LoadedModel loaded = mm::load_model_checkpoint(a.checkpoint);
  // The model and its preprocessing (image, tokenizer, seq_len) as trained; eval sets and
  // decoding settings from --config.
  RunConfig cfg = loaded.config;
  cfg.eval = eval_cfg.eval;
  tok::Tokenizer tokenizer = load_checkpoint_tokenizer(cfg, loaded.path);
  const std::string out = a.out.empty() ? default_report_path(loaded) : a.out;
  auto log = mm::log::get("eval");
  log->info("checkpoint {} (step {}), {} eval set(s)", loaded.path, loaded.step, cfg.eval.sets.size());
  gen::EvaluateOptions options;
  options.progress = [log](const gen::EvalProgress& p) {
    log->info("[{}/{}] {}: {}/{} items, {:.1f} s", p.benchmark_index + 1, p.benchmarks, p.benchmark, p.done, p.total,
              p.seconds);
  };
  eval::EvalReport report = gen::evaluate_model_to(loaded.model, cfg, tokenizer, out, options);
  std::cout << eval::report_to_markdown(report);
  std::cout << "report: " << out << "\n";
}

}  // namespace

void add_eval(CLI::App& app) {
  auto* cmd = app.add_subcommand("eval", "Score a checkpoint on the eval sets of a config (greedy decoding)");
  auto args = std::make_shared<EvalArgs>();
  cmd->add_option("--config", args->config, "YAML config whose eval: section names the sets and decoding")->required();
  cmd->add_option("--checkpoint", args->checkpoint, "checkpoint folder, checkpoints/ folder or run directory")
      ->required();
  cmd->add_option("--set", args->sets, "override a key of --config: eval.max_items=50 (repeatable, later wins)");
  cmd->add_option("--out", args->out,
                  "report path (default <run dir>/eval/step_NNNNNN.json; the Markdown goes beside it)");
  cmd->callback([args]() { run_eval(*args); });
}

}  // namespace mm::cli
