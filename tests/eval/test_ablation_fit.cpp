// `mmtrain ablate fit` (eval/ablation_report/mixture_fit.h): the fit recovers a known linear law of
// the mixture weights and proposes its optimum within bounds (on the simplex for Dirichlet draws, in a
// box for a grid); bad input is one line. And both commands through the built mmtrain.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>

#include "ablation_support.h"
#include "core/io.h"
#include "eval/ablation_report/fit_verify.h"
#include "eval/ablation_report/mixture_fit.h"
#include "support/error_of.h"

using mm::eval::ablation::fit_mixture;
using mm::eval::ablation::FitOptions;
using mm::eval::ablation::load_sweep_results;
using mm::eval::ablation_test::FakeRun;
using mm::eval::ablation_test::write_sweep;

namespace {

const std::string kA = "stages.sft.data.mixture.groups[a].weight", kB = "stages.sft.data.mixture.groups[b].weight",
                  kC = "stages.sft.data.mixture.groups[c].weight";

// Dirichlet-like draws over three group weights summing to 1; general = 0.7a + 0.3b + 0.2c and
// knowledge = 0.3a + 0.6b + 0.5c exactly, MMBase their mean.
std::vector<FakeRun> simplex_runs() {
  const double draws[][3] = {{0.6, 0.2, 0.2}, {0.2, 0.6, 0.2}, {0.2, 0.2, 0.6},    {0.4, 0.4, 0.2},
                             {0.4, 0.2, 0.4}, {0.2, 0.4, 0.4}, {0.34, 0.33, 0.33}, {0.5, 0.3, 0.2}};
  std::vector<FakeRun> runs;
  for (size_t i = 0; i < 8; ++i) {
    const auto& w = draws[i];
    FakeRun r;
    r.variant = fmt::format("d{:03d}", i);
    const double g = 0.7 * w[0] + 0.3 * w[1] + 0.2 * w[2], k = 0.3 * w[0] + 0.6 * w[1] + 0.5 * w[2];
    r.scores = {{"general", g}, {"knowledge", k}, {"MMBase", (g + k) / 2}};
    r.axes = {{kA, w[0]}, {kB, w[1]}, {kC, w[2]}};
    runs.push_back(r);
  }
  return runs;
}

// A grid over one weight, two seeds: general = 0.3 + x (+- 0.01 seed noise), knowledge 0.5 throughout.
std::vector<FakeRun> grid_runs() {
  std::vector<FakeRun> runs;
  for (double x : {0.0, 0.1, 0.3})
    for (int s = 0; s < 2; ++s) {
      FakeRun r;
      r.variant = fmt::format("w={:g}", x), r.seed = s;
      r.scores = {{"general", 0.3 + x + (s ? 0.01 : -0.01)}, {"knowledge", 0.5}, {"MMBase", 0.3 + x}};
      r.axes = {{"stages.sft.data.mixture.groups[multi-image].weight", x}};
      runs.push_back(r);
    }
  return runs;
}

}  // namespace

TEST_CASE("ablate fit recovers a linear law of the weights and its optimum on the simplex within bounds",
          "[ablation][fit]") {
  mm::test::TempDir dir("mm_fit");
  write_sweep(dir, simplex_runs(), "");
  const auto r = load_sweep_results(dir.path().string());
  FitOptions o;
  o.objective = "general";
  o.bounds = {"groups[a].weight=0:0.5", kB + "=0:1", "[c].weight=0:1"};
  const auto f = fit_mixture(r, o);
  CHECK(f.simplex);
  CHECK(f.scale == Approx(1));
  REQUIRE(f.fits.size() == 3);
  const auto& g = f.fits[0];
  CHECK(g.metric == "general");
  CHECK(g.predict({1, 0, 0}) == Approx(0.7).margin(1e-6));
  CHECK(g.predict({0, 1, 0}) == Approx(0.3).margin(1e-6));
  CHECK(g.predict({0, 0, 1}) == Approx(0.2).margin(1e-6));
  CHECK(g.loo_rmse < 1e-6);
  CHECK(g.loo_rmse_constant > 0.02);
  // The best mixture for general: a at its upper bound, the rest to b (the next best).
  CHECK(f.weights[0] == Approx(0.5).margin(1e-12));
  CHECK(f.weights[1] == Approx(0.5).margin(1e-12));
  CHECK(f.weights[2] == Approx(0).margin(1e-12));
  CHECK(f.predicted.at("general").mean == Approx(0.5).margin(1e-6));
  CHECK(f.predicted.at("general").hi - f.predicted.at("general").lo < 1e-5);  // an exact law: no error

  o.objective = "knowledge";  // b is best but capped at 0.2; c next
  o.bounds = {kA + "=0:1", kB + "=0:0.2", kC + "=0:1"};
  const auto fk = fit_mixture(r, o);
  CHECK(fk.weights[0] == Approx(0).margin(1e-12));
  CHECK(fk.weights[1] == Approx(0.2).margin(1e-12));
  CHECK(fk.weights[2] == Approx(0.8).margin(1e-12));
  CHECK(fk.predicted.at("knowledge").mean == Approx(0.52).margin(1e-6));

  // fit.json names the sweep's own key paths, ready for --set.
  const auto j = fk.to_json();
  CHECK(j["objective"] == "knowledge");
  CHECK(j["region"] == "simplex");
  CHECK(j["weights"].size() == 3);
  CHECK(j["weights"][kC].get<double>() == Approx(0.8));
  CHECK(j["set"][1] == kB + "=0.2");
  CHECK_FALSE(j.contains("warning"));
  CHECK(fk.to_text().find("warning") == std::string::npos);
  CHECK(j["predicted"]["MMBase"]["mean"].get<double>() == Approx((0.2 * 0.3 + 0.8 * 0.2 + 0.52) / 2).margin(1e-6));
}

TEST_CASE("ablate fit on a grid: a slope through seed noise, the optimum at the bound", "[ablation][fit]") {
  mm::test::TempDir dir("mm_fit");
  write_sweep(dir, grid_runs(), "w=0.1");
  const auto r = load_sweep_results(dir.path().string());
  auto f = fit_mixture(r, FitOptions{});
  CHECK_FALSE(f.simplex);
  CHECK(f.objective == "MMBase");
  CHECK(f.fits[0].metric == "general");
  CHECK(f.fits[0].coef[0] == Approx(1.0).margin(0.02));
  CHECK(f.weights[0] == Approx(0.3));  // default bounds: the range the sweep tried
  const auto& p = f.predicted.at("general");
  CHECK(p.mean == Approx(0.6).margin(0.01));
  CHECK(p.lo < p.mean);
  CHECK(p.hi > p.mean);
  CHECK(f.fits[0].loo_rmse > 0.005);  // seed noise the fit cannot explain
  f = fit_mixture(r, FitOptions{"mmbase", {"weight=0:0.2"}});
  CHECK(f.weights[0] == Approx(0.2));
  CHECK_FALSE(f.to_json().contains("warning"));
  f = fit_mixture(r, FitOptions{"knowledge", {}});  // the same everywhere: nothing to predict
  CHECK(f.to_json()["warning"] == "the objective's fit predicts left-out variants no better than their mean");
  CHECK(f.to_text().find("warning: the fit of knowledge predicts left-out variants no better") != std::string::npos);
}

TEST_CASE("ablate fit: bad input is one line", "[ablation][fit]") {
  mm::test::TempDir dir("mm_fit");
  write_sweep(dir, simplex_runs(), "");
  const auto r = load_sweep_results(dir.path().string());
  auto err = [&](FitOptions o) { return mm::test::error_of([&] { fit_mixture(r, o); }); };
  CHECK(err({"ocr", {}})
            .find("--objective 'ocr' is not a metric of this sweep (expected one of: general, "
                  "knowledge, MMBase)") != std::string::npos);
  CHECK(err({"MMBase", {"groups[a].weight=0.5"}}).find("expected key=lo:hi") != std::string::npos);
  CHECK(err({"MMBase", {"groups[a].weight=x:1"}}).find("lo and hi must be numbers") != std::string::npos);
  CHECK(err({"MMBase", {"groups[a].weight=0.6:0.5"}}).find("lo must be <= hi") != std::string::npos);
  CHECK(err({"MMBase", {"groups[z].weight=0:1"}}).find("'groups[z].weight' names no axis") != std::string::npos);
  CHECK(err({"MMBase", {"weight=0:1"}}).find("matches several axes") != std::string::npos);
  CHECK(err({"MMBase", {kA + "=0:0.2", kB + "=0:0.2", kC + "=0:0.2"}})
            .find("the bounds allow totals from 0 to 0.6, but the axes sum to 1 in every run") != std::string::npos);
  for (const auto& e : {err({"ocr", {}}), err({"MMBase", {"weight=0:1"}})}) CHECK(e.find('\n') == std::string::npos);

  mm::test::TempDir two("mm_fit");
  auto runs = simplex_runs();
  runs.resize(2);
  write_sweep(two, runs, "");
  CHECK(mm::test::error_of([&] {
          fit_mixture(load_sweep_results(two.path().string()), {});
        }).find("has 2 variant(s) with results; a fit needs at least 3") != std::string::npos);
  mm::test::TempDir modes("mm_fit");
  runs = simplex_runs();
  runs[3].axes[kA] = "dynamic";
  write_sweep(modes, runs, "");
  CHECK(mm::test::error_of([&] {
          fit_mixture(load_sweep_results(modes.path().string()), {});
        }).find("axis '" + kA + "' has the non-numeric value 'dynamic' (variant d003)") != std::string::npos);
}

TEST_CASE("mmtrain ablate report and ablate fit write their files and fail in one line", "[ablation][cli]") {
  mm::test::TempDir dir("mm_fit");
  write_sweep(dir, simplex_runs(), "d000");
  const std::string d = dir.path().string(), m = MM_MMTRAIN;
  CHECK(std::system((m + " ablate report " + d + " > " + d + "/out.txt 2>&1").c_str()) == 0);
  CHECK(std::filesystem::exists(dir / "report.html"));
  CHECK(mm::io::read_file(dir / "out.txt").find("csv:    " + d + "/ratios.csv") != std::string::npos);
  CHECK(std::system((m + " ablate fit " + d + " --objective knowledge > " + d + "/fit.txt 2>&1").c_str()) == 0);
  CHECK(mm::io::read_file(dir / "fit.txt").find("proposed axis values (maximising knowledge") != std::string::npos);
  CHECK(nlohmann::json::parse(mm::io::read_file(dir / "fit.json"))["objective"] == "knowledge");
  CHECK(std::system((m + " ablate fit " + d + " --bounds nope=0:1 2> " + d + "/err.txt").c_str()) != 0);
  const std::string err = mm::io::read_file(dir / "err.txt");
  CHECK(err.rfind("mmtrain: error: ablate fit: --bounds 'nope=0:1': 'nope' names no axis", 0) == 0);
  CHECK(std::count(err.begin(), err.end(), '\n') == 1);
  CHECK(std::system((m + " ablate report " + d + "/nothing 2> " + d + "/err2.txt").c_str()) != 0);
  CHECK(mm::io::read_file(dir / "err2.txt").find("nothing: no such directory") != std::string::npos);
}

// ablate verify's question: fit.json's predictions against the verify runs, in the report; verify runs that did not
// train fit.json's weights are not compared.
TEST_CASE("the report compares fit.json's predictions with the verify runs", "[ablation][fit]") {
  mm::test::TempDir dir("mm_fit");
  std::vector<FakeRun> runs = simplex_runs();
  write_sweep(dir, runs, "");
  FitOptions o;
  o.objective = "general";
  const auto f = fit_mixture(load_sweep_results(dir.path().string()), o);
  dir.write("fit.json", f.to_json().dump(1));
  // Two verify seeds at the fitted weights: seed 0 scores the law exactly, seed 1 0.05 above it on general.
  const double g = f.predicted.at("general").mean, k = f.predicted.at("knowledge").mean;
  for (int s = 0; s < 2; ++s) {
    FakeRun v;
    v.variant = mm::eval::ablation::kVerifyVariant, v.seed = s;
    v.axes = {{kA, f.weights[0]}, {kB, f.weights[1]}, {kC, f.weights[2]}};
    const double gs = g + (s ? 0.05 : 0.0);
    v.scores = {{"general", gs}, {"knowledge", k}, {"MMBase", (gs + k) / 2}};
    runs.push_back(v);
  }
  write_sweep(dir, runs, "");
  const auto check = mm::eval::ablation::load_verify_check(load_sweep_results(dir.path().string()));
  REQUIRE(check);
  CHECK(check->mismatch.empty());
  CHECK(check->objective == "general");
  CHECK(check->seeds == 2);
  REQUIRE(check->rows.size() == 3);  // general, knowledge, MMBase
  const auto& row = check->rows[0];
  CHECK(row.metric == "general");
  CHECK(row.predicted.mean == Approx(g));
  REQUIRE(row.measured.size() == 2);
  CHECK(row.mean == Approx(g + 0.025));
  CHECK(row.inside == 1);  // an exact law: the interval is the point; seed 1 lies outside
  CHECK(check->rows[1].inside == 2);
  const std::string md = mm::eval::ablation::verify_markdown(*check);
  CHECK(md.find("| general (objective) |") != std::string::npos);
  CHECK(md.find("| 1 of 2 |") != std::string::npos);
  // ablate report shows the section.
  const std::string d = dir.path().string();
  CHECK(std::system((std::string(MM_MMTRAIN) + " ablate report " + d + " > /dev/null 2>&1").c_str()) == 0);
  CHECK(mm::io::read_file(dir / "report.md").find("## The fitted mixture: predicted against measured (%)") !=
        std::string::npos);
  // Verify runs with other weights (ablate verify --set): no comparison, a note saying why.
  for (auto& r : runs)
    if (r.variant == mm::eval::ablation::kVerifyVariant) r.axes[kA] = 0.9;
  write_sweep(dir, runs, "");
  const auto other = mm::eval::ablation::load_verify_check(load_sweep_results(d));
  REQUIRE(other);
  CHECK(other->rows.empty());
  CHECK(other->mismatch.find("they are not the fitted mixture") != std::string::npos);
}
