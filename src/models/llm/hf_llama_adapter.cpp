// Our decoder <-> HF Llama / Mixtral / Qwen2-MoE: names, shapes and config.json (see
// hf_llama_adapter.h, docs/export.md).
#include "models/llm/hf_llama_adapter.h"

#include "core/check.h"
#include "models/llm/decoder_layer.h"

namespace mm::llm {
namespace {

using hf::NamePair;

int64_t expert_width(const LLMConfig& c) { return c.moe.expert_hidden > 0 ? c.moe.expert_hidden : c.ffn_hidden; }

std::vector<NamePair> llm_pairs(const LLMConfig& c) {
  const HfLayout layout = hf_layout(c);
  const int64_t d = c.dim, hd = head_dim_of(c), h = c.heads, kv = c.kv_heads, f = c.ffn_hidden, fe = expert_width(c),
                v = c.vocab_size;
  std::vector<NamePair> out;
  auto add = [&](const std::string& n, std::vector<int64_t> shape) {
    out.push_back({"llm." + n, "model." + n, std::move(shape)});
  };
  auto add_as = [&](const std::string& ours, const std::string& theirs, std::vector<int64_t> shape) {
    out.push_back({"llm." + ours, "model." + theirs, std::move(shape)});
  };
  add("embed_tokens.weight", {v, d});
  for (int64_t i = 0; i < c.layers; ++i) {
    const std::string p = "layers." + std::to_string(i) + ".";
    add(p + "input_layernorm.weight", {d});
    add(p + "self_attn.q_proj.weight", {h * hd, d});
    add(p + "self_attn.k_proj.weight", {kv * hd, d});
    add(p + "self_attn.v_proj.weight", {kv * hd, d});
    if (c.attention_bias) {  // Qwen2 (and Qwen2-MoE with real biases)
      add(p + "self_attn.q_proj.bias", {h * hd});
      add(p + "self_attn.k_proj.bias", {kv * hd});
      add(p + "self_attn.v_proj.bias", {kv * hd});
    }
    add(p + "self_attn.o_proj.weight", {d, h * hd});
    add(p + "post_attention_layernorm.weight", {d});
    if (is_moe_layer(c, i) && layout == HfLayout::kMixtral) {
      add(p + "block_sparse_moe.gate.weight", {c.moe.num_experts, d});
      for (int64_t e = 0; e < c.moe.num_experts; ++e) {
        const std::string q = p + "block_sparse_moe.experts." + std::to_string(e) + ".";
        add(q + "w1.weight", {fe, d});
        add(q + "w2.weight", {d, fe});
        add(q + "w3.weight", {fe, d});
      }
    } else if (is_moe_layer(c, i)) {  // Qwen2-MoE: Qwen2MoeSparseMoeBlock under mlp.
      add_as(p + "block_sparse_moe.gate.weight", p + "mlp.gate.weight", {c.moe.num_experts, d});
      for (int64_t e = 0; e < c.moe.num_experts; ++e) {
        const std::string q = p + "block_sparse_moe.experts." + std::to_string(e) + ".";
        const std::string r = p + "mlp.experts." + std::to_string(e) + ".";
        add_as(q + "w1.weight", r + "gate_proj.weight", {fe, d});
        add_as(q + "w3.weight", r + "up_proj.weight", {fe, d});
        add_as(q + "w2.weight", r + "down_proj.weight", {d, fe});
      }
    } else {
      add(p + "mlp.gate_proj.weight", {f, d});
      add(p + "mlp.up_proj.weight", {f, d});
      add(p + "mlp.down_proj.weight", {d, f});
    }
  }
  add("norm.weight", {d});
  if (!c.tie_embeddings) out.push_back({"llm.lm_head.weight", "lm_head.weight", {v, d}});
  return out;
}

// Width of the Qwen2-MoE shared expert we write: HF always builds one (Qwen2MoeSparseMoeBlock adds
// sigmoid(shared_expert_gate(x)) * shared_expert(x)), our MoE has none. It is written with width 1
// and all-zero weights, so its output is exactly 0 (docs/export.md explains why not width 0).
constexpr int64_t kSharedExpertWidth = 1;

// The tensors Qwen2-MoE has and our decoder lacks, written as zeros (their `ours` is empty):
// q/k/v biases of every layer (Qwen2 attention always has them) and the shared expert of every
// MoE layer.
std::vector<NamePair> qwen2_moe_zero_tensors(const LLMConfig& c) {
  std::vector<NamePair> out;
  if (hf_layout(c) != HfLayout::kQwen2Moe) return out;
  const int64_t d = c.dim, hd = head_dim_of(c), s = kSharedExpertWidth;
  for (int64_t i = 0; i < c.layers; ++i) {
    const std::string p = "model.layers." + std::to_string(i) + ".";
    if (!c.attention_bias) {
      out.push_back({"", p + "self_attn.q_proj.bias", {c.heads * hd}});
      out.push_back({"", p + "self_attn.k_proj.bias", {c.kv_heads * hd}});
      out.push_back({"", p + "self_attn.v_proj.bias", {c.kv_heads * hd}});
    }
    if (!is_moe_layer(c, i)) continue;
    out.push_back({"", p + "mlp.shared_expert.gate_proj.weight", {s, d}});
    out.push_back({"", p + "mlp.shared_expert.up_proj.weight", {s, d}});
    out.push_back({"", p + "mlp.shared_expert.down_proj.weight", {d, s}});
    out.push_back({"", p + "mlp.shared_expert_gate.weight", {1, d}});
  }
  return out;
}

}  // namespace

HfLayout hf_layout(const LLMConfig& c) {
  if (c.moe.num_experts == 0) {
    if (!c.attention_bias) return HfLayout::kLlama;
    MM_CHECK(c.head_dim == 0 || c.head_dim * c.heads == c.dim,
             "export: model.llm.head_dim {} with attention_bias: Qwen2 (the HF decoder with q/k/v biases) has "
             "head_dim = hidden_size / num_attention_heads = {}",
             c.head_dim, c.dim / c.heads);
    return HfLayout::kQwen2;
  }
  MM_CHECK(c.moe.every >= 1, "export: model.llm.moe.every must be >= 1, got {}", c.moe.every);
  MM_CHECK(c.moe.every > 1 || !c.attention_bias,
           "export: model.llm.attention_bias with MoE on every layer: Mixtral has no q/k/v biases (use "
           "moe.every > 1, written as Qwen2-MoE, or no biases)");
  return c.moe.every == 1 ? HfLayout::kMixtral : HfLayout::kQwen2Moe;
}

TensorMap hf_llm_state(const TensorMap& ours, const LLMConfig& cfg) {
  TensorMap out = hf::rename(ours, llm_pairs(cfg), true, "llm.", "export llm");
  const auto zeros = qwen2_moe_zero_tensors(cfg);
  if (!zeros.empty()) {
    const auto opts = out.at("model.embed_tokens.weight").options();
    for (const auto& z : zeros) out[z.theirs] = torch::zeros(z.shape, opts);
  }
  return out;
}

TensorMap llm_state_from_hf(const TensorMap& hf_state, const LLMConfig& cfg) {
  const std::string what = "import llm";
  TensorMap in = hf_state;  // drop the zero tensors our decoder has no counterpart for (checked zero)
  for (const auto& z : qwen2_moe_zero_tensors(cfg)) {
    const auto& t = hf::need(in, z.theirs, z.shape, what);
    const int64_t nonzero = torch::count_nonzero(t).item<int64_t>();
    MM_CHECK(nonzero == 0,
             "{}: tensor '{}' has {} non-zero value(s), expected all zero (mmtrain's decoder has "
             "no attention biases and no shared expert)",
             what, z.theirs, nonzero);
    in.erase(z.theirs);
  }
  return hf::rename(in, llm_pairs(cfg), false, "", what);
}

nlohmann::json hf_llm_config(const LLMConfig& c, const TokenIds& ids, const std::string& torch_dtype) {
  using json = nlohmann::json;
  const HfLayout layout = hf_layout(c);
  auto id = [](int64_t v) { return v >= 0 ? json(v) : json(nullptr); };
  json j;
  switch (layout) {
    case HfLayout::kLlama:
      j["architectures"] = json::array({"LlamaForCausalLM"});
      j["model_type"] = "llama";
      break;
    case HfLayout::kQwen2:
      j["architectures"] = json::array({"Qwen2ForCausalLM"});
      j["model_type"] = "qwen2";
      break;
    case HfLayout::kMixtral:
      j["architectures"] = json::array({"MixtralForCausalLM"});
      j["model_type"] = "mixtral";
      break;
    case HfLayout::kQwen2Moe:
      j["architectures"] = json::array({"Qwen2MoeForCausalLM"});
      j["model_type"] = "qwen2_moe";
      break;
  }
  j["hidden_size"] = c.dim;
  // Mixtral: the expert width; Llama and Qwen2-MoE: the dense FFN width (Qwen2-MoE's experts use
  // moe_intermediate_size).
  j["intermediate_size"] = layout == HfLayout::kMixtral ? expert_width(c) : c.ffn_hidden;
  j["num_attention_heads"] = c.heads;
  j["num_key_value_heads"] = c.kv_heads;
  j["head_dim"] = head_dim_of(c);
  j["num_hidden_layers"] = c.layers;
  j["hidden_act"] = "silu";
  j["rms_norm_eps"] = c.norm_eps;
  j["rope_theta"] = c.rope_theta;
  if (c.rope_scaling.type == "llama3") {
    j["rope_scaling"] = {{"rope_type", "llama3"},
                         {"factor", c.rope_scaling.factor},
                         {"low_freq_factor", c.rope_scaling.low_freq_factor},
                         {"high_freq_factor", c.rope_scaling.high_freq_factor},
                         {"original_max_position_embeddings", c.rope_scaling.original_max_position_embeddings}};
  } else {
    j["rope_scaling"] = nullptr;
  }
  j["vocab_size"] = c.vocab_size;
  j["max_position_embeddings"] = c.max_seq_len;
  j["tie_word_embeddings"] = c.tie_embeddings;
  j["bos_token_id"] = id(ids.bos);
  j["eos_token_id"] = id(ids.eos);
  j["pad_token_id"] = id(ids.pad);
  j["attention_dropout"] = 0.0;
  j["initializer_range"] = 0.02;
  j["use_cache"] = true;
  j["torch_dtype"] = torch_dtype;
  if (layout == HfLayout::kMixtral) {
    j["num_local_experts"] = c.moe.num_experts;
    j["num_experts_per_tok"] = c.moe.top_k;
    j["router_aux_loss_coef"] = c.moe.aux_loss_coef;
    j["output_router_logits"] = false;
    j["router_jitter_noise"] = 0.0;
    j["sliding_window"] = nullptr;
    // Not read by HF: our router z-loss and our aux-loss definition (docs/export.md).
    j["mm_router_z_loss_coef"] = c.moe.z_loss_coef;
  } else if (layout == HfLayout::kQwen2Moe) {
    // Layer i is sparse in HF when i is not in mlp_only_layers and (i + 1) % decoder_sparse_step
    // == 0: with step 1 the dense layers are exactly those listed (ours: is_moe_layer).
    json dense = json::array();
    for (int64_t i = 0; i < c.layers; ++i)
      if (!is_moe_layer(c, i)) dense.push_back(i);
    j["num_experts"] = c.moe.num_experts;
    j["num_experts_per_tok"] = c.moe.top_k;
    j["moe_intermediate_size"] = expert_width(c);
    j["shared_expert_intermediate_size"] = kSharedExpertWidth;  // all-zero weights: output 0
    j["norm_topk_prob"] = true;                                 // our router renormalises the top-k softmax weights
    j["decoder_sparse_step"] = 1;
    j["mlp_only_layers"] = dense;
    j["qkv_bias"] = true;  // zeros without llm.attention_bias (newer transformers read the flag, older
                           // always have the biases)
    j["use_sliding_window"] = false;
    j["sliding_window"] = nullptr;
    j["max_window_layers"] = c.layers;
    j["router_aux_loss_coef"] = c.moe.aux_loss_coef;
    j["output_router_logits"] = false;
    j["mm_router_z_loss_coef"] = c.moe.z_loss_coef;
    j["mm_moe_every"] = c.moe.every;
    j["mm_note"] = c.attention_bias ? "mmtrain decoder with MoE on every mm_moe_every-th layer; the shared expert "
                                      "is zero (mmtrain has none)"
                                    : "mmtrain decoder with MoE on every mm_moe_every-th layer; q/k/v biases and the "
                                      "shared expert are zero (mmtrain has neither)";
  } else if (layout == HfLayout::kQwen2) {
    j["use_sliding_window"] = false;
    j["sliding_window"] = nullptr;
    j["max_window_layers"] = c.layers;
  } else {
    j["attention_bias"] = false;
    j["mlp_bias"] = false;
    j["pretraining_tp"] = 1;
  }
  return j;
}

}  // namespace mm::llm
