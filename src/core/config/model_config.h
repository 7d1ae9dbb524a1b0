// Typed configuration of the model zoo: one plain struct per component (no torch, no yaml).
// Each struct lists its fields once in visit(); the config layer (config.h) uses that list to
// read YAML, apply --set, validate, dump and hash. Defaults are the CPU `debug` preset's.
#pragma once
#include <cstdint>
#include <string>

#include "core/config/rules.h"

namespace mm {

// CLIP-style ViT image encoder.
struct VisionConfig {
  int64_t image_size = 64;  // tile resolution the position embeddings were trained at
  int64_t patch_size = 8;
  int64_t width = 128;  // D
  int64_t layers = 3;
  int64_t heads = 4;
  int64_t mlp_dim = 512;
  bool class_token = false;    // CLIP has one; the connector never sees it
  std::string act = "gelu";    // gelu | quick_gelu
  int64_t feature_layer = -1;  // which block's output feeds the connector; -1 = last
  bool pre_norm = true;        // CLIP's ln_pre before the blocks
  double norm_eps = 1e-5;
  bool patch_bias = false;  // bias on the patch embedding (SigLIP has one, CLIP does not)
  std::string from;         // "" = random initialisation; "hf:DIR" = a pretrained CLIP or SigLIP folder

  template <class V>
  void visit(V& v) {
    v("image_size", image_size, "tile resolution (pixels) the position embeddings were trained at", cfg::positive());
    v("patch_size", patch_size, "patch side in pixels", cfg::positive());
    v("width", width, "embedding width D", cfg::positive());
    v("layers", layers, "transformer blocks", cfg::positive());
    v("heads", heads, "attention heads", cfg::positive());
    v("mlp_dim", mlp_dim, "MLP hidden width", cfg::positive());
    v("class_token", class_token, "prepend a class token (dropped before the connector)");
    v("act", act, "MLP activation: gelu | quick_gelu (CLIP) | gelu_tanh (SigLIP)",
      cfg::one_of({"gelu", "quick_gelu", "gelu_tanh"}));
    v("feature_layer", feature_layer, "block whose output feeds the connector (-1 = last)");
    v("pre_norm", pre_norm, "LayerNorm before the first block (CLIP's ln_pre)");
    v("norm_eps", norm_eps, "LayerNorm epsilon", cfg::positive());
    v("patch_bias", patch_bias, "bias on the patch embedding (SigLIP)");
    v("from", from,
      "start from a pretrained image encoder: hf:DIR (a CLIP or SigLIP folder; sizes come from its config.json)",
      cfg::input_path());
  }

  void validate(cfg::Problems& p) const {
    if (image_size % patch_size != 0)
      p.add("image_size",
            "must be a multiple of patch_size (" + std::to_string(patch_size) + "), got " + std::to_string(image_size));
    if (width % heads != 0)
      p.add("heads", "must divide width (" + std::to_string(width) + "), got " + std::to_string(heads));
  }
};

// Vision-language connector: c_abstractor | avg_pool | mlp.
struct ConnectorConfig {
  std::string type = "c_abstractor";
  int64_t num_tokens = 16;  // M tokens per tile (144 in the paper); a square for pooling types
  int64_t hidden = 128;     // RegStage width (1024 in the paper)
  int64_t depth = 3;        // RegNet blocks per RegStage
  double se_ratio = 0.25;   // squeeze-excitation reduction

  template <class V>
  void visit(V& v) {
    v("type", type, "connector: c_abstractor | avg_pool | mlp", cfg::one_of({"c_abstractor", "avg_pool", "mlp"}));
    v("num_tokens", num_tokens, "image tokens per tile M (a perfect square for c_abstractor/avg_pool)",
      cfg::positive());
    v("hidden", hidden, "C-Abstractor RegStage width", cfg::positive());
    v("depth", depth, "RegNet bottleneck blocks per RegStage", cfg::non_negative());
    v("se_ratio", se_ratio, "squeeze-excitation ratio", cfg::probability());
  }
};

// Mixture-of-experts FFN settings; num_experts = 0 means a dense decoder.
struct MoEConfig {
  int64_t num_experts = 0;
  int64_t top_k = 2;
  int64_t every = 2;            // an MoE FFN every n-th layer (layers n-1, 2n-1, ...)
  int64_t expert_hidden = 0;    // 0 = the dense ffn_hidden
  double aux_loss_coef = 0.01;  // Switch load-balancing loss
  double z_loss_coef = 0.001;   // router z-loss

  template <class V>
  void visit(V& v) {
    v("num_experts", num_experts, "experts per MoE layer (0 = dense)", cfg::non_negative());
    v("top_k", top_k, "experts per token", cfg::positive());
    v("every", every, "MoE FFN every n-th layer", cfg::positive());
    v("expert_hidden", expert_hidden, "expert FFN hidden width (0 = llm.ffn_hidden)", cfg::non_negative());
    v("aux_loss_coef", aux_loss_coef, "load-balancing loss coefficient", cfg::non_negative());
    v("z_loss_coef", z_loss_coef, "router z-loss coefficient", cfg::non_negative());
  }

  void validate(cfg::Problems& p) const {
    if (num_experts > 0 && top_k > num_experts)
      p.add("top_k", "must be <= num_experts (" + std::to_string(num_experts) + "), got " + std::to_string(top_k));
  }
};

// RoPE frequency scaling for long contexts (Hugging Face's `rope_scaling`); type none leaves RoPE as is.
struct RopeScalingConfig {
  std::string type = "none";  // none | llama3
  double factor = 8.0;
  double low_freq_factor = 1.0;
  double high_freq_factor = 4.0;
  int64_t original_max_position_embeddings = 8192;

  template <class V>
  void visit(V& v) {
    v("type", type, "RoPE scaling: none | llama3 (Llama 3.1+ frequency scaling)", cfg::one_of({"none", "llama3"}));
    v("factor", factor, "llama3: how much longer the context is than the original", cfg::positive());
    v("low_freq_factor", low_freq_factor, "llama3: wavelengths above original/low_freq_factor are scaled",
      cfg::positive());
    v("high_freq_factor", high_freq_factor, "llama3: wavelengths below original/high_freq_factor are kept",
      cfg::positive());
    v("original_max_position_embeddings", original_max_position_embeddings,
      "llama3: the context length the model was first trained at", cfg::positive());
  }
};

// Llama-style decoder.
struct LLMConfig {
  int64_t vocab_size = 2048;
  int64_t dim = 192;
  int64_t layers = 4;
  int64_t heads = 6;
  int64_t kv_heads = 2;      // grouped-query attention; = heads for plain MHA
  int64_t ffn_hidden = 512;  // SwiGLU hidden width
  double rope_theta = 10000.0;
  double norm_eps = 1e-5;
  bool tie_embeddings = true;
  int64_t max_seq_len = 2048;
  int64_t head_dim = 0;         // 0 = dim / heads
  bool attention_bias = false;  // biases on q/k/v projections (Qwen2)
  RopeScalingConfig rope_scaling;
  std::string from;  // "" = random initialisation; "hf:DIR" = a pretrained Hugging Face decoder folder
  MoEConfig moe;

  template <class V>
  void visit(V& v) {
    v("vocab_size", vocab_size, "vocabulary size (must cover the tokenizer)", cfg::positive());
    v("dim", dim, "model width", cfg::positive());
    v("layers", layers, "decoder blocks", cfg::positive());
    v("heads", heads, "query heads", cfg::positive());
    v("kv_heads", kv_heads, "key/value heads (GQA); must divide heads", cfg::positive());
    v("ffn_hidden", ffn_hidden, "SwiGLU hidden width", cfg::positive());
    v("rope_theta", rope_theta, "RoPE base", cfg::positive());
    v("norm_eps", norm_eps, "RMSNorm epsilon", cfg::positive());
    v("tie_embeddings", tie_embeddings, "share token embedding and output head");
    v("max_seq_len", max_seq_len, "longest sequence (RoPE cache)", cfg::positive());
    v("head_dim", head_dim, "width of one attention head (0 = dim / heads)", cfg::non_negative());
    v("attention_bias", attention_bias, "biases on the q/k/v projections (Qwen2)");
    v("rope_scaling", rope_scaling, "RoPE frequency scaling (Hugging Face rope_scaling)");
    v("from", from, "start from a pretrained decoder: hf:DIR (a Hugging Face folder; sizes come from its config.json)",
      cfg::input_path());
    v("moe", moe, "mixture-of-experts FFN");
  }

  void validate(cfg::Problems& p) const {
    if (head_dim == 0 && dim % heads != 0)
      p.add("heads", "must divide dim (" + std::to_string(dim) + "), got " + std::to_string(heads));
    if (heads % kv_heads != 0)
      p.add("kv_heads", "must divide heads (" + std::to_string(heads) + "), got " + std::to_string(kv_heads));
  }
};

// The multimodal model: encoder + connector + decoder.
struct ModelConfig {
  std::string name = "debug";
  VisionConfig vision;
  ConnectorConfig connector;
  LLMConfig llm;
  bool activation_checkpointing = false;  // recompute each block in backward

  template <class V>
  void visit(V& v) {
    v("name", name, "preset or model name", cfg::non_empty());
    v("vision", vision, "image encoder");
    v("connector", connector, "vision-language connector");
    v("llm", llm, "language decoder");
    v("activation_checkpointing", activation_checkpointing, "recompute blocks in backward to save memory");
  }
};

}  // namespace mm
