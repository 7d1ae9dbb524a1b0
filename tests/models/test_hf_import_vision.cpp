// model.vision.from: hf:DIR against tiny CLIP and SigLIP folders written by scripts/golden/gen_hf_folders.py
// exactly as transformers names and shapes them (tests/data/golden/hf/): image features against the
// independent python implementation (check_hf_export.clip_features / siglip_features, hf_vision_ref.py) at
// the folder's resolution and at an interpolated tile size, import -> export -> import bitwise.
// Bad folders and the recipe wiring: test_hf_import_vision_errors.cpp.
#include <torch/torch.h>
#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/config/config.h"
#include "core/safetensors.h"
#include "models/hf_folder.h"
#include "models/model_size.h"
#include "models/vision/hf_siglip_adapter.h"
#include "models/vision/hf_vision_import.h"
#include "models/vision/vit.h"
#include "tests/support/temp_dir.h"

namespace fs = std::filesystem;
using namespace mm;

namespace {

std::string hf_dir(const std::string& name) { return std::string(MM_SOURCE_DIR) + "/tests/data/golden/hf/" + name; }

const std::vector<std::string> kFolders = {"clip_fp32", "clip_vision_gelu_fp16", "siglip_bf16"};

double rel_err(const torch::Tensor& a, const torch::Tensor& b) {
  return (a - b).abs().max().item<double>() / std::max(b.abs().max().item<double>(), 1e-30);
}

// A ViT built from the folder's config.json with `feature_layer`, its weights loaded.
vision::VisionTransformer loaded_vit(const std::string& name, int64_t feature_layer) {
  VisionConfig c = vision::read_hf_vision("hf:" + hf_dir(name)).vision;
  c.feature_layer = feature_layer;
  vision::VisionTransformer vit(c);
  vit->eval();
  vision::load_hf_vision(*vit);
  return vit;
}

}  // namespace

TEST_CASE("config.json of CLIP and SigLIP folders becomes the VisionConfig it describes", "[hf_import_vision]") {
  auto clip = vision::read_hf_vision("hf:" + hf_dir("clip_fp32"));
  CHECK(clip.architecture == "CLIPModel");
  CHECK(clip.family == "CLIP");
  CHECK(clip.key_prefix == "vision_config.");
  CHECK(clip.whole_model);
  CHECK(clip.vision.from == "hf:" + hf_dir("clip_fp32"));
  CHECK(clip.vision.width == 32);
  CHECK(clip.vision.layers == 3);
  CHECK(clip.vision.heads == 4);
  CHECK(clip.vision.mlp_dim == 64);
  CHECK(clip.vision.image_size == 32);
  CHECK(clip.vision.patch_size == 8);
  CHECK(clip.vision.act == "quick_gelu");
  CHECK(clip.vision.norm_eps == 1e-5);
  CHECK(clip.vision.class_token);
  CHECK(clip.vision.pre_norm);
  CHECK(!clip.vision.patch_bias);
  CHECK(clip.notes.empty());

  auto gelu = vision::read_hf_vision(hf_dir("clip_vision_gelu_fp16"));
  CHECK(gelu.architecture == "CLIPVisionModel");
  CHECK(gelu.key_prefix.empty());
  CHECK(!gelu.whole_model);
  CHECK(gelu.vision.act == "gelu");

  // SigLIP as google/siglip-so400m ships it: hidden_act and layer_norm_eps from SiglipVisionConfig's
  // defaults, image_size 36 not a multiple of patch_size 8.
  auto siglip = vision::read_hf_vision(hf_dir("siglip_bf16"));
  CHECK(siglip.architecture == "SiglipModel");
  CHECK(siglip.family == "SigLIP");
  CHECK(siglip.vision.act == "gelu_tanh");
  CHECK(siglip.hidden_act == "gelu_pytorch_tanh");
  CHECK(siglip.vision.norm_eps == 1e-6);
  CHECK(!siglip.vision.class_token);
  CHECK(!siglip.vision.pre_norm);
  CHECK(siglip.vision.patch_bias);
  CHECK(siglip.vision.mlp_dim == 48);
  CHECK(siglip.folder_image_size == 36);
  CHECK(siglip.vision.image_size == 32);
  REQUIRE(siglip.notes.size() == 2);
  CHECK(siglip.notes[0].find("hidden_act gelu_pytorch_tanh") != std::string::npos);
  CHECK(siglip.notes[0].find("layer_norm_eps 1e-06") != std::string::npos);
  CHECK(siglip.notes[1].find("image_size 36 is not a multiple of patch_size 8: read as 32") != std::string::npos);

  // What `mmtrain info` prints: the family, the feature layer, the interpolation, what is read past.
  VisionConfig used = siglip.vision;
  used.feature_layer = -2;
  const auto files = hf::list_weights(siglip.dir);
  CHECK(files.dtypes == std::set<std::string>{"BF16"});
  const auto lines = vision::describe_hf_vision(siglip, files, used, 48);
  std::string all;
  for (const auto& l : lines) all += l + "\n";
  INFO(all);
  CHECK(all.find("architecture SiglipModel, model_type siglip (SigLIP; sizes from vision_config)") !=
        std::string::npos);
  CHECK(all.find("hidden_states[-2] (the output of block 2 of 3)") != std::string::npos);
  CHECK(all.find("tiles of 48 px: the 4x4 position table interpolated (bicubic) to 6x6") != std::string::npos);
  CHECK(all.find("parameters " + std::to_string(vision_param_count(used))) != std::string::npos);
  CHECK(all.find("read past: vision_model.head.* (SigLIP's attention-pooling head") != std::string::npos);
  CHECK(all.find("read past: vision_model.encoder.layers.2..2 (past the feature layer -2): 16 tensor(s)") !=
        std::string::npos);
  CHECK(all.find("read past: outside vision_model.* (the text tower") != std::string::npos);
  const auto clip_lines = vision::describe_hf_vision(clip, hf::list_weights(clip.dir), clip.vision, 32);
  CHECK(clip_lines[3].find("tiles of 32 px use the 4x4 position table as it is") != std::string::npos);
  CHECK(clip_lines.size() == 7);  // + the text tower and the position_ids buffers read past
}

TEST_CASE("A pretrained CLIP or SigLIP folder gives the features of the independent python implementation",
          "[hf_import_vision][golden]") {
  for (const auto& name : kFolders) {
    INFO(name);
    auto golden = safetensors::load(hf_dir(name) + ".golden.safetensors").tensors;
    torch::NoGradGuard no_grad;
    for (const int64_t layer : {-1, -2}) {
      INFO("feature_layer " << layer);
      auto vit = loaded_vit(name, layer);
      int64_t numel = 0;  // the analytic count covers the patch bias and the unbuilt blocks
      for (const auto& p : vit->parameters()) numel += p.numel();
      CHECK(numel == vision_param_count(vit->config()));
      const auto& want = golden.at(layer == -1 ? "features_m1" : "features_m2");
      auto got = vit->forward(golden.at("pixels"));
      REQUIRE(got.sizes() == want.sizes());
      const double e = rel_err(got, want);
      INFO("relative error " << e);
      CHECK(e < 1e-5);
    }
    // A tile of 48 px: the 4x4 position table interpolated to 6x6, as transformers' interpolate_pos_encoding.
    auto vit = loaded_vit(name, -2);
    auto tile = vit->forward(golden.at("pixels_tile"));
    REQUIRE(tile.sizes() == golden.at("features_tile_m2").sizes());
    const double e = rel_err(tile, golden.at("features_tile_m2"));
    INFO("relative error at 48 px " << e);
    CHECK(e < 1e-5);
    // The check can fail: another activation, or no patch bias, moves the features.
    if (name == "siglip_bf16") {
      VisionConfig erf = vit->config();
      erf.act = "gelu";  // SigLIP's tanh GELU replaced by the erf one
      vision::VisionTransformer other(erf);
      other->eval();
      auto theirs = other->named_parameters();
      for (const auto& p : vit->named_parameters()) theirs[p.key()].copy_(p.value());
      CHECK(rel_err(other->forward(golden.at("pixels")), golden.at("features_m2")) > 1e-5);  // 1.2e-4
      vit->embeddings->patch_embedding->bias.zero_();
      CHECK(rel_err(vit->forward(golden.at("pixels")), golden.at("features_m2")) > 1e-3);
    }
  }
}

TEST_CASE("CLIP and SigLIP folder import -> export -> import is bitwise", "[hf_import_vision]") {
  for (const auto& name : kFolders) {
    INFO(name);
    auto v = vision::read_hf_vision(hf_dir(name));
    v.vision.feature_layer = -2;  // two of the three blocks: the export writes only those
    auto files = hf::list_weights(v.dir);
    const TensorMap ours = vision::read_hf_vision_weights(v, v.vision, files, torch::kFloat);
    for (const auto& [n, t] : ours) CHECK(n.rfind("vision.", 0) == 0);
    const TensorMap exported = vision::hf_vision_state(ours, v.vision);
    // export: the folder's own tensors (bf16/fp16 -> fp32 is exact), under the same names; post_layernorm is
    // written as weight 1, bias 0 (never applied to the features)
    int64_t same = 0;
    for (const auto& [n, t] : exported) {
      INFO(n);
      REQUIRE(files.info.count(n));
      if (n.rfind("vision_model.post_layernorm.", 0) == 0) continue;
      auto disk = hf::read_tensor(files, n, safetensors::scalar_type(files.info.at(n).dtype));
      CHECK(torch::equal(t.to(disk.scalar_type()), disk));
      ++same;
    }
    CHECK(same == static_cast<int64_t>(exported.size()) - 2);
    const nlohmann::json cfg_json = vision::hf_vision_config(v.vision, "float32");
    CHECK(cfg_json["architectures"][0] == (v.family == "SigLIP" ? "SiglipVisionModel" : "CLIPVisionModel"));
    CHECK(cfg_json["num_hidden_layers"] == 2);
    CHECK(cfg_json["hidden_act"] == v.hidden_act);
    mm::test::TempDir tmp("mm_hf_vision_roundtrip");
    tmp.write("config.json", cfg_json.dump(2));
    safetensors::save(tmp / "model.safetensors", exported);
    auto again = vision::read_hf_vision(tmp.path().string());
    CHECK(again.folder_layers == 2);
    again.vision.from = v.vision.from;
    again.vision.feature_layer = -2;
    CHECK(cfg::to_ordered_json(again.vision) == cfg::to_ordered_json(v.vision));
    const TensorMap ours2 =
        vision::read_hf_vision_weights(again, again.vision, hf::list_weights(again.dir), torch::kFloat);
    REQUIRE(ours2.size() == ours.size());
    for (const auto& [n, t] : ours) CHECK(torch::equal(ours2.at(n), t));
    // The exported folder is what transformers builds from its config.json (names checked by the python
    // reference), and its last hidden state is the folder's hidden_states[-2].
    if (std::system("/usr/bin/python3 -c 'import torch, numpy' >/dev/null 2>&1") != 0) {
      WARN("SKIP: /usr/bin/python3 cannot import torch; the export not checked by hf_vision_ref.py");
      continue;
    }
    const std::string cmd = "/usr/bin/python3 '" MM_SOURCE_DIR "/scripts/golden/hf_vision_ref.py' '" +
                            tmp.path().string() + "' '" + hf_dir(name) +
                            ".golden.safetensors' pixels features_m2 -1 2>&1";
    INFO(cmd);
    CHECK(std::system(cmd.c_str()) == 0);
  }
}

TEST_CASE("Image-encoder weights are converted to the training dtype while reading", "[hf_import_vision]") {
  auto v = vision::read_hf_vision(hf_dir("siglip_bf16"));
  auto files = hf::list_weights(v.dir);
  const TensorMap bf = vision::read_hf_vision_weights(v, v.vision, files, torch::kBFloat16);
  const TensorMap f32 = vision::read_hf_vision_weights(v, v.vision, files, torch::kFloat);
  for (const auto& [n, t] : bf) {
    CHECK(t.scalar_type() == torch::kBFloat16);
    CHECK(torch::equal(t.to(torch::kFloat), f32.at(n)));
  }
}
