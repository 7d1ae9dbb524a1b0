// RunConfig: precedence (defaults < files < --set), the debug preset, dump/load round trip,
// hash stability and sensitivity, JSON, logging options.
#include <algorithm>
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>

#include "core/check.h"
#include "core/config/run_config.h"
#include "core/logging.h"
#include "support/error_of.h"

using Catch::Matchers::Contains;

namespace {

const std::string kDir = std::string(MM_TEST_DATA_DIR) + "/config/";
const std::string kDebug = std::string(MM_SOURCE_DIR) + "/configs/models/debug.yaml";

using mm::test::error_of;

std::string write_temp(const std::string& name, const std::string& text) {
  std::string path = std::string(MM_BINARY_DIR) + "/" + name;
  std::ofstream(path) << text;
  return path;
}

}  // namespace

TEST_CASE("precedence: struct defaults < YAML files (inherit) < --set", "[config]") {
  mm::RunConfig defaults = mm::load_run_config("");
  CHECK(defaults.model.llm.layers == mm::LLMConfig{}.layers);
  CHECK(defaults.seed == 0);

  mm::RunConfig c = mm::load_run_config(kDir + "child.yaml");
  CHECK(c.model.llm.layers == 6);
  CHECK(c.model.llm.dim == 128);
  CHECK(c.model.llm.ffn_hidden == 256);
  CHECK(c.model.vision.layers == 5);
  CHECK(c.model.vision.width == mm::VisionConfig{}.width);  // untouched: the default
  CHECK(c.model.connector.type == "avg_pool");
  CHECK(c.name == "child");
  CHECK(c.seed == 7);

  mm::RunConfig s = mm::load_run_config(kDir + "child.yaml", {"model.llm.layers=2", "seed=11", "model.llm.layers=8",
                                                              "model.connector={type: mlp, hidden: 64}"});
  CHECK(s.model.llm.layers == 8);  // the last --set wins
  CHECK(s.seed == 11);
  CHECK(s.model.connector.type == "mlp");
  CHECK(s.model.connector.hidden == 64);
  CHECK(s.model.llm.dim == 128);  // the file's value where --set is silent
}

TEST_CASE("the debug preset resolves to the struct defaults", "[config]") {
  mm::RunConfig d = mm::load_run_config(kDebug);
  CHECK(mm::dump_yaml(d) == mm::dump_yaml(mm::RunConfig{}));
}

TEST_CASE("mmtrain info's errors: wrong type from --set, unknown key from a file", "[config]") {
  CHECK(error_of([] { mm::load_run_config(kDebug, {"model.llm.layers=abc"}); }) ==
        "model.llm.layers: expected integer, got 'abc' (--set model.llm.layers=abc)");
  CHECK(error_of([] { mm::load_run_config(kDir + "bad_key.yaml"); }) ==
        "unknown key 'model.llm.layerz' in " + kDir + "bad_key.yaml:4 (did you mean 'model.llm.layers'?)");
  CHECK(error_of([] { mm::load_run_config(kDir + "bad_type.yaml"); }) ==
        "model.vision.class_token: expected true or false, got 'maybe' (" + kDir + "bad_type.yaml:3)");
  CHECK(error_of([] { mm::load_run_config(kDir + "bad_range.yaml"); }) ==
        "model.connector.se_ratio: must be in [0, 1], got 1.5 (" + kDir + "bad_range.yaml:3)");
  CHECK(error_of([] { mm::load_run_config("", {"model.llm.heads=5"}); }) ==
        "model.llm.heads: must divide dim (192), got 5 (--set model.llm.heads=5)");
  CHECK(error_of([] { mm::load_run_config("", {"model.llm.kv_heads=4"}); }) ==
        "model.llm.kv_heads: must divide heads (6), got 4 (--set model.llm.kv_heads=4)");
  CHECK(error_of([] { mm::load_run_config("", {"model.llm.layers=-2"}); }) ==
        "model.llm.layers: must be > 0, got -2 (--set model.llm.layers=-2)");
  CHECK(error_of([] { mm::load_run_config("", {"log.level=loud"}); }) ==
        "log.level: expected one of trace | debug | info | warn | error | critical | off, got 'loud' "
        "(--set log.level=loud)");
  CHECK(error_of([] { mm::load_run_config("", {"modle.llm.layers=2"}); }) ==
        "unknown key 'modle' in --set modle.llm.layers=2 (did you mean 'model'?)");
}

TEST_CASE("dump_yaml loads back to an identical config", "[config]") {
  mm::RunConfig c = mm::load_run_config(
      kDir + "child.yaml",
      {"model.llm.rope_theta=500000.5", "model.llm.norm_eps=1e-6", "log.level=debug", "name='007'"});
  std::string dumped = mm::dump_yaml(c);
  mm::RunConfig back = mm::load_run_config(write_temp("config_roundtrip.yaml", dumped));
  CHECK(mm::dump_yaml(back) == dumped);
  CHECK(mm::to_json(back) == mm::to_json(c));
  CHECK(back.name == "007");
  CHECK(back.model.llm.norm_eps == 1e-6);
  CHECK(back.model.llm.rope_theta == 500000.5);
  CHECK(back.log.level == "debug");
}

TEST_CASE("config_hash: stable for equal configs, sensitive to any change", "[config]") {
  mm::RunConfig a = mm::load_run_config(kDir + "child.yaml");
  mm::RunConfig b = mm::load_run_config("", {"name=child", "seed=7", "run_dir=runs/other",
                                             "model={name: base, llm: {layers: 6, dim: 128, heads: 4, "
                                             "kv_heads: 2, ffn_hidden: 256}, vision: {layers: 5}, "
                                             "connector: {type: avg_pool}}"});
  CHECK(mm::config_hash(a).size() == 16);
  CHECK(mm::config_hash(a) == mm::config_hash(b));  // same config by another route
  CHECK(mm::config_hash(a) == mm::config_hash(mm::load_run_config(kDir + "child.yaml")));
  for (const char* change : {"seed=8", "model.llm.norm_eps=1.0000001e-5", "log.all_ranks=true",
                             "model.vision.act=quick_gelu", "model.llm.moe.num_experts=4"}) {
    INFO(change);
    CHECK(mm::config_hash(mm::load_run_config(kDir + "child.yaml", {change})) != mm::config_hash(a));
  }
}

TEST_CASE("config_differences names each changed key with both values", "[config]") {
  const mm::RunConfig a = mm::load_run_config(kDir + "child.yaml");
  CHECK(mm::config_differences(a, a).empty());
  const mm::RunConfig b = mm::load_run_config(kDir + "child.yaml", {"seed=8", "model.llm.layers=7"});
  const std::vector<std::string> diff = mm::config_differences(a, b);
  REQUIRE(diff.size() == 2);
  CHECK(diff[0] == "model.llm.layers: " + std::to_string(a.model.llm.layers) + " -> 7");
  CHECK(diff[1] == "seed: " + std::to_string(a.seed) + " -> 8");
  // List entries by index; an entry only one side has shows "(none)".
  const mm::RunConfig c =
      mm::load_run_config(kDir + "child.yaml", {"data.sources=[{name: s, format: text, path: x.jsonl}]"});
  const std::vector<std::string> added = mm::config_differences(a, c);
  const std::string x = (std::filesystem::current_path() / "x.jsonl").string();  // --set: from the working directory
  CHECK(std::find(added.begin(), added.end(), "data.sources[0].path: (none) -> \"" + x + "\"") != added.end());
}

TEST_CASE("to_json holds every section with typed values", "[config]") {
  nlohmann::json j = mm::to_json(mm::load_run_config(kDebug, {"model.llm.layers=3"}));
  CHECK(j["model"]["llm"]["layers"] == 3);
  CHECK(j["model"]["vision"]["class_token"] == false);
  CHECK(j["model"]["connector"]["se_ratio"] == 0.25);
  CHECK(j["log"]["level"] == "info");
  CHECK(j.contains("seed"));
}

TEST_CASE("log options follow log.* and the run directory", "[config]") {
  mm::RunConfig c = mm::load_run_config("", {"log={level: debug, all_ranks: true}", "run_dir=/tmp/r"});
  mm::log::Options o = mm::log_options(c, 3, true);
  CHECK(o.level == "debug");
  CHECK(o.all_ranks);
  CHECK(o.rank == 3);
  CHECK(o.file == "/tmp/r/train.log");
  CHECK(mm::log_options(c, 0, false).file.empty());
  c.log.to_file = false;
  CHECK(mm::log_options(c, 0, true).file.empty());
  // dist.all_ranks_logging, the older spelling of log.all_ranks, is not ignored.
  mm::RunConfig d = mm::load_run_config("", {"dist.all_ranks_logging=true"});
  CHECK_FALSE(d.log.all_ranks);
  CHECK(mm::log_options(d, 1, false).all_ranks);
  CHECK_FALSE(mm::log_options(mm::load_run_config("", {}), 1, false).all_ranks);
}

TEST_CASE("rules that keep a run from training to nothing: lr, image.*, seq_len vs image tokens", "[config]") {
  CHECK(error_of([] { mm::load_run_config("", {"optimizer.lr=.inf"}); }) ==
        "optimizer.lr: must be a finite number > 0, got inf (--set optimizer.lr=.inf)");
  CHECK(error_of([] { mm::load_run_config("", {"optimizer.lr=0"}); }) ==
        "optimizer.lr: must be > 0, got 0 (--set optimizer.lr=0)");
  CHECK(error_of([] { mm::load_run_config("", {"optimizer.lr=.nan"}); }) ==
        "optimizer.lr: must be > 0, got nan (--set optimizer.lr=.nan)");
  CHECK(error_of([] { mm::load_run_config("", {"image.mode=tiles"}); }) ==
        "image.mode: expected one of single | static | dynamic, got 'tiles' (--set image.mode=tiles)");
  CHECK(error_of([] { mm::load_run_config("", {"image.nmin=10"}); }) ==
        "image.nmin: must not exceed nmax (9) (--set image.nmin=10)");
  CHECK(error_of([] { mm::load_run_config("", {"image.nmax=65"}); }) ==
        "image.nmax: must be in [1, 64], got 65 (--set image.nmax=65)");
  CHECK(error_of([] { mm::load_run_config("", {"image.indicators=dots"}); }) ==
        "image.indicators: expected one of none | index | seps, got 'dots' (--set image.indicators=dots)");
  CHECK(error_of([] { mm::load_run_config("", {"image.std=[0.2, 0.2]"}); }) ==
        "image.std: must hold 3 values (R, G, B), got 2 (--set image.std=[0.2, 0.2])");
  // seq_len: an image source needs room for one tile of num_tokens; a text-only run does not.
  const std::string caps = "data.sources=[{name: caps, format: captions, path: c.jsonl}]";
  const std::string text = "data.sources=[{name: books, format: text, path: t.jsonl}]";
  CHECK(error_of([&] {
          mm::load_run_config("", {caps, "model.connector.num_tokens=16", "loader.seq_len=16"});
        }) ==
        "loader.seq_len: must exceed model.connector.num_tokens (16: the tokens of one image tile) for source "
        "'caps' with images, got 16 (--set loader.seq_len=16)");
  CHECK(mm::load_run_config("", {caps, "model.connector.num_tokens=16", "loader.seq_len=17"}).loader.seq_len == 17);
  CHECK(mm::load_run_config("", {text, "model.connector.num_tokens=16", "loader.seq_len=8"}).loader.seq_len == 8);
}

TEST_CASE("paths a config reads are relative to the file that names them, --set values to the working directory",
          "[config]") {
  namespace fs = std::filesystem;
  const fs::path root = fs::absolute(fs::path(MM_BINARY_DIR) / "test_tmp" / "config_paths");
  fs::remove_all(root);
  fs::create_directories(root / "recipes");
  fs::create_directories(root / "world" / "stages");
  std::ofstream(root / "world" / "stages" / "sft.yaml")
      << "data:\n  sources:\n    - {name: chat, format: llava, path: ../sft/chat.jsonl, root: ../images}\n"
         "    - {name: abs, format: text, path: /data/text.jsonl}\n";
  std::ofstream(root / "world" / "common.yaml") << "tokenizer: {model_path: tokenizer/spm.model}\n"
                                                   "eval: {sets: [eval/a.jsonl, eval/b.jsonl]}\n";
  std::ofstream(root / "recipes" / "r.yaml") << "inherit: [../world/common.yaml, ../world/stages/sft.yaml]\n"
                                                "train: {init_from: previous}\n";
  const std::string recipe = (root / "recipes" / "r.yaml").string();

  mm::RunConfig c = mm::load_run_config(recipe);
  REQUIRE(c.data.sources.size() == 2);
  CHECK(c.data.sources[0].path == (root / "world" / "sft" / "chat.jsonl").string());
  CHECK(c.data.sources[0].root == (root / "world" / "images").string());
  CHECK(c.data.sources[1].path == "/data/text.jsonl");  // absolute: as written
  CHECK(c.tokenizer.model_path == (root / "world" / "tokenizer" / "spm.model").string());
  REQUIRE(c.eval.sets.size() == 2);
  CHECK(c.eval.sets[1] == (root / "world" / "eval" / "b.jsonl").string());
  CHECK(c.train.init_from == "previous");  // a word, not a path

  // --set: relative to the working directory; a file's init_from: relative to that file.
  mm::RunConfig s = mm::load_run_config(recipe, {"data.sources[chat].path=mine/chat.jsonl", "train.init_from=ckpt"});
  CHECK(s.data.sources[0].path == (fs::current_path() / "mine" / "chat.jsonl").string());
  CHECK(s.train.init_from == (fs::current_path() / "ckpt").string());
  std::ofstream(root / "recipes" / "init.yaml") << "inherit: [r.yaml]\ntrain: {init_from: ../runs/a/step_000010}\n";
  CHECK(mm::load_run_config((root / "recipes" / "init.yaml").string()).train.init_from ==
        (root / "runs" / "a" / "step_000010").string());

  // The dump holds absolute paths: it reads back the same from any folder (a run's recipe.yaml).
  std::ofstream(root / "dumped.yaml") << mm::dump_yaml(c);
  mm::RunConfig back = mm::load_run_config((root / "dumped.yaml").string());
  CHECK(mm::to_json(back) == mm::to_json(c));
}
