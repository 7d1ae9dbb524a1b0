// Running a sweep (trainers/ablation/run_sweep.h, issue 26): the shared prefix trained once and
// every run from its checkpoint, a failed run recorded while the others complete, a rerun that
// trains nothing, sweep.json's fields, and the pure parts (axes, eval paths, state round trip, the
// order, the Slurm script). A two-stage recipe (a -> b) on the tiny text run; seconds.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/io.h"
#include "support/error_of.h"
#include "support/text_run.h"
#include "trainers/ablation/run_sweep.h"
#include "trainers/ablation/sweep_runner.h"  // kChildStatusFile
#include "trainers/ablation/sweep_state.h"
#include "trainers/loop/run_recipe.h"

namespace fs = std::filesystem;
namespace ab = mm::ablation;
using Json = mm::cfg::Json;

namespace {

struct SweepRun : mm::test::TextRun {
  std::string sweep_file;
  SweepRun() : TextRun("mm_ablation_run") {
    std::ofstream(dir / "recipe.yaml") << model_yaml("base") << "train: {device: cpu, threads: 1}\n"
                                       << "stages:\n"
                                       << "  - stage: a\n"
                                       << "    train: {steps: 4}\n"
                                       << "  - stage: b\n"
                                       << "    train: {steps: 3, init_from: previous}\n";
    sweep_file = (dir / "sweep.yaml").string();
    std::ofstream(sweep_file) << "recipe: recipe.yaml\nname: t\nout_dir: " << (dir / "out").string() << "\n"
                              << "baseline: lo\n"
                              << "variants:\n"
                              << "  - {name: lo, set: {stages.b.optimizer.lr: 0.001}}\n"
                              << "  - {name: hi, set: {stages.b.optimizer.lr: 0.002}}\n"
                              << "  - {name: bad, set: {stages.b.train.init_from: " << (dir / "no_such_ckpt").string()
                              << "}}\n";
  }
  ab::SweepPlan plan() const { return ab::plan_sweep(sweep_file, ab::load_sweep(sweep_file)); }
  Json state() const { return Json::parse(mm::io::read_file((dir / "out" / "sweep.json").string())); }
};

// Lines of <run_dir>/run_history.jsonl whose event is `event`.
int history(const std::string& run_dir, const std::string& event) {
  std::ifstream f(fs::path(run_dir) / "run_history.jsonl");
  int n = 0;
  for (std::string line; std::getline(f, line);) n += Json::parse(line).value("event", "") == event;
  return n;
}

}  // namespace

TEST_CASE("ablate run trains the shared prefix once, each run from its checkpoint, and records a failed run",
          "[ablation][ablation_run]") {
  SweepRun s;
  const ab::SweepPlan plan = s.plan();
  REQUIRE(plan.prefixes.size() == 1);
  REQUIRE(plan.runs.size() == 3);
  std::ostringstream console;
  ab::SweepRunOptions o;
  o.out = &console;
  const ab::SweepOutcome r = ab::run_sweep(plan, o);
  CHECK_FALSE(r.stopped);
  REQUIRE(r.failed.size() == 1);
  CHECK(r.failed[0].find("bad seed ") == 0);
  CHECK(r.failed[0].find("no_such_ckpt") != std::string::npos);
  CHECK(r.train_s > 0);
  CHECK(r.overhead_s >= 0);

  // The prefix: trained once, in <out_dir>/prefixes/<key>; the runs hold stage b only, started from it.
  const std::string prefix_dir = plan.prefixes[0].run_dir;
  CHECK(prefix_dir == (s.dir / "out" / "prefixes" / plan.prefixes[0].key).string());
  CHECK(history(prefix_dir, "start") == 1);
  std::string prefix_ckpt;
  REQUIRE(mm::train::stage_completed(ab::prefix_config(plan, 0), &prefix_ckpt));
  for (size_t i : {0, 1}) {
    const auto& run = plan.runs[i];
    CHECK_FALSE(fs::exists(fs::path(run.run_dir) / "a"));
    CHECK(mm::train::stage_completed(run.recipe.stages[1]));
    CHECK(history(run.run_dir, "start") == 1);
    const std::string saved = mm::io::read_file((fs::path(run.run_dir) / "b" / "config.yaml").string());
    CHECK(saved.find("init_from: " + prefix_ckpt) != std::string::npos);
  }

  // sweep.json: the plan plus every entry's state.
  Json j = s.state();
  CHECK(j["prefixes"][0]["status"] == "done");
  CHECK(j["prefixes"][0]["wall_s"].get<double>() > 0);
  CHECK(j["runs"][0]["status"] == "done");
  CHECK(j["runs"][0]["error"] == "");
  CHECK(j["runs"][0]["eval"] == "");  // no eval sets in this recipe
  CHECK(j["runs"][0]["axes"] == Json::parse(R"({"stages.b.optimizer.lr": 0.001})"));
  CHECK(j["runs"][1]["status"] == "done");
  CHECK(j["runs"][2]["status"] == "failed");
  CHECK(j["runs"][2]["error"].get<std::string>().find("no_such_ckpt") != std::string::npos);
  CHECK(j["runs"][0]["variant"] == "lo");  // the plan's fields stay
  CHECK(j["baseline"] == "lo");
  const double train_s = j["train_s"].get<double>();
  CHECK(train_s > 0);
  CHECK(j["overhead_s"].get<double>() >= 0);
  CHECK(console.str().find("[sweep] runs ") != std::string::npos);

  // A rerun trains nothing that is done: no new history record anywhere; the failed run is retried.
  const ab::SweepOutcome again = ab::run_sweep(s.plan(), o);
  CHECK(again.failed.size() == 1);
  CHECK(history(prefix_dir, "start") == 1);
  for (size_t i : {0, 1}) CHECK(history(plan.runs[i].run_dir, "start") == 1);
  j = s.state();
  CHECK(j["runs"][0]["status"] == "done");
  CHECK(j["runs"][2]["status"] == "failed");
  CHECK(j["train_s"].get<double>() >= train_s);  // totals over every invocation
}

TEST_CASE("sweep state: axes as JSON values, one-line errors, the last eval file, a round trip",
          "[ablation][ablation_run]") {
  CHECK(ab::axes_json({"a.b=0.25", "m=static", "l=[1, 2]", "f=true"}) ==
        Json::parse(R"({"a.b": 0.25, "m": "static", "l": [1, 2], "f": true})"));
  CHECK(ab::one_line("pre-flight found 2 problems:\n  x: bad\n  y: worse\n") ==
        "pre-flight found 2 problems: x: bad; y: worse");
  CHECK(ab::one_line("one line") == "one line");
  CHECK(ab::one_line("\n  a\n\n  b\n") == "a; b");
  CHECK(ab::one_line("") == "");

  mm::test::TempDir tmp("mm_ablation_state");
  CHECK(ab::final_eval_json(tmp.path().string()) == "");
  tmp.write("eval/step_000010.json", "{}");
  tmp.write("eval/step_000100.json", "{}");
  tmp.write("eval/step_000100.md", "");
  tmp.write("eval/step_000020.json", "{}");
  CHECK(ab::final_eval_json(tmp.path().string()) == tmp / "eval/step_000100.json");

  SweepRun s;
  const ab::SweepPlan plan = s.plan();
  ab::SweepState st = ab::initial_state(plan);
  st.prefixes[0] = {"done", "", 1.5, ""};
  st.runs[1] = {"failed", "boom", 2.5, ""};
  st.runs[0] = {"done", "", 3.0, "x/eval/step_000003.json"};
  st.train_s = 7, st.overhead_s = 0.1;
  ab::write_state(plan, st);
  const ab::SweepState back = ab::read_state(plan);
  CHECK(back.prefixes[0].status == "done");
  CHECK(back.prefixes[0].wall_s == 1.5);
  CHECK(back.runs[0].eval == "x/eval/step_000003.json");
  CHECK(back.runs[1].status == "failed");
  CHECK(back.runs[1].error == "boom");
  CHECK(back.runs[2].status == "pending");
  CHECK(back.train_s == 7);
  CHECK(back.overhead_s == 0.1);
  const Json j = s.state();
  for (const char* k : {"status", "error", "wall_s", "eval", "axes", "variant", "run_dir"})
    CHECK(j["runs"][2].contains(k));
  CHECK(j["runs"][2]["eval"] == "");
}

TEST_CASE("the sweep trains prefixes before runs, and its Slurm script chains them", "[ablation][ablation_run]") {
  SweepRun s;
  const ab::SweepPlan plan = s.plan();
  const auto order = ab::training_order(plan);
  REQUIRE(order.size() == 4);
  CHECK(order[0] == std::make_pair(true, size_t{0}));
  CHECK(order[1] == std::make_pair(false, size_t{0}));
  CHECK(order[3] == std::make_pair(false, size_t{2}));
  // A prefix's config: its own run directory and name; the first stage has nothing to chain from.
  const mm::RunConfig pc = ab::prefix_config(plan, 0);
  CHECK(pc.run_dir == plan.prefixes[0].run_dir);
  CHECK(pc.train.stage == "a");

  ab::SlurmOptions o;
  o.exe = "/opt/mm/mmtrain";
  o.args = {s.sweep_file, "--set", "seeds=[0]"};
  o.max_parallel = 2;
  o.time = "01:00:00";
  const std::string sh = ab::slurm_script(plan, o);
  CHECK(sh.rfind("#!/usr/bin/env bash\n", 0) == 0);
  CHECK(sh.find("--prefixes-only") != std::string::npos);
  CHECK(sh.find("--dependency=afterok:$prefixes") != std::string::npos);
  CHECK(sh.find("--array=0-2%2") != std::string::npos);
  CHECK(sh.find("--only \\$SLURM_ARRAY_TASK_ID") != std::string::npos);
  CHECK(sh.find("--dependency=afterany:$runs") != std::string::npos);
  CHECK(sh.find("--time=01:00:00") != std::string::npos);
  // Quoted for the job's shell, then for this script: MM='... --set '\''seeds=[0]'\'''.
  CHECK(sh.find("MM='/opt/mm/mmtrain ablate run " + s.sweep_file + R"( --set '\''seeds=[0]'\''')" + "\n") !=
        std::string::npos);
  CHECK(sh.find("#   2: bad seed 0 -> ") != std::string::npos);
}

TEST_CASE("ablate verify adds one variant that starts from the sweep's prefix", "[ablation][ablation_run]") {
  SweepRun s;
  ab::SweepConfig sweep = ab::load_sweep(s.sweep_file);
  ab::SweepRunOptions o;
  std::ostringstream console;
  o.out = &console;
  const ab::SweepPlan plan = ab::plan_sweep(s.sweep_file, sweep);
  ab::run_sweep(plan, o);
  const std::string prefix_dir = plan.prefixes[0].run_dir;

  const ab::SweepConfig with = ab::with_verify_variant(sweep, {"stages.b.optimizer.lr=0.0015"});
  REQUIRE(with.variants.size() == 4);
  CHECK(with.variants[0].name == "lo");
  CHECK(with.variants[3].name == "verify");
  const ab::SweepPlan vplan = ab::plan_sweep(s.sweep_file, with);
  REQUIRE(vplan.prefixes.size() == 1);
  CHECK(vplan.prefixes[0].key == plan.prefixes[0].key);  // the same prefix: the others keep their keys
  for (size_t i = 0; i < 3; ++i) CHECK(vplan.runs[i].keys == plan.runs[i].keys);
  o.only_variant = "verify";
  const ab::SweepOutcome r = ab::run_sweep(vplan, o);
  CHECK(r.failed.empty());  // bad is neither retried nor reported
  CHECK(history(prefix_dir, "start") == 1);
  CHECK(history(plan.runs[2].run_dir, "start") == 0);
  const std::string verify_dir = vplan.runs[3].run_dir;
  CHECK(history(verify_dir, "start") == 1);
  std::string prefix_ckpt;
  REQUIRE(mm::train::stage_completed(ab::prefix_config(vplan, 0), &prefix_ckpt));
  CHECK(mm::io::read_file((fs::path(verify_dir) / "b" / "config.yaml").string()).find("init_from: " + prefix_ckpt) !=
        std::string::npos);
  const Json j = s.state();
  REQUIRE(j["runs"].size() == 4);
  CHECK(j["runs"][3]["variant"] == "verify");
  CHECK(j["runs"][3]["status"] == "done");
  CHECK(j["runs"][3]["axes"] == Json::parse(R"({"stages.b.optimizer.lr": 0.0015})"));
  CHECK(j["runs"][0]["status"] == "done");  // carried over by run_dir

  // A grid becomes named variants with the same names and keys; a variant named verify is refused.
  std::ofstream(s.dir / "grid.yaml") << "recipe: recipe.yaml\nout_dir: " << (s.dir / "g").string()
                                     << "\ngrid:\n  stages.b.optimizer.lr: [0.001, 0.002]\n";
  const std::string grid_file = (s.dir / "grid.yaml").string();
  const ab::SweepConfig grid = ab::load_sweep(grid_file);
  const ab::SweepPlan gplan = ab::plan_sweep(grid_file, grid);
  const ab::SweepPlan gv = ab::plan_sweep(grid_file, ab::with_verify_variant(grid, {"stages.b.optimizer.lr=0.003"}));
  REQUIRE(gv.runs.size() == 3);
  for (size_t i = 0; i < 2; ++i) {
    CHECK(gv.runs[i].variant == gplan.runs[i].variant);
    CHECK(gv.runs[i].keys == gplan.runs[i].keys);
  }
  CHECK(mm::test::error_of([&] { ab::with_verify_variant(grid, {}); }).find("no key=value") != std::string::npos);
  ab::SweepConfig named = sweep;
  named.variants[0].name = "verify";
  CHECK(mm::test::error_of([&] { ab::with_verify_variant(named, {"x=1"}); }).find("already has a variant named") !=
        std::string::npos);
}

TEST_CASE("runs that train identically are done when their shared last stage is", "[ablation][ablation_run]") {
  SweepRun s;
  std::ofstream(s.sweep_file) << "recipe: recipe.yaml\nout_dir: " << (s.dir / "out").string() << "\n"
                              << "variants:\n  - {name: x, set: {}}\n  - {name: y, set: {eval.max_items: 3}}\n";
  const ab::SweepPlan plan = s.plan();
  REQUIRE(plan.prefixes.size() == 2);
  REQUIRE(plan.runs[0].first_own == 2);
  std::ostringstream console;
  ab::SweepRunOptions o;
  o.out = &console;
  const ab::SweepOutcome r = ab::run_sweep(plan, o);
  CHECK(r.failed.empty());
  const Json j = s.state();
  CHECK(j["runs"][0]["status"] == "done");
  CHECK(j["runs"][1]["status"] == "done");
  CHECK(history(plan.prefixes[1].run_dir, "start") == 1);
  CHECK_FALSE(fs::exists(plan.runs[0].run_dir));  // nothing of their own
}

TEST_CASE("ablate run --parallel on a GPU machine gives each child slot its own device", "[ablation][ablation_run]") {
  CHECK(ab::device_for_slot(0, 0, "") == "");  // a CPU machine: nothing set
  CHECK(ab::device_for_slot(3, 0, "0,1") == "");
  CHECK(ab::device_for_slot(0, 2, "") == "0");
  CHECK(ab::device_for_slot(1, 2, "") == "1");
  CHECK(ab::device_for_slot(2, 2, "") == "0");  // more runs than GPUs: round robin
  CHECK(ab::device_for_slot(0, 2, "4,6") == "4");
  CHECK(ab::device_for_slot(1, 2, "4,6") == "6");
  CHECK(ab::device_for_slot(2, 2, "4,6") == "4");
  CHECK(ab::device_for_slot(1, 1, "GPU-abc,GPU-def") == "GPU-abc");  // the count torch sees wins
}

TEST_CASE("a run trained by ablate run --only keeps its time when a later plain run records it",
          "[ablation][ablation_run]") {
  SweepRun s;
  std::ofstream(s.sweep_file) << "recipe: recipe.yaml\nout_dir: " << (s.dir / "out").string() << "\n"
                              << "variants:\n"
                              << "  - {name: lo, set: {stages.b.optimizer.lr: 0.001}}\n"
                              << "  - {name: hi, set: {stages.b.optimizer.lr: 0.002}}\n";
  const ab::SweepPlan plan = s.plan();
  std::ostringstream console;
  ab::SweepRunOptions o;
  o.out = &console;
  o.prefixes_only = true;  // the Slurm script's first job
  ab::run_sweep(plan, o);
  o.prefixes_only = false;
  o.only = 0;  // an array task: trains run 0 and leaves sweep.json alone
  CHECK(ab::run_sweep(plan, o).failed.empty());
  const double only_s =
      Json::parse(mm::io::read_file((fs::path(plan.runs[0].run_dir) / ab::detail::kChildStatusFile).string()))
          .at("wall_s")
          .get<double>();
  CHECK(only_s > 0);
  CHECK(s.state()["runs"][0]["status"] == "pending");
  const double before = s.state()["train_s"].get<double>();

  o.only = -1;  // the plain run finds run 0 done: its time is the --only run's, and the sweep's total counts it
  ab::run_sweep(plan, o);
  Json j = s.state();
  CHECK(j["runs"][0]["status"] == "done");
  CHECK(j["runs"][0]["wall_s"].get<double>() == only_s);
  CHECK(j["train_s"].get<double>() >= before + only_s);
  const double total = j["train_s"].get<double>();
  ab::run_sweep(plan, o);  // counted once: this run trains nothing
  j = s.state();
  CHECK(j["runs"][0]["wall_s"].get<double>() == only_s);
  CHECK(j["train_s"].get<double>() == total);
}
