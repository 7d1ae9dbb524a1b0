// Checkpoint export to HF Llama/Mixtral/Qwen2-MoE + CLIP vision folders (see hf_export.h,
// docs/export.md).
#include "trainers/export/hf_export.h"

#include <filesystem>
#include <set>
#include <sstream>

#include "core/check.h"
#include "core/config/run_config.h"
#include "core/io.h"
#include "core/logging.h"
#include "core/safetensors.h"
#include "models/llm/decoder_layer.h"
#include "models/vision/vit.h"
#include "tokenizer/tokenizer.h"
#include "trainers/checkpoint/checkpoint_manager.h"
#include "trainers/checkpoint/model_state.h"

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace mm::train {
namespace {

struct NamePair {
  std::string ours, theirs;
  std::vector<int64_t> shape;
};

std::string shape_str(torch::IntArrayRef s) {
  std::ostringstream os;
  os << s;
  return os.str();
}

// A one-to-one renaming with checks: every `from` name of `pairs` present with its shape; no other
// name under `scope` (a prefix; "" = every name) in `in`.
TensorMap rename(const TensorMap& in, const std::vector<NamePair>& pairs, bool to_theirs,
                 const std::string& scope, const std::string& what) {
  TensorMap out;
  std::set<std::string> used;
  for (const auto& p : pairs) {
    const std::string& from = to_theirs ? p.ours : p.theirs;
    const std::string& to = to_theirs ? p.theirs : p.ours;
    auto it = in.find(from);
    MM_CHECK(it != in.end(), "{}: missing tensor '{}'", what, from);
    MM_CHECK(it->second.sizes() == torch::IntArrayRef(p.shape),
             "{}: tensor '{}' has shape {}, expected {}", what, from, shape_str(it->second.sizes()),
             shape_str(p.shape));
    out[to] = it->second;
    used.insert(from);
  }
  for (const auto& [name, t] : in) {
    if (name.compare(0, scope.size(), scope) != 0) continue;
    MM_CHECK(used.count(name) != 0, "{}: unexpected tensor '{}' (not part of the mapped model)",
             what, name);
  }
  return out;
}

// ---- decoder ------------------------------------------------------------------------------------

// Which HF layout a decoder is written in: Llama (dense), Mixtral (MoE on every layer) or
// Qwen2-MoE (MoE layers interleaved with dense ones, model.llm.moe.every > 1).
enum class LlmLayout { kLlama, kMixtral, kQwen2Moe };

LlmLayout llm_layout(const LLMConfig& c) {
  if (c.moe.num_experts == 0) return LlmLayout::kLlama;
  MM_CHECK(c.moe.every >= 1, "export: model.llm.moe.every must be >= 1, got {}", c.moe.every);
  return c.moe.every == 1 ? LlmLayout::kMixtral : LlmLayout::kQwen2Moe;
}

int64_t expert_width(const LLMConfig& c) {
  return c.moe.expert_hidden > 0 ? c.moe.expert_hidden : c.ffn_hidden;
}

std::vector<NamePair> llm_pairs(const LLMConfig& c) {
  const LlmLayout layout = llm_layout(c);
  const int64_t d = c.dim, hd = c.dim / c.heads, h = c.heads, kv = c.kv_heads, f = c.ffn_hidden,
                fe = expert_width(c), v = c.vocab_size;
  std::vector<NamePair> out;
  auto add = [&](const std::string& n, std::vector<int64_t> shape) {
    out.push_back({"llm." + n, "model." + n, std::move(shape)});
  };
  auto add_as = [&](const std::string& ours, const std::string& theirs,
                    std::vector<int64_t> shape) {
    out.push_back({"llm." + ours, "model." + theirs, std::move(shape)});
  };
  add("embed_tokens.weight", {v, d});
  for (int64_t i = 0; i < c.layers; ++i) {
    const std::string p = "layers." + std::to_string(i) + ".";
    add(p + "input_layernorm.weight", {d});
    add(p + "self_attn.q_proj.weight", {h * hd, d});
    add(p + "self_attn.k_proj.weight", {kv * hd, d});
    add(p + "self_attn.v_proj.weight", {kv * hd, d});
    add(p + "self_attn.o_proj.weight", {d, h * hd});
    add(p + "post_attention_layernorm.weight", {d});
    if (llm::is_moe_layer(c, i) && layout == LlmLayout::kMixtral) {
      add(p + "block_sparse_moe.gate.weight", {c.moe.num_experts, d});
      for (int64_t e = 0; e < c.moe.num_experts; ++e) {
        const std::string q = p + "block_sparse_moe.experts." + std::to_string(e) + ".";
        add(q + "w1.weight", {fe, d});
        add(q + "w2.weight", {d, fe});
        add(q + "w3.weight", {fe, d});
      }
    } else if (llm::is_moe_layer(c, i)) {  // Qwen2-MoE: Qwen2MoeSparseMoeBlock under mlp.
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
  if (llm_layout(c) != LlmLayout::kQwen2Moe) return out;
  const int64_t d = c.dim, hd = c.dim / c.heads, s = kSharedExpertWidth;
  for (int64_t i = 0; i < c.layers; ++i) {
    const std::string p = "model.layers." + std::to_string(i) + ".";
    out.push_back({"", p + "self_attn.q_proj.bias", {c.heads * hd}});
    out.push_back({"", p + "self_attn.k_proj.bias", {c.kv_heads * hd}});
    out.push_back({"", p + "self_attn.v_proj.bias", {c.kv_heads * hd}});
    if (!llm::is_moe_layer(c, i)) continue;
    out.push_back({"", p + "mlp.shared_expert.gate_proj.weight", {s, d}});
    out.push_back({"", p + "mlp.shared_expert.up_proj.weight", {s, d}});
    out.push_back({"", p + "mlp.shared_expert.down_proj.weight", {d, s}});
    out.push_back({"", p + "mlp.shared_expert_gate.weight", {1, d}});
  }
  return out;
}

// ---- vision -------------------------------------------------------------------------------------

// The tensors whose names map one to one (everything but class token, position rows and norms).
std::vector<NamePair> vision_pairs(const VisionConfig& c) {
  const int64_t w = c.width, m = c.mlp_dim, p = c.patch_size;
  std::vector<NamePair> out;
  auto add = [&](const std::string& n, std::vector<int64_t> shape) {
    out.push_back({"vision." + n, "vision_model." + n, std::move(shape)});
  };
  add("embeddings.patch_embedding.weight", {w, 3, p, p});
  if (c.pre_norm) {
    add("pre_layrnorm.weight", {w});
    add("pre_layrnorm.bias", {w});
  }
  const int64_t blocks = vision::vit_blocks_used(c);
  for (int64_t i = 0; i < blocks; ++i) {
    const std::string b = "encoder.layers." + std::to_string(i) + ".";
    for (const char* ln : {"layer_norm1", "layer_norm2"}) {
      add(b + ln + ".weight", {w});
      add(b + ln + ".bias", {w});
    }
    for (const char* proj : {"q_proj", "k_proj", "v_proj", "out_proj"}) {
      add(b + "self_attn." + proj + ".weight", {w, w});
      add(b + "self_attn." + proj + ".bias", {w});
    }
    add(b + "mlp.fc1.weight", {m, w});
    add(b + "mlp.fc1.bias", {m});
    add(b + "mlp.fc2.weight", {w, m});
    add(b + "mlp.fc2.bias", {w});
  }
  return out;
}

const torch::Tensor& need(const TensorMap& m, const std::string& name, std::vector<int64_t> shape,
                          const std::string& what) {
  auto it = m.find(name);
  MM_CHECK(it != m.end(), "{}: missing tensor '{}'", what, name);
  MM_CHECK(it->second.sizes() == torch::IntArrayRef(shape),
           "{}: tensor '{}' has shape {}, expected {}", what, name, shape_str(it->second.sizes()),
           shape_str(shape));
  return it->second;
}

// ---- writing ------------------------------------------------------------------------------------

TensorMap to_dtype(const TensorMap& m, const std::string& dtype) {
  TensorMap out;
  for (const auto& [name, t] : m) {
    auto c = t.detach().to(torch::kCPU);
    if (dtype == "bf16" && c.is_floating_point()) c = c.to(torch::kBFloat16);
    out[name] = c.contiguous();
  }
  return out;
}

std::string torch_dtype_name(const std::string& dtype) {
  return dtype == "bf16" ? "bfloat16" : "float32";
}

}  // namespace

// ---- public mappings ----------------------------------------------------------------------------

TensorMap hf_llm_state(const TensorMap& ours, const LLMConfig& cfg) {
  TensorMap out = rename(ours, llm_pairs(cfg), true, "llm.", "export llm");
  const auto zeros = qwen2_moe_zero_tensors(cfg);
  if (!zeros.empty()) {
    const auto opts = out.at("model.embed_tokens.weight").options();
    for (const auto& z : zeros) out[z.theirs] = torch::zeros(z.shape, opts);
  }
  return out;
}

TensorMap llm_state_from_hf(const TensorMap& hf, const LLMConfig& cfg) {
  const std::string what = "import llm";
  TensorMap in = hf;  // drop the zero tensors our decoder has no counterpart for (checked zero)
  for (const auto& z : qwen2_moe_zero_tensors(cfg)) {
    const auto& t = need(in, z.theirs, z.shape, what);
    const int64_t nonzero = torch::count_nonzero(t).item<int64_t>();
    MM_CHECK(nonzero == 0,
             "{}: tensor '{}' has {} non-zero value(s), expected all zero (mmtrain's decoder has "
             "no attention biases and no shared expert)",
             what, z.theirs, nonzero);
    in.erase(z.theirs);
  }
  return rename(in, llm_pairs(cfg), false, "", what);
}

json hf_llm_config(const LLMConfig& c, const TokenIds& ids, const std::string& torch_dtype) {
  const LlmLayout layout = llm_layout(c);
  auto id = [](int64_t v) { return v >= 0 ? json(v) : json(nullptr); };
  json j;
  switch (layout) {
    case LlmLayout::kLlama:
      j["architectures"] = json::array({"LlamaForCausalLM"});
      j["model_type"] = "llama";
      break;
    case LlmLayout::kMixtral:
      j["architectures"] = json::array({"MixtralForCausalLM"});
      j["model_type"] = "mixtral";
      break;
    case LlmLayout::kQwen2Moe:
      j["architectures"] = json::array({"Qwen2MoeForCausalLM"});
      j["model_type"] = "qwen2_moe";
      break;
  }
  j["hidden_size"] = c.dim;
  // Mixtral: the expert width; Llama and Qwen2-MoE: the dense FFN width (Qwen2-MoE's experts use
  // moe_intermediate_size).
  j["intermediate_size"] = layout == LlmLayout::kMixtral ? expert_width(c) : c.ffn_hidden;
  j["num_attention_heads"] = c.heads;
  j["num_key_value_heads"] = c.kv_heads;
  j["head_dim"] = c.dim / c.heads;
  j["num_hidden_layers"] = c.layers;
  j["hidden_act"] = "silu";
  j["rms_norm_eps"] = c.norm_eps;
  j["rope_theta"] = c.rope_theta;
  j["rope_scaling"] = nullptr;
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
  if (layout == LlmLayout::kMixtral) {
    j["num_local_experts"] = c.moe.num_experts;
    j["num_experts_per_tok"] = c.moe.top_k;
    j["router_aux_loss_coef"] = c.moe.aux_loss_coef;
    j["output_router_logits"] = false;
    j["router_jitter_noise"] = 0.0;
    j["sliding_window"] = nullptr;
    // Not read by HF: our router z-loss and our aux-loss definition (docs/export.md).
    j["mm_router_z_loss_coef"] = c.moe.z_loss_coef;
  } else if (layout == LlmLayout::kQwen2Moe) {
    // Layer i is sparse in HF when i is not in mlp_only_layers and (i + 1) % decoder_sparse_step
    // == 0: with step 1 the dense layers are exactly those listed (ours: llm::is_moe_layer).
    json dense = json::array();
    for (int64_t i = 0; i < c.layers; ++i)
      if (!llm::is_moe_layer(c, i)) dense.push_back(i);
    j["num_experts"] = c.moe.num_experts;
    j["num_experts_per_tok"] = c.moe.top_k;
    j["moe_intermediate_size"] = expert_width(c);
    j["shared_expert_intermediate_size"] = kSharedExpertWidth;  // all-zero weights: output 0
    j["norm_topk_prob"] = true;  // our router renormalises the top-k softmax weights
    j["decoder_sparse_step"] = 1;
    j["mlp_only_layers"] = dense;
    j["qkv_bias"] = true;  // written as zeros (newer transformers read the flag, older always have
                           // the biases)
    j["use_sliding_window"] = false;
    j["sliding_window"] = nullptr;
    j["max_window_layers"] = c.layers;
    j["router_aux_loss_coef"] = c.moe.aux_loss_coef;
    j["output_router_logits"] = false;
    j["mm_router_z_loss_coef"] = c.moe.z_loss_coef;
    j["mm_moe_every"] = c.moe.every;
    j["mm_note"] =
        "mmtrain decoder with MoE on every mm_moe_every-th layer; q/k/v biases and the shared "
        "expert are zero (mmtrain has neither)";
  } else {
    j["attention_bias"] = false;
    j["mlp_bias"] = false;
    j["pretraining_tp"] = 1;
  }
  return j;
}

TensorMap clip_vision_state(const TensorMap& ours, const VisionConfig& c) {
  const std::string what = "export vision";
  const int64_t w = c.width, g = c.image_size / c.patch_size;
  std::vector<NamePair> pairs = vision_pairs(c);
  const auto& pos = need(ours, "vision.embeddings.position_embedding.weight",
                         {g * g + (c.class_token ? 1 : 0), w}, what);
  pairs.push_back({"vision.embeddings.position_embedding.weight",
                   "vision_model.embeddings.position_embedding.weight", pos.sizes().vec()});
  if (c.class_token)
    pairs.push_back(
        {"vision.embeddings.class_embedding", "vision_model.embeddings.class_embedding", {w}});
  TensorMap out = rename(ours, pairs, true, "vision.", what);
  if (!c.class_token) {
    out["vision_model.embeddings.class_embedding"] = torch::zeros({w}, pos.options());
    out["vision_model.embeddings.position_embedding.weight"] =
        torch::cat({torch::zeros({1, w}, pos.options()), pos}, 0);
  }
  if (!c.pre_norm) {
    out["vision_model.pre_layrnorm.weight"] = torch::ones({w}, pos.options());
    out["vision_model.pre_layrnorm.bias"] = torch::zeros({w}, pos.options());
  }
  out["vision_model.post_layernorm.weight"] = torch::ones({w}, pos.options());
  out["vision_model.post_layernorm.bias"] = torch::zeros({w}, pos.options());
  return out;
}

TensorMap vision_state_from_clip(const TensorMap& clip, const VisionConfig& c) {
  const std::string what = "import vision";
  const int64_t w = c.width, g = c.image_size / c.patch_size;
  std::vector<NamePair> pairs = vision_pairs(c);
  if (c.class_token) {
    pairs.push_back(
        {"vision.embeddings.class_embedding", "vision_model.embeddings.class_embedding", {w}});
    pairs.push_back({"vision.embeddings.position_embedding.weight",
                     "vision_model.embeddings.position_embedding.weight",
                     {g * g + 1, w}});
  }
  TensorMap in = clip;  // drop what has no counterpart in our model before the strict rename
  std::vector<std::string> identity_norms = {"vision_model.post_layernorm.weight",
                                             "vision_model.post_layernorm.bias"};
  if (!c.pre_norm)
    identity_norms.insert(identity_norms.end(),
                          {"vision_model.pre_layrnorm.weight", "vision_model.pre_layrnorm.bias"});
  for (const auto& n : identity_norms) {
    need(in, n, {w}, what);
    in.erase(n);
  }
  TensorMap out;
  if (!c.class_token) {
    const auto pos =
        need(in, "vision_model.embeddings.position_embedding.weight", {g * g + 1, w}, what);
    need(in, "vision_model.embeddings.class_embedding", {w}, what);
    out["vision.embeddings.position_embedding.weight"] = pos.slice(0, 1);
    in.erase("vision_model.embeddings.position_embedding.weight");
    in.erase("vision_model.embeddings.class_embedding");
  }
  for (auto& [k, v] : rename(in, pairs, false, "", what)) out[k] = v;
  return out;
}

json clip_vision_config(const VisionConfig& c, const std::string& torch_dtype) {
  json j;
  j["architectures"] = json::array({"CLIPVisionModel"});
  j["model_type"] = "clip_vision_model";
  j["hidden_size"] = c.width;
  j["intermediate_size"] = c.mlp_dim;
  j["num_hidden_layers"] = vision::vit_blocks_used(c);
  j["num_attention_heads"] = c.heads;
  j["num_channels"] = 3;
  j["image_size"] = c.image_size;
  j["patch_size"] = c.patch_size;
  j["hidden_act"] = c.act;  // HF ACT2FN: "gelu" (erf) and "quick_gelu" are ours exactly
  j["layer_norm_eps"] = c.norm_eps;
  j["attention_dropout"] = 0.0;
  j["initializer_range"] = 0.02;
  j["initializer_factor"] = 1.0;
  j["projection_dim"] = c.width;
  j["torch_dtype"] = torch_dtype;
  // Ours vs CLIP (docs/export.md "Deviations"); HF ignores these keys.
  j["mm_class_token"] = c.class_token;
  j["mm_pre_norm"] = c.pre_norm;
  j["mm_layers"] = c.layers;
  j["mm_feature_layer"] = c.feature_layer;
  j["mm_features"] =
      "the connector reads last_hidden_state (no post_layernorm) without the class token; "
      "num_hidden_layers counts only the blocks up to feature_layer";
  if (!c.class_token)
    j["mm_note"] =
        "trained without a class token: class_embedding and position row 0 are zero padding; "
        "stock HF CLIPVisionModel prepends a class token, so its patch features differ from ours";
  return j;
}

// ---- the export ---------------------------------------------------------------------------------

ExportSummary export_checkpoint(const std::string& checkpoint, const std::string& out_dir,
                                const ExportOptions& options) {
  MM_CHECK(options.dtype == "fp32" || options.dtype == "bf16",
           "export: --dtype must be fp32 or bf16, got '{}'", options.dtype);
  MM_CHECK(!out_dir.empty(), "export: --out DIR is required");
  MM_CHECK(!fs::exists(out_dir) || fs::is_directory(out_dir),
           "export: --out {} exists and is not a folder", out_dir);
  auto log = mm::log::get("export");
  ExportSummary summary;
  auto warn = [&](const std::string& msg) {
    log->warn("{}", msg);
    summary.warnings.push_back(msg);
  };

  LoadedModel loaded = load_model_checkpoint(checkpoint);
  summary.checkpoint = loaded.path;
  summary.step = loaded.step;
  const RunConfig& cfg = loaded.config;
  const ModelConfig& mc = cfg.model;
  llm_layout(mc.llm);  // checks model.llm.moe.every before anything is written
  log->info("exporting {} (step {}) to {} as {}", loaded.path, loaded.step, out_dir, options.dtype);

  const TensorMap state = model_state(*loaded.model);
  const TensorMap llm = hf_llm_state(state, mc.llm);
  const TensorMap vision = clip_vision_state(state, mc.vision);
  TensorMap connector;
  for (const auto& [name, t] : state)
    if (name.rfind("connector.", 0) == 0) connector[name.substr(10)] = t;

  // The tokenizer: the one the checkpoint carries (the vocabulary it was trained with), else the
  // config path (absolute or relative to the working directory), which cannot be checked.
  std::string tok_path = carried_tokenizer(loaded.path);
  if (tok_path.empty() && !cfg.tokenizer.model_path.empty() && fs::is_regular_file(cfg.tokenizer.model_path)) {
    tok_path = cfg.tokenizer.model_path;
    warn(fmt::format("{} carries no tokenizer.model: copied tokenizer.model_path {} from its config, which cannot "
                     "be checked against the vocabulary the model was trained with",
                     loaded.path, tok_path));
  }
  TokenIds ids;
  int64_t image_id = -1, unk_id = -1;
  if (tok_path.empty()) {
    warn(fmt::format(
        "neither {} nor tokenizer.model_path '{}' found: no tokenizer.model written, token ids are null",
        (fs::path(loaded.path) / kCheckpointTokenizer).string(), cfg.tokenizer.model_path));
  } else {
    try {
      auto tok = tok::Tokenizer::load(cfg.tokenizer, tok_path);
      ids = {tok.bos_id(), tok.eos_id(), tok.pad_id()};
      image_id = tok.image_id();
      unk_id = tok.unk_id();
      if (tok.vocab_size() > mc.llm.vocab_size)
        warn(fmt::format("tokenizer {} has {} pieces, more than model.llm.vocab_size = {}",
                         tok_path, tok.vocab_size(), mc.llm.vocab_size));
    } catch (const mm::Error& e) {
      warn(fmt::format("tokenizer {} could not be loaded ({}): copied, but token ids are null",
                       tok_path, e.what()));
    }
  }

  const std::string tdt = torch_dtype_name(options.dtype);
  const fs::path out(out_dir);
  for (const char* sub : {"llm", "vision", "connector"}) fs::create_directories(out / sub);
  auto record = [&](const fs::path& p, int64_t tensors) {
    summary.files.push_back({p.string(), static_cast<uint64_t>(fs::file_size(p)), tensors});
  };
  auto write_json = [&](const fs::path& p, const json& j) {
    io::write_file_atomic(p.string(), j.dump(2) + "\n");
    record(p, 0);
  };
  const safetensors::Metadata st_meta = {{"format", "pt"}};
  auto write_st = [&](const fs::path& p, const TensorMap& m) {
    safetensors::save(p.string(), to_dtype(m, options.dtype), st_meta);
    record(p, static_cast<int64_t>(m.size()));
  };

  // llm/
  json llm_cfg = hf_llm_config(mc.llm, ids, tdt);
  summary.llm_architecture = llm_cfg["architectures"][0].get<std::string>();
  write_json(out / "llm" / "config.json", llm_cfg);
  write_st(out / "llm" / "model.safetensors", llm);

  // vision/
  if (!mc.vision.class_token)
    warn(
        "vision: trained without a class token; vision/ has CLIP's shapes (zero class token), but "
        "stock "
        "CLIPVisionModel prepends a class token, so its features differ from ours (mm_class_token "
        "in config.json)");
  if (!mc.vision.pre_norm)
    warn(
        "vision: trained without pre_layrnorm; vision/ writes weight 1 / bias 0, which CLIP still "
        "applies "
        "(mm_pre_norm in config.json)");
  write_json(out / "vision" / "config.json", clip_vision_config(mc.vision, tdt));
  write_st(out / "vision" / "model.safetensors", vision);

  // connector/
  json conn_cfg;
  {
    ConnectorConfig cc = mc.connector;
    conn_cfg["type"] = cc.type;
    conn_cfg["num_tokens"] = cc.num_tokens;
    conn_cfg["hidden"] = cc.hidden;
    conn_cfg["depth"] = cc.depth;
    conn_cfg["se_ratio"] = cc.se_ratio;
    conn_cfg["vision_width"] = mc.vision.width;
    conn_cfg["vision_grid"] = mc.vision.image_size / mc.vision.patch_size;
    conn_cfg["llm_dim"] = mc.llm.dim;
    conn_cfg["torch_dtype"] = tdt;
    conn_cfg["names"] = "mmtrain connector module names (checkpoint names without 'connector.')";
    conn_cfg["input"] = "vision features (N, P, vision_width)";
    conn_cfg["output"] = "image tokens (N, num_tokens, llm_dim), written at the image-token slots";
  }
  write_json(out / "connector" / "config.json", conn_cfg);
  write_st(out / "connector" / "model.safetensors", connector);

  // tokenizer.model
  if (!tok_path.empty()) {
    io::write_file_atomic((out / "tokenizer.model").string(), io::read_file(tok_path));
    record(out / "tokenizer.model", 0);
  } else {
    fs::remove(out /
               "tokenizer.model");  // a stale copy from an earlier export into the same folder
  }

  // config.json: how the parts join.
  auto id = [](int64_t v) { return v >= 0 ? json(v) : json(nullptr); };
  const ImageConfig& im = cfg.image;
  const TokenizerConfig& tc = cfg.tokenizer;
  json top;
  top["format"] = "mmtrain-export";
  top["format_version"] = 1;
  top["model_name"] = mc.name;
  top["source"] = {
      {"checkpoint", loaded.path}, {"step", loaded.step}, {"config_hash", config_hash(cfg)}};
  top["torch_dtype"] = tdt;
  top["parts"] = {{"llm", "llm"},
                  {"llm_architecture", summary.llm_architecture},
                  {"vision", "vision"},
                  {"connector", "connector"},
                  {"tokenizer", tok_path.empty() ? json(nullptr) : json("tokenizer.model")}};
  top["pipeline"] =
      "tiles (N,3,r,r) normalised with image.mean/std -> vision (CLIP last_hidden_state, class "
      "token dropped) -> "
      "connector -> (N, tokens_per_tile, hidden_size) written in order at the image_token_id slots "
      "of the "
      "token embeddings -> llm";
  top["tokens_per_tile"] = mc.connector.num_tokens;
  top["image_token"] = tc.image_token;
  top["image_token_id"] = id(image_id);
  top["special_token_ids"] = {
      {"bos", id(ids.bos)}, {"eos", id(ids.eos)}, {"pad", id(ids.pad)}, {"unk", id(unk_id)}};
  top["image"] = {{"tile_size", im.tile_size},
                  {"vision_image_size", mc.vision.image_size},
                  {"mode", im.mode},
                  {"nmin", im.nmin},
                  {"nmax", im.nmax},
                  {"overview", im.overview},
                  {"split_below_images", im.split_below_images},
                  {"indicators", im.indicators},
                  {"downscale", im.downscale},
                  {"upscale", im.upscale},
                  {"alpha", im.alpha},
                  {"max_pixels", im.max_pixels},
                  {"mean", im.mean},
                  {"std", im.std}};
  top["chat_template"] = {
      {"template", tc.chat_template},  {"system_prefix", tc.system_prefix},
      {"user_prefix", tc.user_prefix}, {"assistant_prefix", tc.assistant_prefix},
      {"turn_end", tc.turn_end},       {"add_bos", tc.add_bos},
      {"add_eos", tc.add_eos},         {"bos_piece", tc.bos_piece},
      {"eos_piece", tc.eos_piece},     {"pad_piece", tc.pad_piece},
      {"unk_piece", tc.unk_piece}};
  top["indicators"] = {{"index_image_format", tc.index_image_format},
                       {"index_row_format", tc.index_row_format},
                       {"index_col_format", tc.index_col_format},
                       {"index_max_images", tc.index_max_images},
                       {"index_max_grid", tc.index_max_grid},
                       {"sep_col", tc.sep_col},
                       {"sep_row", tc.sep_row},
                       {"sep_overview", tc.sep_overview}};
  top["warnings"] = summary.warnings;
  write_json(out / "config.json", top);
  return summary;
}

}  // namespace mm::train
