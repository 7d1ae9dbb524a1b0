// model.vision.from: hf:DIR with bad folders (written here from the good ones of tests/data/golden/hf/): each one
// line naming the file and the tensor or key. The recipe wiring: config.json's values replace a preset's, an
// explicit value that disagrees is one error naming both, the tile must cut into whole patches. And a fresh
// stage through run_recipe loads the folder's weights.
#include <torch/torch.h>
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/safetensors.h"
#include "dist/process_group.h"
#include "models/hf_folder.h"
#include "models/vision/hf_vision_import.h"
#include "models/vision/vit.h"
#include "support/text_run.h"
#include "tests/support/error_of.h"
#include "tests/support/hf_golden_folder.h"
#include "tests/support/temp_dir.h"
#include "trainers/loop/recipe.h"
#include "trainers/loop/run_recipe.h"

namespace fs = std::filesystem;
using json = nlohmann::json;
using namespace mm;
using namespace mm::test;  // error_of, hf_golden_folder.h

namespace {

// Loads everything `mmtrain train` would: config.json, the files, the weights into a ViT.
void load_all(const std::string& dir, int64_t feature_layer = -1) {
  VisionConfig c = vision::read_hf_vision("hf:" + dir).vision;
  c.feature_layer = feature_layer;
  vision::VisionTransformer vit(c);
  vision::load_hf_vision(*vit);
}

}  // namespace

TEST_CASE("A folder that is not CLIP or SigLIP, or a bad key, is one line naming config.json and the key",
          "[hf_import_vision][errors]") {
  mm::test::TempDir tmp("mm_hf_vision_bad");
  const std::string dir = copy_hf_golden(tmp.path(), "siglip_bf16");
  const std::string config = dir + "/config.json";
  const json good = read_json(config);
  auto with = [&](const std::function<void(json&)>& edit) {
    json j = good;
    edit(j);
    write_json(config, j);
    return error_of([&] { load_all(dir); });
  };
  check_one_line(with([](json& j) { j["model_type"] = "llava"; }),
                 {config, "model_type 'llava' is not supported", "CLIP or SigLIP"});
  check_one_line(with([](json& j) {
                   j["model_type"] = "llama";
                   j["architectures"] = {"LlamaForCausalLM"};
                 }),
                 {config, "model_type 'llama'"});
  check_one_line(with([](json& j) { j["architectures"] = {"SiglipForImageClassification"}; }),
                 {config, "architectures", "SiglipForImageClassification", "SiglipModel"});
  check_one_line(with([](json& j) { j["vision_config"]["hidden_act"] = "relu"; }),
                 {config, "'vision_config.hidden_act' \"relu\" is not supported"});
  check_one_line(with([](json& j) { j["vision_config"]["num_channels"] = 1; }),
                 {config, "'vision_config.num_channels' is 1"});
  check_one_line(with([](json& j) { j["vision_config"]["hidden_size"] = "32"; }),
                 {config, "'vision_config.hidden_size' must be a positive integer"});
  check_one_line(with([](json& j) { j["vision_config"]["num_attention_heads"] = 5; }),
                 {config, "'vision_config.hidden_size' 32 is not a multiple of 'vision_config.num_attention_heads' 5"});
  check_one_line(with([](json& j) { j.erase("vision_config"); }), {config, "'vision_config'"});
  std::ofstream(config) << "{\"model_type\": ";
  check_one_line(error_of([&] { load_all(dir); }), {config, "not valid JSON"});
  CHECK(error_of([&] { load_all(dir + "/nowhere"); }).find("not a folder") != std::string::npos);
}

TEST_CASE("Bad tensors of a CLIP or SigLIP folder are one line naming the folder or file and the tensor",
          "[hf_import_vision][errors]") {
  mm::test::TempDir tmp("mm_hf_vision_bad");
  const std::string dir = copy_hf_golden(tmp.path(), "clip_vision_gelu_fp16");
  const std::string shard1 = dir + "/model-00001-of-00002.safetensors";
  const std::string index = dir + "/model.safetensors.index.json";
  // (a CLIPVisionModel folder: its two shards' tensors rewritten as one file)
  TensorMap all;
  for (const auto& f : {shard1, dir + "/model-00002-of-00002.safetensors"})
    for (auto& [n, t] : safetensors::load(f).tensors) all[n] = t.clone();
  for (const auto& f : fs::directory_iterator(dir))
    if (f.path().filename() != "config.json") fs::remove(f.path());
  const std::string file = dir + "/model.safetensors";
  auto rewrite = [&](const std::function<void(TensorMap&)>& edit) {
    TensorMap m = all;
    edit(m);
    safetensors::save(file, m);
  };
  SECTION("missing") {
    rewrite([](TensorMap& m) { m.erase("vision_model.encoder.layers.1.layer_norm1.bias"); });
    check_one_line(error_of([&] { load_all(dir); }),
                   {dir, "missing tensor 'vision_model.encoder.layers.1.layer_norm1.bias'"});
  }
  SECTION("unexpected inside vision_model") {
    rewrite([](TensorMap& m) { m["vision_model.embeddings.patch_embedding.bias"] = torch::zeros({32}); });
    check_one_line(error_of([&] { load_all(dir); }),
                   {dir, "unexpected tensor 'vision_model.embeddings.patch_embedding.bias'"});
  }
  SECTION("outside vision_model in a vision-only architecture") {
    rewrite([](TensorMap& m) { m["text_projection.weight"] = torch::zeros({16, 16}); });
    check_one_line(error_of([&] { load_all(dir); }),
                   {file, "unexpected tensor 'text_projection.weight'", "CLIPVisionModel holds only vision_model.*"});
  }
  SECTION("wrong shape") {
    rewrite([](TensorMap& m) { m["vision_model.encoder.layers.0.mlp.fc1.weight"] = torch::zeros({65, 32}); });
    check_one_line(error_of([&] { load_all(dir); }),
                   {dir, "'vision_model.encoder.layers.0.mlp.fc1.weight'", "[65, 32]"});
  }
  SECTION("an integer tensor other than position_ids") {
    rewrite([](TensorMap& m) { m["vision_model.post_layernorm.weight"] = torch::ones({32}, torch::kLong); });
    check_one_line(error_of([&] { load_all(dir); }), {file, "'vision_model.post_layernorm.weight'", "I64"});
  }
  SECTION("a feature layer past the blocks an mmtrain export wrote") {
    rewrite([](TensorMap& m) {
      for (auto it = m.begin(); it != m.end();)
        it = it->first.rfind("vision_model.encoder.layers.2.", 0) == 0 ? m.erase(it) : std::next(it);
    });
    json j = read_json(dir + "/config.json");
    j["num_hidden_layers"] = 2;
    j["mm_layers"] = 3;
    write_json(dir + "/config.json", j);
    load_all(dir, -2);  // blocks 0 and 1: what the export wrote
    check_one_line(error_of([&] { load_all(dir, -1); }),
                   {dir + "/config.json", "model.vision.feature_layer -1 needs 3 blocks", "holds 2"});
  }
}

TEST_CASE("A recipe with model.vision.from takes the image encoder from config.json", "[hf_import_vision][recipe]") {
  mm::test::TempDir tmp("mm_hf_vision_recipe");
  copy_hf_golden(tmp.path(), "siglip_bf16");
  const std::string preset = std::string(MM_SOURCE_DIR) + "/configs/models/debug.yaml";
  const std::string head =
      "inherit: [" + preset + "]\nimage: {tile_size: 48}\nmodel:\n  vision:\n    from: hf:siglip_bf16\n";
  SECTION("the preset's values are replaced, hf:DIR is relative to the recipe, the user's feature layer kept") {
    const std::string recipe = tmp.write("run.yaml", head + "    feature_layer: -2\n");
    auto r = train::load_recipe(recipe);
    const VisionConfig& c = r.stages[0].model.vision;
    CHECK(c.from == "hf:" + (tmp.path() / "siglip_bf16").lexically_normal().string());
    CHECK(c.width == 32);
    CHECK(c.image_size == 32);
    CHECK(c.act == "gelu_tanh");
    CHECK(c.patch_bias);
    CHECK(!c.class_token);
    CHECK(!c.pre_norm);
    CHECK(c.norm_eps == 1e-6);
    CHECK(c.feature_layer == -2);
  }
  SECTION("an explicit value that agrees is kept, one that disagrees is one error naming both") {
    const std::string ok = tmp.write("ok.yaml", head + "    width: 32\n    act: gelu_tanh\n");
    CHECK(train::load_recipe(ok).stages[0].model.vision.width == 32);
    const std::string bad = tmp.write("bad.yaml", head + "    width: 64\n");
    const std::string config = (tmp.path() / "siglip_bf16" / "config.json").string();
    check_one_line(error_of([&] { train::load_recipe(bad); }),
                   {"model.vision.width: 64 in " + bad + ":6", "vision_config.hidden_size 32 in", config});
    check_one_line(error_of([&] { train::load_recipe(ok, {"model.vision.class_token=true"}); }),
                   {"model.vision.class_token: true in --set", "the class token of model_type siglip: false", config});
    check_one_line(error_of([&] { train::load_recipe(ok, {"model.vision.act=quick_gelu"}); }),
                   {"model.vision.act: quick_gelu", "hidden_act gelu_pytorch_tanh, i.e. gelu_tanh"});
    check_one_line(error_of([&] { train::load_recipe(ok, {"image.tile_size=44"}); }),
                   {"image.tile_size: 44", "not a multiple of patch_size 8", config, "40 or 48"});
  }
}

TEST_CASE("A fresh stage starts its image encoder from the pretrained folder", "[hf_import_vision][recipe_runner]") {
  mm::test::TextRun w("mm_hf_vision_run");
  copy_hf_golden(w.dir, "clip_fp32");
  std::string yaml = w.model_yaml("run");
  const std::string vision_line = "  vision: {image_size: 32, width: 64, layers: 1, mlp_dim: 128}\n";
  REQUIRE(yaml.find(vision_line) != std::string::npos);
  yaml.replace(yaml.find(vision_line), vision_line.size(), "  vision: {from: hf:clip_fp32, feature_layer: -2}\n");
  yaml += "train: {device: cpu, threads: 1, steps: 2, params: [{select: vision, trainable: false}]}\n";
  const fs::path file = w.dir / "run.yaml";
  std::ofstream(file) << yaml;
  const auto recipe = train::load_recipe(file.string());
  CHECK(recipe.stages[0].model.vision.class_token);
  CHECK(recipe.stages[0].model.vision.layers == 3);
  train::RecipeOptions o;
  o.progress = false;
  const auto result = train::run_recipe(recipe, dist::Group(), o);
  REQUIRE(result.completed);
  const auto ck = safetensors::load(result.stages[0].final_checkpoint + "/model.safetensors").tensors;
  auto v = vision::read_hf_vision((w.dir / "clip_fp32").string());
  v.vision.feature_layer = -2;
  const TensorMap folder = vision::read_hf_vision_weights(v, v.vision, hf::list_weights(v.dir), torch::kFloat);
  int64_t vision_tensors = 0;
  for (const auto& [name, t] : ck)
    if (name.rfind("vision.", 0) == 0) ++vision_tensors;
  CHECK(vision_tensors == static_cast<int64_t>(folder.size()));
  for (const auto& [name, t] : folder) {
    INFO(name);
    REQUIRE(ck.count(name));
    CHECK(torch::equal(ck.at(name), t));
  }
}
