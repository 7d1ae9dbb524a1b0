// The run report (eval/run_report/): the majority-answer chance levels against hand-computed values,
// reading a fake two-stage run (metrics.jsonl lines, eval JSONs written by eval/eval_report.h's own
// writer, config.yaml naming a tiny eval set), the Markdown tables, the SVG charts and the HTML,
// and `mmtrain report` end to end (skipped, with a warning, when mmtrain is not built).
#include <catch2/catch.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "core/check.h"
#include "core/config/run_config.h"
#include "core/hash.h"
#include "core/io.h"
#include "eval/chance.h"
#include "eval/eval_report.h"
#include "eval/eval_set_reader.h"
#include "eval/run_report/run_report.h"
#include "eval/run_report/svg_chart.h"
#include "support/temp_dir.h"
#include "tests/eval/run_report_support.h"

namespace fs = std::filesystem;
using namespace mm::eval;
using mm::eval::report_test::bench;
using mm::eval::report_test::count;
using mm::eval::report_test::tags_balanced;

namespace {

EvalItem item(Metric m, std::vector<std::string> answers, std::vector<std::string> choices = {},
              const std::string& bench = "b", Category c = Category::kGeneral) {
  EvalItem it;
  it.metric = m, it.answers = std::move(answers), it.choices = std::move(choices), it.benchmark = bench,
  it.category = c;
  return it;
}

// The tiny eval set: general = {yn: yes, yes, no (exact match) -> 2/3; count: 3, 3, 4, 5
// (vqa_accuracy, one reference) -> 1/2}, knowledge = {mc: two 2-choice items -> 1/2}, text-only
// = {ppl: perplexity -> none}. General 7/12, knowledge 1/2, MMBase (7/12 + 1/2) / 2 = 13/24.
std::string write_eval_set(const mm::test::TempDir& dir) {
  std::string s;
  auto line = [&](const std::string& id, const std::string& answers, const std::string& cat, const std::string& b,
                  const std::string& metric, const std::string& extra = "") {
    s += "{\"id\": \"" + id + "\", \"question\": \"q " + id + "\", \"answers\": " + answers + ", \"category\": \"" +
         cat + "\", \"benchmark\": \"" + b + "\", \"metric\": \"" + metric + "\"" + extra + "}\n";
  };
  line("y1", "[\"yes\"]", "general", "yn", "exact_match");
  line("y2", "[\"Yes\"]", "general", "yn", "exact_match");
  line("y3", "[\"no\"]", "general", "yn", "exact_match");
  line("c1", "[\"3\"]", "general", "count", "vqa_accuracy");
  line("c2", "[\"3\"]", "general", "count", "vqa_accuracy");
  line("c3", "[\"4\"]", "general", "count", "vqa_accuracy");
  line("c4", "[\"5\"]", "general", "count", "vqa_accuracy");
  line("m1", "[\"A\"]", "knowledge", "mc", "multiple_choice", ", \"choices\": [\"cat\", \"dog\"]");
  line("m2", "[\"B\"]", "knowledge", "mc", "multiple_choice", ", \"choices\": [\"cat\", \"dog\"]");
  line("p1", "[\"some text\"]", "text-only", "ppl", "perplexity");
  return dir.write("sets/tiny.jsonl", s);
}

// A two-stage run (pretrain, sft) with a baseline eval, written the way mmtrain train does; the
// eval reports store their chance levels (as mmtrain writes them) unless `store_chance` is false
// (reports of an older mmtrain).
struct FakeRun {
  mm::test::TempDir dir;
  std::string run = dir.file("run");
  std::string set = write_eval_set(dir);

  explicit FakeRun(bool store_chance = true) {
    auto stage = [&](const std::string& name, const std::string& metrics) {
      mm::RunConfig cfg;
      cfg.eval.sets = {set};
      cfg.eval.check_images = false;
      dir.write("run/" + name + "/config.yaml", mm::dump_yaml(cfg));
      dir.write("run/" + name + "/metrics.jsonl", metrics);
    };
    stage("pretrain",
          "{\"step\": 10, \"stage\": \"pretrain\", \"loss\": 5.0, \"lr\": 0.001, \"tokens_seen\": 100, "
          "\"tokens_per_s\": 50, \"loss_by_source\": {\"captions\": 5.0}}\n"
          "{\"step\": 20, \"stage\": \"pretrain\", \"loss\": 4.0, \"lr\": 0.001, \"tokens_seen\": 200}\n"
          "{\"step\": 30, \"stage\": \"pretrain\", \"loss\": 3.0, \"lr\": 0.001, \"tokens_seen\": 300}\n"
          "{\"step\": 30, \"stage\": \"pretrain\", \"eval\": {\"general\": 0.5, \"knowledge\": 0.5}, \"eval_mmbase\": "
          "0.5}\n");
    stage("sft",
          "{\"step\": 10, \"stage\": \"sft\", \"loss\": 2.5, \"lr\": 0.0001, \"tokens_seen\": 50}\n"
          "{\"step\": 20, \"stage\": \"sft\", \"loss\": 2.0, \"lr\": 0.0001, \"tokens_seen\": 120}\n");
    const auto now = fs::file_time_type::clock::now();
    fs::last_write_time(run + "/pretrain/metrics.jsonl", now - std::chrono::hours(2));
    fs::last_write_time(run + "/sft/metrics.jsonl", now - std::chrono::hours(1));

    // Eval reports through eval/eval_report.h's writer: general = mean(yn, count), knowledge = mc.
    auto report = [&](const std::string& path, double yn, double cnt, double mc) {
      std::vector<BenchmarkScore> b = {bench("yn", Category::kGeneral, Metric::kExactMatch, yn),
                                       bench("count", Category::kGeneral, Metric::kVqaAccuracy, cnt),
                                       bench("mc", Category::kKnowledge, Metric::kMultipleChoice, mc),
                                       bench("ppl", Category::kTextOnly, Metric::kPerplexity, 7.5)};
      if (store_chance) b[0].chance = 2.0 / 3, b[1].chance = 0.5, b[2].chance = 0.5;  // as write_eval_set says
      b[0].examples = {{"y1", "<image>\nq y1", "yes", {"yes"}, 1.0}, {"y3", "q y3", "yes", {"no"}, 0.0}};
      b[2].examples = {{"m1", "q m1\nA. cat\nB. dog", "A", {"A"}, 1.0}};
      EvalReport r = aggregate(b);
      r.sets = {{set, mm::fnv1a64_hex(mm::io::read_file(set))}};
      write_report(r, run + "/" + path);
    };
    report("baseline/eval/step_000000.json", 0.5, 0.0, 0.0);  // general 25, knowledge 0, MMBase 12.5
    report("pretrain/eval/step_000010.json", 0.0, 0.0, 0.0);  // an earlier eval: not the row
    report("pretrain/eval/step_000030.json", 1.0, 0.0, 0.5);  // general 50, knowledge 50, MMBase 50
    report("sft/eval/step_000020.json", 1.0, 0.75, 1.0);      // general 87.5, knowledge 100, MMBase 93.75
    dir.write("run/demo_time.txt", "754.2\n");
  }
};

}  // namespace

TEST_CASE("majority-answer baseline with each benchmark's metric", "[eval][run_report]") {
  // exact match: always "yes" -> 2 of 3 (case-insensitive counting; the first spelling is answered)
  std::vector<EvalItem> yn = {item(Metric::kExactMatch, {"yes"}), item(Metric::kExactMatch, {"YES"}),
                              item(Metric::kExactMatch, {"no"})};
  CHECK(majority_answer(yn) == "yes");
  CHECK(*majority_baseline(yn) == Approx(2.0 / 3));
  // multiple choice: expected score of a random letter, 1/#choices averaged
  CHECK(*majority_baseline({item(Metric::kMultipleChoice, {"A"}, {"x", "y"}),
                            item(Metric::kMultipleChoice, {"B"}, {"x", "y"})}) == Approx(0.5));
  CHECK(*majority_baseline({item(Metric::kMultipleChoice, {"A"}, {"x", "y"}),
                            item(Metric::kMultipleChoice, {"A"}, {"x", "y", "z", "w"})}) == Approx(0.375));
  // ties: the answer seen first
  CHECK(majority_answer({item(Metric::kExactMatch, {"b"}), item(Metric::kExactMatch, {"a"})}) == "b");
  // an answer counts once per item ("red" x3 in one item < "blue" in two); ANLS scores "blue" on
  // "blues" 1 - 1/5 = 0.8
  std::vector<EvalItem> anls = {item(Metric::kAnls, {"red", "Red", "red"}), item(Metric::kAnls, {"blue"}),
                                item(Metric::kAnls, {"blue"}), item(Metric::kAnls, {"blues"})};
  CHECK(majority_answer(anls) == "blue");
  CHECK(*majority_baseline(anls) == Approx((0.0 + 1.0 + 1.0 + 0.8) / 4));
  // boxes: the most frequent box scores 1 on its own items (IoU 1), 0 on a disjoint one
  CHECK(*majority_baseline({item(Metric::kIouAt50, {"[0, 0, 100, 100]"}), item(Metric::kIouAt50, {"[0, 0, 100, 100]"}),
                            item(Metric::kIouAt50, {"[500, 500, 900, 900]"})}) == Approx(2.0 / 3));
  // boxes that never repeat: the best constant box on the 50-unit grid. [100, 100, 300, 300] has
  // IoU 0.82 with [110, 90, 310, 290] and 0.52 with [60, 130, 260, 330], which have 0.43 with each
  // other (so the majority answer, the first box, scores 1/3); the third box is far away.
  std::vector<EvalItem> near = {item(Metric::kIouAt50, {"[110, 90, 310, 290]"}),
                                item(Metric::kIouAt50, {"[60, 130, 260, 330]"}),
                                item(Metric::kIouAt50, {"[700, 700, 800, 800]"})};
  CHECK(best_constant_box(near) == Approx(2.0 / 3));
  CHECK(*majority_baseline(near) == Approx(2.0 / 3));
  CHECK(majority_answer(near) == "[110, 90, 310, 290]");  // alone it scores 1/3
  CHECK(best_constant_box({item(Metric::kIouAt50, {"[0, 0, 999, 999]"}), item(Metric::kIouAt50, {"[0, 0, 10, 10]"})}) ==
        Approx(0.5));  // a tiny box far from the grid's reach: only the whole image is matched
  CHECK(best_constant_box({}) == 0.0);
  CHECK_FALSE(majority_baseline({item(Metric::kPerplexity, {"text"})}).has_value());
  CHECK_FALSE(majority_baseline({}).has_value());

  // categories: plain mean over their accuracy benchmarks; max_items keeps the first items per benchmark
  std::vector<EvalItem> all = {item(Metric::kExactMatch, {"yes"}, {}, "yn"),
                               item(Metric::kExactMatch, {"yes"}, {}, "yn"),
                               item(Metric::kExactMatch, {"no"}, {}, "yn"),
                               item(Metric::kMultipleChoice, {"A"}, {"x", "y", "z", "w"}, "mc"),
                               item(Metric::kMultipleChoice, {"A"}, {"x", "y"}, "mc2", Category::kKnowledge),
                               item(Metric::kPerplexity, {"t"}, {}, "ppl", Category::kTextOnly)};
  ChanceLevels c = chance_levels(all);
  CHECK(c.benchmarks.at("yn") == Approx(2.0 / 3));
  CHECK(c.categories.at("general") == Approx((2.0 / 3 + 0.25) / 2));
  CHECK(c.categories.at("knowledge") == Approx(0.5));
  CHECK(c.categories.count("text-only") == 0);
  CHECK(*c.mmbase == Approx(((2.0 / 3 + 0.25) / 2 + 0.5) / 2));
  CHECK(chance_levels(all, 2).benchmarks.at("yn") == Approx(1.0));  // yes, yes
}

TEST_CASE("run report: tables, chance row, charts and HTML of a two-stage run", "[eval][run_report]") {
  FakeRun f;
  CHECK(discover_stages(f.run) == std::vector<std::string>{"pretrain", "sft"});  // oldest metrics first
  RunSummary run = read_run(f.run, {"pretrain", "sft", "never_ran"});
  REQUIRE(run.stages.size() == 2);
  REQUIRE(run.init.has_value());
  CHECK(run.stages[0].eval->step == 30);  // the last eval, not step 10
  CHECK(run.stages[1].tokens == 120);
  CHECK(run.chance.categories.at("general") == Approx(7.0 / 12));
  CHECK(run.chance.categories.at("knowledge") == Approx(0.5));
  CHECK(*run.chance.mmbase == Approx(13.0 / 24));
  REQUIRE(run.notes.size() == 1);
  CHECK_THAT(run.notes[0], Catch::Contains("never_ran"));

  const std::string scores = scores_table_markdown(run);
  CHECK(scores ==
        "| stage | eval step | general | knowledge | MMBase |\n"
        "|---|---:|---:|---:|---:|\n"
        "| init | 0 | 25.0 | 0.0 | 12.5 |\n"
        "| pretrain | 30 | 50.0 | 50.0 | 50.0 |\n"
        "| sft | 20 | 87.5 | 100.0 | 93.8 |\n"
        "| chance |  | 58.3 | 50.0 | 54.2 |\n");
  CHECK(training_table_markdown(run) ==
        "| stage | steps | first loss | last loss | tokens seen |\n"
        "|---|---:|---:|---:|---:|\n"
        "| pretrain | 30 | 5.0000 | 3.0000 | 300 |\n"
        "| sft | 20 | 2.5000 | 2.0000 | 120 |\n");

  const auto out = write_run_report(run, f.dir.file("out"));
  const std::string md = mm::io::read_file(out.markdown), html = mm::io::read_file(out.html);
  const std::string loss = mm::io::read_file(out.loss_svg), bars = mm::io::read_file(out.scores_svg);
  CHECK_THAT(md, Catch::Contains(scores) && Catch::Contains("![loss.svg](loss.svg)") &&
                     Catch::Contains("![scores.svg](scores.svg)") && Catch::Contains("754 s (12.6 min)") &&
                     Catch::Contains("## Example predictions (sft, step 20)") &&
                     Catch::Contains("| y3 | q y3 | yes | no | 0.00 |") &&
                     Catch::Contains("| y1 | &lt;image&gt; q y1 | yes | yes | 1.00 |") &&
                     Catch::Contains("| m1 | q m1 A. cat B. dog | A | A | 1.00 |") &&
                     Catch::Contains("majority-answer baseline"));

  for (const std::string* svg : {&loss, &bars}) {
    CHECK(svg->rfind("<svg xmlns=\"http://www.w3.org/2000/svg\"", 0) == 0);
    CHECK(svg->size() > 7);
    CHECK(svg->substr(svg->size() - 7) == "</svg>\n");
    CHECK(tags_balanced(*svg));
  }
  CHECK(count(loss, "<polyline") == 2);  // one per stage
  CHECK_THAT(loss, Catch::Contains(">pretrain</text>") && Catch::Contains(">sft</text>") &&
                       Catch::Contains("stroke-dasharray"));  // the boundary at step 30
  CHECK_THAT(bars, Catch::Contains(">init</text>") && Catch::Contains(">general</text>") &&
                       Catch::Contains(">knowledge</text>"));
  // background + 3 rows x 2 categories - init's knowledge (0%: its number on the baseline, no empty
  // bar) + legend
  CHECK(count(bars, "<rect") == 1 + 3 * 2 - 1 + 3);
  CHECK_THAT(bars, Catch::Contains(">0</text>"));
  CHECK(count(bars, "stroke-dasharray") == 2 + 1);  // chance of each category + the legend's sample

  CHECK(html.rfind("<!DOCTYPE html>", 0) == 0);
  CHECK_THAT(html, Catch::Contains(loss) && Catch::Contains(bars) && Catch::Contains("<td class=\"num\">93.8</td>") &&
                       Catch::EndsWith("</html>\n"));
  CHECK(html.find("<img") == std::string::npos);  // self-contained
}

TEST_CASE("run report: the chance levels the evaluation stored, and a note when an eval set changed since",
          "[eval][run_report]") {
  FakeRun f;
  // The eval set is rewritten (as by another `mmtrain data synth`): yn loses its "no" item, so its
  // majority baseline on disk is now 1.0. The report keeps the evaluation's own 2/3 and says so.
  std::string text = mm::io::read_file(f.set);
  text.erase(text.find("{\"id\": \"y3\""), text.find("{\"id\": \"c1\"") - text.find("{\"id\": \"y3\""));
  mm::io::write_file_atomic(f.set, text);
  RunSummary run = read_run(f.run, {"pretrain", "sft"});
  CHECK(run.chance.categories.at("general") == Approx(7.0 / 12));
  CHECK(run.chance.benchmarks.at("yn") == Approx(2.0 / 3));
  CHECK_THAT(run.chance_source,
             Catch::Contains("each evaluation stored") && Catch::Contains("sft/eval/step_000020.json"));
  REQUIRE(run.notes.size() == 1);  // one set, read by every evaluation: one note
  CHECK_THAT(run.notes[0], Catch::Contains("eval set " + f.set + " changed since") && Catch::Contains("as it was"));
  fs::remove(f.set);
  run = read_run(f.run, {"pretrain", "sft"});
  REQUIRE(run.notes.size() == 1);
  CHECK_THAT(run.notes[0], Catch::Contains("is not on disk here"));
}

TEST_CASE("run report: reports without stored chance levels use the eval sets on disk", "[eval][run_report]") {
  FakeRun f(/*store_chance=*/false);
  RunSummary run = read_run(f.run, {"pretrain", "sft"});
  CHECK(run.chance.categories.at("general") == Approx(7.0 / 12));
  CHECK(*run.chance.mmbase == Approx(13.0 / 24));
  CHECK_THAT(run.chance_source, Catch::Contains("as they are on disk now"));
  fs::remove(f.run + "/pretrain/config.yaml");
  fs::remove(f.run + "/sft/config.yaml");
  CHECK_THAT(read_run(f.run).chance_source, Catch::Contains("none"));
}

TEST_CASE("run report: chance from the eval JSON without eval sets, errors", "[eval][run_report]") {
  FakeRun f;
  fs::remove(f.run + "/pretrain/config.yaml");
  fs::remove(f.run + "/sft/config.yaml");
  RunSummary run = read_run(f.run);  // stage order from the metrics files
  REQUIRE(run.stages.size() == 2);
  CHECK(run.stages[0].name == "pretrain");
  CHECK(run.chance.categories.at("general") == Approx(7.0 / 12));  // the eval JSON's chance
  CHECK_THAT(run.chance_source, Catch::Contains("sft/eval/step_000020.json"));

  // no eval JSON: the eval record of metrics.jsonl
  fs::remove_all(f.run + "/pretrain/eval");
  run = read_run(f.run);
  REQUIRE(run.stages[0].eval.has_value());
  CHECK(run.stages[0].eval->step == 30);
  CHECK(run.stages[0].eval->categories.at("general") == 0.5);

  mm::test::TempDir empty;
  CHECK_THROWS_AS(read_run(empty.file("")), mm::Error);
  CHECK_THROWS_AS(read_run(empty.file("nowhere")), mm::Error);
}

TEST_CASE("mmtrain report prints the table and writes the files", "[eval][run_report][cli]") {
  if (!fs::exists(MM_MMTRAIN)) {
    WARN("skipped: " MM_MMTRAIN " is not built (cmake --build BUILD --target mmtrain)");
    return;
  }
  FakeRun f;
  const std::string cmd =
      std::string(MM_MMTRAIN) + " report --run-dir " + f.run + " --out-dir " + f.dir.file("o") + " 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  REQUIRE(p != nullptr);
  std::string out;
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof(buf), p)) > 0;) out.append(buf, n);
  CHECK(::pclose(p) == 0);
  CHECK_THAT(out, Catch::Contains("| sft | 20 | 87.5 | 100.0 | 93.8 |") && Catch::Contains("| chance |  | 58.3 |") &&
                      Catch::Contains("report.html"));
  for (const char* name : {"report.md", "report.html", "loss.svg", "scores.svg"})
    CHECK(fs::exists(f.dir.file("o/") + name));
}

TEST_CASE("loss chart: a stage with a single logged loss shows as a dot, not nothing", "[eval][run_report]") {
  using mm::eval::svg::LossStage;
  const std::vector<LossStage> stages = {{"pretrain", 0, 10, {{1, 2.5}, {10, 1.5}}}, {"sft", 10, 11, {{11, 1.0}}}};
  const std::string svg = mm::eval::svg::loss_chart(stages);
  CHECK(svg.find("<polyline") != std::string::npos);  // pretrain: a line
  CHECK(svg.find("<circle") != std::string::npos);    // sft: its one point
  CHECK(svg.find(">sft<") != std::string::npos);      // and its name
  const std::vector<LossStage> none = {{"a", 0, 5, {}}};
  CHECK(mm::eval::svg::loss_chart(none).find("<circle") == std::string::npos);
}
