// model.llm.from: hf:DIR with the folder's own tokenizer (issue 25), end to end through run_recipe: a
// Llama-3-shaped folder (byte-level BPE tokenizer.json, tokenizer_config.json with Meta's llama3 template)
// whose vocabulary grows by mmtrain's added tokens; two stages (the hand-off checks the carried
// tokenizer), the grown rows at the mean, resume, export, and the exported folder reloading with its own
// tokenizer.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/io.h"
#include "core/safetensors.h"
#include "dist/process_group.h"
#include "models/checkpoint/checkpoint_tokenizer.h"
#include "models/llm/decoder.h"
#include "models/llm/hf_import.h"
#include "models/llm/hf_llama_adapter.h"
#include "support/text_run.h"
#include "tokenizer/sample_encoder.h"
#include "trainers/export/hf_export.h"
#include "trainers/loop/run_recipe.h"

namespace fs = std::filesystem;
using namespace mm;
using nlohmann::json;

namespace {

struct Folder {
  LLMConfig c;
  TensorMap ours;  // the folder's decoder in our names
};

// A Llama-3-shaped decoder folder: 600 rows for a 564-token tokenizer.json (+ mmtrain's 68 added = 632).
Folder write_folder(const fs::path& dir) {
  Folder f;
  LLMConfig& c = f.c;
  c.vocab_size = 600;
  c.dim = 32;
  c.layers = 1;
  c.heads = 2;
  c.kv_heads = 1;
  c.ffn_hidden = 64;
  c.tie_embeddings = false;
  llm::Decoder src(c);
  {
    torch::NoGradGuard no_grad;
    for (auto& p : src->parameters()) p.normal_(0.0, 0.1);
  }
  for (const auto& p : src->named_parameters()) f.ours["llm." + p.key()] = p.value().detach().clone();
  fs::create_directories(dir);
  std::ofstream(dir / "config.json") << llm::hf_llm_config(c, {}, "float32").dump(2);
  safetensors::save((dir / "model.safetensors").string(), llm::hf_llm_state(f.ours, c));
  const std::string golden = std::string(MM_TEST_DATA_DIR) + "/golden/";
  io::write_file_atomic((dir / "tokenizer.json").string(), io::read_file(golden + "bpe/llama3.tokenizer.json"));
  const json templates = json::parse(io::read_file(golden + "chat/templates.json"));
  const json tc = {{"bos_token", "<|begin_of_text|>"},
                   {"eos_token", "<|eot_id|>"},
                   {"chat_template", templates["templates"]["llama3"]}};
  std::ofstream(dir / "tokenizer_config.json") << tc.dump(2);
  return f;
}

std::string recipe_yaml(const test::TextRun& w, const std::string& run, const std::string& from, int steps) {
  std::string yaml = w.model_yaml(run);
  const std::string tok_line = "tokenizer: {model_path: " + w.tokenizer + "}\n";
  REQUIRE(yaml.find(tok_line) != std::string::npos);
  yaml.erase(yaml.find(tok_line), tok_line.size());  // the folder's tokenizer
  const std::string llm_line = "  llm: {vocab_size: 640, dim: 32, layers: 1, heads: 2, kv_heads: 1, ffn_hidden: 64}\n";
  yaml.replace(yaml.find(llm_line), llm_line.size(), "  llm: {from: hf:" + from + "}\n");
  const std::string data_line = "data: {sources: [{name: text, format: text, path: " + w.data + "}]}\n";
  REQUIRE(yaml.find(data_line) != std::string::npos);
  yaml.replace(yaml.find(data_line), data_line.size(),
               "data: {sources: [{name: sft, format: llava, path: sft.jsonl}]}\n");
  // The decoder frozen but its final norm: the grown rows stay as loaded.
  yaml += "train: {device: cpu, threads: 1, steps: " + std::to_string(steps) +
          ", params: [{select: llm, trainable: false}, {select: llm.norm.weight, trainable: true}]}\n"
          "stages:\n  - {stage: a}\n  - {stage: b, train: {init_from: previous}}\n";
  return yaml;
}

}  // namespace

TEST_CASE("A recipe from a Llama-3-shaped folder trains with its own tokenizer, grown rows at the mean",
          "[hf_import][tokenizer][recipe_runner]") {
  test::TextRun w("mm_hf_tok");
  const Folder folder = write_folder(w.dir / "pre");
  {
    std::ofstream f(w.dir / "sft.jsonl");
    for (int i = 0; i < 40; ++i)
      f << "{\"id\": \"" << i << "\", \"conversations\": [{\"from\": \"human\", \"value\": \"What is " << i
        << " plus 5?\"}, {\"from\": \"gpt\", \"value\": \"It is " << i + 5 << ".\"}]}\n";
  }
  const fs::path file = w.dir / "run.yaml";
  std::ofstream(file) << recipe_yaml(w, "run", "pre", 2);
  const auto recipe = train::load_recipe(file.string());
  const RunConfig& rc = recipe.stages[0];
  CHECK(rc.tokenizer.model_path == (w.dir / "pre" / "tokenizer.json").string());
  CHECK(rc.tokenizer.chat_template == "llama3");  // recognised in tokenizer_config.json
  CHECK(rc.model.llm.vocab_size == 564 + 68);     // the folder's 600 rows grown for the added tokens
  CHECK(recipe.stages[1].model.llm.vocab_size == 632);

  // Assistant-only loss with the run's tokenizer and template.
  const tok::Tokenizer tok = tok::Tokenizer::load(rc.tokenizer);
  struct S {
    std::vector<tok::Turn> turns = {{tok::Role::User, "What is 1 plus 5?"}, {tok::Role::Assistant, "It is 6."}};
    std::vector<int> images;
  } s;
  CHECK(tok::render_with_loss(tok, tok::SampleEncoder(tok, 4).encode(s, {})) ==
        "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nWhat is 1 plus 5?<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n[[It is 6.<|eot_id|>]]");

  train::RecipeOptions o;
  o.progress = false;
  const auto result = train::run_recipe(recipe, dist::Group(), o);
  REQUIRE(result.completed);
  const std::string ckpt = result.stages[1].final_checkpoint;
  const auto ck = safetensors::load(ckpt + "/model.safetensors").tensors;
  for (const char* name : {"llm.embed_tokens.weight", "llm.lm_head.weight"}) {
    INFO(name);
    const torch::Tensor got = ck.at(name);
    const torch::Tensor src = folder.ours.at(name);
    REQUIRE(got.size(0) == 632);
    CHECK(torch::equal(got.slice(0, 0, 600), src));
    const torch::Tensor mean = src.to(torch::kFloat64).mean(0).to(torch::kFloat32);
    for (int64_t r = 600; r < 632; ++r) CHECK(torch::allclose(got[r], mean, 0, 1e-7));
  }
  // The checkpoint carries the grown tokenizer; the next stage's hand-off accepted it.
  const tok::Tokenizer carried = load_checkpoint_tokenizer(rc, ckpt);
  CHECK(carried.vocab_size() == 632);
  CHECK(carried.model_bytes() == tok.model_bytes());
  CHECK(check_carried_tokenizer(ckpt, tok, "--resume"));

  // Resume: a longer run continues from the checkpoints with the same vocabulary.
  std::ofstream(file) << recipe_yaml(w, "run", "pre", 3);
  train::RecipeOptions r = o;
  r.resume = "auto";
  const auto resumed = train::run_recipe(train::load_recipe(file.string()), dist::Group(), r);
  REQUIRE(resumed.completed);
  CHECK(safetensors::load(resumed.stages.back().final_checkpoint + "/model.safetensors")
            .tensors.at("llm.embed_tokens.weight")
            .size(0) == 632);

  // Export, then the exported decoder folder as model.llm.from: its own tokenizer, the same ids.
  const fs::path out = w.dir / "export";
  train::export_checkpoint(resumed.stages.back().final_checkpoint, out.string());
  for (const char* f : {"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"})
    CHECK(fs::is_regular_file(out / "llm" / f));
  CHECK(json::parse(io::read_file((out / "llm" / "config.json").string()))["vocab_size"] == 632);
  std::ofstream(file) << recipe_yaml(w, "again", (out / "llm").string(), 1);
  const auto again = train::load_recipe(file.string());
  CHECK(again.stages[0].model.llm.vocab_size == 632);
  CHECK(again.stages[0].tokenizer.model_path == (out / "llm" / "tokenizer.json").string());
  CHECK(again.stages[0].tokenizer.chat_template == "llama3");
  const tok::Tokenizer back = tok::Tokenizer::load(again.stages[0].tokenizer);
  CHECK(back.added_tokens().empty());  // they are in the exported file
  CHECK(back.vocab_size() == tok.vocab_size());
  const std::string text = "<|begin_of_text|>What<image><img_0><row_1><col_1> is 3 plus 5?<|eot_id|>\n  x<n>";
  CHECK(back.encode(text) == tok.encode(text));
  CHECK(back.bos_id() == tok.bos_id());
  CHECK(back.eos_id() == tok.eos_id());
  // The exported weights load into a decoder of the grown size.
  LLMConfig c = again.stages[0].model.llm;
  llm::Decoder dec(c);
  CHECK_NOTHROW(llm::load_hf_decoder(*dec));
}

TEST_CASE("A tokenizer with more tokens than the folder's rows is one error", "[hf_import][tokenizer]") {
  test::TextRun w("mm_hf_tok_small");
  write_folder(w.dir / "pre");
  nlohmann::json c = json::parse(io::read_file((w.dir / "pre" / "config.json").string()));
  c["vocab_size"] = 500;  // < the tokenizer's 564
  std::ofstream(w.dir / "pre" / "config.json") << c.dump(2);
  const fs::path file = w.dir / "run.yaml";
  std::ofstream(file) << recipe_yaml(w, "run", "pre", 1);
  CHECK_THROWS_WITH(train::load_recipe(file.string()),
                    Catch::Contains("564 tokens, more than the 500 rows") && Catch::Contains("config.json"));
  // A folder without a tokenizer file: nothing to grow, and no tokenizer until the user names one.
  fs::remove(w.dir / "pre" / "tokenizer.json");
  const auto r = train::load_recipe(file.string());
  CHECK(r.stages[0].tokenizer.model_path.empty());
  CHECK(r.stages[0].model.llm.vocab_size == 500);
}
