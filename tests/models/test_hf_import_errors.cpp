// model.llm.from: hf:DIR with bad folders (written here from the good ones of tests/data/golden/hf/): each
// one line naming the file and the tensor or key. And the recipe wiring: config.json's sizes replace a
// preset's, an explicit value that disagrees is one error naming both, hf:DIR relative to the recipe.
#include <torch/torch.h>
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/safetensors.h"
#include "models/hf_folder.h"
#include "models/llm/decoder.h"
#include "models/llm/hf_import.h"
#include "tests/support/error_of.h"
#include "tests/support/hf_golden_folder.h"
#include "tests/support/temp_dir.h"
#include "trainers/loop/recipe.h"

namespace fs = std::filesystem;
using json = nlohmann::json;
using namespace mm;
using namespace mm::test;  // error_of, hf_golden_folder.h

namespace {

// Loads everything `mmtrain train` would: config.json, the files, the weights into a decoder.
void load_all(const std::string& dir) {
  auto dec = llm::read_hf_decoder("hf:" + dir);
  llm::Decoder model(dec.llm);
  llm::load_hf_decoder(*model);
}

}  // namespace

TEST_CASE("Bad tensors of a pretrained folder are one line naming the folder or file and the tensor",
          "[hf_import][errors]") {
  mm::test::TempDir tmp("mm_hf_bad");
  const std::string dir = copy_hf_golden(tmp.path(), "qwen2_tied_fp32");
  const std::string file = dir + "/model.safetensors";
  const TensorMap good = safetensors::load(file).tensors;
  auto rewrite = [&](TensorMap m) {
    for (auto& [n, t] : m) t = t.clone();  // not views of the file being replaced
    safetensors::save(file, m);
  };
  SECTION("missing") {
    TensorMap m = good;
    m.erase("model.layers.1.self_attn.k_proj.bias");
    rewrite(m);
    check_one_line(error_of([&] { load_all(dir); }), {dir, "missing tensor 'model.layers.1.self_attn.k_proj.bias'"});
  }
  SECTION("unexpected") {
    TensorMap m = good;
    m["model.layers.0.self_attn.o_proj.bias"] = torch::zeros({32});
    rewrite(m);
    check_one_line(error_of([&] { load_all(dir); }), {dir, "unexpected tensor 'model.layers.0.self_attn.o_proj.bias'"});
  }
  SECTION("wrong shape") {
    TensorMap m = good;
    m["model.layers.0.mlp.up_proj.weight"] = torch::zeros({41, 32});
    rewrite(m);
    check_one_line(error_of([&] { load_all(dir); }), {dir, "'model.layers.0.mlp.up_proj.weight'", "[41, 32]"});
  }
  SECTION("integer dtype") {
    TensorMap m = good;
    m["model.norm.weight"] = torch::ones({32}, torch::kLong);
    rewrite(m);
    check_one_line(error_of([&] { load_all(dir); }), {file, "'model.norm.weight'", "I64"});
  }
}

TEST_CASE("Bad shards and indexes are one line naming the file and the tensor", "[hf_import][errors]") {
  mm::test::TempDir tmp("mm_hf_bad");
  const std::string dir = copy_hf_golden(tmp.path(), "llama3_bf16_sharded");
  const std::string index = dir + "/model.safetensors.index.json", shard2 = dir + "/model-00002-of-00002.safetensors";
  SECTION("truncated shard") {
    fs::resize_file(shard2, fs::file_size(shard2) - 100);
    check_one_line(error_of([&] { load_all(dir); }), {shard2, "tensor '"});
  }
  SECTION("a tensor the index lists is missing from its shard") {
    json j = read_json(index);
    j["weight_map"]["model.layers.9.mlp.up_proj.weight"] = "model-00001-of-00002.safetensors";
    write_json(index, j);
    check_one_line(error_of([&] { load_all(dir); }),
                   {"model-00001-of-00002.safetensors", "'model.layers.9.mlp.up_proj.weight'", "missing"});
  }
  SECTION("a shard holds a tensor the index does not list") {
    json j = read_json(index);
    j["weight_map"].erase("model.norm.weight");
    write_json(index, j);
    check_one_line(error_of([&] { load_all(dir); }), {"'model.norm.weight'", "not listed"});
  }
  SECTION("a shard the index names is absent") {
    fs::remove(shard2);
    check_one_line(error_of([&] { load_all(dir); }), {index, "model-00002-of-00002.safetensors", "missing"});
  }
  SECTION("no weights at all") {
    fs::remove(index);
    check_one_line(error_of([&] { load_all(dir); }), {dir, "no model.safetensors"});
  }
}

TEST_CASE("Bad config.json keys are one line naming config.json and the key", "[hf_import][errors]") {
  mm::test::TempDir tmp("mm_hf_bad");
  const std::string dir = copy_hf_golden(tmp.path(), "llama3_bf16_sharded");
  const std::string config = dir + "/config.json";
  const json good = read_json(config);
  auto with = [&](const std::function<void(json&)>& edit) {
    json j = good;
    edit(j);
    write_json(config, j);
    return error_of([&] { load_all(dir); });
  };
  check_one_line(with([](json& j) { j["model_type"] = "gpt2"; }), {config, "model_type 'gpt2'"});
  check_one_line(with([](json& j) { j["architectures"] = {"LlamaForSequenceClassification"}; }),
                 {config, "architectures", "LlamaForSequenceClassification"});
  check_one_line(with([](json& j) { j["rope_scaling"]["rope_type"] = "yarn"; }), {config, "rope_scaling", "'yarn'"});
  check_one_line(with([](json& j) { j["rope_scaling"].erase("low_freq_factor"); }),
                 {config, "rope_scaling.low_freq_factor"});
  check_one_line(with([](json& j) { j["hidden_act"] = "gelu"; }), {config, "hidden_act", "gelu"});
  check_one_line(with([](json& j) { j.erase("hidden_size"); }), {config, "'hidden_size'"});
  check_one_line(with([](json& j) { j["num_key_value_heads"] = 3; }), {config, "num_key_value_heads"});
  check_one_line(with([](json& j) { j["attention_bias"] = true; }), {config, "'attention_bias'"});
  check_one_line(with([](json& j) { j["vocab_size"] = "96"; }), {config, "'vocab_size'"});
  check_one_line(with([](json& j) {
                   j["model_type"] = "qwen2_moe";
                   j["architectures"] = {"Qwen2MoeForCausalLM"};
                   j["num_experts"] = 4;
                   j["num_experts_per_tok"] = 2;
                   j["moe_intermediate_size"] = 16;
                   j["norm_topk_prob"] = true;
                   j["shared_expert_intermediate_size"] = 64;
                 }),
                 {config, "shared_expert_intermediate_size 64", "not supported"});
  std::ofstream(config) << "{\"model_type\": ";
  check_one_line(error_of([&] { load_all(dir); }), {config, "not valid JSON"});
  CHECK(error_of([&] { load_all(dir + "/nowhere"); }).find("not a folder") != std::string::npos);
}

TEST_CASE("Mistral's sliding window shorter than the context cuts max_seq_len, said in a note", "[hf_import]") {
  mm::test::TempDir tmp("mm_hf_mistral");
  const std::string dir = copy_hf_golden(tmp.path(), "mistral_fp16");
  json j = read_json(dir + "/config.json");
  j["sliding_window"] = 16;
  write_json(dir + "/config.json", j);
  auto dec = llm::read_hf_decoder(dir);
  CHECK(dec.llm.max_seq_len == 16);
  REQUIRE(dec.notes.size() == 1);
  CHECK(dec.notes[0].find("sliding_window") != std::string::npos);
}

TEST_CASE("A recipe with model.llm.from takes the decoder from config.json", "[hf_import][recipe]") {
  mm::test::TempDir tmp("mm_hf_recipe");
  copy_hf_golden(tmp.path(), "qwen2_tied_fp32");
  const std::string preset = std::string(MM_SOURCE_DIR) + "/configs/models/debug.yaml";
  SECTION("the preset's sizes are replaced, hf:DIR is relative to the recipe") {
    const std::string recipe =
        tmp.write("run.yaml", "inherit: [" + preset + "]\nmodel:\n  llm:\n    from: hf:qwen2_tied_fp32\n");
    auto r = train::load_recipe(recipe);
    const LLMConfig& c = r.stages[0].model.llm;
    CHECK(c.from == "hf:" + (tmp.path() / "qwen2_tied_fp32").lexically_normal().string());
    CHECK(c.dim == 32);
    CHECK(c.vocab_size == 96);
    CHECK(c.attention_bias);
    CHECK(c.tie_embeddings);
    CHECK(c.norm_eps == 1e-6);
  }
  SECTION("an explicit value that agrees is kept, one that disagrees is one error naming both") {
    const std::string ok = tmp.write("ok.yaml", "inherit: [" + preset +
                                                    "]\nmodel:\n  llm:\n    from: hf:qwen2_tied_fp32\n    dim: 32\n"
                                                    "    max_seq_len: 24\n");
    CHECK(train::load_recipe(ok).stages[0].model.llm.max_seq_len == 24);
    const std::string bad = tmp.write(
        "bad.yaml", "inherit: [" + preset + "]\nmodel:\n  llm:\n    from: hf:qwen2_tied_fp32\n    dim: 512\n");
    check_one_line(error_of([&] { train::load_recipe(bad); }),
                   {"model.llm.dim: 512 in " + bad + ":5", "hidden_size 32 in",
                    (tmp.path() / "qwen2_tied_fp32" / "config.json").string()});
    check_one_line(error_of([&] { train::load_recipe(ok, {"model.llm.max_seq_len=100"}); }),
                   {"model.llm.max_seq_len: 100", "exceeds 64"});
    check_one_line(error_of([&] { train::load_recipe(ok, {"model.llm.attention_bias=false"}); }),
                   {"model.llm.attention_bias: false in --set", "true"});
  }
}
