// Recipes: stage entries override the shared keys, stage-level inherit, --set for all stages and
// for one stage, and the one-line errors (duplicate stage, init_from previous on the first stage).
#include <catch2/catch.hpp>

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "core/check.h"
#include "support/temp_dir.h"
#include "trainers/loop/recipe.h"

namespace fs = std::filesystem;

namespace {

fs::path temp_dir() {
  static const mm::test::TempDir d("mm_recipe");
  return d.path();
}

std::string write(const std::string& name, const std::string& text) {
  const fs::path p = temp_dir() / name;
  std::ofstream(p) << text;
  return p.string();
}

const char* kRecipe = R"(
name: demo
run_dir: runs/demo
loader: {seq_len: 256}
optimizer: {lr: 1.0e-3}
stages:
  - stage: pretrain
    inherit: [frag.yaml]
    train: {steps: 10}
  - stage: sft
    optimizer: {name: adafactor}
    loader: {seq_len: 512}
    train: {steps: 20, init_from: previous}
)";

}  // namespace

TEST_CASE("recipe stages inherit the shared keys and override their own", "[recipe]") {
  write("frag.yaml", "data:\n  sources:\n    - {name: a, format: text, path: a.jsonl}\n");
  const auto r = mm::train::load_recipe(write("recipe.yaml", kRecipe));
  REQUIRE(r.stages.size() == 2);
  const auto& pre = r.stages[0];
  const auto& sft = r.stages[1];
  CHECK(pre.train.stage == "pretrain");
  CHECK(sft.train.stage == "sft");
  CHECK(pre.train.steps == 10);
  CHECK(sft.train.steps == 20);
  CHECK(pre.loader.seq_len == 256);
  CHECK(sft.loader.seq_len == 512);
  CHECK(pre.optimizer.name == "adamw");
  CHECK(sft.optimizer.name == "adafactor");
  CHECK(sft.optimizer.lr == Approx(1e-3));  // shared key kept
  REQUIRE(pre.data.sources.size() == 1);    // from the stage-level inherit
  CHECK(pre.data.sources[0].name == "a");
  CHECK(sft.data.sources.empty());
  CHECK(sft.train.init_from == "previous");
  CHECK(mm::train::stage_dir(sft) == "runs/demo/sft");
  CHECK(r.index_of("sft") == 1);
  CHECK_THROWS_WITH(r.index_of("ocr"), Catch::Contains("no stage named 'ocr'") && Catch::Contains("pretrain, sft"));
}

TEST_CASE("recipe --set applies to every stage, stages.NAME.key to one", "[recipe]") {
  write("frag.yaml", "data:\n  sources: []\n");
  const auto r = mm::train::load_recipe(write("recipe.yaml", kRecipe),
                                        {"seed=7", "stages.sft.train.steps=3", "loader.micro_batch=2"});
  CHECK(r.stages[0].seed == 7);
  CHECK(r.stages[1].seed == 7);
  CHECK(r.stages[0].train.steps == 10);
  CHECK(r.stages[1].train.steps == 3);
  CHECK(r.stages[1].loader.micro_batch == 2);
  CHECK_THROWS_WITH(mm::train::load_recipe(write("recipe.yaml", kRecipe), {"stages.ocr.train.steps=3"}),
                    Catch::Contains("no stage named 'ocr'"));
}

TEST_CASE("a file without stages is a one-stage recipe", "[recipe]") {
  const auto r = mm::train::load_recipe(write("single.yaml", "train: {stage: only, steps: 5}\n"));
  REQUIRE(r.stages.size() == 1);
  CHECK(r.stages[0].train.stage == "only");
  CHECK(r.stages[0].train.steps == 5);
}

TEST_CASE("recipe errors are one line naming the stage and key", "[recipe]") {
  CHECK_THROWS_WITH(mm::train::load_recipe(write("dup.yaml", "stages:\n  - {stage: a}\n  - {stage: a}\n")),
                    Catch::Contains("duplicate stage name 'a'"));
  CHECK_THROWS_WITH(
      mm::train::load_recipe(write("first.yaml", "stages:\n  - {stage: a, train: {init_from: previous}}\n")),
      Catch::Contains("first stage"));
  CHECK_THROWS_WITH(mm::train::load_recipe(write("noname.yaml", "stages:\n  - {train: {steps: 2}}\n")),
                    Catch::Contains("stages[0]: missing `stage: NAME`"));
  CHECK_THROWS_WITH(mm::train::load_recipe(write("badkey.yaml", "stages:\n  - {stage: a, trian: {steps: 2}}\n")),
                    Catch::Contains("trian"));
  CHECK_THROWS_WITH(mm::train::load_recipe(write("badinh.yaml", "stages:\n  - {stage: a, inherit: [nope.yaml]}\n")),
                    Catch::Contains("stages[0].inherit: no such file"));
  CHECK_THROWS_WITH(mm::train::load_recipe((temp_dir() / "missing.yaml").string()),
                    Catch::Contains("no such recipe file"));
}

TEST_CASE("the committed recipes load", "[recipe]") {
  for (const char* name : {"mm15-1b.yaml", "mm15-3b.yaml"}) {
    const auto r = mm::train::load_recipe(std::string(MM_SOURCE_DIR) + "/configs/recipes/" + name);
    REQUIRE(r.stages.size() == 3);
    CHECK(r.stages[0].train.stage == "pretrain");
    CHECK(r.stages[1].optimizer.name == "adafactor");
    CHECK(r.stages[2].image.mode == "dynamic");
    CHECK(r.stages[2].train.init_from == "previous");
  }
}
