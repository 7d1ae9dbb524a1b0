// evaluate_model: scores a model in memory on the eval sets of a RunConfig (its `eval:` section)
// with greedy decoding (KV cache, batches of eval.batch_size) or, for perplexity benchmarks,
// teacher-forced answer log-probabilities; the report is mm_eval's EvalReport. The train loop
// calls it at eval intervals; `mmtrain eval` calls it on a loaded checkpoint.
#pragma once
#include <cstdint>
#include <functional>
#include <string>

#include "core/config/run_config.h"
#include "eval/eval_report.h"
#include "models/mllm.h"
#include "tokenizer/tokenizer.h"

namespace mm::gen {

// Where the evaluation stands, after each batch.
struct EvalProgress {
  std::string benchmark;
  int64_t benchmark_index = 0;  // 0-based, in first-appearance order
  int64_t benchmarks = 0;       // benchmark count
  int64_t done = 0;             // items of this benchmark done
  int64_t total = 0;            // items of this benchmark to do
  double seconds = 0;           // since evaluate_model started
};
using ProgressFn = std::function<void(const EvalProgress&)>;

struct EvaluateOptions {
  // Called after every batch; when empty, one log line per benchmark ("[eval] name: N items ...")
  // plus the Evaluator's score line.
  ProgressFn progress;
};

// Reads cfg.eval.sets and evaluates `model` on them: prompts through the training preprocessing
// (cfg.image, cfg.loader.seq_len, the tokenizer's chat template), at most cfg.eval.max_new_tokens
// generated tokens. The model runs in eval() mode without autograd; its previous mode is restored.
// An item whose prompt cannot be built (unreadable image, too long) is logged and predicted as ""
// (scored wrong); a perplexity item that cannot be scored throws.
eval::EvalReport evaluate_model(MultimodalModel& model, const RunConfig& cfg, const tok::Tokenizer& tokenizer,
                                const EvaluateOptions& options = {});

// evaluate_model, then eval::write_report (JSON at json_path, Markdown beside it).
eval::EvalReport evaluate_model_to(MultimodalModel& model, const RunConfig& cfg, const tok::Tokenizer& tokenizer,
                                   const std::string& json_path, const EvaluateOptions& options = {});

// "<run_dir>/eval/step_000500.json": the report path of a run at `step` (DESIGN.md run directory).
std::string eval_report_path(const std::string& run_dir, int64_t step);

}  // namespace mm::gen
