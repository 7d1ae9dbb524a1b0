// The vocabulary travels with the weights: train_stage writes the tokenizer model it trained with
// into every checkpoint (tokenizer.model), and refuses to continue from a checkpoint (train.init_from
// or --resume) whose carried tokenizer differs from tokenizer.model_path. A tiny model, 2 steps on
// a text-only JSONL source: seconds on one core.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "core/check.h"
#include "core/config/run_config.h"
#include "core/io.h"
#include "dist/process_group.h"
#include "models/checkpoint/checkpoint_manager.h"
#include "support/text_run.h"
#include "trainers/loop/recipe.h"
#include "trainers/loop/trainer.h"

namespace fs = std::filesystem;

namespace {

struct World : mm::test::TextRun {
  std::string other_tokenizer;  // another vocabulary trained on the same text
  World() : TextRun("mm_trainer_tok") {
    const std::string corpus = mm::test::write_tokenizer_corpus(dir.string());
    other_tokenizer = mm::tok::train_tokenizer({corpus}, (dir / "other").string(), 390, mm::TokenizerConfig{});
    REQUIRE(mm::io::read_file(other_tokenizer) != mm::io::read_file(tokenizer));
  }
  mm::RunConfig config(const std::string& run, const std::string& tok,
                       const std::vector<std::string>& sets = {}) const {
    const fs::path yaml = dir / (run + ".yaml");
    std::ofstream(yaml) << model_yaml(run, tok)
                        << "train: {stage: pretrain, steps: 2, device: cpu, threads: 1, log_interval: 1}\n";
    return mm::load_run_config(yaml.string(), sets);
  }
};

mm::train::StageResult train(const mm::RunConfig& cfg, const std::string& resume = "") {
  mm::train::TrainOptions opts;
  opts.resume = resume;
  opts.progress = false;
  return mm::train::train_stage(cfg, mm::dist::Group(), opts);
}

}  // namespace

TEST_CASE("train_stage carries its tokenizer and refuses a checkpoint of another vocabulary",
          "[trainers][checkpoint][tokenizer]") {
  World w;
  const auto first = train(w.config("a", w.tokenizer));
  REQUIRE(first.completed);
  const fs::path ckpt = first.final_checkpoint;
  REQUIRE(fs::exists(ckpt / "tokenizer.model"));
  CHECK(mm::io::read_file((ckpt / "tokenizer.model").string()) == mm::io::read_file(w.tokenizer));
  CHECK(mm::CheckpointManager::verify(ckpt.string()).empty());

  SECTION("train.init_from with the same tokenizer trains") {
    const auto r = train(w.config("b", w.tokenizer, {"train.init_from=" + ckpt.string()}));
    CHECK(r.completed);
  }
  SECTION("the stage hand-off 'previous' is written into the stage's config.yaml as the checkpoint path") {
    mm::train::TrainOptions opts;
    opts.progress = false;
    opts.init_override = ckpt.string();
    const auto r =
        mm::train::train_stage(w.config("h", w.tokenizer, {"train.init_from=previous"}), mm::dist::Group(), opts);
    CHECK(r.completed);
    // Standalone: `mmtrain eval --config <stage>/config.yaml` must not meet 'previous' on a first stage.
    const auto saved = mm::load_run_config((w.dir / "h" / "pretrain" / "config.yaml").string(), {});
    CHECK(saved.train.init_from == ckpt.string());
  }
  SECTION("train.init_from with a different tokenizer file fails naming both") {
    try {
      train(w.config("b", w.other_tokenizer, {"train.init_from=" + ckpt.string()}));
      FAIL("training continued with another vocabulary");
    } catch (const mm::Error& e) {
      const std::string msg = e.what();
      CHECK_THAT(msg, Catch::Contains("train.init_from " + ckpt.string()) &&
                          Catch::Contains("differs from tokenizer.model_path " + w.other_tokenizer) &&
                          Catch::Contains((ckpt / "tokenizer.model").string()));
    }
    CHECK_FALSE(fs::exists(w.dir / "b" / "pretrain" / "checkpoints" / "step_000002"));
  }
  SECTION("--resume with a different tokenizer file fails naming both") {
    // An unfinished checkpoint of stage a, then resumed with the tokenizer file swapped.
    const auto mid = train(w.config("c", w.tokenizer, {"train.checkpoint_interval=1"}));
    const std::string step1 = (w.dir / "c" / "pretrain" / "checkpoints" / "step_000001").string();
    REQUIRE(mid.completed);
    mm::CheckpointManager mgr((w.dir / "c" / "pretrain" / "checkpoints").string());
    REQUIRE(mgr.list().size() == 2);
    CHECK_THROWS_WITH(train(w.config("c", w.other_tokenizer), step1),
                      Catch::Contains("--resume " + step1) && Catch::Contains(w.other_tokenizer));
  }
  SECTION("an old checkpoint without tokenizer.model is accepted, unchecked") {
    mm::CheckpointManager mgr((w.dir / "old" / "checkpoints").string());
    const mm::Checkpoint c = mm::CheckpointManager::load(ckpt.string());
    const std::string old = mgr.save(2, c.model, {}, {{"stage", "pretrain"}}, c.config_yaml);  // no tokenizer
    REQUIRE_FALSE(fs::exists(fs::path(old) / "tokenizer.model"));
    const auto r = train(w.config("d", w.other_tokenizer, {"train.init_from=" + old}));
    CHECK(r.completed);
    // Its own checkpoints carry the vocabulary it trained with from now on.
    CHECK(mm::io::read_file((fs::path(r.final_checkpoint) / "tokenizer.model").string()) ==
          mm::io::read_file(w.other_tokenizer));
  }
}
