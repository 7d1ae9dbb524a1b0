// The pre-flight check (trainers/loop/preflight.h): a warmup longer than a later stage, missing
// files and a tokenizer larger than the embedding are all reported at once, before any stage trains.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include "core/check.h"
#include "dist/process_group.h"
#include "support/text_run.h"
#include "trainers/loop/preflight.h"
#include "trainers/loop/recipe.h"
#include "trainers/loop/run_recipe.h"

namespace fs = std::filesystem;

namespace {

struct World : mm::test::TextRun {
  World() : TextRun("mm_preflight") {}
  // Two stages a -> b; `b_extra` is added to stage b's entry.
  mm::train::Recipe recipe(const std::string& run, const std::string& b_extra = "",
                           const std::vector<std::string>& sets = {}) const {
    const fs::path yaml = dir / (run + ".yaml");
    std::ofstream(yaml) << model_yaml(run) << "train: {device: cpu, threads: 1, log_interval: 1}\n"
                        << "stages:\n"
                        << "  - stage: a\n"
                        << "    train: {steps: 2}\n"
                        << "  - stage: b\n"
                        << "    train: {steps: 3, init_from: previous}\n"
                        << b_extra;
    return mm::train::load_recipe(yaml.string(), sets);
  }
};

bool has(const std::vector<std::string>& lines, const std::string& part) {
  for (const auto& l : lines)
    if (l.find(part) != std::string::npos) return true;
  return false;
}

}  // namespace

TEST_CASE("preflight: a good recipe has no problem", "[trainers][preflight]") {
  World w;
  const auto r = mm::train::preflight(w.recipe("good"));
  CHECK(r.ok());
  CHECK(r.stages_checked == 2);
  CHECK(r.missing.empty());
}

TEST_CASE("preflight: every problem of every stage at once, before anything trains", "[trainers][preflight]") {
  World w;
  const auto recipe = w.recipe("bad",
                               "    schedule: {warmup_steps: 10}\n"
                               "    eval: {sets: [" +
                                   (w.dir / "no_such_set.jsonl").string() + "]}\n",
                               {"stages.b.data.sources[text].path=" + (w.dir / "gone.jsonl").string()});
  const auto r = mm::train::preflight(recipe);
  REQUIRE_FALSE(r.ok());
  INFO(r.to_text(recipe.path));
  CHECK(r.problems.size() == 3);
  CHECK(has(r.problems, "stage 'b': schedule.warmup_steps 10 is longer than the schedule (3 steps of train.steps)"));
  CHECK(has(r.problems, "stage 'b': eval.sets: " + (w.dir / "no_such_set.jsonl").string() + " does not exist"));
  CHECK(has(r.problems, "stage 'b': data source 'text': file " + (w.dir / "gone.jsonl").string() + " does not exist"));
  CHECK_FALSE(has(r.problems, "stage 'a'"));

  // info's view: the missing files are listed apart, the settings stay problems.
  mm::train::PreflightOptions lenient;
  lenient.require_files = false;
  const auto info = mm::train::preflight(recipe, lenient);
  CHECK(info.problems.size() == 1);
  CHECK(info.missing.size() == 2);

  // run_recipe refuses before stage a trains, naming every problem.
  mm::train::RecipeOptions o;
  o.progress = false;
  CHECK_THROWS_WITH(mm::train::run_recipe(recipe, mm::dist::Group(), o),
                    Catch::Contains("3 problem(s) before step 1") && Catch::Contains("warmup_steps 10") &&
                        Catch::Contains("no_such_set.jsonl"));
  CHECK_FALSE(fs::exists(w.dir / "bad" / "a"));
}

TEST_CASE("preflight: a tokenizer larger than the embedding", "[trainers][preflight]") {
  World w;
  const auto r = mm::train::preflight(w.recipe("small_vocab", "", {"model.llm.vocab_size=100"}));
  REQUIRE(r.problems.size() == 2);  // both stages read the same tokenizer; each stage is named
  CHECK(has(r.problems, "more than model.llm.vocab_size = 100 embedding rows"));
}

// dist.shard: every mode is implemented (ZeRO-1/2/3): none is refused.
TEST_CASE("preflight: every dist.shard mode passes", "[trainers][preflight]") {
  World w;
  CHECK(mm::train::preflight(w.recipe("shard_opt", "", {"dist.shard=optimizer"})).ok());
  CHECK(mm::train::preflight(w.recipe("shard_gradients", "", {"dist.shard=gradients"})).ok());
  const auto r = mm::train::preflight(w.recipe("shard_parameters", "", {"dist.shard=parameters"}));
  INFO(r.to_text("recipe"));
  CHECK(r.ok());
}
