// The activation part of the memory planner: every tensor the forward saves for backward, per token,
// as the model code saves it (the comments name the code). Two paths:
//  - cpu: LibTorch 1.13, fp32, the fused CPU kernels (RMSNormFn, PackedSwiGLUFn, RopeFn) and the
//    chunked causal attention (ChunkedAttentionFn: k, v, the scaled queries and the probabilities of
//    every 128-query chunk); the ViT's composite attention keeps its (T x T) probabilities.
//  - cuda: LibTorch 2.x, composite norms, scaled_dot_product_attention (q, k/v expanded to the query
//    heads, out, logsumexp, the boolean document mask turned into a bias of the compute dtype), bf16
//    autocast when train.precision is bf16 (matmul outputs bf16, residual stream and norms fp32).
#include "trainers/plan/activation_bytes.h"

#include <algorithm>
#include <cmath>

#include "core/check.h"
#include "models/model_size.h"

namespace mm::train::plan_detail {
namespace {

int64_t head_dim(const LLMConfig& l) { return l.head_dim > 0 ? l.head_dim : l.dim / l.heads; }

bool moe_layer(const LLMConfig& l, int64_t layer) {
  return l.moe.num_experts > 0 && (layer + 1) % std::max<int64_t>(1, l.moe.every) == 0;
}

int64_t ffn_hidden(const LLMConfig& l, int64_t layer) {
  return moe_layer(l, layer) && l.moe.expert_hidden > 0 ? l.moe.expert_hidden : l.ffn_hidden;
}

// Sum over the 128-query chunks of Tc x (keys the chunk reads): ChunkedAttentionFn's probabilities.
int64_t chunked_prob_elems(int64_t t) {
  constexpr int64_t kChunk = 128;
  int64_t sum = 0;
  for (int64_t t0 = 0; t0 < t; t0 += kChunk) {
    const int64_t tc = std::min(kChunk, t - t0);
    sum += tc * (t0 + tc);
  }
  return sum;
}

int64_t vit_tokens(const VisionConfig& v, int64_t side) {
  const int64_t g = side / v.patch_size;
  return g * g + (v.class_token ? 1 : 0);
}

}  // namespace

int64_t stacked_weight_elems(const LLMConfig& l, int64_t layer) {
  const int64_t d = l.dim, hd = head_dim(l), f = ffn_hidden(l, layer);
  const int64_t qkv = (l.heads + 2 * l.kv_heads) * hd * d;              // attention.cpp: cat(q, k, v weights)
  if (moe_layer(l, layer)) return qkv + l.moe.num_experts * 2 * f * d;  // moe.cpp: cat(w1, w3) per expert
  return qkv + 2 * f * d;                                               // mlp.cpp: cat(gate, up)
}

int64_t decoder_layer_params(const LLMConfig& l, int64_t layer) {
  const int64_t d = l.dim, hd = head_dim(l), f = ffn_hidden(l, layer);
  int64_t n = 2 * l.heads * hd * d + 2 * l.kv_heads * hd * d + 2 * d;
  if (l.attention_bias) n += (l.heads + 2 * l.kv_heads) * hd;
  if (moe_layer(l, layer)) return n + d * l.moe.num_experts + l.moe.num_experts * 3 * d * f;
  return n + 3 * d * f;
}

int64_t vit_block_params(const VisionConfig& v) {
  const int64_t d = v.width;
  return 4 * d + 4 * (d * d + d) + (d * v.mlp_dim + v.mlp_dim) + (v.mlp_dim * d + d);
}

int64_t decoder_layer_bytes(const LLMConfig& l, int64_t layer, const ActivationShape& s) {
  const int64_t n = s.batch * s.seq_len, d = l.dim, hd = head_dim(l);
  const int64_t hq = l.heads * hd, hkv = l.kv_heads * hd, f = ffn_hidden(l, layer), c = s.c;
  const bool moe = moe_layer(l, layer);
  const int64_t k = l.moe.top_k, e = l.moe.num_experts;
  if (!s.cuda) {                                      // fp32 floats per token
    int64_t per = 1 + d;                              // RMSNormFn: 1/rms, the normed input (q/k/v GEMM's input)
    per += (hq + 2 * hkv) + hkv + hq;                 // qkv (alive through v, a view), roped k, scaled queries
    per += hq + d + 1 + d;                            // attention output (o_proj input), h, 1/rms, normed h
    per += moe ? 2 * e + k * d + k * (4 * f) + k * d  // router logits + probs, gathered rows, experts, cat
               : 4 * f;                               // PackedSwiGLUFn: gate_up (2F), sigmoid (F); down's input (F)
    per += d;                                         // the layer output (the next layer's input)
    return 4 * (n * per + s.batch * l.heads * chunked_prob_elems(s.seq_len));
  }
  // cuda: norms composite (1/rms fp32, x*inv fp32, the cast for the GEMM), residual stream fp32.
  int64_t b = 2 * (4 + 4 * d + c * d);              // two norms
  b += c * (hq + 2 * hkv);                          // qkv GEMM output
  b += c * hq + 2 * c * hq + c * hq + 4 * l.heads;  // SDPA: q, k and v expanded to the query heads, out, logsumexp
  b += c * hq;                                      // out transposed to (B, T, H*hd): o_proj's input
  b += 4 * d + 4 * d;                               // h and the layer output (fp32)
  b += moe ? 8 * e + c * (k * d + k * 4 * f + k * d) : c * 4 * f;
  return n * b + c * s.batch * s.seq_len * s.seq_len;  // + the mask as an attention bias of the compute dtype
}

int64_t decoder_layer_grad_working(const LLMConfig& l, int64_t layer, const ActivationShape& s) {
  // The largest set of activation gradients alive inside a layer's backward (saved tensors are freed
  // node by node as it runs): the SwiGLU's (output gradient D, down's input gradient F, gate_up's 2F)
  // or the attention's (dq, dk, dv, the scaled keys; on the cpu path the scores' and probabilities'
  // gradients of the last 128-query chunk, which reads every key).
  const int64_t n = s.batch * s.seq_len, d = l.dim, hd = head_dim(l), hq = l.heads * hd, hkv = l.kv_heads * hd;
  const int64_t k = moe_layer(l, layer) ? l.moe.top_k : 1, f = ffn_hidden(l, layer);
  const int64_t ffn = n * (d + k * 3 * f);
  const int64_t attn =
      n * (d + hq + 3 * hkv) + (s.cuda ? 0 : 2 * s.batch * l.heads * std::min<int64_t>(128, s.seq_len) * s.seq_len);
  return (s.cuda ? s.c : 4) * std::max(ffn, attn);
}

int64_t vit_block_bytes(const VisionConfig& v, const ActivationShape& s) {
  const int64_t t = vit_tokens(v, s.tile_side), m = s.tiles * t, d = v.width, c = s.c;
  const int64_t act = v.act == "quick_gelu" ? 3 : 2;  // gelu: fc1 out + gelu out; quick_gelu: x, sigmoid, product
  if (!s.cuda) {
    // LayerNorm mean/rstd x2, ln1 out, q*scale, k, v, the output copy for out_proj, h, ln2 out, MLP, block out;
    // the softmax probabilities (tiles, heads, T, T).
    const int64_t per = 4 + d + 3 * d + d + d + d + act * v.mlp_dim + d;
    return 4 * (m * per + s.tiles * v.heads * t * t);
  }
  const int64_t per =
      16 + c * d + 3 * c * d + c * d + 4 * v.heads + c * d + 4 * d + c * d + act * c * v.mlp_dim + 4 * d;
  return m * per;
}

ActivationBytes activation_bytes(const ModelConfig& m, const ActivationShape& s, bool recompute) {
  const LLMConfig& l = m.llm;
  const VisionConfig& v = m.vision;
  const int64_t n = s.batch * s.seq_len, c = s.c;
  ActivationBytes a;
  // Loss and head: the final norm, the logits (held by the step until after backward) and the
  // log-softmax of cross_entropy (fp32); its backward needs the gradients of both (fp32).
  const int64_t logits = n * l.vocab_size * c, logsm = 4 * n * l.vocab_size;
  const int64_t final_norm = s.cuda ? n * (4 + 4 * l.dim + c * l.dim) : 4 * n * (1 + l.dim);
  a.head = logits + logsm + final_norm;
  a.steps.push_back({logsm + final_norm, l.vocab_size * l.dim + l.dim, 2 * 4 * n * l.vocab_size, 0});
  // Decoder layers, top down: every layer's saved tensors and stacked weights, or (recompute) the
  // input each checkpointed layer keeps. Its backward needs the gradients of its activations, and
  // with recomputation the recomputed layer (stacked weights too).
  for (int64_t i = l.layers - 1; i >= 0; --i) {
    const int64_t lb = decoder_layer_bytes(l, i, s), stacked = c * stacked_weight_elems(l, i);
    BackwardStep st;
    st.grad_params = decoder_layer_params(l, i);
    st.saved = recompute ? 4 * n * l.dim : lb + stacked;
    st.working = decoder_layer_grad_working(l, i, s) + (recompute ? lb + stacked : 0);
    a.decoder += recompute ? 4 * n * l.dim : lb;
    if (!recompute) a.weight_copies += stacked;  // recompute: one layer's, in its working set
    a.steps.push_back(st);
  }
  // Token embeddings (+ the copy the image tokens are scattered into) and the mask the CPU attention
  // keeps; the held logits are freed when the step ends, counted here.
  const int64_t embeds = 4 * n * l.dim * (s.tiles > 0 ? 2 : 1) + (s.cuda ? 0 : 4 * s.batch * s.seq_len * s.seq_len);
  a.head += embeds;
  a.steps.push_back({embeds + logits, l.tie_embeddings ? 0 : l.vocab_size * l.dim, 0, 0});
  if (s.tiles > 0) {
    const int64_t blocks = v.feature_layer < 0 ? v.layers + 1 + v.feature_layer : v.feature_layer;
    const int64_t t = vit_tokens(v, s.tile_side), g = s.tile_side / v.patch_size;
    // Connector (fp32 feature maps): positions added, reshaped to a grid; C-Abstractor bottlenecks
    // keep ~11 maps each (conv, norm and SiLU outputs of conv1/conv2, SE, conv3, the residual sum
    // and its SiLU) plus 2 for a downsample; then the readout (hidden -> D -> D).
    const ConnectorConfig& cc = m.connector;
    int64_t per_tile = 2 * g * g * v.width;
    if (cc.type == "c_abstractor") {
      const auto side = static_cast<int64_t>(std::lround(std::sqrt(static_cast<double>(cc.num_tokens))));
      per_tile += cc.depth * 11 * g * g * cc.hidden + (v.width != cc.hidden ? 2 * g * g * cc.hidden : 0);
      per_tile += cc.depth * 11 * side * side * cc.hidden;
      per_tile += cc.num_tokens * (cc.hidden + 2 * l.dim);
    } else {
      per_tile += cc.num_tokens * (v.width + 2 * l.dim);
    }
    a.connector = 4 * s.tiles * per_tile;
    a.steps.push_back({a.connector, connector_param_count(cc, v, l.dim), 0, 1});
    // ViT blocks, top down; then the pixels, patch embeddings (conv out, + positions, class-token
    // cat) and ln_pre.
    const int64_t block = vit_block_bytes(v, s), input = 4 * s.tiles * t * v.width;
    const int64_t grads = (s.cuda ? s.c : 4) * s.tiles * t * (v.width + 2 * v.mlp_dim);  // MLP gradients
    for (int64_t i = 0; i < blocks; ++i) {
      a.vision += recompute ? input : block;
      a.steps.push_back({recompute ? input : block, vit_block_params(v), grads + (recompute ? block : 0), 2});
    }
    const int64_t embed = s.tiles * (4 * 3 * s.tile_side * s.tile_side + g * g * v.width * (c + 8) + 4 * t * v.width);
    a.vision += embed;
    a.steps.push_back({embed, vision_param_count(v) - blocks * vit_block_params(v), 0, 2});
  }
  for (const auto& st : a.steps) a.backward = std::max(a.backward, st.working);
  return a;
}

}  // namespace mm::train::plan_detail
