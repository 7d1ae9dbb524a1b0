// The Evaluator with a fake predictor: batching, per-benchmark limits, scoring and the report.
#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <set>

#include "core/check.h"
#include "core/config/config.h"
#include "core/config/eval_config.h"
#include "eval/evaluator.h"
#include "support/temp_dir.h"

using namespace mm::eval;

namespace {
std::string line(const std::string& id, const std::string& bench, const std::string& cat, const std::string& metric,
                 const std::string& answer, const std::string& extra = "") {
  return R"({"id": ")" + id + R"(", "question": "q)" + id + R"(", "answers": [")" + answer + R"("], "category": ")" +
         cat + R"(", "benchmark": ")" + bench + R"(", "metric": ")" + metric + "\"" + extra + "}\n";
}
}  // namespace

TEST_CASE("Evaluator scores a fake predictor per benchmark and category", "[eval][evaluator]") {
  mm::test::TempDir dir;
  std::string a, b;
  for (int i = 0; i < 10; ++i)  // tasks: colour on items 0-3, count on 4-9
    a += line("v" + std::to_string(i), "vqa", "general", "vqa_accuracy", "red",
              i < 4 ? R"(, "task": "colour")" : R"(, "task": "count")");
  for (int i = 0; i < 4; ++i)
    a += line("m" + std::to_string(i), "sqa", "knowledge", "multiple_choice", "B",
              R"(, "choices": ["x", "y", "z", "w"])");
  a += "{broken\n";
  for (int i = 0; i < 3; ++i) b += line("t" + std::to_string(i), "wiki", "text-only", "perplexity", "some text");
  for (int i = 0; i < 2; ++i) b += line("g" + std::to_string(i), "ref", "refer&ground", "iou@0.5", "[0, 0, 100, 100]");

  mm::EvalConfig cfg;
  cfg.sets = {dir.write("a.jsonl", a), dir.write("b.jsonl", b)};
  cfg.batch_size = 3;
  cfg.max_items = 8;
  cfg.examples = 4;
  Evaluator ev(cfg);
  const auto sets = ev.load_sets();

  std::vector<size_t> batch_sizes;
  size_t calls = 0;
  // Right on even-numbered items, wrong on odd ones; perplexity 4 per token.
  auto predict = [&](const std::vector<EvalItem>& batch) {
    ++calls;
    batch_sizes.push_back(batch.size());
    std::set<std::string> benches;
    std::vector<Prediction> out;
    for (const auto& it : batch) {
      benches.insert(it.benchmark);
      const bool right = (it.id.back() - '0') % 2 == 0;
      Prediction p;
      if (it.metric == Metric::kPerplexity)
        p.token_logprobs = {std::log(0.25), std::log(0.25)};
      else if (it.metric == Metric::kIouAt50)
        p.text = right ? "[0, 0, 100, 90]" : "no idea";
      else
        p.text = right ? it.answers[0] : "wrong";
      out.push_back(p);
    }
    CHECK(benches.size() == 1);  // a batch never mixes benchmarks
    return out;
  };
  const EvalReport r = ev.run(sets, predict);

  for (size_t s : batch_sizes) CHECK(s <= 3);
  CHECK(calls == 3 + 2 + 1 + 1);  // vqa: 8 items (limit) -> 3 batches; sqa 4 -> 2; wiki 3 -> 1; ref 2 -> 1
  REQUIRE(r.benchmarks.size() == 4);
  const auto find = [&](const std::string& n) {
    for (const auto& b : r.benchmarks)
      if (b.name == n) return b;
    FAIL("no benchmark " << n);
    return BenchmarkScore{};
  };
  CHECK(find("vqa").n == 8);
  CHECK(find("vqa").score == Approx(0.5));
  CHECK(find("sqa").score == Approx(0.5));
  // Chance is the majority-answer baseline (eval/chance.h), as in the run report: a random
  // letter of four for multiple choice; the constant answer "red" / the constant box scores all.
  CHECK(*find("sqa").chance == Approx(0.25));
  CHECK(*find("vqa").chance == Approx(1.0));
  CHECK(*find("ref").chance == Approx(1.0));
  CHECK_FALSE(find("wiki").chance.has_value());
  CHECK(find("wiki").score == Approx(4.0));
  CHECK(find("ref").score == Approx(0.5));
  CHECK(r.categories.at("general") == Approx(0.5));
  CHECK(r.categories.at("refer&ground") == Approx(0.5));
  CHECK(*r.mmbase == Approx(0.5));
  const auto& ex = find("vqa").examples;
  REQUIRE(ex.size() == 4);
  CHECK(ex[0].score == 1.0);
  CHECK(ex[1].prediction == "wrong");
  // Per task (of the 8 items scored): colour v0..v3 -> 2 of 4 right; count v4..v7 -> 2 of 4.
  REQUIRE(find("vqa").tasks.size() == 2);
  CHECK(find("vqa").tasks.at("colour") == Approx(0.5));
  CHECK(find("vqa").tasks.at("count") == Approx(0.5));
  CHECK(find("sqa").tasks.empty());  // its items name no task
  // Every scored item is kept with its prediction, in order.
  const auto& preds = find("vqa").predictions;
  REQUIRE(preds.size() == 8);
  CHECK(preds[0].id == "v0");
  CHECK(preds[0].task == "colour");
  CHECK(preds[0].score == 1.0);
  CHECK(preds[5].task == "count");
  CHECK(preds[5].prediction == "wrong");
  CHECK(preds[5].score == 0.0);
  REQUIRE(r.skipped.size() == 1);
  CHECK(r.skipped[0].find("a.jsonl:15: not valid JSON") != std::string::npos);
}

TEST_CASE("Evaluator rejects a predictor that returns the wrong count", "[eval][evaluator]") {
  mm::test::TempDir dir;
  mm::EvalConfig cfg;
  cfg.sets = {dir.write("a.jsonl",
                        line("1", "b", "general", "exact_match", "x") + line("2", "b", "general", "exact_match", "x"))};
  Evaluator ev(cfg);
  CHECK_THROWS_WITH(ev.run(ev.load_sets(), [](const std::vector<EvalItem>&) { return std::vector<Prediction>(1); }),
                    Catch::Contains("returned 1 predictions for a batch of 2"));
  // A benchmark declared differently in two files is an error, not a silent merge.
  cfg.sets.push_back(dir.write("b.jsonl", line("3", "b", "text-rich", "exact_match", "x")));
  Evaluator ev2(cfg);
  CHECK_THROWS_WITH(
      ev2.run(ev2.load_sets(), [](const std::vector<EvalItem>& b) { return std::vector<Prediction>(b.size()); }),
      Catch::Contains("benchmark \"b\" is general/exact_match"));
}

TEST_CASE("group_by_benchmark keeps first-appearance order, file order and the cap", "[eval][evaluator]") {
  mm::test::TempDir dir;
  // Benchmark "b" appears first, then "a", then "b" again in the second file.
  const std::string one = line("b1", "b", "general", "exact_match", "x") +
                          line("a1", "a", "general", "exact_match", "x") +
                          line("b2", "b", "general", "exact_match", "x");
  const std::string two =
      line("b3", "b", "general", "exact_match", "x") + line("a2", "a", "general", "exact_match", "x");
  mm::EvalConfig cfg;
  cfg.sets = {dir.write("one.jsonl", one), dir.write("two.jsonl", two)};
  const auto sets = Evaluator(cfg).load_sets();
  auto ids = [](const BenchmarkItems& g) {
    std::vector<std::string> out;
    for (const auto& it : g.items) out.push_back(it.id);
    return out;
  };
  const auto all = group_by_benchmark(sets, 0);
  REQUIRE(all.size() == 2);
  CHECK(all[0].name == "b");
  CHECK(ids(all[0]) == std::vector<std::string>{"b1", "b2", "b3"});
  CHECK(all[1].name == "a");
  CHECK(ids(all[1]) == std::vector<std::string>{"a1", "a2"});
  const auto capped = group_by_benchmark(sets, 2);
  CHECK(ids(capped[0]) == std::vector<std::string>{"b1", "b2"});
  CHECK(ids(capped[1]) == std::vector<std::string>{"a1", "a2"});
}

TEST_CASE("EvalConfig reads from YAML with its defaults and checks", "[eval][config]") {
  const auto cfg = mm::cfg::parse_config<mm::EvalConfig>("sets: [a.jsonl, b.jsonl]\nbatch_size: 4\n");
  // Text that is no file: relative paths are resolved from the working directory.
  const std::string cwd = std::filesystem::current_path().string();
  CHECK(cfg.sets == std::vector<std::string>{cwd + "/a.jsonl", cwd + "/b.jsonl"});
  CHECK(cfg.batch_size == 4);
  CHECK(cfg.max_new_tokens == 32);
  CHECK(cfg.interval == 0);
  CHECK_THROWS_AS(mm::cfg::parse_config<mm::EvalConfig>("batch_size: 0\n"), mm::Error);
  CHECK_THROWS_AS(mm::cfg::parse_config<mm::EvalConfig>("batch_sise: 4\n"), mm::Error);
}
