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
// maths as the composite path in grouped_attention, with a hand-written backward): the key and
// value gradients accumulate into one buffer per tensor (bmm + add_ on prefix views) instead of
// a zero-filled full-size tensor per chunk (SliceBackward) summed by autograd, the mask and scale
// are applied in place, and softmax's backward reuses the saved probabilities.
//   S = scale * Qc K^T + M,  P = softmax(S),  Oc = P V
//   dV += P^T dOc,  dS = softmax_backward(dOc V^T, P),  dQc = scale dS K,  dK += scale dS^T Qc
struct ChunkedAttentionFn : public torch::autograd::Function<ChunkedAttentionFn> {
  // q (B, H, T, hd), k, v (B, KV, Tk, hd), additive mask (B, 1, T, Tk) -> (B, H, T, hd)
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& q, const torch::Tensor& k,
                               const torch::Tensor& v, const torch::Tensor& additive) {
    const int64_t b = q.size(0), h = q.size(1), t = q.size(2), hd = q.size(3);
    const int64_t kvh = k.size(1), tk = k.size(2), g = h / kvh, past = tk - t;
    const double scale = 1.0 / std::sqrt(static_cast<double>(hd));
    auto q5 = q.reshape({b, kvh, g, t, hd});
    auto k3 = k.contiguous().view({b * kvh, tk, hd});
    auto v3 = v.contiguous().view({b * kvh, tk, hd});
    auto out = torch::empty({b, kvh, g, t, hd}, q.options());
    variable_list saved{q5, k3, v3};
    for (int64_t t0 = 0; t0 < t; t0 += kChunk) {
      const int64_t tc = std::min(kChunk, t - t0), tkc = past + t0 + tc;
      auto qc = q5.narrow(3, t0, tc).reshape({b * kvh, g * tc, hd});
      auto s = torch::bmm(qc, k3.narrow(1, 0, tkc).transpose(1, 2));  // (B*KV, G*Tc, Tkc)
      s.view({b, kvh, g, tc, tkc}).mul_(scale).add_(additive.narrow(2, t0, tc).narrow(3, 0, tkc).unsqueeze(2));
      auto p = torch::softmax(s, -1);
      out.narrow(3, t0, tc).copy_(torch::bmm(p, v3.narrow(1, 0, tkc)).view({b, kvh, g, tc, hd}));
      saved.push_back(p);
    }
    ctx->save_for_backward(saved);
    ctx->saved_data["scale"] = scale;
    return out.view({b, h, t, hd});
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const torch::Tensor &q5 = saved[0], &k3 = saved[1], &v3 = saved[2];
    const double scale = ctx->saved_data["scale"].toDouble();
    const int64_t b = q5.size(0), kvh = q5.size(1), g = q5.size(2), t = q5.size(3), hd = q5.size(4);
    const int64_t tk = k3.size(1), past = tk - t;
    auto go5 = grads[0].reshape({b, kvh, g, t, hd});
    auto dq5 = torch::empty({b, kvh, g, t, hd}, q5.options());
    auto dk3 = torch::zeros_like(k3), dv3 = torch::zeros_like(v3);
    size_t c = 3;
    for (int64_t t0 = 0; t0 < t; t0 += kChunk, ++c) {
      const int64_t tc = std::min(kChunk, t - t0), tkc = past + t0 + tc;
      const torch::Tensor& p = saved[c];  // (B*KV, G*Tc, Tkc)
      auto doc = go5.narrow(3, t0, tc).reshape({b * kvh, g * tc, hd});
      auto qc = q5.narrow(3, t0, tc).reshape({b * kvh, g * tc, hd});
      // bmm + add_ rather than baddbmm_ on the prefix view: LibTorch 1.13's CPU baddbmm_ runs one
      // addmm_ per batch entry, slower than the batched bmm.
      dv3.narrow(1, 0, tkc).add_(torch::bmm(p.transpose(1, 2), doc));
      auto dp = torch::bmm(doc, v3.narrow(1, 0, tkc).transpose(1, 2));
      auto ds = at::_softmax_backward_data(dp, p, -1, p.scalar_type());
      dq5.narrow(3, t0, tc).copy_((torch::bmm(ds, k3.narrow(1, 0, tkc)) * scale).view({b, kvh, g, tc, hd}));
      dk3.narrow(1, 0, tkc).add_(torch::bmm(ds.transpose(1, 2), qc), scale);
    }
    return {dq5.view({b, kvh * g, t, hd}), dk3.view({b, kvh, tk, hd}), dv3.view({b, kvh, tk, hd}),
            torch::Tensor()};
  }
};

}  // namespace

AttentionImpl::AttentionImpl(const LLMConfig& cfg)
    : heads(cfg.heads), kv_heads(cfg.kv_heads), head_dim(cfg.dim / cfg.heads),
      rope_theta(cfg.rope_theta) {
  MM_CHECK(cfg.heads > 0 && cfg.dim % cfg.heads == 0, "llm.dim ({}) must be a multiple of llm.heads ({})",
           cfg.dim, cfg.heads);
  MM_CHECK(cfg.kv_heads > 0 && cfg.heads % cfg.kv_heads == 0,
           "llm.kv_heads ({}) must divide llm.heads ({})", cfg.kv_heads, cfg.heads);
  q_proj = register_module("q_proj", nn::Linear(nn::LinearOptions(cfg.dim, heads * head_dim).bias(false)));
  k_proj = register_module("k_proj", nn::Linear(nn::LinearOptions(cfg.dim, kv_heads * head_dim).bias(false)));
  v_proj = register_module("v_proj", nn::Linear(nn::LinearOptions(cfg.dim, kv_heads * head_dim).bias(false)));
  o_proj = register_module("o_proj", nn::Linear(nn::LinearOptions(heads * head_dim, cfg.dim).bias(false)));
}

torch::Tensor AttentionImpl::forward(const torch::Tensor& x, const RopeTables& rope,
                                     const AttentionMask& mask, LayerKV* cache) {
  const int64_t b = x.size(0), t = x.size(1);
  // One GEMM for q, k and v (weights stacked per call; the parameters keep HF's names).
  auto qkv = torch::linear(x, torch::cat({q_proj->weight, k_proj->weight, v_proj->weight}, 0))
                 .split({heads * head_dim, kv_heads * head_dim, kv_heads * head_dim}, -1);
  auto q = apply_rope(qkv[0].reshape({b, t, heads, head_dim}), rope).transpose(1, 2);     // (B, H, T, hd)
  auto k = apply_rope(qkv[1].reshape({b, t, kv_heads, head_dim}), rope).transpose(1, 2);  // (B, KV, T, hd)
  auto v = qkv[2].reshape({b, t, kv_heads, head_dim}).transpose(1, 2);                     // (B, KV, T, hd)
  if (cache != nullptr) {
    if (cache->k.defined()) {
      k = torch::cat({cache->k, k}, 2);  // (B, KV, T_past + T, hd)
      v = torch::cat({cache->v, v}, 2);
    }
    cache->k = k;
    cache->v = v;
  }
  auto out = grouped_attention(q, k, v, mask);  // (B, H, T, hd)
  return o_proj(out.transpose(1, 2).reshape({b, t, heads * head_dim}));
}

torch::Tensor AttentionImpl::forward(const torch::Tensor& x, const torch::Tensor& positions,
                                     const torch::Tensor& doc_ids) {
  auto rope = rope_tables(positions, head_dim, rope_theta, x.scalar_type());
  auto mask = make_document_mask(doc_ids, doc_ids, x.scalar_type());
  return forward(x, rope, mask, nullptr);
}

torch::Tensor grouped_attention(const torch::Tensor& q, const torch::Tensor& k,
                                const torch::Tensor& v, const AttentionMask& mask) {
  const int64_t b = q.size(0), h = q.size(1), t = q.size(2), hd = q.size(3);
  const int64_t kvh = k.size(1), tk = k.size(2), g = h / kvh;
#if MM_TORCH2
  auto ke = k.unsqueeze(2).expand({b, kvh, g, tk, hd}).reshape({b, h, tk, hd});
  auto ve = v.unsqueeze(2).expand({b, kvh, g, tk, hd}).reshape({b, h, tk, hd});
  return at::scaled_dot_product_attention(q, ke, ve, mask.allowed);
#else
  // (Not under CPU autocast: its bf16 matmuls inside forward would not match the fp32 backward.)
  if (fused_kernels_enabled() && q.device().is_cpu() && !at::autocast::is_cpu_enabled() &&
      q.scalar_type() == torch::kFloat &&
      k.scalar_type() == torch::kFloat && v.scalar_type() == torch::kFloat &&
      mask.additive.scalar_type() == torch::kFloat && !mask.additive.requires_grad() && q.numel() > 0) {
    return ChunkedAttentionFn::apply(q, k, v, mask.additive);
  }
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

}  // namespace mm::llm
