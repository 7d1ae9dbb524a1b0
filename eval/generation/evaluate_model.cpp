#include "eval/generation/evaluate_model.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <map>

#include "core/check.h"
#include "core/logging.h"
#include "core/timer.h"
#include "eval/evaluator.h"
#include "eval/generation/generate.h"
#include "eval/generation/prompt.h"

namespace fs = std::filesystem;

namespace mm::gen {
namespace {

// Restores the model's train/eval mode when evaluation ends (also on an exception).
struct ModeGuard {
  MultimodalModel& model;
  bool was_training;
  explicit ModeGuard(MultimodalModel& m) : model(m), was_training(m->is_training()) { model->eval(); }
  ~ModeGuard() { model->train(was_training); }
};

}  // namespace

eval::EvalReport evaluate_model(MultimodalModel& model, const RunConfig& cfg, const tok::Tokenizer& tokenizer,
                                const EvaluateOptions& options) {
  auto log = mm::log::get("eval");
  const Stopwatch watch;
  ModeGuard mode(model);
  torch::NoGradGuard no_grad;
  eval::Evaluator evaluator(cfg.eval);
  const std::vector<eval::EvalSet> sets = evaluator.load_sets();

  // Items per benchmark, in the order the evaluator scores them, for the progress reports.
  std::vector<std::string> order;
  std::map<std::string, int64_t> totals;
  for (const auto& g : eval::group_by_benchmark(sets, cfg.eval.max_items)) {
    order.push_back(g.name);
    totals[g.name] = static_cast<int64_t>(g.items.size());
  }
  std::map<std::string, int64_t> done;

  const PromptBuilder builder(cfg, tokenizer, model->tokens_per_tile());
  GenerateOptions gen_options;
  gen_options.max_new_tokens = cfg.eval.max_new_tokens;

  auto predict = [&](const std::vector<eval::EvalItem>& batch) {
    std::vector<eval::Prediction> preds(batch.size());
    if (batch.empty()) return preds;
    const std::string& name = batch.front().benchmark;
    const int64_t index = std::find(order.begin(), order.end(), name) - order.begin();
    if (done[name] == 0 && !options.progress) {
      log->debug("[{}/{}] {}: {} items ({}, {})", index + 1, order.size(), name, totals[name],
                 eval::category_name(batch.front().category), eval::metric_name(batch.front().metric));
    }
    if (batch.front().metric == eval::Metric::kPerplexity) {
      std::vector<Prompt> prompts;
      for (const auto& item : batch)
        prompts.push_back(builder.build_scored(item.question, item.images, item.answers.at(0), item.source));
      auto logprobs = score_answers(model, prompts);
      for (size_t i = 0; i < batch.size(); ++i) {
        MM_CHECK(!logprobs[i].empty(), "{}: the answer has no token to score", batch[i].source);
        preds[i].token_logprobs = std::move(logprobs[i]);
      }
    } else {
      std::vector<Prompt> prompts;
      std::vector<size_t> which;  // batch index of each prompt
      for (size_t i = 0; i < batch.size(); ++i) {
        try {
          prompts.push_back(builder.build(batch[i].question, batch[i].images, batch[i].source));
          which.push_back(i);
        } catch (const mm::Error& e) {
          log->warn("{} (predicted as \"\")", e.what());
        }
      }
      auto gens = generate(model, tokenizer, prompts, gen_options);
      for (size_t k = 0; k < gens.size(); ++k) preds[which[k]].text = std::move(gens[k].text);
    }
    done[name] += static_cast<int64_t>(batch.size());
    if (options.progress) {
      EvalProgress p;
      p.benchmark = name;
      p.benchmark_index = index;
      p.benchmarks = static_cast<int64_t>(order.size());
      p.done = done[name];
      p.total = totals[name];
      p.seconds = watch.seconds();
      options.progress(p);
    }
    return preds;
  };
  eval::EvalReport report = evaluator.run(sets, predict);
  log->info("evaluated {} benchmark(s) in {:.1f} s", order.size(), watch.seconds());
  return report;
}

eval::EvalReport evaluate_model_to(MultimodalModel& model, const RunConfig& cfg, const tok::Tokenizer& tokenizer,
                                   const std::string& json_path, const EvaluateOptions& options) {
  eval::EvalReport report = evaluate_model(model, cfg, tokenizer, options);
  const fs::path parent = fs::path(json_path).parent_path();
  if (!parent.empty()) fs::create_directories(parent);
  eval::write_report(report, json_path);
  mm::log::get("eval")->info("report: {} (+ .md)", json_path);
  return report;
}

std::string eval_report_path(const std::string& run_dir, int64_t step) {
  return (fs::path(run_dir) / "eval" / fmt::format("step_{:06d}.json", step)).string();
}

}  // namespace mm::gen
