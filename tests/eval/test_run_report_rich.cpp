// The run report's newer sections on a run with every record (RichRun): the Wilson interval, every
// evaluation over the global step, per-benchmark intervals, perplexity and held-out loss, the
// training charts (per source, learning rate, gradient norm, tokens/s; a lone point as a marker),
// example images as relative <img>, and the run's settings, times, machine and links.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "core/hash.h"
#include "core/io.h"
#include "eval/eval_report.h"
#include "eval/run_report/run_report.h"
#include "support/temp_dir.h"
#include "tests/eval/run_report_support.h"

namespace fs = std::filesystem;
using namespace mm::eval;
using mm::eval::report_test::bench;
using mm::eval::report_test::count;
using mm::eval::report_test::tags_balanced;

namespace {

// A TensorBoard event file as trainers/metrics/tb_writer.cpp frames it: per event a TFRecord
// (uint64 length, 4 CRC bytes, data, 4 CRC bytes; the report does not check CRCs) holding an Event
// with wall_time (field 1, double) and step (field 2, varint < 128 here).
std::string tb_events(const std::vector<std::pair<double, int>>& events) {
  std::string out;
  for (const auto& [wall, step] : events) {
    std::string data(1, '\x09');
    data.append(reinterpret_cast<const char*>(&wall), 8);
    data += '\x10';
    data += static_cast<char>(step);
    const uint64_t len = data.size();
    out.append(reinterpret_cast<const char*>(&len), 8);
    out += std::string(4, '\0') + data + std::string(4, '\0');
  }
  return out;
}

// A run with everything the report shows, values chosen to be checked by hand:
//  pretrain: 3 training records (loss_by_source: captions at 10, 20, 30; text at 10 and 30 only), a
//    held-out loss record, eval JSONs at steps 10 and 30 (general = yn: 50%, 70%; perplexity 9, 6) and
//    an eval record at 30 (50%: the JSON at that step wins); a TensorBoard file from unix second 1000
//    to 1754 on host "testhost"; its train.log line (2 ranks, 1.50M of 2.00M parameters);
//  sft: ONE training record (step 5), an eval record at step 3 (general 80%, no JSON) and an eval JSON
//    at step 5 (general 90% over 10 items) with two examples, one with an image that exists, one
//    with an image that does not; a checkpoint folder step_000005.
// With images_in_json false the examples carry no "images" (an eval JSON of an older mmtrain); the
// eval JSON then lists the eval set (sets/rich.jsonl) that holds the items' images.
struct RichRun {
  mm::test::TempDir dir;
  std::string run = dir.file("run");
  std::string image = dir.write("sets/img/a.png", "not really a png");
  std::string set = dir.write(
      "sets/rich.jsonl",
      "{\"id\": \"q1\", \"question\": \"<image>\\nq1\", \"images\": [\"img/a.png\"], \"answers\": [\"yes\"], "
      "\"category\": \"general\", \"benchmark\": \"yn\", \"metric\": \"exact_match\"}\n"
      "{\"id\": \"q2\", \"question\": \"<image>\\nq2\", \"images\": [\"img/gone.png\"], \"answers\": [\"no\"], "
      "\"category\": \"general\", \"benchmark\": \"yn\", \"metric\": \"exact_match\"}\n"
      "{\"id\": \"q3\", \"question\": \"q3\", \"answers\": [\"x\"], "
      "\"category\": \"general\", \"benchmark\": \"yn\", \"metric\": \"exact_match\"}\n");

  explicit RichRun(bool images_in_json = true) {
    dir.write("run/pretrain/metrics.jsonl",
              "{\"step\": 10, \"loss\": 4.0, \"lr\": 0.001, \"grad_norm\": 2.0, \"tokens_per_s\": 100, "
              "\"tokens_seen\": 640, \"loss_by_source\": {\"captions\": 4.5, \"text\": 3.5}}\n"
              "{\"step\": 20, \"loss\": 3.0, \"lr\": 0.002, \"grad_norm\": 1.0, \"tokens_per_s\": 300, "
              "\"tokens_seen\": 1280, \"loss_by_source\": {\"captions\": 3.2}}\n"
              "{\"step\": 30, \"loss\": 2.0, \"lr\": 0.001, \"grad_norm\": 0.5, \"tokens_per_s\": 200, "
              "\"tokens_seen\": 1920, \"loss_by_source\": {\"captions\": 2.2, \"text\": 1.8}}\n"
              "{\"step\": 30, \"stage\": \"pretrain\", \"heldout_loss\": {\"val_text\": 2.5}}\n"
              "{\"step\": 30, \"eval\": {\"general\": 0.5}, \"eval_mmbase\": 0.5}\n");
    dir.write("run/sft/metrics.jsonl",
              "{\"step\": 3, \"eval\": {\"general\": 0.8}, \"eval_mmbase\": 0.8}\n"
              "{\"step\": 5, \"loss\": 1.5, \"lr\": 0.0005, \"grad_norm\": 0.8, \"tokens_per_s\": 250, "
              "\"tokens_seen\": 320, \"loss_by_source\": {\"chat\": 1.5}}\n");
    dir.write("run/pretrain/config.yaml",
              "model:\n  name: tiny\n  vision:\n    image_size: 32\n    patch_size: 8\n    width: 64\n    layers: 2\n"
              "    heads: 2\n  connector:\n    type: c_abstractor\n    num_tokens: 4\n  llm:\n    vocab_size: 300\n"
              "    dim: 48\n    layers: 2\n    heads: 4\n    kv_heads: 2\n    ffn_hidden: 96\n    moe:\n"
              "      num_experts: 0\nimage:\n  mode: dynamic\n  tile_size: 32\nloader:\n  seq_len: 64\n"
              "  micro_batch: 4\ntrain:\n  steps: 40\n  grad_accum: 1\noptimizer:\n  name: adamw\n  lr: 0.002\n"
              "schedule:\n  kind: cosine\n  warmup_steps: 5\n");
    dir.write("run/pretrain/tb/events.out.tfevents.1000.testhost",
              tb_events({{1000.0, 0}, {1300.0, 10}, {1754.0, 30}}));
    dir.write("run/train.log",
              "12:00:00 I [trainer] stage 'pretrain': 40 steps x 1 micro-batches x 2 ranks x 4 sequences of 64 "
              "tokens; 1.50M of 2.00M parameters train; adamw on cpu\n");
    fs::create_directories(run + "/sft/checkpoints/step_000005");
    const auto now = fs::file_time_type::clock::now();
    fs::last_write_time(run + "/pretrain/metrics.jsonl", now - std::chrono::hours(2));
    fs::last_write_time(run + "/sft/metrics.jsonl", now - std::chrono::hours(1));

    auto report = [&](const std::string& path, double yn, size_t n, std::optional<double> ppl,
                      std::vector<Example> examples) {
      std::vector<BenchmarkScore> b = {bench("yn", Category::kGeneral, Metric::kExactMatch, yn)};
      b[0].n = n, b[0].chance = 0.5, b[0].examples = std::move(examples);
      if (ppl) b.push_back(bench("ppl", Category::kTextOnly, Metric::kPerplexity, *ppl));
      EvalReport r = aggregate(b);
      r.sets = {{set, mm::fnv1a64_hex(mm::io::read_file(set))}};
      write_report(r, run + "/" + path);
    };
    report("pretrain/eval/step_000010.json", 0.5, 10, 9.0, {});
    report("pretrain/eval/step_000030.json", 0.7, 10, 6.0, {});
    // q3 has no image: it stores none, and needs none from the eval set.
    std::vector<Example> ex = {{"q1", "<image>\nq1", "yes", {"yes"}, 1.0},
                               {"q2", "<image>\nq2", "yes", {"no"}, 0.0},
                               {"q3", "q3", "x", {"x"}, 1.0}};
    if (images_in_json) ex[0].images = {image}, ex[1].images = {dir.file("sets/img/gone.png")};
    report("sft/eval/step_000005.json", 0.9, 10, std::nullopt, ex);
  }
};

// Every SVG element of `svg` named `tag` has a finite, positive `attr`.
bool all_positive(const std::string& svg, const std::string& tag, const std::string& attr) {
  for (size_t i = svg.find("<" + tag + " "); i != std::string::npos; i = svg.find("<" + tag + " ", i + 1)) {
    const size_t end = svg.find('>', i);
    const size_t a = svg.find(" " + attr + "=\"", i);
    if (a == std::string::npos || a > end) continue;  // not given: the SVG default
    const double v = std::atof(svg.c_str() + a + attr.size() + 3);
    if (!(v > 0) || !std::isfinite(v)) return false;
  }
  return true;
}

std::string chart_named(const std::vector<Chart>& charts, const std::string& file) {
  for (const auto& c : charts)
    if (c.file == file) return c.svg;
  FAIL("no chart " << file);
  return "";
}

}  // namespace

TEST_CASE("Wilson score interval against hand-computed values", "[eval][run_report]") {
  // (p + z^2/2n) / (1 + z^2/n) -+ z / (1 + z^2/n) sqrt(p(1-p)/n + z^2/4n^2), z = 1.96, computed by hand
  // (Python, math only): 0.9 of 10 -> [0.59585, 0.98212]; 0.5 of 10 -> [0.23659, 0.76341];
  // 0 of 20 -> [0, 0.16113]; 5 of 5 -> [0.56552, 1].
  CHECK(wilson_interval(0.9, 10).lo == Approx(0.5958500).epsilon(1e-5));
  CHECK(wilson_interval(0.9, 10).hi == Approx(0.9821238).epsilon(1e-5));
  CHECK(wilson_interval(0.5, 10).lo == Approx(0.2365931).epsilon(1e-5));
  CHECK(wilson_interval(0.5, 10).hi == Approx(0.7634069).epsilon(1e-5));
  CHECK(wilson_interval(0.0, 20).lo == Approx(0.0).margin(1e-12));
  CHECK(wilson_interval(0.0, 20).hi == Approx(0.1611252).epsilon(1e-5));
  CHECK(wilson_interval(1.0, 5).lo == Approx(0.5655175).epsilon(1e-5));
  CHECK(wilson_interval(1.0, 5).hi == Approx(1.0).margin(1e-12));
  CHECK(wilson_interval(0.5, 0).lo == 0.0);  // no items: nothing known
  CHECK(wilson_interval(0.5, 0).hi == 1.0);
}

TEST_CASE("run report: every evaluation over the global step, benchmarks with intervals, perplexity",
          "[eval][run_report]") {
  RichRun f;
  RunSummary run = read_run(f.run);
  REQUIRE(run.stages.size() == 2);
  CHECK(stage_offsets(run) == std::vector<int64_t>{0, 30});
  // pretrain: JSONs at 10 and 30 (the record at 30 yields to the JSON); sft: the record at 3, the JSON at 5.
  CHECK(scores_over_steps_markdown(run) ==
        "| stage | step | global step | general | MMBase |\n"
        "|---|---:|---:|---:|---:|\n"
        "| pretrain | 10 | 10 | 50.0 | 50.0 |\n"
        "| pretrain | 30 | 30 | 70.0 | 70.0 |\n"
        "| sft | 3 | 33 | 80.0 | 80.0 |\n"
        "| sft | 5 | 35 | 90.0 | 90.0 |\n");
  const auto steps = scores_over_steps_svgs(run);
  REQUIRE(steps.size() == 2);  // general, MMBase
  const std::string general = chart_named(steps, "charts/scores_general.svg");
  CHECK(count(general, "<circle") == 4);    // a dot per evaluation
  CHECK(count(general, "<polyline") == 2);  // the scores, the chance level
  CHECK_THAT(general, Catch::Contains(">general: score at each evaluation</text>") &&
                          Catch::Contains(">global optimizer step</text>") && Catch::Contains(">score (%)</text>"));
  CHECK_THAT(general, Catch::Contains(">30</text>"));  // x ticks 0, 10, 20, 30: the axis ends at step 35
  CHECK(general.find(">40</text>") == std::string::npos);

  // The final evaluation per benchmark: 9 of 10 -> [59.6, 98.2] (the Wilson values above).
  CHECK(benchmarks_table_markdown(run) ==
        "| benchmark | category | metric | items | score (%) | 95% interval (%) | chance (%) |\n"
        "|---|---|---|---:|---:|---:|---:|\n"
        "| yn | general | exact_match | 10 | 90.0 | [59.6, 98.2] | 50.0 |\n");

  const std::string md = run_report_markdown(run, f.dir.file("out"));
  CHECK_THAT(md, Catch::Contains("| pretrain | 10 | 10 | 9.000 |") &&
                     Catch::Contains("| pretrain | 30 | 30 | 6.000 |") &&
                     Catch::Contains("| stage | step | global step | held-out loss: val_text |") &&
                     Catch::Contains("| pretrain | 30 | 30 | 2.5000 |") && Catch::Contains("Wilson score interval"));
  const auto ppl = perplexity_svgs(run);
  REQUIRE(ppl.size() == 2);  // the perplexity benchmark, the held-out loss
  CHECK(count(chart_named(ppl, "charts/perplexity.svg"), "<circle") == 2 + 1);  // 2 evaluations + legend sample
}

TEST_CASE("run report: per-source loss, learning rate, gradient norm, tokens/s, a lone point as a marker",
          "[eval][run_report]") {
  RichRun f;
  RunSummary run = read_run(f.run);
  REQUIRE(run.stages[0].loss_by_source.size() == 2);
  CHECK(run.stages[0].loss_by_source.at("text") == Series{{10, 3.5}, {30, 1.8}});  // not in the record at 20
  CHECK(run.stages[1].lr == Series{{5, 0.0005}});
  CHECK(run.stages[0].heldout_loss.at("val_text") == Series{{30, 2.5}});

  const std::string src = loss_by_source_svg(run).svg;
  CHECK(count(src, "<polyline") == 2);  // captions, text; chat has one point:
  CHECK(count(src, "<circle") == 1);
  CHECK_THAT(src, Catch::Contains(">captions</text>") && Catch::Contains(">text</text>") &&
                      Catch::Contains(">chat</text>"));  // the legend

  const auto training = training_svgs(run);
  REQUIRE(training.size() == 3);
  for (const auto& c : training) {
    CHECK(count(c.svg, "<polyline") == 1);  // pretrain
    CHECK(count(c.svg, "<circle") == 1);    // sft, its one record
  }
  const std::string lr = chart_named(training, "charts/learning_rate.svg");
  CHECK_THAT(lr, Catch::Contains(">learning rate</text>") && Catch::Contains(">0.002</text>") &&
                     Catch::Contains(">pretrain</text>") && Catch::Contains(">sft</text>"));
  CHECK_THAT(chart_named(training, "charts/tokens_per_s.svg"), Catch::Contains(">tokens / s</text>"));

  // Every chart written: well formed, no NaN or infinity, no zero-sized bar or dot.
  const auto out = write_run_report(run, f.dir.file("out"));
  CHECK(out.charts.size() == 2 + 2 + 1 + 3 + 2);  // loss, scores; general, MMBase; per source; 3; ppl, held-out
  for (const auto& path : out.charts) {
    const std::string svg = mm::io::read_file(path);
    INFO(path);
    CHECK(tags_balanced(svg));
    CHECK(svg.find("nan") == std::string::npos);
    CHECK(svg.find("inf") == std::string::npos);
    CHECK(all_positive(svg, "rect", "height"));
    CHECK(all_positive(svg, "rect", "width"));
    CHECK(all_positive(svg, "circle", "r"));
  }
}

TEST_CASE("run report: example images as <img> relative to the report, older eval JSONs", "[eval][run_report]") {
  for (const bool in_json : {true, false}) {
    INFO("images stored in the eval JSON: " << in_json);
    RichRun f(in_json);
    RunSummary run = read_run(f.run);
    const std::string html = run_report_html(run, f.dir.file("out"));
    // out/report.html -> ../sets/img/a.png
    CHECK_THAT(html, Catch::Contains("<img src=\"../sets/img/a.png\"") &&
                         Catch::Contains("(not found: " + f.dir.file("sets/img/gone.png") + ")"));
    CHECK_THAT(run_report_markdown(run, f.dir.file("out")), Catch::Contains("![image](../sets/img/a.png)"));
    CHECK(run.examples_images_from.empty() == in_json);
  }
  // The eval set changed since: its images are not taken for the examples.
  RichRun f(false);
  mm::io::write_file_atomic(f.set, mm::io::read_file(f.set) + "\n");
  CHECK(run_report_html(read_run(f.run), f.dir.file("out")).find("<img") == std::string::npos);

  // The predictions file and the eval JSON's examples store the images; without any, no key.
  const std::string preds = mm::io::read_file(f.run + "/sft/eval/step_000005.predictions.jsonl");
  CHECK(preds.find("images") == std::string::npos);
  BenchmarkScore b = bench("yn", Category::kGeneral, Metric::kExactMatch, 1.0);
  b.predictions = {{"q1", "<image>\nq1", "yes", {"yes"}, 1.0, "", {"x/a.png"}}, {"q2", "q2", "no", {"no"}, 1.0}};
  b.examples = b.predictions;
  const EvalReport r = aggregate({b});
  const std::string jsonl = predictions_to_jsonl(r);
  CHECK_THAT(jsonl, Catch::Contains("\"images\":[\"x/a.png\"]"));
  CHECK(count(jsonl, "images") == 1);
  CHECK(nlohmann::json::parse(report_to_json(r))["examples"]["yn"][0]["images"] == nlohmann::json({"x/a.png"}));
}

TEST_CASE("run report: the run's settings, times, machine and links", "[eval][run_report]") {
  RichRun f;
  RunSummary run = read_run(f.run);
  run.recipe_path = f.dir.write("recipes/r.yaml", "stages: []\n");
  const auto& m = run.stages[0].meta;
  CHECK(m.started == 1000.0);
  CHECK(m.wall_seconds == 754.0);
  CHECK(m.hostname == "testhost");
  CHECK(run.stages[1].meta.checkpoints.size() == 1);
  const std::string md = run_report_markdown(run, f.dir.file("out"));
  CHECK_THAT(md, Catch::Contains("| started | 1970-01-01 00:16:40 UTC (the first TensorBoard event) |") &&
                     Catch::Contains("host testhost (TensorBoard file names); device cpu (train.log)") &&
                     Catch::Contains("| parameters | 2.00M (train.log) |") &&
                     Catch::Contains("| commit | not recorded") &&
                     Catch::Contains("tiny: image encoder ViT, 32 px images in 8 px patches, width 64") &&
                     Catch::Contains("| recipe | [" + run.recipe_path + "](../recipes/r.yaml) |") &&
                     Catch::Contains("tensorboard --logdir " + f.run));
  // pretrain: 30 steps logged of 40; 2 ranks x 4 x 1 = 8 sequences of 64 tokens; 754 s = 12m34s.
  CHECK_THAT(md, Catch::Contains("| pretrain | 30 of 40 | adamw, lr 0.002, cosine (5 warm-up) | 8 x 64 (2 rank(s) x 4 "
                                 "x 1) | dynamic, 32 px tiles | 1.50M | 1970-01-01 00:16:40 UTC | 12m34s | "
                                 "[config.yaml](../run/pretrain/config.yaml) | none kept |"));
  CHECK_THAT(md, Catch::Contains("| sft | 5 | - | - | - | - | not recorded | not recorded | - | "
                                 "[step_000005](../run/sft/checkpoints/step_000005) |"));

  // run_history.jsonl (written by mmtrain train): commit, host, start and the stages' wall time.
  f.dir.write("run/run_history.jsonl",
              "{\"event\":\"start\",\"time\":\"2026-12-07T10:30:00Z\",\"host\":\"histhost\",\"cpus\":4,"
              "\"commit\":\"abc123def456\",\"version\":\"0.1.0\",\"command\":\"mmtrain train --config r.yaml\"}\n"
              "{\"event\":\"stage_end\",\"stage\":\"pretrain\",\"completed\":true,\"steps\":30,\"wall_s\":100.0}\n"
              "not json: a line cut short\n");
  f.dir.write("run/recipe.yaml", "stages: []\n");
  const std::string md2 = run_report_markdown(read_run(f.run), f.dir.file("out"));
  CHECK_THAT(md2, Catch::Contains("| commit | abc123def456 (mmtrain 0.1.0) (run_history.jsonl) |") &&
                      Catch::Contains("| started | 2026-12-07T10:30:00Z (run_history.jsonl) |") &&
                      Catch::Contains("host histhost, 4 CPUs (run_history.jsonl)") &&
                      Catch::Contains("| command | `mmtrain train --config r.yaml` |") &&
                      Catch::Contains("| 1m40s |") && Catch::Contains("(../run/recipe.yaml)"));
}
