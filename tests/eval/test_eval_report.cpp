// Aggregation (category means, MMBase), chance levels, example selection, JSON and Markdown.
#include <algorithm>
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>
#include <sstream>

#include "core/check.h"
#include "core/io.h"
#include "eval/eval_report.h"
#include "support/temp_dir.h"

using namespace mm::eval;

namespace {
BenchmarkScore bench(const std::string& name, Category c, Metric m, double score, size_t n = 10) {
  BenchmarkScore b;
  b.name = name, b.category = c, b.metric = m, b.score = score, b.n = n;
  return b;
}

EvalItem item(const std::string& id, Metric m, std::vector<std::string> answers,
              std::vector<std::string> choices = {}) {
  EvalItem it;
  it.id = id, it.question = "q " + id, it.metric = m, it.answers = std::move(answers), it.choices = std::move(choices);
  return it;
}
}  // namespace

TEST_CASE("aggregate: category = plain mean of its benchmarks, MMBase over the three present", "[eval][report]") {
  auto r = aggregate({bench("vqa", Category::kGeneral, Metric::kVqaAccuracy, 0.8),
                      bench("pope", Category::kGeneral, Metric::kExactMatch, 0.6, 1000),
                      bench("docvqa", Category::kTextRich, Metric::kAnls, 0.5),
                      bench("sqa", Category::kKnowledge, Metric::kMultipleChoice, 0.9),
                      bench("refcoco", Category::kReferGround, Metric::kIouAt50, 0.4),
                      bench("wiki", Category::kTextOnly, Metric::kPerplexity, 12.0)},
                     {"a.jsonl:3: bad"});
  CHECK(r.categories.at("general") == Approx(0.7));  // not weighted by n
  CHECK(r.categories.at("text-rich") == Approx(0.5));
  CHECK(r.categories.at("knowledge") == Approx(0.9));
  CHECK(r.categories.at("refer&ground") == Approx(0.4));
  CHECK(r.categories.count("text-only") == 0);  // perplexity enters no category mean
  REQUIRE(r.mmbase.has_value());
  CHECK(*r.mmbase == Approx(0.7));               // (0.7 + 0.5 + 0.9) / 3, refer&ground excluded
  CHECK(r.benchmarks.front().name == "docvqa");  // sorted by name

  auto partial = aggregate({bench("vqa", Category::kGeneral, Metric::kVqaAccuracy, 0.8),
                            bench("sqa", Category::kKnowledge, Metric::kMultipleChoice, 0.4)});
  CHECK(*partial.mmbase == Approx(0.6));
  CHECK_FALSE(aggregate({bench("ref", Category::kReferGround, Metric::kIouAt50, 0.3)}).mmbase.has_value());
  CHECK_THROWS_AS(aggregate({bench("a", Category::kGeneral, Metric::kExactMatch, 1),
                             bench("a", Category::kGeneral, Metric::kExactMatch, 0)}),
                  mm::Error);
}

TEST_CASE("examples: half right, half wrong, topped up from the other kind", "[eval][report]") {
  std::vector<EvalItem> items;
  std::vector<std::string> preds;
  std::vector<double> scores = {1, 0, 1, 1, 1, 0.3, 1};
  for (size_t i = 0; i < scores.size(); ++i)
    items.push_back(item(std::to_string(i), Metric::kExactMatch, {"a"})), preds.push_back("p");
  auto ex = select_examples(items, preds, scores, 4, Metric::kExactMatch);
  REQUIRE(ex.size() == 4);
  CHECK(ex[0].id == "0");  // right: 0, 2; wrong: 1, 5; in item order
  CHECK(ex[1].id == "1");
  CHECK(ex[2].id == "2");
  CHECK(ex[3].id == "5");
  auto all_right = select_examples({items[0], items[2], items[3]}, {"p", "p", "p"}, {1, 1, 1}, 2, Metric::kExactMatch);
  CHECK(all_right.size() == 2);
  auto few_right = select_examples(items, preds, {0, 0, 0, 0, 0, 1, 0}, 4, Metric::kExactMatch);
  REQUIRE(few_right.size() == 4);
  CHECK(few_right[3].id == "5");
  CHECK(few_right[2].id == "2");
}

TEST_CASE("report JSON and Markdown", "[eval][report]") {
  auto g = bench("vqa", Category::kGeneral, Metric::kVqaAccuracy, 0.75, 4);
  g.chance = 0.25;
  g.examples.push_back({"q1", "<image> What?", "red", {"red", "crimson"}, 1.0, "colour"});
  g.tasks = {{"colour", 1.0}, {"count", 0.5}};
  g.predictions = {g.examples[0], {"q2", "<image> How many?", "3", {"2"}, 0.0, "count"}};
  auto r = aggregate({g, bench("wiki", Category::kTextOnly, Metric::kPerplexity, 12.5, 3)}, {"s.jsonl:4: bad id"});

  const auto j = nlohmann::json::parse(report_to_json(r));
  CHECK(j["categories"]["general"].get<double>() == Approx(0.75));
  CHECK(j["chance"]["general"].get<double>() == Approx(0.25));
  CHECK(j["mmbase"].get<double>() == Approx(0.75));
  CHECK(j["benchmarks"]["vqa"]["score"].get<double>() == Approx(0.75));
  CHECK(j["benchmarks"]["vqa"]["n"] == 4);
  CHECK(j["benchmarks"]["vqa"]["metric"] == "vqa_accuracy");
  CHECK(j["benchmarks"]["vqa"]["category"] == "general");
  CHECK(j["benchmarks"]["wiki"]["metric"] == "perplexity");
  CHECK_FALSE(j["benchmarks"]["wiki"].contains("chance"));
  REQUIRE(j["examples"]["vqa"].size() == 1);
  CHECK(j["examples"]["vqa"][0]["prediction"] == "red");
  CHECK(j["examples"]["vqa"][0]["answers"][1] == "crimson");
  CHECK(j["examples"]["vqa"][0]["score"].get<double>() == 1.0);
  CHECK(j["skipped"][0] == "s.jsonl:4: bad id");
  CHECK(j["benchmarks"]["vqa"]["tasks"]["count"].get<double>() == Approx(0.5));
  CHECK_FALSE(j["benchmarks"]["wiki"].contains("tasks"));
  CHECK(j["eval_sets"].empty());
  r.sets = {{"eval/s.jsonl", "0123456789abcdef"}};
  const auto with_sets = nlohmann::json::parse(report_to_json(r));
  CHECK(with_sets["eval_sets"] == nlohmann::json::parse(R"([{"path": "eval/s.jsonl", "hash": "0123456789abcdef"}])"));

  const std::string md = report_to_markdown(r);
  CHECK(md.find("| general | 75.0 | 25.0 |") != std::string::npos);
  CHECK(md.find("| **MMBase** | **75.0** | |") != std::string::npos);
  CHECK(md.find("| vqa | general | vqa_accuracy | 4 | 75.0% | 25.0% | colour 100.0%, count 50.0% |") !=
        std::string::npos);
  CHECK(md.find("| wiki | text-only | perplexity | 3 | 12.500 | - | - |") != std::string::npos);
  CHECK(md.find("1 item(s) were skipped") != std::string::npos);

  mm::test::TempDir dir;
  write_report(r, dir.file("eval/step_000500.json"));
  CHECK(mm::io::read_file(dir.file("eval/step_000500.json")) == report_to_json(r));
  CHECK(mm::io::read_file(dir.file("eval/step_000500.md")) == md);
  // Every prediction, one JSON object per line.
  const std::string lines = mm::io::read_file(dir.file("eval/step_000500.predictions.jsonl"));
  std::istringstream in(lines);
  std::vector<nlohmann::json> rows;
  for (std::string l; std::getline(in, l);) rows.push_back(nlohmann::json::parse(l));
  REQUIRE(rows.size() == 2);
  CHECK(rows[0]["benchmark"] == "vqa");
  CHECK(rows[0]["id"] == "q1");
  CHECK(rows[0]["task"] == "colour");
  CHECK(rows[1]["prediction"] == "3");
  CHECK(rows[1]["answers"][0] == "2");
  CHECK(rows[1]["score"].get<double>() == 0.0);
}

TEST_CASE("console table: one row per benchmark, then MMBase", "[eval][report]") {
  auto r = aggregate({bench("vqa", Category::kGeneral, Metric::kVqaAccuracy, 0.75, 4),
                      bench("wiki", Category::kTextOnly, Metric::kPerplexity, 12.5, 3)},
                     {"s.jsonl:4: bad id"});
  r.benchmarks[0].chance = 0.25;
  const std::string t = report_to_console_table(r);
  CHECK(std::count(t.begin(), t.end(), '\n') == 3);  // header, two rows, then the MMBase line
  CHECK(t.find("vqa        general       vqa_accuracy        4    75.0%   25.0%\n") != std::string::npos);
  CHECK(t.find("wiki       text-only     perplexity          3   12.500       -\n") != std::string::npos);
  CHECK(t.find("MMBase 75.0%; 1 item(s) skipped") != std::string::npos);
}

TEST_CASE("report JSON with no accuracy benchmark has a null MMBase", "[eval][report]") {
  const auto j = nlohmann::json::parse(report_to_json(aggregate({})));
  CHECK(j["mmbase"].is_null());
  CHECK(j["categories"].empty());
}
