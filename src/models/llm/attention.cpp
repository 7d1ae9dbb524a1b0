#include "models/llm/attention.h"

#include <ATen/autocast_mode.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/check.h"
#include "core/torch_compat.h"
#include "models/llm/fused.h"

namespace mm::llm {

namespace nn = torch::nn;

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

constexpr int64_t kChunk = 128;  // query rows per block of the causal block skipping

// Chunked causal attention for fp32 CPU tensors as one autograd Function (the same blocks and
// maths as the composite path in grouped_attention, with a hand-written backward). It works in
// the (B, T, heads, hd) layout that RoPE produces and returns (B, T, H*hd) ready for o_proj, so
// no full-size transpose copy is made around it: per query chunk the only copy is one gather of
// the chunk's queries (forward, pre-scaled by 1/sqrt(hd) so the scores need no scaling pass) or
// of its output gradient (backward) into rows (g, t) per (b, kv); every other operand is a
// strided view handed to the GEMMs (LibTorch 1.13's CPU bmm runs one gemm per batch entry and
// accepts any batch stride, and any row stride with a unit last stride, also for its result).
// Key/value gradients accumulate in place on prefix views; the chunks run backwards so the
// first one (covering all keys) writes instead of adding (no zero fill). Softmax's backward
// reuses the saved probabilities.
//   S = Qs K^T + M (Qs = Q / sqrt(hd)),  P = softmax(S),  O = P V
//   dV += P^T dO,  dS = softmax_backward(dO V^T, P),  dQ = dS (K / sqrt(hd)),  dK += dS^T Qs
struct ChunkedAttentionFn : public torch::autograd::Function<ChunkedAttentionFn> {
  // q (B, T, H, hd), k, v (B, Tk, KV, hd) (any strides), additive mask (B, 1, T, Tk)
  // -> (B, T, H*hd) contiguous; the queries are the last T of the Tk keys.
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& q, const torch::Tensor& k,
                               const torch::Tensor& v, const torch::Tensor& additive) {
    const int64_t b = q.size(0), t = q.size(1), h = q.size(2), hd = q.size(3);
    const int64_t tk = k.size(1), kvh = k.size(2), g = h / kvh, past = tk - t;
    const double scale = 1.0 / std::sqrt(static_cast<double>(hd));
    const auto scale_t = torch::scalar_tensor(scale, q.options());
    auto out = torch::empty({b, t, h, hd}, q.options());
    variable_list saved{k, v};
    for (int64_t t0 = 0; t0 < t; t0 += kChunk) {
      const int64_t tc = std::min(kChunk, t - t0), tkc = past + t0 + tc;
      // The one gather of the chunk: (B, Tc, KV, G, hd) -> (B*KV, G*Tc, hd), scaled on the way.
      auto qs = torch::empty({b, kvh, g, tc, hd}, q.options());
      at::mul_out(qs, q.narrow(1, t0, tc).reshape({b, tc, kvh, g, hd}).permute({0, 2, 3, 1, 4}), scale_t);
      auto qs3 = qs.view({b * kvh, g * tc, hd});
      auto s = torch::empty({b * kvh, g * tc, tkc}, q.options());
      for (int64_t bi = 0; bi < b; ++bi) {
        auto kt = k.select(0, bi).narrow(0, 0, tkc).permute({1, 2, 0});  // (KV, hd, Tkc), a view
        auto s_i = s.narrow(0, bi * kvh, kvh);
        at::bmm_out(s_i, qs3.narrow(0, bi * kvh, kvh), kt);
      }
      s.view({b, kvh, g, tc, tkc}).add_(additive.narrow(2, t0, tc).narrow(3, 0, tkc).unsqueeze(2));
      auto p = torch::softmax(s, -1);  // (B*KV, G*Tc, Tkc)
      // O written straight into (B, T, H, hd): per (b, kv) one bmm over the G heads, whose result
      // rows have stride H*hd and whose V is the kv head's prefix expanded over G (stride 0).
      auto oc = out.narrow(1, t0, tc).view({b, tc, kvh, g, hd}).permute({0, 2, 3, 1, 4});  // (B, KV, G, Tc, hd)
      auto p5 = p.view({b, kvh, g, tc, tkc});
      for (int64_t bi = 0; bi < b; ++bi) {
        for (int64_t j = 0; j < kvh; ++j) {
          auto vj = v.select(0, bi).narrow(0, 0, tkc).select(1, j).unsqueeze(0).expand({g, tkc, hd});
          auto o = oc.select(0, bi).select(0, j);
          at::bmm_out(o, p5.select(0, bi).select(0, j), vj);
        }
      }
      saved.push_back(qs3);
      saved.push_back(p);
    }
    ctx->save_for_backward(saved);
    ctx->saved_data["scale"] = scale;
    ctx->saved_data["t"] = t;
    ctx->saved_data["h"] = h;
    return out.view({b, t, h * hd});
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const torch::Tensor &k = saved[0], &v = saved[1];
    const double scale = ctx->saved_data["scale"].toDouble();
    const int64_t t = ctx->saved_data["t"].toInt(), h = ctx->saved_data["h"].toInt();
    const int64_t b = k.size(0), tk = k.size(1), kvh = k.size(2), hd = k.size(3), g = h / kvh, past = tk - t;
    const int64_t chunks = (t + kChunk - 1) / kChunk;
    auto go = grads[0].reshape({b, t, kvh, g, hd});
    auto dq = torch::empty({b, t, h, hd}, k.options());
    auto dk = torch::empty({b, tk, kvh, hd}, k.options()), dv = torch::empty({b, tk, kvh, hd}, k.options());
    auto ks = k * scale;  // (B, Tk, KV, hd): dQ = dS (K / sqrt(hd)) lands in dq without a scaling pass
    // Last chunk first: it covers all Tk keys, so its dK/dV products write every row (bmm_out)
    // and the earlier chunks accumulate on prefix views (baddbmm_), no zero fill.
    for (int64_t c = chunks - 1; c >= 0; --c) {
      const int64_t t0 = c * kChunk, tc = std::min(kChunk, t - t0), tkc = past + t0 + tc;
      const bool first = c == chunks - 1;
      const torch::Tensor& qs3 = saved[2 + 2 * c];  // (B*KV, G*Tc, hd), pre-scaled
      const torch::Tensor& p = saved[3 + 2 * c];    // (B*KV, G*Tc, Tkc)
      // The one gather of the chunk: dO (B, Tc, KV, G, hd) -> (B*KV, G*Tc, hd).
      auto dob = torch::empty({b, kvh, g, tc, hd}, k.options());
      dob.copy_(go.narrow(1, t0, tc).permute({0, 2, 3, 1, 4}));
      auto do3 = dob.view({b * kvh, g * tc, hd});
      auto dp = torch::empty({b * kvh, g * tc, tkc}, k.options());
      for (int64_t bi = 0; bi < b; ++bi) {
        auto dob_i = do3.narrow(0, bi * kvh, kvh);
        auto p_t = p.narrow(0, bi * kvh, kvh).transpose(1, 2);              // (KV, Tkc, G*Tc)
        auto dv_i = dv.select(0, bi).narrow(0, 0, tkc).permute({1, 0, 2});  // (KV, Tkc, hd), a view
        if (first) {
          at::bmm_out(dv_i, p_t, dob_i);
        } else {
          dv_i.baddbmm_(p_t, dob_i);
        }
        auto dp_i = dp.narrow(0, bi * kvh, kvh);
        at::bmm_out(dp_i, dob_i, v.select(0, bi).narrow(0, 0, tkc).permute({1, 2, 0}));
      }
      auto ds = at::_softmax_backward_data(dp, p, -1, p.scalar_type());  // (B*KV, G*Tc, Tkc)
      auto ds5 = ds.view({b, kvh, g, tc, tkc});
      auto dqc = dq.narrow(1, t0, tc).view({b, tc, kvh, g, hd}).permute({0, 2, 3, 1, 4});  // (B, KV, G, Tc, hd)
      for (int64_t bi = 0; bi < b; ++bi) {
        auto ds_t = ds.narrow(0, bi * kvh, kvh).transpose(1, 2);            // (KV, Tkc, G*Tc)
        auto dk_i = dk.select(0, bi).narrow(0, 0, tkc).permute({1, 0, 2});  // (KV, Tkc, hd), a view
        if (first) {
          at::bmm_out(dk_i, ds_t, qs3.narrow(0, bi * kvh, kvh));
        } else {
          dk_i.baddbmm_(ds_t, qs3.narrow(0, bi * kvh, kvh));
        }
        for (int64_t j = 0; j < kvh; ++j) {
          auto kj = ks.select(0, bi).narrow(0, 0, tkc).select(1, j).unsqueeze(0).expand({g, tkc, hd});
          auto dq_ij = dqc.select(0, bi).select(0, j);  // (G, Tc, hd), rows of stride H*hd
          at::bmm_out(dq_ij, ds5.select(0, bi).select(0, j), kj);
        }
      }
    }
    return {dq, dk, dv, torch::Tensor()};
  }
};

}  // namespace

AttentionImpl::AttentionImpl(const LLMConfig& cfg)
    : heads(cfg.heads),
      kv_heads(cfg.kv_heads),
      head_dim(head_dim_of(cfg)),
      rope_theta(cfg.rope_theta),
      rope_scaling(cfg.rope_scaling) {
  MM_CHECK(cfg.heads > 0 && (cfg.head_dim > 0 || cfg.dim % cfg.heads == 0),
           "llm.dim ({}) must be a multiple of llm.heads ({}) when llm.head_dim is 0", cfg.dim, cfg.heads);
  MM_CHECK(cfg.kv_heads > 0 && cfg.heads % cfg.kv_heads == 0, "llm.kv_heads ({}) must divide llm.heads ({})",
           cfg.kv_heads, cfg.heads);
  const bool b = cfg.attention_bias;
  q_proj = register_module("q_proj", nn::Linear(nn::LinearOptions(cfg.dim, heads * head_dim).bias(b)));
  k_proj = register_module("k_proj", nn::Linear(nn::LinearOptions(cfg.dim, kv_heads * head_dim).bias(b)));
  v_proj = register_module("v_proj", nn::Linear(nn::LinearOptions(cfg.dim, kv_heads * head_dim).bias(b)));
  o_proj = register_module("o_proj", nn::Linear(nn::LinearOptions(heads * head_dim, cfg.dim).bias(false)));
}

torch::Tensor AttentionImpl::forward(const torch::Tensor& x, const RopeTables& rope, const AttentionMask& mask,
                                     LayerKV* cache) {
  const int64_t b = x.size(0), t = x.size(1);
  // One GEMM for q, k and v (weights stacked per call; the parameters keep HF's names).
  auto w = torch::cat({q_proj->weight, k_proj->weight, v_proj->weight}, 0);
  auto fused = q_proj->bias.defined() ? torch::linear(x, w, torch::cat({q_proj->bias, k_proj->bias, v_proj->bias}, 0))
                                      : torch::linear(x, w);
  auto qkv = fused.split({heads * head_dim, kv_heads * head_dim, kv_heads * head_dim}, -1);
  auto q = apply_rope(qkv[0].reshape({b, t, heads, head_dim}), rope);     // (B, T, H, hd)
  auto k = apply_rope(qkv[1].reshape({b, t, kv_heads, head_dim}), rope);  // (B, T, KV, hd)
  auto v = qkv[2].reshape({b, t, kv_heads, head_dim});                    // (B, T, KV, hd), a view
  if (cache == nullptr) return o_proj(attention_bthd(q, k, v, mask, fused_kernels_enabled()));
  auto kt = k.transpose(1, 2), vt = v.transpose(1, 2);  // (B, KV, T, hd)
  if (cache->k.defined()) {
    kt = torch::cat({cache->k, kt}, 2);  // (B, KV, T_past + T, hd)
    vt = torch::cat({cache->v, vt}, 2);
  }
  cache->k = kt;
  cache->v = vt;
  auto out = grouped_attention(q.transpose(1, 2), kt, vt, mask);  // (B, H, T, hd)
  return o_proj(out.transpose(1, 2).reshape({b, t, heads * head_dim}));
}

torch::Tensor AttentionImpl::forward(const torch::Tensor& x, const torch::Tensor& positions,
                                     const torch::Tensor& doc_ids) {
  auto rope = rope_tables(positions, head_dim, rope_theta, x.scalar_type(), rope_scaling);
  auto mask = make_document_mask(doc_ids, doc_ids, x.scalar_type());
  return forward(x, rope, mask, nullptr);
}

namespace {

#if !MM_TORCH2
// Whether the chunked autograd Function can run: fp32 CPU tensors outside CPU autocast (its bf16
// matmuls inside forward would not match the fp32 backward) and a constant mask.
bool chunked_fn_applies(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                        const AttentionMask& mask) {
  return q.device().is_cpu() && !at::autocast::is_cpu_enabled() && q.scalar_type() == torch::kFloat &&
         k.scalar_type() == torch::kFloat && v.scalar_type() == torch::kFloat &&
         mask.additive.scalar_type() == torch::kFloat && !mask.additive.requires_grad() && q.numel() > 0;
}
#endif

// The composite (torch ops) path of grouped_attention, same contract.
torch::Tensor grouped_attention_composite(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                                          const AttentionMask& mask) {
  const int64_t b = q.size(0), h = q.size(1), t = q.size(2), hd = q.size(3);
  const int64_t kvh = k.size(1), tk = k.size(2), g = h / kvh;
#if MM_TORCH2
  auto ke = k.unsqueeze(2).expand({b, kvh, g, tk, hd}).reshape({b, h, tk, hd});
  auto ve = v.unsqueeze(2).expand({b, kvh, g, tk, hd}).reshape({b, h, tk, hd});
  return at::scaled_dot_product_attention(q, ke, ve, mask.allowed);
#else
  // Causal block skipping: queries run in chunks of kChunk rows and chunk [t0, t1) reads only
  // keys [0, past + t1) (every later key is masked anyway), ~(C+1)/2C of the full work for C
  // chunks. Inside a chunk the G query heads sharing a kv head are stacked along the rows,
  // (B*KV, G*Tc, hd) @ (B*KV, hd, Tkc): two bmm per chunk, no copies of k/v per query head.
  const int64_t past = tk - t;
  const double scale = 1.0 / std::sqrt(static_cast<double>(hd));
  auto q5 = q.reshape({b, kvh, g, t, hd});
  auto k3 = k.contiguous().view({b * kvh, tk, hd});  // chunks below are views (no copies)
  auto v3 = v.contiguous().view({b * kvh, tk, hd});
  // split, not narrow: the backward of the query chunks is one cat, not a zero fill + copy each.
  const auto q_chunks = q5.split(kChunk, 3);
  std::vector<torch::Tensor> outs;
  for (size_t c = 0; c < q_chunks.size(); ++c) {
    const int64_t t0 = static_cast<int64_t>(c) * kChunk, tc = q_chunks[c].size(3), tkc = past + t0 + tc;
    auto qc = q_chunks[c].reshape({b * kvh, g * tc, hd});
    auto raw = torch::bmm(qc, k3.narrow(1, 0, tkc).transpose(1, 2));  // (B*KV, G*Tc, Tkc)
    // mask + scale * raw in one out-of-place pass (an in-place add on the view would cost a
    // CopySlices in backward; scaling here saves a pass over q).
    auto m = mask.additive.narrow(2, t0, tc).narrow(3, 0, tkc).unsqueeze(2);  // (B, 1, 1, Tc, Tkc)
    auto scores = torch::add(m, raw.view({b, kvh, g, tc, tkc}), scale);       // (B, KV, G, Tc, Tkc)
    auto probs = torch::softmax(scores, -1).view({b * kvh, g * tc, tkc});
    outs.push_back(torch::bmm(probs, v3.narrow(1, 0, tkc)).view({b, kvh, g, tc, hd}));
  }
  auto out = outs.size() == 1 ? outs[0] : torch::cat(outs, 3);  // (B, KV, G, T, hd)
  return out.view({b, h, t, hd});
#endif
}

}  // namespace

torch::Tensor grouped_attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                                const AttentionMask& mask) {
#if !MM_TORCH2
  if (fused_kernels_enabled() && chunked_fn_applies(q, k, v, mask)) {
    const int64_t b = q.size(0), h = q.size(1), t = q.size(2), hd = q.size(3);
    return ChunkedAttentionFn::apply(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), mask.additive)
        .view({b, t, h, hd})
        .transpose(1, 2);
  }
#endif
  return grouped_attention_composite(q, k, v, mask);
}

torch::Tensor attention_bthd(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                             const AttentionMask& mask, bool fused) {
  const int64_t b = q.size(0), t = q.size(1), h = q.size(2), hd = q.size(3);
#if !MM_TORCH2
  if (fused && chunked_fn_applies(q, k, v, mask)) return ChunkedAttentionFn::apply(q, k, v, mask.additive);
#else
  (void)fused;
#endif
  auto out = grouped_attention_composite(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), mask);
  return out.transpose(1, 2).reshape({b, t, h * hd});
}

}  // namespace mm::llm
