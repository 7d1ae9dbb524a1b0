// Evaluator: group by benchmark, predict in batches, score, aggregate.
#include "eval/evaluator.h"

#include <map>

#include "core/check.h"
#include "core/logging.h"
#include "eval/chance.h"
#include "eval/metrics/perplexity.h"

namespace mm::eval {

Evaluator::Evaluator(EvalConfig config) : config_(std::move(config)) {
  MM_CHECK(config_.batch_size > 0, "eval.batch_size must be > 0, got {}", config_.batch_size);
}

std::vector<EvalSet> Evaluator::load_sets() const {
  MM_CHECK(!config_.sets.empty(), "eval.sets is empty: name at least one eval-set JSONL file");
  std::vector<EvalSet> out;
  size_t items = 0, skipped = 0;
  for (const auto& path : config_.sets) {
    out.push_back(read_eval_set(path, {config_.check_images}));
    items += out.back().items.size(), skipped += out.back().skipped.size();
  }
  mm::log::get("eval")->info("eval sets: {} file(s), {} items, {} skipped", out.size(), items, skipped);
  return out;
}

std::vector<BenchmarkItems> group_by_benchmark(const std::vector<EvalSet>& sets, int64_t max_items) {
  std::vector<BenchmarkItems> groups;
  std::map<std::string, size_t> index;  // benchmark -> position in groups
  for (const auto& set : sets) {
    for (const auto& item : set.items) {
      auto [it, fresh] = index.emplace(item.benchmark, groups.size());
      if (fresh) groups.push_back({item.benchmark, {}});
      auto& g = groups[it->second].items;
      const EvalItem& first = g.empty() ? item : g.front();
      MM_CHECK(first.category == item.category && first.metric == item.metric,
               "{}: benchmark \"{}\" is {}/{} at {} but {}/{} here", item.source, item.benchmark,
               category_name(first.category), metric_name(first.metric), first.source, category_name(item.category),
               metric_name(item.metric));
      if (max_items == 0 || static_cast<int64_t>(g.size()) < max_items) g.push_back(item);
    }
  }
  return groups;
}

EvalReport Evaluator::run(const std::vector<EvalSet>& sets, const PredictFn& predict) const {
  auto log = mm::log::get("eval");
  std::vector<std::string> skipped;
  for (const auto& set : sets)
    for (const auto& s : set.skipped) skipped.push_back(s.message());

  std::vector<BenchmarkScore> scores;
  for (const auto& [name, items] : group_by_benchmark(sets, config_.max_items)) {
    std::vector<std::string> texts;
    std::vector<double> item_scores;
    std::vector<std::vector<double>> logprobs;
    for (size_t start = 0; start < items.size(); start += config_.batch_size) {
      const size_t end = std::min(items.size(), start + static_cast<size_t>(config_.batch_size));
      std::vector<EvalItem> batch(items.begin() + start, items.begin() + end);
      const auto preds = predict(batch);
      MM_CHECK(preds.size() == batch.size(), "eval: the predictor returned {} predictions for a batch of {} ({})",
               preds.size(), batch.size(), name);
      for (size_t i = 0; i < batch.size(); ++i) {
        item_scores.push_back(score_item(batch[i], preds[i]));
        texts.push_back(preds[i].text);
        logprobs.push_back(preds[i].token_logprobs);
      }
    }
    BenchmarkScore b;
    b.name = name;
    b.category = items.front().category;
    b.metric = items.front().metric;
    b.n = items.size();
    if (b.metric == Metric::kPerplexity) {
      b.score = corpus_perplexity(logprobs);
    } else {
      double sum = 0;
      for (double s : item_scores) sum += s;
      b.score = sum / items.size();
    }
    b.chance = majority_baseline(items);
    b.examples = select_examples(items, texts, item_scores, static_cast<size_t>(config_.examples), b.metric);
    std::map<std::string, std::pair<double, int64_t>> per_task;  // task -> (sum, count)
    for (size_t i = 0; i < items.size(); ++i) {
      b.predictions.push_back(
          {items[i].id, items[i].question, texts[i], items[i].answers, item_scores[i], items[i].task, items[i].images});
      if (!items[i].task.empty() && b.metric != Metric::kPerplexity) {
        per_task[items[i].task].first += item_scores[i];
        per_task[items[i].task].second += 1;
      }
    }
    for (const auto& [task, acc] : per_task) b.tasks[task] = acc.first / static_cast<double>(acc.second);
    log->debug("{} ({}, {}): {:.4f} over {} items", name, category_name(b.category), metric_name(b.metric), b.score,
               b.n);
    scores.push_back(std::move(b));
  }
  EvalReport report = aggregate(std::move(scores), std::move(skipped));
  for (const auto& set : sets) report.sets.push_back({set.path, set.hash});
  // One short table: a row per benchmark, then MMBase.
  const std::string table = report_to_console_table(report);
  for (size_t b = 0, e; b < table.size(); b = e + 1) {
    e = table.find('\n', b);
    if (e == std::string::npos) e = table.size();
    log->info("{}", table.substr(b, e - b));
  }
  return report;
}

}  // namespace mm::eval
