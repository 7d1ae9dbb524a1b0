// run_recipe as a library call: two tiny stages (a -> b, init_from: previous) on a text source.
// The whole run, its checks before anything trains (fresh start over checkpoints, a single stage
// whose predecessor has not completed, a --resume folder of another recipe), a stop and a resume
// that ends bit for bit where the uninterrupted run does, and a run directory written by the
// previous train loop resumed by this one. Seconds on one core.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "core/check.h"
#include "core/io.h"
#include "core/run_lock.h"
#include "dist/process_group.h"
#include "support/text_run.h"
#include "trainers/loop/run_history.h"
#include "trainers/loop/run_recipe.h"
#include "trainers/loop/trainer.h"

namespace fs = std::filesystem;
using mm::train::RecipeOptions;
using mm::train::RecipeResult;

namespace {

struct World : mm::test::TextRun {
  World() : TextRun("mm_run_recipe") {}
  // A two-stage recipe writing into <dir>/<run>.
  mm::train::Recipe recipe(const std::string& run, const std::string& first = "a",
                           const std::string& second = "b") const {
    const fs::path yaml = dir / (run + ".yaml");
    std::ofstream(yaml) << model_yaml(run)
                        << "train: {device: cpu, threads: 1, log_interval: 1, checkpoint_interval: 2}\n"
                        << "stages:\n"
                        << "  - stage: " << first << "\n"
                        << "    train: {steps: 4}\n"
                        << "  - stage: " << second << "\n"
                        << "    train: {steps: 3, init_from: previous}\n";
    return mm::train::load_recipe(yaml.string());
  }
};

RecipeResult run(const mm::train::Recipe& r, const std::string& resume = "", const std::string& stage = "") {
  RecipeOptions o;
  o.resume = resume;
  o.only_stage = stage;
  o.progress = false;
  return mm::train::run_recipe(r, mm::dist::Group(), o);
}

std::string final_weights(const World& w, const std::string& run, const std::string& stage, int step) {
  char name[32];
  std::snprintf(name, sizeof name, "step_%06d", step);
  return mm::io::read_file((w.dir / run / stage / "checkpoints" / name / "model.safetensors").string());
}

}  // namespace

TEST_CASE("run_recipe trains the stages in order and checks everything before a stage starts",
          "[trainers][recipe_runner]") {
  World w;
  const RecipeResult full = run(w.recipe("full"));
  REQUIRE(full.completed);
  REQUIRE(full.stages.size() == 2);
  CHECK(full.stages[0].stage == "a");
  CHECK(full.stages[0].steps_done == 4);
  CHECK(full.stages[1].steps_done == 3);
  // b started from a's final checkpoint: its saved config names it.
  const auto b_cfg = mm::load_run_config((w.dir / "full" / "b" / "config.yaml").string(), {});
  CHECK(b_cfg.train.init_from == full.stages[0].final_checkpoint);
  // run_history.jsonl: the start (with the binary's commit) and each stage's end, in order.
  const auto history = mm::train::read_run_history((w.dir / "full").string());
  REQUIRE(history.size() == 3);
  CHECK(history[0]["event"] == "start");
  CHECK(history[0]["stages"] == nlohmann::json::array({"a", "b"}));
  CHECK(history[0]["ranks"] == 1);
  CHECK(!history[0]["commit"].get<std::string>().empty());
  CHECK(history[0]["time"].get<std::string>().size() == 20);  // 2026-12-07T10:30:00Z
  CHECK(history[1]["event"] == "stage_end");
  CHECK(history[1]["stage"] == "a");
  CHECK(history[1]["steps"] == 4);
  CHECK(history[1]["completed"] == true);
  CHECK(history[1]["wall_s"].get<double>() > 0);
  CHECK(history[2]["stage"] == "b");
  CHECK(history[2]["final_checkpoint"] == full.stages[1].final_checkpoint);

  SECTION("a fresh start over checkpoints is refused before anything trains") {
    const auto before = fs::last_write_time(w.dir / "full" / "a" / "metrics.jsonl");
    CHECK_THROWS_WITH(run(w.recipe("full")), Catch::Contains("already holds checkpoints of stage 'a'"));
    CHECK(fs::last_write_time(w.dir / "full" / "a" / "metrics.jsonl") == before);
  }
  SECTION("--resume auto over a completed recipe trains nothing") {
    const RecipeResult again = run(w.recipe("full"), "auto");
    CHECK(again.completed);
    REQUIRE(again.stages.size() == 2);
    CHECK(again.stages[1].final_checkpoint == full.stages[1].final_checkpoint);
    CHECK(again.stages[0].first_loss == 0);  // no step ran
  }
  SECTION("a single stage needs its predecessor completed") {
    CHECK_THROWS_WITH(run(w.recipe("alone"), "", "b"),
                      Catch::Contains("stage 'b' starts from the final checkpoint of stage 'a'") &&
                          Catch::Contains("has not completed"));
    CHECK_FALSE(fs::exists(w.dir / "alone" / "b" / "checkpoints"));
  }
  SECTION("--resume with a checkpoint whose stage the recipe lacks is refused") {
    CHECK_THROWS_WITH(run(w.recipe("other", "c", "d"), full.stages[0].final_checkpoint),
                      Catch::Contains("no stage named 'a'"));
  }
  SECTION("stopped after one step, resumed: the same final weights bit for bit") {
    mm::train::stop_requested().store(true);
    const RecipeResult stopped = run(w.recipe("stop"));
    mm::train::stop_requested().store(false);
    CHECK_FALSE(stopped.completed);
    REQUIRE(stopped.stages.size() == 1);
    CHECK(stopped.stages[0].steps_done == 1);
    const RecipeResult resumed = run(w.recipe("stop"), "auto");
    REQUIRE(resumed.completed);
    CHECK(final_weights(w, "stop", "b", 3) == final_weights(w, "full", "b", 3));
    // The history holds both sessions: start, a stopped; start (resume auto), a and b completed.
    const auto h = mm::train::read_run_history((w.dir / "stop").string());
    REQUIRE(h.size() == 5);
    CHECK((h[1]["stage"] == "a" && h[1]["completed"] == false && h[1]["steps"] == 1));
    CHECK((h[2]["event"] == "start" && h[2]["resume"] == "auto"));
    CHECK((h[3]["stage"] == "a" && h[3]["completed"] == true && h[4]["stage"] == "b"));
  }
}

TEST_CASE("a run directory written by the previous train loop resumes with this one", "[trainers][recipe_runner]") {
  // tests/data/legacy_run: stage a's step-2 checkpoint of the recipe above, written by the train
  // loop before TrainState and train_step existed (commit 11f8387), with its data and tokenizer.
  World w;
  const fs::path legacy = fs::path(MM_TEST_DATA_DIR) / "legacy_run";
  fs::copy(legacy / "text.jsonl", w.data, fs::copy_options::overwrite_existing);
  fs::copy(legacy / "spm.model", w.tokenizer, fs::copy_options::overwrite_existing);
  fs::create_directories(w.dir / "old" / "a" / "checkpoints");
  fs::copy(legacy / "step_000002", w.dir / "old" / "a" / "checkpoints" / "step_000002", fs::copy_options::recursive);
  const RecipeResult resumed = run(w.recipe("old"), "auto");
  REQUIRE(resumed.completed);
  CHECK(resumed.stages[0].steps_done == 4);
  // The uninterrupted run with this loop ends on the same weights.
  REQUIRE(run(w.recipe("new")).completed);
  CHECK(final_weights(w, "old", "a", 4) == final_weights(w, "new", "a", 4));
  CHECK(final_weights(w, "old", "b", 3) == final_weights(w, "new", "b", 3));
}

TEST_CASE("run_recipe refuses a run directory another trainer holds, before writing into it",
          "[trainers][recipe_runner]") {
  World w;
  const mm::train::Recipe recipe = w.recipe("busy");
  const mm::RunLock other((w.dir / "busy").string());  // the other trainer
  CHECK_THROWS_WITH(run(recipe), Catch::Contains("is in use by another training") && Catch::Contains(other.holder()));
  CHECK_FALSE(fs::exists(w.dir / "busy" / "a"));
}

TEST_CASE("the run's seed moves the sample stream, also of a stage that starts from a checkpoint",
          "[trainers][recipe_runner]") {
  World w;
  const RecipeResult base = run(w.recipe("base"));
  REQUIRE(base.completed);
  // One stage from a's checkpoint: the weights it starts from are the same whatever the seed, so only the data
  // order can make the first loss differ.
  auto first_loss = [&](const std::string& name, int seed) {
    const fs::path yaml = w.dir / (name + ".yaml");
    std::ofstream(yaml) << w.model_yaml(name) << "seed: " << seed << "\n"
                        << "train: {device: cpu, threads: 1, log_interval: 1, checkpoint_interval: 2}\n"
                        << "stages:\n"
                        << "  - stage: b\n"
                        << "    train: {steps: 2, init_from: " << base.stages[0].final_checkpoint << "}\n";
    const RecipeResult r = run(mm::train::load_recipe(yaml.string()));
    REQUIRE(r.completed);
    return r.stages[0].first_loss;
  };
  const double seed0 = first_loss("seed0", 0), seed1 = first_loss("seed1", 1), again = first_loss("seed1_again", 1);
  CHECK(seed1 == again);
  CHECK(seed0 != seed1);
  CHECK(seed0 == base.stages[1].first_loss);  // seed 0 keeps loader.seed's stream: b of the two-stage run
}
