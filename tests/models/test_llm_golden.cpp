// Golden parity of the decoder pieces against scripts/golden/gen_llm.py (an independent
// torch.nn.functional reference in float64): forward outputs and input/weight gradients.
#include <torch/torch.h>
#include <catch2/catch.hpp>

#include "models/llm/attention.h"
#include "models/llm/decoder.h"
#include "models/llm/lm_loss.h"
#include "models/llm/mlp.h"
#include "models/llm/rms_norm.h"
#include "test_llm_helpers.h"

using namespace mm::llm;
using mm::test::check_close;
using mm::test::check_param_grads;
using mm::test::load_golden;
using mm::test::load_weights;

TEST_CASE("RMSNorm matches the reference forward and backward", "[llm][golden]") {
  auto g = load_golden("llm_rms_norm");
  RMSNorm norm(16, g.num("eps"));
  load_weights(*norm, g);
  auto x = g.at("in.x").clone().requires_grad_(true);
  auto y = norm(x);
  check_close("y", y, g.at("out.y"));
  (y * g.at("in.g")).sum().backward();
  check_close("grad x", x.grad(), g.at("grad.in.x"));
  check_param_grads(*norm, g);
}

TEST_CASE("SwiGLU matches the reference forward and backward", "[llm][golden]") {
  auto g = load_golden("llm_swiglu");
  SwiGLU mlp(g.integer("dim"), g.integer("hidden"));
  load_weights(*mlp, g);
  auto x = g.at("in.x").clone().requires_grad_(true);
  auto y = mlp(x);
  check_close("y", y, g.at("out.y"));
  (y * g.at("in.g")).sum().backward();
  check_close("grad x", x.grad(), g.at("grad.in.x"));
  check_param_grads(*mlp, g);
}

TEST_CASE("Attention with RoPE and the document mask matches the reference (MHA and GQA)", "[llm][golden]") {
  for (const char* name : {"llm_attention_mha", "llm_attention_gqa"}) {
    INFO(name);
    auto g = load_golden(name);
    mm::LLMConfig cfg;
    cfg.dim = g.integer("dim");
    cfg.heads = g.integer("heads");
    cfg.kv_heads = g.integer("kv_heads");
    cfg.rope_theta = g.num("rope_theta");
    Attention attn(cfg);
    load_weights(*attn, g);
    auto x = g.at("in.x").clone().requires_grad_(true);
    auto y = attn->forward(x, g.at("in.positions"), g.at("in.doc_ids"));
    check_close("y", y, g.at("out.y"));
    (y * g.at("in.g")).sum().backward();
    check_close("grad x", x.grad(), g.at("grad.in.x"));
    check_param_grads(*attn, g);
  }
}

TEST_CASE("A 2-layer decoder matches the reference logits, loss and gradients (dense and MoE)", "[llm][golden]") {
  for (const char* name : {"llm_decoder_dense", "llm_decoder_moe"}) {
    INFO(name);
    auto g = load_golden(name);
    mm::LLMConfig cfg;
    cfg.vocab_size = g.integer("vocab_size");
    cfg.dim = g.integer("dim");
    cfg.heads = g.integer("heads");
    cfg.kv_heads = g.integer("kv_heads");
    cfg.ffn_hidden = g.integer("ffn_hidden");
    cfg.layers = g.integer("layers");
    cfg.rope_theta = g.num("rope_theta");
    cfg.norm_eps = g.num("norm_eps");
    cfg.tie_embeddings = g.integer("tie_embeddings") != 0;
    if (g.file.metadata.count("moe.num_experts")) {
      cfg.moe.num_experts = g.integer("moe.num_experts");
      cfg.moe.every = g.integer("moe.every");
      cfg.moe.expert_hidden = g.integer("moe.expert_hidden");
    }
    Decoder dec(cfg);
    load_weights(*dec, g);
    const auto& doc = g.at("in.doc_ids");
    auto out = dec->forward(g.at("in.ids"), g.at("in.positions"), doc);
    check_close("logits", out.logits, g.at("out.logits"));
    auto lm = causal_lm_loss(out.logits, g.at("in.labels"), doc);
    check_close("lm_loss", lm, g.at("out.lm_loss"));
    check_close("aux_loss", out.aux_loss, g.at("out.aux_loss"), 1e-7);
    check_close("z_loss", out.z_loss, g.at("out.z_loss"), 1e-7);
    (lm + out.aux_loss + out.z_loss).backward();
    check_param_grads(*dec, g);
  }
}
