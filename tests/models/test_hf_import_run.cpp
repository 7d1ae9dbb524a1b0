// A training stage with model.llm.from: hf:DIR, end to end through run_recipe: the folder (written
// here by the export adapter from a random decoder with q/k/v biases) gives the sizes and the weights;
// with the decoder frozen but its final norm, the stage's checkpoint holds the folder's other tensors bit for bit.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include "core/safetensors.h"
#include "dist/process_group.h"
#include "models/llm/decoder.h"
#include "models/llm/hf_llama_adapter.h"
#include "support/text_run.h"
#include "trainers/loop/run_recipe.h"

namespace fs = std::filesystem;
using namespace mm;

TEST_CASE("A fresh stage starts its decoder from the pretrained folder", "[hf_import][recipe_runner]") {
  mm::test::TextRun w("mm_hf_run");
  LLMConfig c;
  c.vocab_size = 640;
  c.dim = 32;
  c.layers = 1;
  c.heads = 2;
  c.kv_heads = 1;
  c.ffn_hidden = 64;
  c.head_dim = 24;  // != dim / heads
  c.tie_embeddings = false;
  c.rope_scaling.type = "llama3";
  c.rope_scaling.original_max_position_embeddings = 32;
  llm::Decoder src(c);
  {
    torch::NoGradGuard no_grad;
    for (auto& p : src->parameters()) p.normal_(0.0, 0.1);
  }
  TensorMap ours;
  for (const auto& p : src->named_parameters()) ours["llm." + p.key()] = p.value().detach();
  const TensorMap hf_state = llm::hf_llm_state(ours, c);
  fs::create_directories(w.dir / "pre");
  std::ofstream(w.dir / "pre" / "config.json") << llm::hf_llm_config(c, {}, "float32").dump(2);
  safetensors::save((w.dir / "pre" / "model.safetensors").string(), hf_state);

  std::string yaml = w.model_yaml("run");
  const std::string llm_line = "  llm: {vocab_size: 640, dim: 32, layers: 1, heads: 2, kv_heads: 1, ffn_hidden: 64}\n";
  REQUIRE(yaml.find(llm_line) != std::string::npos);
  yaml.replace(yaml.find(llm_line), llm_line.size(), "  llm: {from: hf:pre, dim: 32}\n");
  yaml +=
      "train: {device: cpu, threads: 1, steps: 2, params: [{select: llm, trainable: false}, {select: llm.norm.weight, "
      "trainable: true}]}\n";
  const fs::path file = w.dir / "run.yaml";
  std::ofstream(file) << yaml;
  const auto recipe = train::load_recipe(file.string());
  CHECK(recipe.stages[0].model.llm.head_dim == 24);
  CHECK(recipe.stages[0].model.llm.rope_scaling.type == "llama3");
  train::RecipeOptions o;
  o.progress = false;
  const auto result = train::run_recipe(recipe, dist::Group(), o);
  REQUIRE(result.completed);
  const auto ck = safetensors::load(result.stages[0].final_checkpoint + "/model.safetensors").tensors;
  int64_t compared = 0;
  for (const auto& [name, t] : ours) {
    INFO(name);
    if (name == "llm.norm.weight") {  // the one decoder tensor that trained (text-only data: something must)
      CHECK(!torch::equal(ck.at(name), t));
      continue;
    }
    REQUIRE(ck.count(name));
    CHECK(torch::equal(ck.at(name), t));
    ++compared;
  }
  CHECK(compared == static_cast<int64_t>(ours.size()) - 1);
}
