// The HF adapters beside the modules (models/llm/hf_llama_adapter.h, models/vision/hf_clip_adapter.h)
// without the export: every parameter of a built model maps to an HF name and back to itself for
// the three decoder layouts and CLIP with and without a class token; the config writer picks the
// family; a stray or missing tensor is one error line. The export tests (tests/trainers/test_export.cpp)
// check the mapped files against the model's outputs and an independent HF reference.
#include <torch/torch.h>

#include <catch2/catch.hpp>
#include <string>

#include "core/check.h"
#include "models/llm/hf_llama_adapter.h"
#include "models/mllm.h"
#include "models/vision/hf_clip_adapter.h"
#include "support/error_of.h"

namespace {

mm::TensorMap parameters_of(const torch::nn::Module& m) {
  mm::TensorMap out;
  for (const auto& p : m.named_parameters(/*recurse=*/true)) out[p.key()] = p.value().detach();
  return out;
}

// The names of `all` that start with `prefix`.
mm::TensorMap under(const mm::TensorMap& all, const std::string& prefix) {
  mm::TensorMap out;
  for (const auto& [k, v] : all)
    if (k.rfind(prefix, 0) == 0) out[k] = v;
  return out;
}

void check_same(const mm::TensorMap& a, const mm::TensorMap& b) {
  REQUIRE(a.size() == b.size());
  for (const auto& [k, v] : a) {
    INFO(k);
    REQUIRE(b.count(k) == 1);
    CHECK(torch::equal(v, b.at(k)));
  }
}

using mm::test::error_of;

}  // namespace

TEST_CASE("the decoder adapter maps every parameter to Llama / Mixtral / Qwen2-MoE and back", "[models][hf]") {
  struct Case {
    int64_t experts, every;
    const char* architecture;
  };
  for (const Case c :
       {Case{0, 2, "LlamaForCausalLM"}, Case{3, 1, "MixtralForCausalLM"}, Case{3, 2, "Qwen2MoeForCausalLM"}}) {
    INFO(c.architecture);
    mm::ModelConfig cfg;
    cfg.llm.moe.num_experts = c.experts;
    cfg.llm.moe.every = c.every;
    cfg.llm.tie_embeddings = c.experts == 0;  // untied once: lm_head.weight
    torch::manual_seed(3);
    mm::MultimodalModel model(cfg);
    const auto ours = under(parameters_of(*model), "llm.");
    const auto theirs = mm::llm::hf_llm_state(parameters_of(*model), cfg.llm);
    CHECK(theirs.count("model.embed_tokens.weight") == 1);
    CHECK(theirs.count("lm_head.weight") == (cfg.llm.tie_embeddings ? 0u : 1u));
    for (const auto& [k, v] : theirs) CHECK(k.rfind("llm.", 0) != 0);
    check_same(mm::llm::llm_state_from_hf(theirs, cfg.llm), ours);
    CHECK(mm::llm::hf_llm_config(cfg.llm, {}, "float32")["architectures"][0] == c.architecture);

    // A tensor the decoder does not have, or one it lacks: one line naming it.
    auto extra = theirs;
    extra["model.layers.0.self_attn.rotary_emb.inv_freq"] = torch::zeros({4});
    std::string e = error_of([&] { mm::llm::llm_state_from_hf(extra, cfg.llm); });
    CHECK_THAT(e, Catch::Contains("unexpected tensor 'model.layers.0.self_attn.rotary_emb.inv_freq'"));
    auto missing = theirs;
    missing.erase("model.norm.weight");
    e = error_of([&] { mm::llm::llm_state_from_hf(missing, cfg.llm); });
    CHECK_THAT(e, Catch::Contains("missing tensor 'model.norm.weight'"));
    CHECK(e.find('\n') == std::string::npos);
  }
}

TEST_CASE("the CLIP adapter maps every vision parameter and back, with and without a class token", "[models][hf]") {
  for (bool class_token : {false, true}) {
    INFO("class_token " << class_token);
    mm::ModelConfig cfg;
    cfg.vision.class_token = class_token;
    torch::manual_seed(4);
    mm::MultimodalModel model(cfg);
    const auto ours = under(parameters_of(*model), "vision.");
    const auto clip = mm::vision::clip_vision_state(parameters_of(*model), cfg.vision);
    const int64_t g = cfg.vision.image_size / cfg.vision.patch_size;
    CHECK(clip.at("vision_model.embeddings.position_embedding.weight").size(0) == g * g + 1);
    CHECK(clip.count("vision_model.post_layernorm.weight") == 1);
    check_same(mm::vision::vision_state_from_clip(clip, cfg.vision), ours);
    const auto j = mm::vision::clip_vision_config(cfg.vision, "float32");
    CHECK(j["model_type"] == "clip_vision_model");
    CHECK(j["mm_class_token"] == class_token);

    auto bad = clip;
    bad["vision_model.embeddings.patch_embedding.weight"] = torch::zeros({1});
    const std::string e = error_of([&] { mm::vision::vision_state_from_clip(bad, cfg.vision); });
    CHECK_THAT(
        e, Catch::Contains("import vision") && Catch::Contains("patch_embedding.weight") && Catch::Contains("shape"));
  }
}
