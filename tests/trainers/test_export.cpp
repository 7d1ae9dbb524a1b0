// Checkpoint export (trainers/export/hf_export.h) and the HF adapters it calls
// (models/llm/hf_llama_adapter.h, models/vision/hf_clip_adapter.h): a checkpoint of the debug
// model (dense, untied, MoE on every layer, MoE on every 2nd layer) is exported; the HF-named files
// are read back, mapped to our names and must reproduce the decoder's logits and the vision features bit for bit;
// scripts/golden/check_hf_export.py (an independent python3-torch HF Llama/Mixtral/Qwen2-MoE +
// CLIP vision) must reproduce them within 1e-4 (skipped with a warning when /usr/bin/python3 lacks
// torch); error cases give one line.
#include <torch/torch.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/check.h"
#include "core/config/run_config.h"
#include "core/io.h"
#include "core/safetensors.h"
#include "models/checkpoint/checkpoint_manager.h"
#include "models/checkpoint/model_state.h"
#include "models/llm/decoder_layer.h"
#include "models/llm/hf_llama_adapter.h"
#include "models/mllm.h"
#include "models/vision/hf_clip_adapter.h"
#include "support/error_of.h"
#include "tokenizer/train_tokenizer.h"
#include "trainers/export/hf_export.h"

namespace fs = std::filesystem;
using json = nlohmann::json;
using mm::TensorMap;

namespace {

std::string fresh_dir(const std::string& name) {
  const fs::path p = fs::temp_directory_path() / ("mm_export_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(p);
  fs::create_directories(p);
  return p.string();
}

json read_json(const std::string& path) { return json::parse(mm::io::read_file(path)); }

// A small SentencePiece model (ids: unk 0, bos 1, eos 2, pad 3, then the special symbols).
std::string make_tokenizer(const std::string& dir) {
  const std::string corpus = dir + "/corpus.txt";
  {
    std::ofstream f(corpus);
    const char* lines[] = {"A red circle on a blue background.", "The receipt total is 42.",
                           "Two green squares and one yellow star.", "What is 3 + 4? It is 7.",
                           "key: value, name: Alice, city: Paris"};
    for (int r = 0; r < 40; ++r)
      for (const char* l : lines) f << l << " " << r << "\n";
  }
  return mm::tok::train_tokenizer({corpus}, dir + "/spm", 400);
}

struct Built {
  mm::RunConfig cfg;
  mm::MultimodalModel model{nullptr};
  std::string checkpoint;
};

// The debug preset (+ sets), random weights with non-trivial norms, saved as step 7.
Built make_checkpoint(const std::string& dir, const std::vector<std::string>& sets) {
  Built b;
  b.cfg = mm::load_run_config(std::string(MM_SOURCE_DIR) + "/configs/models/debug.yaml", sets);
  torch::manual_seed(1234);
  b.model = mm::MultimodalModel(b.cfg.model);
  {
    torch::NoGradGuard ng;
    for (auto& p : b.model->parameters())
      if (p.dim() == 1) p.add_(torch::randn_like(p) * 0.1);  // norms and biases away from 1 / 0
  }
  b.model->eval();
  mm::CheckpointManager mgr(dir + "/run/checkpoints");
  // As the trainer does: the checkpoint carries the tokenizer the config names.
  const std::string tok = b.cfg.tokenizer.model_path.empty() ? "" : mm::io::read_file(b.cfg.tokenizer.model_path);
  b.checkpoint = mgr.save(7, mm::model_state(*b.model), {}, {{"step", 7}}, mm::dump_yaml(b.cfg), tok);
  return b;
}

struct Inputs {
  torch::Tensor ids, positions, doc_ids, pixels;
};

Inputs make_inputs(const mm::RunConfig& cfg) {
  torch::manual_seed(99);
  const int64_t b = 2, t = 13, r = cfg.model.vision.image_size;
  Inputs in;
  in.ids = torch::randint(0, cfg.model.llm.vocab_size, {b, t}, torch::kLong);
  in.positions = torch::arange(t, torch::kLong).unsqueeze(0).expand({b, t}).contiguous();
  in.doc_ids = torch::zeros({b, t}, torch::kLong);
  in.pixels = torch::randn({2, 3, r, r});
  return in;
}

torch::Tensor logits_of(mm::MultimodalModel& m, const Inputs& in) {
  torch::NoGradGuard ng;
  return m->llm->forward(in.ids, in.positions, in.doc_ids).logits.contiguous();
}

torch::Tensor features_of(mm::MultimodalModel& m, const Inputs& in) {
  torch::NoGradGuard ng;
  return m->vision->forward(in.pixels).contiguous();
}

torch::Tensor image_tokens_of(mm::MultimodalModel& m, const Inputs& in) {
  torch::NoGradGuard ng;
  return m->encode_images(in.pixels).contiguous();
}

// Reads the exported llm/, vision/ and connector/ back into a fresh model (our names).
mm::MultimodalModel reload(const mm::RunConfig& cfg, const std::string& out) {
  TensorMap all;
  auto llm = mm::safetensors::load(out + "/llm/model.safetensors");
  auto vis = mm::safetensors::load(out + "/vision/model.safetensors");
  auto con = mm::safetensors::load(out + "/connector/model.safetensors");
  CHECK(llm.metadata.at("format") == "pt");
  CHECK(vis.metadata.at("format") == "pt");
  for (auto& [k, v] : mm::llm::llm_state_from_hf(llm.tensors, cfg.model.llm)) all[k] = v.to(torch::kFloat);
  for (auto& [k, v] : mm::vision::vision_state_from_clip(vis.tensors, cfg.model.vision)) all[k] = v.to(torch::kFloat);
  for (auto& [k, v] : con.tensors) all["connector." + k] = v.to(torch::kFloat);
  torch::manual_seed(5);  // different random init: everything must come from the files
  mm::MultimodalModel fresh(cfg.model);
  mm::load_model_state(*fresh, all, out);
  fresh->eval();
  return fresh;
}

bool python_has_torch() { return std::system("/usr/bin/python3 -c 'import torch, numpy' >/dev/null 2>&1") == 0; }

// Runs check_hf_export.py on the export with the expected outputs: {exit status, output}.
std::pair<int, std::string> run_python_check(const std::string& out, const std::string& dir, const Inputs& in,
                                             const torch::Tensor& logits, const torch::Tensor& features) {
  const std::string golden = dir + "/golden.safetensors";
  mm::safetensors::save(golden,
                        {{"input_ids", in.ids}, {"logits", logits}, {"pixels", in.pixels}, {"features", features}});
  const std::string cmd =
      "/usr/bin/python3 '" MM_SOURCE_DIR "/scripts/golden/check_hf_export.py' '" + out + "' '" + golden + "' 2>&1";
  FILE* pipe = ::popen(cmd.c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::string text = "command: " + cmd + "\n";
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0) text.append(buf, n);
  const int status = ::pclose(pipe);
  return {status, text};
}

// REQUIREs that check_hf_export.py passes (a WARN and no check without python3-torch).
void check_with_python(const std::string& out, const std::string& dir, const Inputs& in, const torch::Tensor& logits,
                       const torch::Tensor& features) {
  if (!python_has_torch()) {
    WARN("SKIP: /usr/bin/python3 cannot import torch; check_hf_export.py not run");
    return;
  }
  const auto [status, text] = run_python_check(out, dir, in, logits, features);
  INFO(text);
  REQUIRE(status == 0);
  CHECK(text.find("OK") != std::string::npos);
}

using mm::test::error_of;

}  // namespace

TEST_CASE("dense export: HF Llama + CLIP names, exact round trip, tokenizer, python HF reference",
          "[trainers][export]") {
  const std::string dir = fresh_dir("dense");
  const std::string spm = make_tokenizer(dir);
  Built b = make_checkpoint(dir, {"tokenizer.model_path=" + spm});
  const std::string out = dir + "/out";
  const auto s = mm::train::export_checkpoint(dir + "/run", out);  // a run directory resolves to step 7
  CHECK(s.step == 7);
  CHECK(s.llm_architecture == "LlamaForCausalLM");
  CHECK(s.warnings.size() == 1);  // no class token in the debug ViT

  // llm/config.json
  const json lc = read_json(out + "/llm/config.json");
  CHECK(lc["architectures"][0] == "LlamaForCausalLM");
  CHECK(lc["model_type"] == "llama");
  CHECK(lc["hidden_size"] == 192);
  CHECK(lc["intermediate_size"] == 512);
  CHECK(lc["num_attention_heads"] == 6);
  CHECK(lc["num_key_value_heads"] == 2);
  CHECK(lc["num_hidden_layers"] == 4);
  CHECK(lc["vocab_size"] == 2048);
  CHECK(lc["tie_word_embeddings"] == true);
  CHECK(lc["rope_theta"].get<double>() == 10000.0);
  CHECK(lc["rms_norm_eps"].get<double>() == 1e-5);
  CHECK(lc["bos_token_id"] == 1);
  CHECK(lc["eos_token_id"] == 2);
  CHECK(lc["pad_token_id"] == 3);
  CHECK(lc["torch_dtype"] == "float32");

  // HF names, checked one by one on a few and by count on all.
  const auto llm = mm::safetensors::load(out + "/llm/model.safetensors");
  for (const char* n :
       {"model.embed_tokens.weight", "model.layers.0.input_layernorm.weight", "model.layers.0.self_attn.q_proj.weight",
        "model.layers.3.self_attn.k_proj.weight", "model.layers.3.self_attn.v_proj.weight",
        "model.layers.3.self_attn.o_proj.weight", "model.layers.2.post_attention_layernorm.weight",
        "model.layers.1.mlp.gate_proj.weight", "model.layers.1.mlp.up_proj.weight",
        "model.layers.1.mlp.down_proj.weight", "model.norm.weight"}) {
    INFO(n);
    CHECK(llm.tensors.count(n) == 1);
  }
  CHECK(llm.tensors.count("lm_head.weight") == 0);  // tied
  CHECK(llm.tensors.size() == 1 + 4 * 9 + 1);
  CHECK(torch::equal(llm.tensors.at("model.layers.0.self_attn.q_proj.weight"),
                     b.model->llm->layer_list[0]->self_attn->q_proj->weight));

  const auto vis = mm::safetensors::load(out + "/vision/model.safetensors");
  for (const char* n :
       {"vision_model.embeddings.patch_embedding.weight", "vision_model.embeddings.class_embedding",
        "vision_model.embeddings.position_embedding.weight", "vision_model.pre_layrnorm.weight",
        "vision_model.encoder.layers.2.self_attn.out_proj.bias", "vision_model.encoder.layers.0.layer_norm1.weight",
        "vision_model.encoder.layers.1.mlp.fc2.weight", "vision_model.post_layernorm.bias"}) {
    INFO(n);
    CHECK(vis.tensors.count(n) == 1);
  }
  CHECK(vis.tensors.at("vision_model.embeddings.position_embedding.weight").size(0) == 8 * 8 + 1);
  const json vc = read_json(out + "/vision/config.json");
  CHECK(vc["model_type"] == "clip_vision_model");
  CHECK(vc["num_hidden_layers"] == 3);
  CHECK(vc["hidden_act"] == "gelu");
  CHECK(vc["mm_class_token"] == false);

  // Top-level config and tokenizer copy.
  const json top = read_json(out + "/config.json");
  CHECK(top["tokens_per_tile"] == 16);
  CHECK(top["parts"]["tokenizer"] == "tokenizer.model");
  CHECK(top["image_token_id"].is_number_integer());
  CHECK(top["image"]["mean"].size() == 3);
  CHECK(top["chat_template"]["user_prefix"] == "<|user|>");
  CHECK(mm::io::read_file(out + "/tokenizer.model") == mm::io::read_file(spm));
  const json cc = read_json(out + "/connector/config.json");
  CHECK(cc["type"] == "c_abstractor");

  // Reloaded under our names: bitwise the same outputs.
  const Inputs in = make_inputs(b.cfg);
  const auto logits = logits_of(b.model, in);
  const auto features = features_of(b.model, in);
  auto fresh = reload(b.cfg, out);
  CHECK(torch::equal(logits_of(fresh, in), logits));
  CHECK(torch::equal(features_of(fresh, in), features));
  CHECK(torch::equal(image_tokens_of(fresh, in), image_tokens_of(b.model, in)));

  check_with_python(out, dir, in, logits, features);

  // Negative control: q/k rows in the interleaved rotary layout (pairs (2i, 2i+1) instead of
  // (i, i + hd/2)), the classic export bug, must be caught by the reference.
  if (python_has_torch()) {
    auto tensors = llm.tensors;
    const int64_t hd = 192 / 6;
    auto perm = torch::cat({torch::arange(0, hd, 2), torch::arange(1, hd, 2)});  // half -> interleaved rows
    for (const char* n : {"model.layers.0.self_attn.q_proj.weight", "model.layers.0.self_attn.k_proj.weight"}) {
      auto w = tensors.at(n);
      tensors[n] = w.view({-1, hd, w.size(1)}).index_select(1, perm).reshape(w.sizes()).contiguous();
    }
    mm::safetensors::save(out + "/llm/model.safetensors", tensors, {{"format", "pt"}});
    const auto [status, text] = run_python_check(out, dir, in, logits, features);
    INFO(text);
    CHECK(status != 0);
    CHECK(text.find("FAILED") != std::string::npos);
  }
  fs::remove_all(dir);
}

TEST_CASE("untied + bf16 export: lm_head.weight, bf16 tensors, CLIP class token, python HF reference",
          "[trainers][export]") {
  const std::string dir = fresh_dir("bf16");
  Built b = make_checkpoint(
      dir, {"model.llm.tie_embeddings=false", "model.vision.class_token=true", "model.vision.act=quick_gelu"});
  const std::string out = dir + "/out";
  mm::train::ExportOptions opt;
  opt.dtype = "bf16";
  const auto s = mm::train::export_checkpoint(b.checkpoint, out, opt);
  CHECK(s.warnings.size() == 1);  // no tokenizer
  const auto llm = mm::safetensors::load(out + "/llm/model.safetensors");
  REQUIRE(llm.tensors.count("lm_head.weight") == 1);
  CHECK(llm.tensors.at("lm_head.weight").scalar_type() == torch::kBFloat16);
  CHECK(torch::equal(llm.tensors.at("lm_head.weight"), b.model->llm->lm_head->weight.to(torch::kBFloat16)));
  const json lc = read_json(out + "/llm/config.json");
  CHECK(lc["torch_dtype"] == "bfloat16");
  CHECK(lc["tie_word_embeddings"] == false);
  CHECK(lc["bos_token_id"].is_null());
  const json vc = read_json(out + "/vision/config.json");
  CHECK(vc["hidden_act"] == "quick_gelu");
  CHECK(vc["mm_class_token"] == true);
  const json top = read_json(out + "/config.json");
  CHECK(top["parts"]["tokenizer"].is_null());
  CHECK(!fs::exists(out + "/tokenizer.model"));

  // The bf16-rounded model, reloaded: the reference outputs for the python check.
  auto fresh = reload(b.cfg, out);
  const Inputs in = make_inputs(b.cfg);
  const auto logits = logits_of(fresh, in);
  CHECK((logits - logits_of(b.model, in)).abs().max().item<double>() < 0.1 * logits.abs().max().item<double>());
  check_with_python(out, dir, in, logits, features_of(fresh, in));
  fs::remove_all(dir);
}

TEST_CASE("MoE export: Mixtral names and config, exact round trip, python Mixtral reference", "[trainers][export]") {
  const std::string dir = fresh_dir("moe");
  Built b = make_checkpoint(dir, {"model.llm.moe.num_experts=4", "model.llm.moe.top_k=2", "model.llm.moe.every=1",
                                  "model.llm.moe.expert_hidden=256"});
  const std::string out = dir + "/out";
  const auto s = mm::train::export_checkpoint(b.checkpoint, out);
  CHECK(s.llm_architecture == "MixtralForCausalLM");
  const json lc = read_json(out + "/llm/config.json");
  CHECK(lc["model_type"] == "mixtral");
  CHECK(lc["num_local_experts"] == 4);
  CHECK(lc["num_experts_per_tok"] == 2);
  CHECK(lc["intermediate_size"] == 256);
  CHECK(lc["router_aux_loss_coef"].get<double>() == 0.01);
  const auto llm = mm::safetensors::load(out + "/llm/model.safetensors");
  for (const char* n :
       {"model.layers.0.block_sparse_moe.gate.weight", "model.layers.3.block_sparse_moe.experts.3.w1.weight",
        "model.layers.3.block_sparse_moe.experts.3.w2.weight", "model.layers.1.block_sparse_moe.experts.0.w3.weight"}) {
    INFO(n);
    CHECK(llm.tensors.count(n) == 1);
  }
  CHECK(llm.tensors.size() == 1 + 4 * (6 + 1 + 4 * 3) + 1);
  CHECK(llm.tensors.at("model.layers.3.block_sparse_moe.experts.3.w2.weight").sizes() ==
        torch::IntArrayRef({192, 256}));

  const Inputs in = make_inputs(b.cfg);
  const auto logits = logits_of(b.model, in);
  auto fresh = reload(b.cfg, out);
  CHECK(torch::equal(logits_of(fresh, in), logits));
  check_with_python(out, dir, in, logits, features_of(b.model, in));
  fs::remove_all(dir);
}

TEST_CASE("MoE every 2nd layer: Qwen2-MoE names and config, exact round trip, python Qwen2-MoE reference",
          "[trainers][export]") {
  const std::string dir = fresh_dir("qwen2moe");
  Built b = make_checkpoint(dir, {"model.llm.moe.num_experts=4", "model.llm.moe.top_k=2", "model.llm.moe.every=2",
                                  "model.llm.moe.expert_hidden=256"});
  const std::string out = dir + "/out";
  const auto s = mm::train::export_checkpoint(b.checkpoint, out);
  CHECK(s.llm_architecture == "Qwen2MoeForCausalLM");

  // llm/config.json: the Qwen2MoeConfig fields.
  const json lc = read_json(out + "/llm/config.json");
  CHECK(lc["architectures"] == json::array({"Qwen2MoeForCausalLM"}));
  CHECK(lc["model_type"] == "qwen2_moe");
  CHECK(lc["hidden_size"] == 192);
  CHECK(lc["intermediate_size"] == 512);  // the dense layers' width
  CHECK(lc["moe_intermediate_size"] == 256);
  CHECK(lc["shared_expert_intermediate_size"] == 1);
  CHECK(lc["num_experts"] == 4);
  CHECK(lc["num_experts_per_tok"] == 2);
  CHECK(lc["norm_topk_prob"] == true);
  CHECK(lc["decoder_sparse_step"] == 1);
  CHECK(lc["mlp_only_layers"] == json::array({0, 2}));
  CHECK(lc["qkv_bias"] == true);
  CHECK(lc["use_sliding_window"] == false);
  CHECK(lc["num_attention_heads"] == 6);
  CHECK(lc["num_key_value_heads"] == 2);
  CHECK(lc["head_dim"] == 32);
  CHECK(lc["num_hidden_layers"] == 4);
  CHECK(lc["hidden_act"] == "silu");
  CHECK(lc["vocab_size"] == 2048);
  CHECK(lc["max_position_embeddings"] == 2048);
  CHECK(lc["tie_word_embeddings"] == true);
  CHECK(lc["rope_theta"].get<double>() == 10000.0);
  CHECK(lc["rms_norm_eps"].get<double>() == 1e-5);
  CHECK(lc["router_aux_loss_coef"].get<double>() == 0.01);
  CHECK(lc["mm_moe_every"] == 2);
  CHECK(lc.count("num_local_experts") == 0);  // Mixtral's key

  // HF's rule (layer i sparse iff i not in mlp_only_layers and (i + 1) % decoder_sparse_step == 0)
  // selects exactly our MoE layers, here and for a pattern with a remainder (7 layers, every 3).
  for (int64_t every : {2, 3, 4}) {
    mm::LLMConfig c;
    c.layers = 7;
    c.moe.num_experts = 3;
    c.moe.every = every;
    const json j = mm::llm::hf_llm_config(c, {}, "float32");
    REQUIRE(j["model_type"] == "qwen2_moe");
    const auto dense = j["mlp_only_layers"].get<std::vector<int64_t>>();
    for (int64_t i = 0; i < c.layers; ++i) {
      const bool hf_sparse = std::find(dense.begin(), dense.end(), i) == dense.end() &&
                             (i + 1) % j["decoder_sparse_step"].get<int64_t>() == 0;
      INFO("every " << every << " layer " << i);
      CHECK(hf_sparse == mm::llm::is_moe_layer(c, i));
    }
    if (every == 3) CHECK(dense == std::vector<int64_t>({0, 1, 3, 4, 6}));
  }

  // HF names: dense layers 0, 2 (mlp.*_proj), MoE layers 1, 3 (mlp.gate, mlp.experts.E.*_proj,
  // zero shared expert), zero q/k/v biases everywhere.
  const auto llm = mm::safetensors::load(out + "/llm/model.safetensors");
  const auto& T = llm.tensors;
  for (const char* n :
       {"model.layers.0.mlp.gate_proj.weight", "model.layers.2.mlp.down_proj.weight", "model.layers.1.mlp.gate.weight",
        "model.layers.3.mlp.experts.3.up_proj.weight", "model.layers.1.mlp.experts.0.gate_proj.weight",
        "model.layers.3.mlp.shared_expert_gate.weight"}) {
    INFO(n);
    CHECK(T.count(n) == 1);
  }
  for (const char* n :
       {"model.layers.0.mlp.gate.weight", "model.layers.1.mlp.gate_proj.weight",
        "model.layers.0.mlp.shared_expert.up_proj.weight", "model.layers.1.block_sparse_moe.gate.weight"}) {
    INFO(n);
    CHECK(T.count(n) == 0);
  }
  // embed + norm + 4 x (2 norms + 4 attention weights + 3 biases) + 2 dense x 3
  // + 2 MoE x (router + 4 experts x 3 + shared expert 3 + shared gate)
  CHECK(T.size() == 2 + 4 * 9 + 2 * 3 + 2 * (1 + 4 * 3 + 3 + 1));
  const auto& moe1 = b.model->llm->layer_list[1]->block_sparse_moe;
  CHECK(torch::equal(T.at("model.layers.1.mlp.gate.weight"), moe1->gate->weight));
  CHECK(torch::equal(T.at("model.layers.1.mlp.experts.2.gate_proj.weight"), moe1->expert_list[2]->w1->weight));
  CHECK(torch::equal(T.at("model.layers.1.mlp.experts.2.up_proj.weight"), moe1->expert_list[2]->w3->weight));
  CHECK(torch::equal(T.at("model.layers.1.mlp.experts.2.down_proj.weight"), moe1->expert_list[2]->w2->weight));
  CHECK(T.at("model.layers.3.mlp.experts.3.down_proj.weight").sizes() == torch::IntArrayRef({192, 256}));
  CHECK(torch::equal(T.at("model.layers.2.mlp.up_proj.weight"), b.model->llm->layer_list[2]->mlp->up_proj->weight));
  for (int layer : {1, 3}) {
    const std::string p = "model.layers." + std::to_string(layer) + ".mlp.shared_expert";
    CHECK(T.at(p + ".gate_proj.weight").sizes() == torch::IntArrayRef({1, 192}));
    CHECK(T.at(p + ".up_proj.weight").sizes() == torch::IntArrayRef({1, 192}));
    CHECK(T.at(p + ".down_proj.weight").sizes() == torch::IntArrayRef({192, 1}));
    CHECK(T.at(p + "_gate.weight").sizes() == torch::IntArrayRef({1, 192}));
    for (const char* w : {".gate_proj.weight", ".up_proj.weight", ".down_proj.weight"})
      CHECK(torch::count_nonzero(T.at(p + w)).item<int64_t>() == 0);
  }
  for (int layer = 0; layer < 4; ++layer) {
    const std::string p = "model.layers." + std::to_string(layer) + ".self_attn.";
    CHECK(T.at(p + "q_proj.bias").sizes() == torch::IntArrayRef({192}));
    CHECK(T.at(p + "k_proj.bias").sizes() == torch::IntArrayRef({64}));
    CHECK(T.at(p + "v_proj.bias").sizes() == torch::IntArrayRef({64}));
    CHECK(torch::count_nonzero(T.at(p + "q_proj.bias")).item<int64_t>() == 0);
    CHECK(T.count(p + "o_proj.bias") == 0);
  }

  // Reloaded through llm_state_from_hf: bitwise the same logits.
  const Inputs in = make_inputs(b.cfg);
  const auto logits = logits_of(b.model, in);
  auto fresh = reload(b.cfg, out);
  CHECK(torch::equal(logits_of(fresh, in), logits));

  // The inverse refuses what our decoder cannot hold: a non-zero bias or shared expert.
  for (const char* n : {"model.layers.2.self_attn.v_proj.bias", "model.layers.3.mlp.shared_expert.down_proj.weight"}) {
    TensorMap bad = T;
    bad[n] = bad.at(n).clone();
    bad[n].view(-1)[0].fill_(0.5);
    const std::string e = error_of([&] { mm::llm::llm_state_from_hf(bad, b.cfg.model.llm); });
    CHECK_THAT(e, Catch::Contains(n) && Catch::Contains("non-zero"));
    CHECK(e.find('\n') == std::string::npos);
  }

  check_with_python(out, dir, in, logits, features_of(b.model, in));

  // Negative control: the reference must notice the routing weights when norm_topk_prob is off
  // (HF's default; our router renormalises).
  if (python_has_torch()) {
    json changed = lc;
    changed["norm_topk_prob"] = false;
    mm::io::write_file_atomic(out + "/llm/config.json", changed.dump(2));
    const auto [status, text] = run_python_check(out, dir, in, logits, features_of(b.model, in));
    INFO(text);
    CHECK(status != 0);
    CHECK(text.find("FAILED") != std::string::npos);
  }
  fs::remove_all(dir);
}

TEST_CASE("export copies the tokenizer the checkpoint carries, not a regenerated config path",
          "[trainers][export][tokenizer]") {
  const std::string dir = fresh_dir("carried_tok");
  const std::string spm = make_tokenizer(dir);
  const std::string trained_with = mm::io::read_file(spm);
  Built b = make_checkpoint(dir, {"tokenizer.model_path=" + spm});
  // The world is regenerated: the config's path now holds another vocabulary.
  const std::string other = mm::tok::train_tokenizer({dir + "/corpus.txt"}, dir + "/other", 385);
  mm::io::write_file_atomic(spm, mm::io::read_file(other));
  REQUIRE(mm::io::read_file(spm) != trained_with);

  auto s = mm::train::export_checkpoint(b.checkpoint, dir + "/out");
  CHECK(mm::io::read_file(dir + "/out/tokenizer.model") == trained_with);
  CHECK(s.warnings.size() == 1);  // only the debug ViT's missing class token

  // A checkpoint written before checkpoints carried their tokenizer: the config path, with a warning.
  mm::CheckpointManager mgr(dir + "/old/checkpoints");
  const std::string old = mgr.save(7, mm::model_state(*b.model), {}, {{"step", 7}}, mm::dump_yaml(b.cfg));
  s = mm::train::export_checkpoint(old, dir + "/out_old");
  CHECK(mm::io::read_file(dir + "/out_old/tokenizer.model") == mm::io::read_file(spm));
  CHECK(s.warnings.size() == 2);
  int carried_warnings = 0;
  for (const auto& w : s.warnings)
    carried_warnings += w.find("carries no tokenizer.model") != std::string::npos && w.find(spm) != std::string::npos;
  CHECK(carried_warnings == 1);
  fs::remove_all(dir);
}

TEST_CASE("export errors are one line", "[trainers][export]") {
  const std::string dir = fresh_dir("errors");
  const std::string missing = dir + "/no_such_run";
  std::string e = error_of([&] { mm::train::export_checkpoint(missing, dir + "/out"); });
  CHECK_THAT(e, Catch::Contains(missing) && Catch::Contains("no such checkpoint"));
  CHECK(e.find('\n') == std::string::npos);
  CHECK(!fs::exists(dir + "/out"));

  Built b = make_checkpoint(dir, {});
  mm::train::ExportOptions opt;
  opt.dtype = "fp16";
  e = error_of([&] { mm::train::export_checkpoint(b.checkpoint, dir + "/out", opt); });
  CHECK_THAT(e, Catch::Contains("fp32 or bf16") && Catch::Contains("fp16"));

  // The inverse mapping names the missing tensor.
  TensorMap partial = {{"model.embed_tokens.weight", torch::zeros({2048, 192})}};
  mm::LLMConfig dense;
  e = error_of([&] { mm::llm::llm_state_from_hf(partial, dense); });
  CHECK_THAT(e, Catch::Contains("model.layers.0.input_layernorm.weight"));
  fs::remove_all(dir);
}
