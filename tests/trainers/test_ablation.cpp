// Ablation sweeps (trainers/ablation, issue 26): the sweep file, training_hash, the plan's shared
// prefixes and cost, Dirichlet draws, and the one-line errors. A two-stage recipe (a -> b) on the
// tiny text run; nothing trains. Milliseconds.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <numeric>

#include "support/error_of.h"
#include "support/text_run.h"
#include "trainers/ablation/sweep.h"

namespace fs = std::filesystem;
using mm::test::error_of;
namespace ab = mm::ablation;

namespace {

struct Sweep : mm::test::TextRun {
  Sweep() : TextRun("mm_ablation") {
    std::ofstream(dir / "recipe.yaml") << model_yaml("base") << "train: {device: cpu, threads: 1}\n"
                                       << "stages:\n"
                                       << "  - stage: a\n"
                                       << "    train: {steps: 4}\n"
                                       << "  - stage: b\n"
                                       << "    train: {steps: 3, init_from: previous}\n"
                                       << "    data:\n"
                                       << "      sources:\n"
                                       << "        - {name: t1, format: text, path: " << data << ", category: g1}\n"
                                       << "        - {name: t2, format: text, path: " << data << ", category: g2}\n"
                                       << "      mixture: {groups: [{name: g1, weight: 1}, {name: g2, weight: 1}]}\n";
  }
  // Writes a sweep file (recipe: recipe.yaml, out_dir under the temp folder) plus `body`.
  std::string file(const std::string& body, const std::string& name = "sweep.yaml") const {
    const fs::path p = dir / name;
    std::ofstream(p) << "recipe: recipe.yaml\nout_dir: " << (dir / "out").string() << "\n" << body;
    return p.string();
  }
  ab::SweepPlan plan(const std::string& body) const {
    const std::string p = file(body);
    return ab::plan_sweep(p, ab::load_sweep(p));
  }
};

constexpr int64_t kA = 4 * 2 * 1 * 48;  // steps x micro_batch x grad_accum x seq_len
constexpr int64_t kB = 3 * 2 * 1 * 48;

}  // namespace

TEST_CASE("training_hash ignores where a run goes and what it logs, not what it trains", "[ablation]") {
  Sweep s;
  const auto recipe = mm::train::load_recipe((s.dir / "recipe.yaml").string());
  const mm::RunConfig& b = recipe.stages[1];
  mm::RunConfig other = b;
  other.run_dir = "elsewhere";
  other.name = "other";
  other.log.level = "debug";
  other.eval.max_items = 7;
  other.train.log_interval = 3;
  other.loader.workers = 2;
  CHECK(ab::training_hash(other) == ab::training_hash(b));
  CHECK(mm::config_hash(other) != mm::config_hash(b));
  mm::RunConfig concrete = b;  // what a checkpoint's saved config holds instead of 'previous'
  concrete.train.init_from = (fs::absolute(b.run_dir) / "a").string();
  CHECK(ab::training_hash(concrete) == ab::training_hash(b));
  mm::RunConfig lr = b;
  lr.optimizer.lr *= 2;
  CHECK(ab::training_hash(lr) != ab::training_hash(b));
  mm::RunConfig seed = b;
  seed.seed = 5;
  CHECK(ab::training_hash(seed) != ab::training_hash(b));
  mm::RunConfig external = b;
  external.train.init_from = "/somewhere/else/ckpt";
  CHECK(ab::training_hash(external) != ab::training_hash(b));
}

TEST_CASE("a grid over a stage-b key shares stage a: one prefix, trained once", "[ablation]") {
  Sweep s;
  const auto plan = s.plan("grid:\n  stages.b.optimizer.lr: [0.001, 0.002]\n");
  REQUIRE(plan.runs.size() == 2);
  CHECK(plan.runs[0].variant == "lr=0.001");
  CHECK(plan.runs[1].variant == "lr=0.002");
  CHECK(plan.runs[0].recipe.stages[1].optimizer.lr == Approx(0.001));
  CHECK(plan.runs[1].recipe.stages[1].optimizer.lr == Approx(0.002));
  CHECK(plan.runs[0].keys[0] == plan.runs[1].keys[0]);
  CHECK(plan.runs[0].keys[1] != plan.runs[1].keys[1]);
  REQUIRE(plan.prefixes.size() == 1);
  CHECK(plan.prefixes[0].stage_name == "a");
  CHECK(plan.prefixes[0].runs == std::vector<size_t>{0, 1});
  CHECK(plan.prefixes[0].run_dir == (s.dir / "out" / "prefixes" / plan.runs[0].keys[0]).string());
  for (const auto& r : plan.runs) {
    CHECK(r.first_own == 1);
    CHECK(r.own_tokens == kB);
    CHECK(r.recipe.stages[1].run_dir == r.run_dir);
  }
  CHECK(plan.runs[0].run_dir == (s.dir / "out" / "runs" / "lr=0.001-seed0").string());
  CHECK(plan.varying_stages == std::vector<std::string>{"b"});
  CHECK(plan.tokens_planned == kA + 2 * kB);
  CHECK(plan.tokens_from_scratch == 2 * (kA + kB));
  CHECK(plan.saving() == Approx(1.0 - double(kA + 2 * kB) / (2 * (kA + kB))));
  const std::string text = plan.to_text(1000);
  CHECK(text.find("saves") != std::string::npos);
  CHECK(text.find("time at 1000 tokens/s") != std::string::npos);
  const auto j = plan.to_json();
  CHECK(j["runs"].size() == 2);
  CHECK(j["prefixes"][0]["runs"].size() == 2);
  CHECK(j["cost"]["tokens_planned"] == kA + 2 * kB);
}

TEST_CASE("a grid is the cross product, named by the keys' last components", "[ablation]") {
  Sweep s;
  const auto plan = s.plan(
      "grid:\n  stages.b.data.mixture.groups[g1].weight: [1, 3]\n  stages.b.optimizer.lr: [0.001, 0.002, 0.004]\n");
  REQUIRE(plan.runs.size() == 6);
  CHECK(plan.runs[0].variant == "g1.weight=1,lr=0.001");
  CHECK(plan.runs[5].variant == "g1.weight=3,lr=0.004");
  CHECK(plan.runs[5].recipe.stages[1].data.mixture.groups[0].weight == 3);
  REQUIRE(plan.prefixes.size() == 1);
  CHECK(plan.prefixes[0].runs.size() == 6);
}

TEST_CASE("seeds multiply the runs and make a prefix per seed", "[ablation]") {
  Sweep s;
  const auto plan = s.plan("seeds: [0, 1]\ngrid:\n  stages.b.optimizer.lr: [0.001, 0.002]\n");
  REQUIRE(plan.runs.size() == 4);
  CHECK(plan.runs[1].seed == 1);
  CHECK(plan.runs[1].recipe.stages[0].seed == 1);
  REQUIRE(plan.prefixes.size() == 2);
  CHECK(plan.prefixes[0].runs == std::vector<size_t>{0, 2});  // seed 0
  CHECK(plan.prefixes[1].runs == std::vector<size_t>{1, 3});  // seed 1
  CHECK(plan.tokens_planned == 2 * kA + 4 * kB);
}

TEST_CASE("a grid over a stage-a key shares nothing", "[ablation]") {
  Sweep s;
  const auto plan = s.plan("grid:\n  stages.a.train.steps: [4, 8]\n");
  CHECK(plan.prefixes.empty());
  CHECK(plan.varying_stages == std::vector<std::string>{"a"});
  CHECK(plan.saving() == 0);
}

TEST_CASE("named variants: the rows of a table, a baseline, identical runs noted", "[ablation]") {
  Sweep s;
  const auto plan = s.plan(
      "baseline: base\nvariants:\n"
      "  - {name: base}\n"
      "  - {name: no-g2, set: {\"stages.b.data.mixture.groups[g2].weight\": 0}}\n"
      "  - {name: base-quiet, set: {log.level: warn}}\n");
  REQUIRE(plan.runs.size() == 3);
  CHECK(plan.runs[1].recipe.stages[1].data.mixture.groups[1].weight == 0);
  CHECK(plan.runs[2].recipe.stages[0].log.level == "warn");
  CHECK(plan.runs[0].first_own == 2);  // base and base-quiet train identically
  CHECK(plan.runs[2].first_own == 2);
  CHECK(plan.runs[1].first_own == 1);
  REQUIRE(plan.notes.size() == 1);
  CHECK(plan.notes[0].find("base seed 0, base-quiet seed 0 train identically") != std::string::npos);
  CHECK(plan.prefixes.size() == 2);  // a (all three), b (base and base-quiet)
  CHECK(plan.to_text().find("base *") != std::string::npos);
}

TEST_CASE("Dirichlet draws sum to scale, are deterministic, and differ by seed", "[ablation]") {
  ab::DirichletAxes d;
  d.keys = {"x", "y", "z"};
  d.draws = 20;
  d.scale = 10;
  d.alpha = 0.5;
  const auto a = ab::dirichlet_draws(d);
  REQUIRE(a.size() == 20);
  for (const auto& row : a) {
    CHECK(std::accumulate(row.begin(), row.end(), 0.0) == Approx(10));
    for (double v : row) CHECK(v >= 0);
  }
  CHECK(ab::dirichlet_draws(d) == a);
  d.seed = 1;
  CHECK(ab::dirichlet_draws(d) != a);
  d.alpha = 1e-6;  // every gamma draw may underflow: still a valid point of the simplex
  for (const auto& row : ab::dirichlet_draws(d)) CHECK(std::accumulate(row.begin(), row.end(), 0.0) == Approx(10));

  Sweep s;
  const auto plan = s.plan(
      "dirichlet:\n  keys:\n    - stages.b.data.mixture.groups[g1].weight\n    - "
      "stages.b.data.mixture.groups[g2].weight\n"
      "  draws: 3\n  seed: 7\n");
  REQUIRE(plan.runs.size() == 3);
  CHECK(plan.runs[2].variant == "d002");
  for (const auto& r : plan.runs) {
    const auto& g = r.recipe.stages[1].data.mixture.groups;
    CHECK(g[0].weight + g[1].weight == Approx(1));
  }
  REQUIRE(plan.prefixes.size() == 1);
  CHECK(plan.prefixes[0].runs.size() == 3);
}

TEST_CASE("sweep file errors are one line naming the file and the key", "[ablation]") {
  Sweep s;
  auto err = [&](const std::string& body) {
    const std::string p = s.file(body);
    return error_of([&] { ab::plan_sweep(p, ab::load_sweep(p)); });
  };
  const std::string unknown = err("seedz: [1]\ngrid: {train.steps: [1]}\n");
  CHECK(unknown.find("unknown key 'seedz'") != std::string::npos);
  CHECK(unknown.find("did you mean 'seeds'") != std::string::npos);
  const std::string axis = err("grid:\n  stages.b.optimizer.lrr: [0.1]\n");
  CHECK(axis.find("sweep.yaml: grid axis 'stages.b.optimizer.lrr'") != std::string::npos);
  CHECK(axis.find("did you mean 'optimizer.lr'") != std::string::npos);
  CHECK(axis.find('\n') == std::string::npos);
  CHECK(err("grid:\n  stages.c.optimizer.lr: [0.1]\n").find("no stage named 'c'") != std::string::npos);
  CHECK(err("grid:\n  stages.b.data.mixture.groups[g3].weight: [1]\n").find("g3") != std::string::npos);
  CHECK(err("grid: {train.steps: [1]}\nvariants: [{name: x}]\n").find("exactly one of grid, variants, dirichlet") !=
        std::string::npos);
  CHECK(err("seeds: [1]\n").find("exactly one of") != std::string::npos);
  CHECK(err("grid:\n  train.steps: []\n").find("grid.train.steps: expected a non-empty list of values") !=
        std::string::npos);
  CHECK(err("variants: [{name: x, set: {train.stepz: 3}}]\n").find("variant 'x', key 'train.stepz'") !=
        std::string::npos);
  CHECK(err("variants: [{name: x}, {name: x}]\n").find("two variants are named 'x'") != std::string::npos);
  CHECK(err("baseline: y\nvariants: [{name: x}]\n").find("baseline: no variant named 'y' (variants: x)") !=
        std::string::npos);
  CHECK(err("dirichlet: {draws: 2}\n").find("dirichlet.keys: expected a non-empty list") != std::string::npos);
  CHECK(err("dirichlet: {keys: [train.steps], alpha: 0}\n").find("dirichlet.alpha") != std::string::npos);
  CHECK(error_of([] { ab::load_sweep("/no/such/sweep.yaml"); }).find("no such sweep file") != std::string::npos);
}

TEST_CASE("the sweep's --set overrides its own keys", "[ablation]") {
  Sweep s;
  const std::string p = s.file("grid:\n  stages.b.optimizer.lr: [0.001, 0.002]\n");
  const auto sw = ab::load_sweep(p, {"seeds=[3, 4, 5]", "name=other"});
  CHECK(sw.seeds == std::vector<int64_t>{3, 4, 5});
  CHECK(sw.name == "other");
  CHECK(ab::plan_sweep(p, sw).runs.size() == 6);
  CHECK(ab::load_sweep(s.file("grid: {train.steps: [1]}\n", "x.yaml")).name == "x");
}
