// Decoder behaviour: document mask, RoPE, packing invariance, KV-cache decoding, parameter
// names and counts, activation checkpointing, the packed next-token loss.
#include <torch/torch.h>
#include <catch2/catch.hpp>

#include "core/check.h"
#include "models/llm/attention.h"
#include "models/llm/decoder.h"
#include "models/llm/lm_loss.h"
#include "models/llm/param_count.h"

using namespace mm::llm;

namespace {

mm::LLMConfig tiny_llm(int64_t experts = 0) {
  mm::LLMConfig c;
  c.vocab_size = 40;
  c.dim = 32;
  c.layers = 2;
  c.heads = 4;
  c.kv_heads = 2;
  c.ffn_hidden = 48;
  c.moe.num_experts = experts;
  c.moe.every = 2;
  c.moe.expert_hidden = 24;
  return c;
}

int64_t numel(torch::nn::Module& m) {
  int64_t n = 0;
  for (const auto& p : m.parameters()) n += p.numel();
  return n;
}

}  // namespace

TEST_CASE("Document mask: causal, same document, padding attends only to itself", "[llm]") {
  auto doc = torch::tensor({0, 0, 1, 1, -1}, torch::kLong).view({1, 5});
  auto m = make_document_mask(doc, doc).allowed[0][0];  // (T, T)
  auto at = [&](int i, int j) { return m[i][j].item<bool>(); };
  CHECK(at(1, 0));
  CHECK_FALSE(at(0, 1));  // causal
  CHECK_FALSE(at(2, 1));  // other document
  CHECK(at(3, 2));
  CHECK(at(4, 4));  // padding: itself only
  CHECK_FALSE(at(4, 3));
  CHECK(m.sum().item<int64_t>() == 1 + 2 + 1 + 2 + 1);
  // With a cache: 3 new queries after 2 cached keys.
  auto kdoc = torch::tensor({0, 0, 0, 1, 1}, torch::kLong).view({1, 5});
  auto mc = make_document_mask(kdoc.narrow(1, 2, 3), kdoc).allowed[0][0];  // (3, 5)
  CHECK(mc[0].sum().item<int64_t>() == 3);                                 // doc 0 tokens 0..2
  CHECK(mc[2].sum().item<int64_t>() == 2);                                 // doc 1 tokens 3..4
}

TEST_CASE("RoPE: identity at position 0, scores depend only on relative position", "[llm]") {
  torch::manual_seed(0);
  auto q = torch::randn({1, 1, 1, 8}), k = torch::randn({1, 1, 1, 8});
  auto at = [](int64_t p) { return rope_tables(torch::full({1, 1}, p, torch::kLong), 8, 10000.0); };
  CHECK(torch::allclose(apply_rope(q, at(0)), q));
  auto s1 = (apply_rope(q, at(7)) * apply_rope(k, at(3))).sum().item<float>();
  auto s2 = (apply_rope(q, at(14)) * apply_rope(k, at(10))).sum().item<float>();
  auto s3 = (apply_rope(q, at(5)) * apply_rope(k, at(3))).sum().item<float>();
  CHECK(s1 == Approx(s2).margin(1e-5));
  CHECK(std::abs(s1 - s3) > 1e-4);
}

TEST_CASE("Chunked causal attention equals plain masked attention (long sequence, cache)", "[llm]") {
  torch::manual_seed(5);
  const int64_t b = 2, h = 4, kvh = 2, hd = 8, tk = 300;
  auto doc = torch::cat({torch::zeros({b, 170}, torch::kLong), torch::ones({b, 120}, torch::kLong),
                         torch::full({b, 10}, -1, torch::kLong)},
                        1);  // (B, Tk)
  auto k = torch::randn({b, kvh, tk, hd}), v = torch::randn({b, kvh, tk, hd});
  for (int64_t t : {tk, int64_t{140}}) {  // full sequence; 140 new queries after 160 cached keys
    INFO("queries " << t);
    auto q = torch::randn({b, h, t, hd});
    auto mask = make_document_mask(doc.narrow(1, tk - t, t), doc);
    auto out = grouped_attention(q, k, v, mask);
    auto ke = k.repeat_interleave(h / kvh, 1), ve = v.repeat_interleave(h / kvh, 1);  // (B, H, Tk, hd)
    auto s = torch::matmul(q, ke.transpose(-1, -2)) / std::sqrt(double(hd));
    s = s.masked_fill(mask.allowed.logical_not(), -INFINITY);
    auto ref = torch::matmul(torch::softmax(s, -1), ve);
    CHECK(torch::allclose(out, ref, 1e-5, 1e-5));
  }
}

TEST_CASE("Fused chunked attention Function matches the composite path (values and gradients)", "[llm]") {
  // attention_bthd's autograd Function (fused = true) against the torch-op composite (fused =
  // false), whatever MM_FUSED_KERNELS says: q/k/v are strided views of one (B, T, (H+2KV)*hd)
  // leaf, as the q/k/v GEMM produces them; two documents + padding, GQA 4/2, 3 query chunks.
  torch::manual_seed(11);
  const int64_t b = 2, h = 4, kvh = 2, hd = 8, tk = 300;
  auto doc = torch::cat({torch::zeros({b, 170}, torch::kLong), torch::ones({b, 120}, torch::kLong),
                         torch::full({b, 10}, -1, torch::kLong)},
                        1);
  auto qkv0 = torch::randn({b, tk, (h + 2 * kvh) * hd});
  auto w = torch::randn({b, tk, h * hd});
  for (int64_t t : {tk, int64_t{140}}) {  // full sequence; 140 queries after 160 cached keys
    INFO("queries " << t);
    auto mask = make_document_mask(doc.narrow(1, tk - t, t), doc);
    auto run = [&](bool fused) {
      auto qkv = qkv0.clone().requires_grad_(true);
      auto parts = qkv.split({h * hd, kvh * hd, kvh * hd}, -1);
      auto q = parts[0].narrow(1, tk - t, t).view({b, t, h, hd});
      auto k = parts[1].view({b, tk, kvh, hd}), v = parts[2].view({b, tk, kvh, hd});
      auto out = attention_bthd(q, k, v, mask, fused);  // (B, T, H*hd)
      (out * w.narrow(1, 0, t)).sum().backward();
      return std::make_pair(out.detach(), qkv.grad());
    };
    auto [out_f, grad_f] = run(true);
    auto [out_c, grad_c] = run(false);
    REQUIRE(out_f.sizes() == torch::IntArrayRef({b, t, h * hd}));
    CHECK(torch::allclose(out_f, out_c, 1e-5, 1e-5));
    CHECK(out_f.is_contiguous());
    const char* names[] = {"q", "k", "v"};
    const int64_t offs[] = {0, h * hd, (h + kvh) * hd}, widths[] = {h * hd, kvh * hd, kvh * hd};
    for (int i = 0; i < 3; ++i) {
      INFO("gradient of " << names[i]);
      auto gf = grad_f.narrow(2, offs[i], widths[i]), gc = grad_c.narrow(2, offs[i], widths[i]);
      CHECK(gc.abs().max().item<float>() > 1e-3);  // a real gradient, not zeros on both sides
      CHECK(torch::allclose(gf, gc, 1e-5, 1e-5));
    }
  }
}

TEST_CASE("A packed sequence gives the same outputs as its documents run separately", "[llm]") {
  torch::manual_seed(1);
  auto cfg = tiny_llm(4);
  Decoder dec(cfg);
  dec->eval();
  auto a = torch::randint(0, cfg.vocab_size, {1, 5}), b = torch::randint(0, cfg.vocab_size, {1, 3});
  auto pos_a = torch::arange(5).view({1, 5}), pos_b = torch::arange(3).view({1, 3});
  auto packed = torch::cat({a, b, torch::zeros({1, 2}, torch::kLong)}, 1);  // + 2 padding tokens
  auto pos = torch::cat({pos_a, pos_b, torch::zeros({1, 2}, torch::kLong)}, 1);
  auto doc = torch::tensor({0, 0, 0, 0, 0, 1, 1, 1, -1, -1}, torch::kLong).view({1, 10});
  auto full = dec->forward(packed, pos, doc).logits;
  auto la = dec->forward(a, pos_a, torch::zeros_like(a)).logits;
  auto lb = dec->forward(b, pos_b, torch::zeros_like(b)).logits;
  auto counts = dec->expert_counts();  // one MoE layer (layer 1), last forward: 3 tokens x top-2
  REQUIRE(counts.size() == 1);
  CHECK(counts[0].sum().item<int64_t>() == 3 * 2);
  CHECK(torch::allclose(full.narrow(1, 0, 5), la, 1e-4, 1e-5));
  CHECK(torch::allclose(full.narrow(1, 5, 3), lb, 1e-4, 1e-5));
}

TEST_CASE("Greedy decoding with the KV cache equals the full-sequence forward", "[llm]") {
  for (int64_t experts : {0, 4}) {
    INFO("experts " << experts);
    torch::manual_seed(2);
    auto cfg = tiny_llm(experts);
    Decoder dec(cfg);
    dec->eval();
    torch::NoGradGuard no_grad;
    auto ids = torch::randint(0, cfg.vocab_size, {2, 4});
    auto doc = torch::zeros({2, 4}, torch::kLong);
    KVCache cache;
    auto step = dec->forward(ids, torch::arange(4).repeat({2, 1}), doc, &cache).logits;  // (2, 4, V)
    std::vector<torch::Tensor> step_logits{step};
    auto seq = ids;
    for (int64_t t = 4; t < 9; ++t) {
      auto next = step.select(1, step.size(1) - 1).argmax(-1).view({2, 1});  // greedy
      seq = torch::cat({seq, next}, 1);
      step =
          dec->forward(next, torch::full({2, 1}, t, torch::kLong), torch::zeros({2, 1}, torch::kLong), &cache).logits;
      step_logits.push_back(step);
    }
    CHECK(cache.length() == 9);
    CHECK(cache.layers[1].k.size(2) == 9);
    auto cached = torch::cat(step_logits, 1);  // (2, 9, V)
    auto full = dec->forward(seq, torch::arange(9).repeat({2, 1}), torch::zeros({2, 9}, torch::kLong)).logits;
    CHECK(torch::allclose(cached, full, 1e-4, 1e-5));
  }
}

TEST_CASE("Parameter names follow HF Llama/Mixtral and MoE sits on every n-th layer", "[llm]") {
  auto cfg = tiny_llm(4);
  cfg.layers = 4;
  Decoder dec(cfg);
  auto params = dec->named_parameters();
  for (const char* name :
       {"embed_tokens.weight", "norm.weight", "layers.0.self_attn.q_proj.weight", "layers.0.self_attn.k_proj.weight",
        "layers.0.self_attn.v_proj.weight", "layers.0.self_attn.o_proj.weight", "layers.0.input_layernorm.weight",
        "layers.0.post_attention_layernorm.weight", "layers.0.mlp.gate_proj.weight", "layers.0.mlp.up_proj.weight",
        "layers.0.mlp.down_proj.weight", "layers.1.block_sparse_moe.gate.weight",
        "layers.1.block_sparse_moe.experts.3.w1.weight", "layers.3.block_sparse_moe.experts.0.w2.weight",
        "layers.2.mlp.down_proj.weight"}) {
    INFO(name);
    CHECK(params.contains(name));
  }
  CHECK_FALSE(params.contains("lm_head.weight"));  // tied
  CHECK_FALSE(params.contains("layers.0.block_sparse_moe.gate.weight"));
  CHECK(params["layers.0.self_attn.k_proj.weight"].sizes() == torch::IntArrayRef({16, 32}));  // GQA
  CHECK_FALSE(is_moe_layer(cfg, 0));
  CHECK(is_moe_layer(cfg, 1));
  CHECK(is_moe_layer(cfg, 3));
}

TEST_CASE("Analytic parameter counts equal the module's numel", "[llm]") {
  auto check = [](const mm::LLMConfig& cfg) {
    Decoder dec(cfg);
    auto pc = llm_param_count(cfg);
    CHECK(pc.total == numel(*dec));
    return pc;
  };
  auto dense = tiny_llm();
  auto pc = check(dense);
  CHECK(pc.active == pc.total);
  dense.tie_embeddings = false;
  CHECK(check(dense).total == pc.total + dense.vocab_size * dense.dim);
  auto moe = tiny_llm(4);
  moe.layers = 4;
  moe.moe.every = 2;
  auto pm = check(moe);
  const int64_t expert = 3 * moe.dim * moe.moe.expert_hidden;
  CHECK(pm.active == pm.total - 2 /*MoE layers*/ * (4 - 2) * expert);
}

TEST_CASE("Activation checkpointing gives the gradients of the plain run", "[llm]") {
  torch::manual_seed(3);
  auto cfg = tiny_llm(4);
  Decoder plain(cfg), ckpt(cfg, /*activation_checkpointing=*/true);
  {
    torch::NoGradGuard no_grad;
    auto src = plain->parameters();
    auto dst = ckpt->parameters();
    for (size_t i = 0; i < src.size(); ++i) dst[i].copy_(src[i]);
  }
  auto ids = torch::randint(0, cfg.vocab_size, {2, 7});
  auto pos = torch::arange(7).repeat({2, 1});
  auto doc = torch::zeros({2, 7}, torch::kLong);
  auto run = [&](Decoder& d) {
    auto out = d->forward(ids, pos, doc);
    auto loss = causal_lm_loss(out.logits, ids, doc) + out.aux_loss + out.z_loss;
    loss.backward();
    return loss.item<double>();
  };
  CHECK(run(plain) == run(ckpt));
  auto a = plain->named_parameters(), b = ckpt->named_parameters();
  for (const auto& p : a) {
    INFO(p.key());
    REQUIRE(b[p.key()].grad().defined());
    CHECK(torch::allclose(p.value().grad(), b[p.key()].grad(), 1e-6, 1e-7));
  }
}

TEST_CASE("Next-token loss skips document boundaries, padding and -100 labels", "[llm]") {
  torch::manual_seed(4);
  auto logits = torch::randn({1, 6, 5});
  auto labels = torch::tensor({1, 2, 3, 4, -100, 0}, torch::kLong).view({1, 6});
  auto doc = torch::tensor({0, 0, 0, 1, 1, -1}, torch::kLong).view({1, 6});
  // Counted: t=0 -> 2, t=1 -> 3, t=3 -> label -100 (no). t=2 crosses docs, t=4 predicts padding.
  auto lp = torch::log_softmax(logits[0], -1);
  auto expected = -(lp[0][2] + lp[1][3]) / 2.0;
  CHECK(causal_lm_loss(logits, labels, doc).item<float>() == Approx(expected.item<float>()).epsilon(1e-6));
  auto none = causal_lm_loss(logits, labels, torch::full({1, 6}, -1, torch::kLong));
  CHECK(none.item<float>() == 0.0f);
}

TEST_CASE("Decoder rejects inconsistent configs and inputs with a clear error", "[llm]") {
  auto cfg = tiny_llm();
  cfg.kv_heads = 3;
  CHECK_THROWS_AS(Decoder(cfg), mm::Error);
  Decoder dec(tiny_llm());
  CHECK_THROWS_AS(dec->forward(torch::zeros({1, 4}, torch::kLong), torch::zeros({1, 3}, torch::kLong),
                               torch::zeros({1, 4}, torch::kLong)),
                  mm::Error);
}
