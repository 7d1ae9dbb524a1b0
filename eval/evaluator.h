// The evaluation harness: runs a predictor over eval sets in batches, scores every item with its
// metric and builds the report. The predictor is a callback, so greedy decoding (or a fake, in
// tests) plugs in from outside.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/config/eval_config.h"
#include "eval/eval_report.h"
#include "eval/eval_set_reader.h"
#include "eval/metrics/score.h"

namespace mm::eval {

// predict(batch) -> one Prediction per item, in order. A batch holds items of one benchmark, so
// it is all generation (fill `text`) or all perplexity (fill `token_logprobs` of answers[0]).
using PredictFn = std::function<std::vector<Prediction>(const std::vector<EvalItem>& batch)>;

// The items of one benchmark, in file order.
struct BenchmarkItems {
  std::string name;
  std::vector<EvalItem> items;
};

// Groups the items of `sets` by benchmark: benchmarks in first-appearance order, items in file
// order, at most max_items each (0: all). Throws if a benchmark spans sets with a different
// category or metric.
std::vector<BenchmarkItems> group_by_benchmark(const std::vector<EvalSet>& sets, int64_t max_items);

class Evaluator {
 public:
  explicit Evaluator(EvalConfig config);

  // Reads config.sets (with config.check_images); malformed lines are skipped and listed.
  std::vector<EvalSet> load_sets() const;

  // Scores every benchmark of group_by_benchmark(sets, config.max_items). Throws as it does, or
  // if predict returns the wrong number of predictions.
  EvalReport run(const std::vector<EvalSet>& sets, const PredictFn& predict) const;

  const EvalConfig& config() const { return config_; }

 private:
  EvalConfig config_;
};

}  // namespace mm::eval
