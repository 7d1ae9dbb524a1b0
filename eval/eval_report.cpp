// Aggregation and the JSON / Markdown writers.
#include "eval/eval_report.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <set>

#include "core/check.h"
#include "core/io.h"

namespace mm::eval {
namespace {

constexpr Category kAllCategories[] = {Category::kGeneral,     Category::kTextRich,   Category::kKnowledge,
                                       Category::kReferGround, Category::kMultiImage, Category::kTextOnly};
constexpr Category kMMBase[] = {Category::kGeneral, Category::kTextRich, Category::kKnowledge};

std::string percent(double x) { return fmt::format("{:.1f}", 100.0 * x); }

}  // namespace

EvalReport aggregate(std::vector<BenchmarkScore> benchmarks, std::vector<std::string> skipped) {
  std::sort(benchmarks.begin(), benchmarks.end(),
            [](const BenchmarkScore& a, const BenchmarkScore& b) { return a.name < b.name; });
  for (size_t i = 1; i < benchmarks.size(); ++i)
    MM_CHECK(benchmarks[i].name != benchmarks[i - 1].name,
             "benchmark \"{}\" appears twice in the report (give each eval set's benchmark a unique name)",
             benchmarks[i].name);
  EvalReport r;
  for (Category c : kAllCategories) {
    double sum = 0, chance_sum = 0;
    size_t count = 0, chance_count = 0;
    for (const auto& b : benchmarks) {
      if (b.category != c || !metric_is_accuracy(b.metric)) continue;
      sum += b.score, ++count;
      if (b.chance) chance_sum += *b.chance, ++chance_count;
    }
    if (count) r.categories[category_name(c)] = sum / count;
    if (chance_count) r.chance[category_name(c)] = chance_sum / chance_count;
  }
  double base = 0;
  size_t present = 0;
  for (Category c : kMMBase)
    if (auto it = r.categories.find(category_name(c)); it != r.categories.end()) base += it->second, ++present;
  if (present) r.mmbase = base / present;
  r.benchmarks = std::move(benchmarks);
  r.skipped = std::move(skipped);
  return r;
}

std::vector<Example> select_examples(const std::vector<EvalItem>& items, const std::vector<std::string>& predictions,
                                     const std::vector<double>& scores, size_t k, Metric metric) {
  MM_CHECK(items.size() == predictions.size() && items.size() == scores.size(),
           "select_examples: {} items, {} predictions, {} scores", items.size(), predictions.size(), scores.size());
  std::vector<size_t> right, wrong;
  for (size_t i = 0; i < items.size(); ++i) (scores[i] >= 0.5 ? right : wrong).push_back(i);
  std::vector<size_t> chosen;
  if (metric == Metric::kPerplexity) {
    for (size_t i = 0; i < items.size() && i < k; ++i) chosen.push_back(i);
  } else {
    size_t want_right = std::min(right.size(), (k + 1) / 2);
    size_t want_wrong = std::min(wrong.size(), k - want_right);
    want_right = std::min(right.size(), k - want_wrong);  // refill when the wrong ones run short
    chosen.assign(right.begin(), right.begin() + want_right);
    chosen.insert(chosen.end(), wrong.begin(), wrong.begin() + want_wrong);
    std::sort(chosen.begin(), chosen.end());
  }
  std::vector<Example> out;
  for (size_t i : chosen)
    out.push_back(
        {items[i].id, items[i].question, predictions[i], items[i].answers, scores[i], items[i].task, items[i].images});
  return out;
}

std::string report_to_json(const EvalReport& r) {
  using nlohmann::json;
  json j;
  j["categories"] = json::object();
  for (const auto& [name, score] : r.categories) j["categories"][name] = score;
  j["chance"] = json::object();
  for (const auto& [name, score] : r.chance) j["chance"][name] = score;
  j["mmbase"] = r.mmbase ? json(*r.mmbase) : json(nullptr);
  j["benchmarks"] = json::object();
  j["examples"] = json::object();
  j["eval_sets"] = json::array();
  for (const auto& s : r.sets) j["eval_sets"].push_back({{"path", s.path}, {"hash", s.hash}});
  for (const auto& b : r.benchmarks) {
    json e = {
        {"score", b.score}, {"n", b.n}, {"metric", metric_name(b.metric)}, {"category", category_name(b.category)}};
    if (b.chance) e["chance"] = *b.chance;
    if (!b.tasks.empty()) e["tasks"] = b.tasks;
    j["benchmarks"][b.name] = e;
    json ex = json::array();
    for (const auto& x : b.examples) {
      json e = {{"id", x.id},
                {"question", x.question},
                {"prediction", x.prediction},
                {"answers", x.answers},
                {"score", x.score}};
      if (!x.images.empty()) e["images"] = x.images;
      ex.push_back(e);
    }
    j["examples"][b.name] = ex;
  }
  j["skipped"] = r.skipped;
  // Model output may hold invalid UTF-8; replace it rather than failing the whole report.
  return j.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

std::string report_to_console_table(const EvalReport& r) {
  size_t w = 9;  // "benchmark"
  for (const auto& b : r.benchmarks) w = std::max(w, b.name.size());
  std::string out = fmt::format("{:<{}}  {:<13} {:<15} {:>5}  {:>7}  {:>6}\n", "benchmark", w, "category", "metric",
                                "items", "score", "chance");
  for (const auto& b : r.benchmarks) {
    const bool ppl = b.metric == Metric::kPerplexity;
    out += fmt::format("{:<{}}  {:<13} {:<15} {:>5}  {:>7}  {:>6}\n", b.name, w, category_name(b.category),
                       metric_name(b.metric), b.n, ppl ? fmt::format("{:.3f}", b.score) : percent(b.score) + "%",
                       b.chance ? percent(*b.chance) + "%" : "-");
  }
  out += fmt::format(
      "MMBase {}{}", r.mmbase ? percent(*r.mmbase) + "%" : std::string("-"),
      r.skipped.empty() ? "" : fmt::format("; {} item(s) skipped (listed in the report)", r.skipped.size()));
  return out;
}

std::string report_to_markdown(const EvalReport& r) {
  std::string md = "| category | score (%) | chance (%) |\n|---|---:|---:|\n";
  for (Category c : kAllCategories) {
    auto it = r.categories.find(category_name(c));
    if (it == r.categories.end()) continue;
    auto ch = r.chance.find(it->first);
    md += fmt::format("| {} | {} | {} |\n", it->first, percent(it->second),
                      ch == r.chance.end() ? "-" : percent(ch->second));
  }
  md += fmt::format("| **MMBase** | **{}** | |\n\n", r.mmbase ? percent(*r.mmbase) : "-");
  md += "| benchmark | category | metric | n | score | chance | by task |\n|---|---|---|---:|---:|---:|---|\n";
  for (const auto& b : r.benchmarks) {
    const bool acc = metric_is_accuracy(b.metric);
    std::string tasks;
    for (const auto& [task, score] : b.tasks)
      tasks += fmt::format("{}{} {}%", tasks.empty() ? "" : ", ", task, percent(score));
    md += fmt::format("| {} | {} | {} | {} | {} | {} | {} |\n", b.name, category_name(b.category),
                      metric_name(b.metric), b.n, acc ? percent(b.score) + "%" : fmt::format("{:.3f}", b.score),
                      b.chance ? percent(*b.chance) + "%" : "-", tasks.empty() ? "-" : tasks);
  }
  if (!r.skipped.empty())
    md += fmt::format("\n{} item(s) were skipped as malformed (listed under \"skipped\" in the JSON report).\n",
                      r.skipped.size());
  return md;
}

void write_report(const EvalReport& report, const std::string& json_path) {
  namespace fs = std::filesystem;
  const fs::path p(json_path);
  if (p.has_parent_path()) fs::create_directories(p.parent_path());
  io::write_file_atomic(json_path, report_to_json(report));
  fs::path md = p;
  md.replace_extension(".md");
  io::write_file_atomic(md.string(), report_to_markdown(report));
  fs::path preds = p;
  preds.replace_extension(".predictions.jsonl");
  io::write_file_atomic(preds.string(), predictions_to_jsonl(report));
}

std::string predictions_to_jsonl(const EvalReport& report) {
  using nlohmann::json;
  std::string out;
  for (const auto& b : report.benchmarks) {
    for (const auto& x : b.predictions) {
      json j = {{"benchmark", b.name}, {"id", x.id}};
      if (!x.task.empty()) j["task"] = x.task;
      j["question"] = x.question;
      if (!x.images.empty()) j["images"] = x.images;
      j["prediction"] = x.prediction;
      j["answers"] = x.answers;
      j["score"] = x.score;
      out += j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
    }
  }
  return out;
}

}  // namespace mm::eval
