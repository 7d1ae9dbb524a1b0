// The evaluation report: per-benchmark scores, per-category means, MMBase, example predictions
// and skipped items; written as JSON and as a Markdown table.
#pragma once
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "eval/eval_item.h"

namespace mm::eval {

struct Example {
  std::string id, question, prediction;
  std::vector<std::string> answers;
  double score = 0;
  std::string task;                 // EvalItem::task ("" when the item has none)
  std::vector<std::string> images;  // EvalItem::images (resolved paths); the run report shows them
};

struct BenchmarkScore {
  std::string name;
  Category category = Category::kGeneral;
  Metric metric = Metric::kExactMatch;
  size_t n = 0;
  double score = 0;              // mean item score; corpus perplexity for perplexity benchmarks
  std::optional<double> chance;  // majority-answer baseline (eval/chance.h; accuracy metrics only)
  std::vector<Example> examples;
  std::map<std::string, double> tasks;  // mean item score per EvalItem::task (accuracy metrics, items with a task)
  std::vector<Example> predictions;     // every item in order: what the model answered and its score
};

// An eval-set file a report was computed on, and the hash of its bytes then.
struct EvalSetRef {
  std::string path, hash;
};

struct EvalReport {
  std::vector<BenchmarkScore> benchmarks;    // sorted by name
  std::vector<EvalSetRef> sets;              // the eval-set files read, in config order
  std::map<std::string, double> categories;  // category -> plain mean of its accuracy benchmarks
  std::map<std::string, double> chance;      // category -> mean chance of its benchmarks
  std::optional<double> mmbase;              // mean(general, text-rich, knowledge) over those present
  std::vector<std::string> skipped;          // "file:line: reason" of every skipped item
};

// Builds the category means and MMBase from per-benchmark scores. Perplexity benchmarks are
// reported but enter no category mean (lower is better, not in [0, 1]). Throws if two entries
// share a name.
EvalReport aggregate(std::vector<BenchmarkScore> benchmarks, std::vector<std::string> skipped = {});

// Up to `k` examples, half right (score >= 0.5) and half wrong, in item order; when one kind runs
// short the other fills the rest. Perplexity benchmarks: the first k items.
std::vector<Example> select_examples(const std::vector<EvalItem>& items, const std::vector<std::string>& predictions,
                                     const std::vector<double>& scores, size_t k, Metric metric);

// {"categories": {name: score}, "benchmarks": {name: {"score", "n", "metric", "category", "chance"?}},
//  "mmbase": x | null, "chance": {category: x}, "examples": {benchmark: [{"id", "question",
//  "prediction", "answers", "score", "images" (when the item has any)}]}, "skipped": ["file:line: reason"],
//  "eval_sets": [{"path", "hash"}]} (the run report checks the files still hash the same)
std::string report_to_json(const EvalReport& report);

// Two tables (categories with chance and MMBase; benchmarks) and the skipped count, scores in %.
std::string report_to_markdown(const EvalReport& report);

// The few lines an evaluation logs: one aligned row per benchmark (category, metric, items, score
// and chance in %, perplexity as is), then MMBase and the skipped count.
std::string report_to_console_table(const EvalReport& report);

// Writes report_to_json to `json_path` and report_to_markdown beside it (".json" -> ".md"),
// both atomically.
void write_report(const EvalReport& report, const std::string& json_path);

// One JSON object per evaluated item, benchmark by benchmark: {"benchmark", "id", "task" (when the
// item has one), "question", "images" (when the item has any: its resolved paths), "prediction",
// "answers", "score"}. write_report puts it beside the JSON report as <name>.predictions.jsonl, for
// a person or a script to study every answer. Files written before "images" existed lack the key.
std::string predictions_to_jsonl(const EvalReport& report);

}  // namespace mm::eval
