// model.llm.from: hf:DIR against tiny folders written by scripts/golden/gen_hf_folders.py exactly as
// transformers names and shapes them (tests/data/golden/hf/): logits against the independent python
// implementation of each architecture (check_hf_export.llm_logits), import -> export -> import bitwise.
// Bad folders: test_hf_import_errors.cpp.
#include <torch/torch.h>
#include <catch2/catch.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/config/config.h"
#include "core/safetensors.h"
#include "models/hf_folder.h"
#include "models/llm/decoder.h"
#include "models/llm/hf_import.h"
#include "models/llm/hf_llama_adapter.h"
#include "models/llm/param_count.h"
#include "tests/support/temp_dir.h"

namespace fs = std::filesystem;
using namespace mm;

namespace {

std::string hf_dir(const std::string& name) { return std::string(MM_SOURCE_DIR) + "/tests/data/golden/hf/" + name; }

const std::vector<std::string> kFolders = {"llama3_bf16_sharded", "qwen2_tied_fp32", "mistral_fp16", "mixtral_fp32"};

double rel_err(const torch::Tensor& a, const torch::Tensor& b) {
  return (a - b).abs().max().item<double>() / std::max(b.abs().max().item<double>(), 1e-30);
}

}  // namespace

TEST_CASE("config.json of each architecture becomes the LLMConfig it describes", "[hf_import]") {
  auto llama = llm::read_hf_decoder("hf:" + hf_dir("llama3_bf16_sharded"));
  CHECK(llama.architecture == "LlamaForCausalLM");
  CHECK(llama.torch_dtype == "bfloat16");
  CHECK(llama.llm.dim == 32);
  CHECK(llama.llm.head_dim == 16);  // != hidden_size / heads = 8
  CHECK(llm::head_dim_of(llama.llm) == 16);
  CHECK(!llama.llm.tie_embeddings);
  CHECK(!llama.llm.attention_bias);
  CHECK(llama.llm.rope_theta == 500000.0);
  CHECK(llama.llm.rope_scaling.type == "llama3");
  CHECK(llama.llm.rope_scaling.original_max_position_embeddings == 16);
  CHECK(llama.llm.max_seq_len == 64);
  CHECK(llama.llm.from == "hf:" + hf_dir("llama3_bf16_sharded"));

  auto qwen = llm::read_hf_decoder(hf_dir("qwen2_tied_fp32"));
  CHECK(qwen.architecture == "Qwen2ForCausalLM");
  CHECK(qwen.llm.attention_bias);
  CHECK(qwen.llm.tie_embeddings);
  CHECK(qwen.llm.norm_eps == 1e-6);
  CHECK(qwen.llm.head_dim == 0);
  CHECK(qwen.llm.rope_scaling.type == "none");

  auto mixtral = llm::read_hf_decoder(hf_dir("mixtral_fp32"));
  CHECK(mixtral.llm.moe.num_experts == 4);
  CHECK(mixtral.llm.moe.top_k == 2);
  CHECK(mixtral.llm.moe.every == 1);
  CHECK(mixtral.llm.moe.expert_hidden == 40);

  auto files = hf::list_weights(hf_dir("llama3_bf16_sharded"));
  CHECK(files.files.size() == 2);
  CHECK(files.dtypes == std::set<std::string>{"BF16"});
  const auto lines = llm::describe_hf_decoder(llama, files);
  REQUIRE(lines.size() >= 4);
  CHECK(lines[1].find("LlamaForCausalLM") != std::string::npos);
  CHECK(lines[3].find(std::to_string(llm::llm_param_count(llama.llm).total)) != std::string::npos);
}

TEST_CASE("A pretrained folder gives the logits of the independent python implementation", "[hf_import][golden]") {
  for (const auto& name : kFolders) {
    INFO(name);
    auto dec = llm::read_hf_decoder("hf:" + hf_dir(name));
    llm::Decoder model(dec.llm);
    model->eval();
    int64_t numel = 0;  // the analytic count covers head_dim and the biases
    for (const auto& p : model->parameters()) numel += p.numel();
    CHECK(numel == llm::llm_param_count(dec.llm).total);
    for (const auto& p : model->named_parameters())  // fresh biases start at zero
      if (p.key().find("bias") != std::string::npos) CHECK(p.value().abs().max().item<float>() == 0.0f);
    const std::string summary = llm::load_hf_decoder(*model);
    CHECK(summary.find(dec.architecture) != std::string::npos);
    auto golden = safetensors::load(hf_dir(name) + ".golden.safetensors").tensors;
    auto ids = golden.at("input_ids");
    const int64_t b = ids.size(0), t = ids.size(1);
    auto positions = torch::arange(t).unsqueeze(0).expand({b, t}).contiguous();
    auto docs = torch::zeros({b, t}, torch::kLong);
    torch::NoGradGuard no_grad;
    auto logits = model->forward(ids, positions, docs).logits;
    REQUIRE(logits.sizes() == golden.at("logits").sizes());
    const double e = rel_err(logits, golden.at("logits"));
    INFO("relative error " << e);
    CHECK(e < 1e-5);
    // The check can fail: the default RoPE instead of llama3 scaling, or no biases, moves the logits.
    if (name == "llama3_bf16_sharded" || name == "qwen2_tied_fp32") {
      auto plain_cfg = dec.llm;
      plain_cfg.rope_scaling.type = "none";
      plain_cfg.attention_bias = false;
      llm::Decoder plain(plain_cfg);
      auto state = plain->named_parameters();
      for (const auto& p : model->named_parameters())
        if (state.contains(p.key())) state[p.key()].copy_(p.value());
      CHECK(rel_err(plain->forward(ids, positions, docs).logits, golden.at("logits")) > 1e-3);
    }
  }
}

TEST_CASE("HF folder import -> export -> import is bitwise", "[hf_import]") {
  for (const auto& name : kFolders) {
    INFO(name);
    auto dec = llm::read_hf_decoder(hf_dir(name));
    auto files = hf::list_weights(dec.dir);
    const TensorMap ours = llm::read_hf_decoder_weights(dec, files, torch::kFloat);
    for (const auto& [n, t] : ours) CHECK(n.rfind("llm.", 0) == 0);
    // export: the very tensors of the folder (bf16/fp16 -> fp32 is exact), under the same names
    const TensorMap exported = llm::hf_llm_state(ours, dec.llm);
    for (const auto& [n, info] : files.info) {
      INFO(n);
      REQUIRE(exported.count(n));
      auto disk = hf::read_tensor(files, n, safetensors::scalar_type(info.dtype));
      CHECK(torch::equal(exported.at(n).to(disk.scalar_type()), disk));
    }
    CHECK(exported.size() == files.info.size());
    // written as a folder with the export's config.json, read again
    mm::test::TempDir tmp("mm_hf_roundtrip");
    auto cfg_json = llm::hf_llm_config(dec.llm, {}, "float32");
    tmp.write("config.json", cfg_json.dump(2));
    safetensors::save(tmp / "model.safetensors", exported);
    auto again = llm::read_hf_decoder(tmp.path().string());
    again.llm.from = dec.llm.from;
    CHECK(cfg::to_ordered_json(again.llm) == cfg::to_ordered_json(dec.llm));
    const TensorMap ours2 = llm::read_hf_decoder_weights(again, hf::list_weights(again.dir), torch::kFloat);
    REQUIRE(ours2.size() == ours.size());
    for (const auto& [n, t] : ours) CHECK(torch::equal(ours2.at(n), t));
    if (name == "qwen2_tied_fp32") CHECK(cfg_json["architectures"][0] == "Qwen2ForCausalLM");
    if (name == "llama3_bf16_sharded") {
      CHECK(cfg_json["rope_scaling"]["rope_type"] == "llama3");
      CHECK(cfg_json["head_dim"] == 16);
    }
  }
}

TEST_CASE("An mmtrain export written as Qwen2-MoE reads back as the same decoder", "[hf_import]") {
  LLMConfig c;
  c.vocab_size = 64;
  c.dim = 32;
  c.layers = 4;
  c.heads = 4;
  c.kv_heads = 2;
  c.ffn_hidden = 48;
  c.moe.num_experts = 4;
  c.moe.top_k = 2;
  c.moe.every = 2;  // layers 1 and 3 sparse: Qwen2-MoE with mlp_only_layers [0, 2]
  llm::Decoder src(c);
  src->eval();
  TensorMap ours;
  for (const auto& p : src->named_parameters()) ours["llm." + p.key()] = p.value().detach();
  mm::test::TempDir tmp("mm_hf_qwen2moe");
  tmp.write("config.json", llm::hf_llm_config(c, {}, "float32").dump(2));
  safetensors::save(tmp / "model.safetensors", llm::hf_llm_state(ours, c));
  auto dec = llm::read_hf_decoder("hf:" + tmp.path().string());
  CHECK(dec.architecture == "Qwen2MoeForCausalLM");
  CHECK(dec.llm.moe.every == 2);
  CHECK(dec.llm.moe.expert_hidden == 48);
  CHECK(dec.llm.attention_bias);  // qkv_bias: true, the zero biases become ours
  llm::Decoder again(dec.llm);
  again->eval();
  llm::load_hf_decoder(*again);
  auto ids = torch::randint(0, 64, {2, 10});
  auto pos = torch::arange(10).unsqueeze(0).expand({2, 10}).contiguous();
  auto docs = torch::zeros({2, 10}, torch::kLong);
  torch::NoGradGuard no_grad;
  // (addmm with a zero bias may round differently from mm: equal up to fp32 rounding)
  CHECK(rel_err(again->forward(ids, pos, docs).logits, src->forward(ids, pos, docs).logits) < 1e-6);
}

TEST_CASE("Weights are converted to the training dtype while reading", "[hf_import]") {
  auto dec = llm::read_hf_decoder(hf_dir("llama3_bf16_sharded"));
  auto files = hf::list_weights(dec.dir);
  const TensorMap bf = llm::read_hf_decoder_weights(dec, files, torch::kBFloat16);
  const TensorMap f32 = llm::read_hf_decoder_weights(dec, files, torch::kFloat);
  for (const auto& [n, t] : bf) {
    CHECK(t.scalar_type() == torch::kBFloat16);
    CHECK(torch::equal(t.to(torch::kFloat), f32.at(n)));
  }
}

namespace {
// VmRSS / VmHWM of this process in bytes (/proc/self/status).
int64_t proc_status_bytes(const std::string& key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(key + ":", 0) == 0) return std::stoll(line.substr(key.size() + 1)) * 1024;
  return -1;
}
}  // namespace

// Not run by default: the peak resident memory of loading a big folder (MM_HF_BIG_DIR, written by
// `gen_hf_folders.py --big DIR`) against the loaded decoder's bytes. scripts/bench_hf_load.sh runs it.
TEST_CASE("Peak memory while loading a pretrained folder", "[.][hf_import_memory]") {
  const char* dir = std::getenv("MM_HF_BIG_DIR");
  if (dir == nullptr) {
    WARN("MM_HF_BIG_DIR is not set: nothing measured");
    return;
  }
  torch::set_num_threads(1);
  const int64_t before = proc_status_bytes("VmRSS");
  auto dec = llm::read_hf_decoder(dir);
  llm::Decoder model(dec.llm);
  int64_t model_bytes = 0;
  for (const auto& p : model->parameters()) model_bytes += p.numel() * p.element_size();
  const int64_t built = proc_status_bytes("VmRSS");
  const auto t0 = std::chrono::steady_clock::now();
  const std::string summary = llm::load_hf_decoder(*model);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const int64_t peak = proc_status_bytes("VmHWM"), after = proc_status_bytes("VmRSS");
  const double ratio = static_cast<double>(peak - before) / static_cast<double>(model_bytes);
  std::printf(
      "hf load %s: model %.2f GiB (fp32); RSS before %.2f GiB, after building %.2f GiB, peak %.2f GiB, "
      "after loading %.2f GiB; peak above the start / model bytes = %.3f; load %.1f s\n",
      summary.c_str(), model_bytes / 1073741824.0, before / 1073741824.0, built / 1073741824.0, peak / 1073741824.0,
      after / 1073741824.0, ratio, secs);
  CHECK(ratio <= 1.3);
}
