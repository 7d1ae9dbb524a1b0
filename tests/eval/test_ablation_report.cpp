// `mmtrain ablate report` (eval/ablation_report/sweep_report.h) on sweep directories built from known
// scores (ablation_support.h): the CSV files, the intervals, the significance marks (a large effect is
// significant, a noisy one is not, and Holm's correction decides a borderline one), failed and missing
// runs listed, the charts, one-line errors.
#include <catch2/catch.hpp>

#include <filesystem>

#include "ablation_support.h"
#include "core/io.h"
#include "eval/ablation_report/sweep_report.h"
#include "run_report_support.h"  // tags_balanced, count
#include "support/error_of.h"

using mm::eval::ablation::load_sweep_results;
using mm::eval::ablation_test::FakeRun;
using mm::eval::ablation_test::write_sweep;
using mm::eval::report_test::count;
using mm::eval::report_test::tags_balanced;

namespace {

// general differs by variant; knowledge is the same everywhere.
std::vector<FakeRun> three_seed_runs(const std::vector<std::string>& variants) {
  const std::map<std::string, std::vector<double>> general = {{"base", {0.40, 0.42, 0.38}},
                                                              {"big", {0.60, 0.62, 0.58}},     // Welch p 0.00026
                                                              {"mid", {0.47, 0.45, 0.49}},     // p 0.0128
                                                              {"noisy", {0.45, 0.30, 0.55}}};  // p 0.69
  const std::map<std::string, double> weight = {{"base", 0.1}, {"big", 0.3}, {"mid", 0.2}, {"noisy", 0.0}};
  std::vector<FakeRun> runs;
  for (const auto& v : variants)
    for (int s = 0; s < 3; ++s) {
      FakeRun r;
      r.variant = v, r.seed = s;
      r.scores = {{"general", general.at(v)[s]}, {"knowledge", 0.5 + 0.02 * (s - 1)}};
      r.axes = {{"stages.sft.data.mixture.groups[multi-image].weight", weight.at(v)}};
      r.groups = {{"single-image", 0.8}, {"multi-image", weight.at(v)}, {"text-only", 0.1}};
      r.eval_in_json = s != 1;  // seed 1's eval is found in the run folder
      runs.push_back(r);
    }
  return runs;
}

}  // namespace

TEST_CASE("ablate report: metrics.csv and ratios.csv hold every run's scores and normalised weights",
          "[ablation][report]") {
  mm::test::TempDir dir("mm_ablate");
  write_sweep(dir, three_seed_runs({"base", "big"}), "base");
  const auto r = load_sweep_results(dir.path().string());
  REQUIRE(r.metrics == std::vector<std::string>{"general", "knowledge"});
  const auto w = mm::eval::ablation::write_sweep_report(r, dir.path().string());
  const std::string metrics = mm::io::read_file(w.metrics);
  CHECK(metrics.rfind("run_id,name,general,knowledge\nbase-seed0,base,0.4,0.48\nbase-seed1,base,0.42,0.5\n", 0) == 0);
  CHECK(count(metrics, "\n") == 7);  // header + 6 runs
  const std::string ratios = mm::io::read_file(w.ratios);
  // Groups in alphabetical order, weights / their sum: 0.1 / 1.0, 0.3 / 1.2.
  CHECK(ratios.rfind("run_id,name,multi-image,single-image,text-only\nbase-seed0,base,0.1,0.8,0.1\n", 0) == 0);
  const size_t at = ratios.find("big-seed2,big,");
  REQUIRE(at != std::string::npos);
  std::vector<double> shares;  // 0.3, 0.8, 0.1 over their sum 1.2
  std::string line = ratios.substr(at + 14, ratios.find('\n', at) - at - 14);
  for (size_t pos = 0; pos <= line.size();) {
    const size_t comma = std::min(line.find(',', pos), line.size());
    shares.push_back(std::stod(line.substr(pos, comma - pos)));
    pos = comma + 1;
  }
  REQUIRE(shares.size() == 3);
  CHECK(shares[0] == Approx(0.25));
  CHECK(shares[1] == Approx(0.8 / 1.2));
  CHECK(shares[2] == Approx(0.1 / 1.2));
  CHECK(shares[0] + shares[1] + shares[2] == Approx(1.0).epsilon(1e-12));
}

TEST_CASE("ablate report: a large effect is significant, a noisy one is not, Holm decides a borderline one",
          "[ablation][report]") {
  mm::test::TempDir dir("mm_ablate");
  write_sweep(dir, three_seed_runs({"base", "big", "mid", "noisy"}), "base");
  const auto r = load_sweep_results(dir.path().string());
  CHECK(r.comparisons == 6);  // 3 variants x 2 metrics
  const auto& base = r.cells.at("base").at("general").summary;
  CHECK(base.mean == Approx(0.40));
  REQUIRE(base.lo);
  CHECK(*base.lo == Approx(0.40 - 4.302652729749462 * 0.02 / std::sqrt(3.0)));
  const auto& big = r.cells.at("big").at("general");
  CHECK(*big.diff == Approx(0.20));
  CHECK(big.test->p == Approx(0.0002552167494419271).epsilon(1e-6));
  CHECK(*big.p_holm == Approx(6 * 0.0002552167494419271).epsilon(1e-6));
  CHECK(big.significant);
  const auto& noisy = r.cells.at("noisy").at("general");
  CHECK(noisy.test->p == Approx(0.6929666082730115).epsilon(1e-6));
  CHECK_FALSE(noisy.significant);
  const auto& mid = r.cells.at("mid").at("general");
  CHECK(mid.test->p < 0.05);  // raw p 0.0128: "significant" without the correction
  CHECK(*mid.p_holm == Approx(5 * 0.012780483827590998).epsilon(1e-6));
  CHECK_FALSE(mid.significant);
  CHECK_FALSE(r.cells.at("big").at("knowledge").significant);

  // The same data with one comparison family of 2 (base vs mid only): the borderline case is significant.
  mm::test::TempDir small("mm_ablate");
  write_sweep(small, three_seed_runs({"base", "mid"}), "base");
  const auto r2 = load_sweep_results(small.path().string());
  CHECK(r2.comparisons == 2);
  CHECK(r2.cells.at("mid").at("general").significant);

  const auto w = mm::eval::ablation::write_sweep_report(r, dir.path().string());
  const std::string md = mm::io::read_file(w.markdown);
  CHECK(md.find("| big | +20.0 (p=0.00153) * |") != std::string::npos);
  CHECK(md.find("| mid | +7.0 (p=0.0639) |") != std::string::npos);
  CHECK(md.find("Holm-corrected over all 6 variant x metric comparisons") != std::string::npos);
  const std::string html = mm::io::read_file(w.html);
  REQUIRE(w.charts.size() == 2);
  for (const auto& c : w.charts) CHECK(tags_balanced(mm::io::read_file(c)));
  CHECK(count(html, "<svg") == 2);  // score vs the weight axis, the Pareto plot
  CHECK(std::filesystem::exists(dir / "charts/axis_stages.sft.data.mixture.groups_multi-image_.weight.svg"));
  CHECK(w.pareto_a == "general");
  CHECK(w.pareto_b == "knowledge");
}

TEST_CASE("ablate report: one seed has no noise estimate, shows Wilson intervals and claims nothing",
          "[ablation][report]") {
  mm::test::TempDir dir("mm_ablate");
  std::vector<FakeRun> runs;
  for (auto [v, s] : std::vector<std::pair<std::string, double>>{{"a", 0.5}, {"b", 0.9}}) {
    FakeRun r;
    r.variant = v, r.scores = {{"general", s}, {"MMBase", s}}, r.axes = {{"stages.sft.image.mode", v}};
    runs.push_back(r);
  }
  write_sweep(dir, runs, "a");
  const auto r = load_sweep_results(dir.path().string());
  CHECK(r.max_seeds == 1);
  CHECK(r.comparisons == 0);
  const auto& b = r.cells.at("b").at("general");
  CHECK(*b.diff == Approx(0.4));
  CHECK_FALSE(b.significant);
  REQUIRE(b.wilson_lo);  // over the 100 items of the benchmark: 0.9 -> [0.826, 0.945]
  CHECK(*b.wilson_lo == Approx(0.8256).margin(1e-4));
  CHECK(*b.wilson_hi == Approx(0.9448).margin(1e-4));
  const auto w = mm::eval::ablation::write_sweep_report(r, dir.path().string());
  const std::string md = mm::io::read_file(w.markdown);
  CHECK(md.find("there is no estimate of seed noise") != std::string::npos);
  CHECK(md.find("| +40.0 |") != std::string::npos);             // a difference, no p, no mark
  CHECK(std::filesystem::exists(dir / "charts/variants.svg"));  // a categorical axis: bars
}

TEST_CASE("ablate report: failed, unfinished and eval-less runs are listed, not dropped", "[ablation][report]") {
  mm::test::TempDir dir("mm_ablate");
  auto runs = three_seed_runs({"base", "big"});
  runs[4].status = "failed", runs[4].error = "stage 'sft': out of memory";
  runs[5].write_eval = false;  // done, but its eval JSON is gone
  FakeRun pending;
  pending.variant = "later", pending.status = "pending", pending.write_eval = false;
  runs.push_back(pending);
  write_sweep(dir, runs, "base");
  dir.write("runs/base-seed0/sft/eval/step_000100.json", "{\"categories\": ");  // cut off
  const auto r = load_sweep_results(dir.path().string());
  CHECK(r.cells.at("big").at("general").summary.n == 1);
  CHECK(r.cells.at("base").at("general").summary.n == 2);
  CHECK(r.usable_runs().size() == 3);
  REQUIRE(r.notes.size() == 2);
  CHECK(r.notes[0].find("run base-seed0: ") == 0);
  CHECK(r.notes[0].find("step_000100.json: not valid JSON") != std::string::npos);
  CHECK(r.notes[1].find("run big-seed2: status done but no eval JSON") != std::string::npos);
  const auto w = mm::eval::ablation::write_sweep_report(r, dir.path().string());
  const std::string md = mm::io::read_file(w.markdown);
  CHECK(md.find("| big-seed1 | big | 1 | failed | 1m00s | - | stage 'sft': out of memory |") != std::string::npos);
  CHECK(md.find("| big-seed2 | big | 2 | done | 1m00s | missing |") != std::string::npos);
  CHECK(md.find("| later-seed0 | later | 0 | pending |") != std::string::npos);
  CHECK(md.find("7 run(s): 3 with results, 1 failed, 3 pending, running or without an eval") != std::string::npos);
  CHECK(mm::io::read_file(w.metrics).find("big-seed1") == std::string::npos);
}

TEST_CASE("ablate report: bad input is one line naming what is wrong", "[ablation][report]") {
  mm::test::TempDir dir("mm_ablate");
  const std::string d = dir.path().string();
  auto e = mm::test::error_of([&] { load_sweep_results(d); });
  CHECK(e.find(d + "/sweep.json: no such file") != std::string::npos);
  dir.write("sweep.json", "{\"runs\": [");
  e = mm::test::error_of([&] { load_sweep_results(d); });
  CHECK(e.find("sweep.json: not valid JSON") != std::string::npos);
  CHECK(e.find('\n') == std::string::npos);
  write_sweep(dir, three_seed_runs({"base", "big"}), "base");
  e = mm::test::error_of([&] { load_sweep_results(d, "bigg"); });
  CHECK(e.find("--baseline 'bigg' names no variant") != std::string::npos);
  CHECK(e.find("(variants: base, big)") != std::string::npos);
  const auto r = load_sweep_results(d);
  e = mm::test::error_of([&] { mm::eval::ablation::write_sweep_report(r, d, {"general", "ocr"}); });
  CHECK(e.find("--pareto 'ocr' is not a metric of this sweep (expected one of: general, knowledge)") !=
        std::string::npos);
}
