// config.json of a Hugging Face decoder folder -> LLMConfig, and its weights (hf_import.h).
#include "models/llm/hf_import.h"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "core/check.h"
#include "models/llm/decoder.h"
#include "models/llm/decoder_layer.h"
#include "models/llm/hf_llama_adapter.h"
#include "models/llm/param_count.h"

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace mm::llm {
namespace {

// The architectures we read, with their model_type.
const std::vector<std::pair<std::string, std::string>> kArchitectures = {{"LlamaForCausalLM", "llama"},
                                                                         {"MistralForCausalLM", "mistral"},
                                                                         {"Qwen2ForCausalLM", "qwen2"},
                                                                         {"MixtralForCausalLM", "mixtral"},
                                                                         {"Qwen2MoeForCausalLM", "qwen2_moe"}};

// Typed reads of config.json keys; every failure one line naming the file and the key.
struct Reader {
  const json& j;
  const std::string& file;

  bool has(const std::string& k) const { return j.contains(k) && !j[k].is_null(); }
  int64_t integer(const std::string& k) const {
    MM_CHECK(has(k), "{}: missing key '{}'", file, k);
    MM_CHECK(j[k].is_number_integer() && j[k].get<int64_t>() > 0, "{}: '{}' must be a positive integer, got {}", file,
             k, j[k].dump());
    return j[k].get<int64_t>();
  }
  int64_t integer_or(const std::string& k, int64_t def) const { return has(k) ? integer(k) : def; }
  double number_or(const std::string& k, double def) const {
    if (!has(k)) return def;
    MM_CHECK(j[k].is_number() && j[k].get<double>() > 0, "{}: '{}' must be a positive number, got {}", file, k,
             j[k].dump());
    return j[k].get<double>();
  }
  double coef_or(const std::string& k, double def) const {  // >= 0
    if (!has(k)) return def;
    MM_CHECK(j[k].is_number() && j[k].get<double>() >= 0, "{}: '{}' must be a number >= 0, got {}", file, k,
             j[k].dump());
    return j[k].get<double>();
  }
  bool flag_or(const std::string& k, bool def) const {
    if (!has(k)) return def;
    MM_CHECK(j[k].is_boolean(), "{}: '{}' must be true or false, got {}", file, k, j[k].dump());
    return j[k].get<bool>();
  }
  void refuse_true(const std::string& k, const std::string& why) const {
    MM_CHECK(!flag_or(k, false), "{}: '{}' is true: {}", file, k, why);
  }
};

RopeScalingConfig read_rope_scaling(const Reader& r) {
  RopeScalingConfig out;
  if (!r.has("rope_scaling")) return out;
  const json& s = r.j["rope_scaling"];
  MM_CHECK(s.is_object(), "{}: 'rope_scaling' must be an object or null, got {}", r.file, s.dump());
  const std::string key = s.contains("rope_type") ? "rope_type" : "type";
  MM_CHECK(s.contains(key) && s[key].is_string(), "{}: rope_scaling has no 'rope_type'", r.file);
  const std::string type = s[key].get<std::string>();
  if (type == "default") return out;
  MM_CHECK(type == "llama3", "{}: rope_scaling.{} '{}' is not supported (expected llama3 or null)", r.file, key, type);
  const Reader sr{s, r.file};
  auto need = [&](const std::string& k) {
    MM_CHECK(sr.has(k), "{}: rope_scaling.{} is missing (llama3 needs it)", r.file, k);
    return sr.number_or(k, 0);
  };
  out.type = "llama3";
  out.factor = need("factor");
  out.low_freq_factor = need("low_freq_factor");
  out.high_freq_factor = need("high_freq_factor");
  MM_CHECK(sr.has("original_max_position_embeddings"), "{}: rope_scaling.original_max_position_embeddings is missing",
           r.file);
  out.original_max_position_embeddings = sr.integer("original_max_position_embeddings");
  MM_CHECK(out.high_freq_factor > out.low_freq_factor,
           "{}: rope_scaling.high_freq_factor ({}) must exceed low_freq_factor ({})", r.file, out.high_freq_factor,
           out.low_freq_factor);
  return out;
}

// Mistral / Mixtral / Qwen2: attention within a sliding window equals full causal attention for
// sequences no longer than the window, so max_seq_len is cut to it.
void apply_sliding_window(const Reader& r, HfDecoder& d) {
  if (!r.has("sliding_window")) return;
  const int64_t w = r.integer("sliding_window");
  if (w >= d.llm.max_seq_len) return;
  d.notes.push_back(
      fmt::format("max_seq_len {} (sliding_window; max_position_embeddings is {}): longer sequences "
                  "would need sliding-window attention, which mmtrain's decoder lacks",
                  w, d.llm.max_seq_len));
  d.llm.max_seq_len = w;
}

}  // namespace

HfDecoder read_hf_decoder(const std::string& from) {
  HfDecoder d;
  d.dir = from.rfind("hf:", 0) == 0 ? from.substr(3) : from;
  MM_CHECK(!d.dir.empty(), "model.llm.from: expected hf:DIR (a Hugging Face model folder), got '{}'", from);
  d.config_file = (fs::path(d.dir) / "config.json").string();
  MM_CHECK(fs::is_directory(d.dir), "model.llm.from: {} is not a folder", d.dir);
  MM_CHECK(fs::exists(d.config_file), "{}: no such file (model.llm.from: a Hugging Face folder has a config.json)",
           d.config_file);
  json j;
  try {
    std::ifstream in(d.config_file);
    j = json::parse(in);
  } catch (const json::exception& e) {
    MM_FAIL("{}: not valid JSON ({})", d.config_file, e.what());
  }
  MM_CHECK(j.is_object(), "{}: expected a JSON object", d.config_file);
  const Reader r{j, d.config_file};
  MM_CHECK(r.has("model_type") && j["model_type"].is_string(), "{}: missing key 'model_type'", d.config_file);
  d.model_type = j["model_type"].get<std::string>();
  std::string known;
  for (const auto& [a, t] : kArchitectures) known += (known.empty() ? "" : ", ") + a + "/" + t;
  auto arch = std::find_if(kArchitectures.begin(), kArchitectures.end(),
                           [&](const auto& p) { return p.second == d.model_type; });
  MM_CHECK(arch != kArchitectures.end(), "{}: model_type '{}' is not supported (expected one of {})", d.config_file,
           d.model_type, known);
  d.architecture = arch->first;
  if (r.has("architectures")) {
    const json& a = j["architectures"];
    MM_CHECK(a.is_array() && a.size() == 1 && a[0].is_string() && a[0].get<std::string>() == arch->first,
             "{}: architectures {} is not supported for model_type '{}' (expected [\"{}\"])", d.config_file, a.dump(),
             d.model_type, arch->first);
  }
  if (r.has("torch_dtype")) d.torch_dtype = j["torch_dtype"].is_string() ? j["torch_dtype"].get<std::string>() : "";
  const std::string act = r.has("hidden_act") && j["hidden_act"].is_string() ? j["hidden_act"].get<std::string>() : "";
  MM_CHECK(act == "silu", "{}: hidden_act {} is not supported (mmtrain's SwiGLU needs silu)", d.config_file,
           r.has("hidden_act") ? j["hidden_act"].dump() : "missing");

  LLMConfig& c = d.llm;
  const std::string& mt = d.model_type;
  c.from = "hf:" + d.dir;
  c.vocab_size = r.integer("vocab_size");
  c.dim = r.integer("hidden_size");
  c.layers = r.integer("num_hidden_layers");
  c.heads = r.integer("num_attention_heads");
  c.kv_heads = r.integer_or("num_key_value_heads", c.heads);
  c.ffn_hidden = r.integer("intermediate_size");
  c.max_seq_len = r.integer("max_position_embeddings");
  // transformers' defaults per config class where a key is absent
  c.rope_theta = r.number_or("rope_theta", mt == "mixtral" ? 1e6 : 10000.0);
  c.norm_eps = r.number_or("rms_norm_eps", mt == "mixtral" ? 1e-5 : 1e-6);
  c.tie_embeddings = r.flag_or("tie_word_embeddings", false);
  c.head_dim = r.integer_or("head_dim", 0);
  if (c.head_dim * c.heads == c.dim) c.head_dim = 0;  // the default spelled out
  c.rope_scaling = read_rope_scaling(r);
  MM_CHECK(c.heads % c.kv_heads == 0, "{}: num_key_value_heads {} must divide num_attention_heads {}", d.config_file,
           c.kv_heads, c.heads);
  MM_CHECK(c.head_dim > 0 || c.dim % c.heads == 0,
           "{}: hidden_size {} is not a multiple of num_attention_heads {} and there is no head_dim", d.config_file,
           c.dim, c.heads);
  MM_CHECK((c.head_dim > 0 ? c.head_dim : c.dim / c.heads) % 2 == 0, "{}: head_dim must be even for RoPE",
           d.config_file);
  c.moe = MoEConfig{};
  c.moe.num_experts = 0;

  if (mt == "llama") {
    r.refuse_true("attention_bias", "Llama's attention biases include o_proj, which mmtrain's decoder lacks");
    r.refuse_true("mlp_bias", "mmtrain's SwiGLU has no biases");
  } else if (mt == "mistral") {
    apply_sliding_window(r, d);
  } else if (mt == "qwen2") {
    c.attention_bias = true;
    r.refuse_true("use_sliding_window", "mmtrain's decoder has no sliding-window attention");
    MM_CHECK(c.head_dim == 0, "{}: head_dim {}: Qwen2 uses hidden_size / num_attention_heads = {}", d.config_file,
             c.head_dim, c.dim / c.heads);
  } else if (mt == "mixtral") {
    c.moe.num_experts = r.integer("num_local_experts");
    c.moe.top_k = r.integer("num_experts_per_tok");
    c.moe.every = 1;
    c.moe.expert_hidden = c.ffn_hidden;
    c.moe.aux_loss_coef = r.coef_or("router_aux_loss_coef", 0.001);
    c.moe.z_loss_coef = r.coef_or("mm_router_z_loss_coef", c.moe.z_loss_coef);
    apply_sliding_window(r, d);
  } else {  // qwen2_moe
    c.attention_bias = r.flag_or("qkv_bias", true);
    r.refuse_true("use_sliding_window", "mmtrain's decoder has no sliding-window attention");
    c.moe.num_experts = r.integer("num_experts");
    c.moe.top_k = r.integer("num_experts_per_tok");
    c.moe.expert_hidden = r.integer("moe_intermediate_size");
    MM_CHECK(r.flag_or("norm_topk_prob", false),
             "{}: 'norm_topk_prob' is false: mmtrain's router always renormalises "
             "the top-k weights",
             d.config_file);
    const int64_t shared = r.integer_or("shared_expert_intermediate_size", 0);
    MM_CHECK(shared == 1,
             "{}: shared_expert_intermediate_size {}: Qwen2-MoE's shared expert is not supported "
             "(mmtrain's MoE has none; only the zero width-1 expert of an mmtrain export is accepted)",
             d.config_file, shared);
    // Layer i is sparse iff i is not in mlp_only_layers and (i + 1) % decoder_sparse_step == 0; ours: MoE
    // on every `every`-th layer. Find the `every` that gives the same layers.
    const int64_t step = r.integer_or("decoder_sparse_step", 1);
    std::set<int64_t> dense_only;
    if (r.has("mlp_only_layers")) {
      MM_CHECK(j["mlp_only_layers"].is_array(), "{}: 'mlp_only_layers' must be a list", d.config_file);
      for (const auto& v : j["mlp_only_layers"]) {
        MM_CHECK(v.is_number_integer(), "{}: 'mlp_only_layers' must list layer numbers, got {}", d.config_file,
                 v.dump());
        dense_only.insert(v.get<int64_t>());
      }
    }
    bool found = false;
    for (int64_t every = 1; every <= c.layers && !found; ++every) {
      c.moe.every = every;
      bool same = true;
      for (int64_t i = 0; i < c.layers; ++i)
        same &= is_moe_layer(c, i) == (!dense_only.count(i) && (i + 1) % step == 0);
      found = same;
    }
    MM_CHECK(found,
             "{}: the sparse layers of decoder_sparse_step {} and mlp_only_layers are not every n-th layer "
             "(mmtrain's moe.every)",
             d.config_file, step);
    c.moe.aux_loss_coef = r.coef_or("router_aux_loss_coef", 0.001);
    c.moe.z_loss_coef = r.coef_or("mm_router_z_loss_coef", c.moe.z_loss_coef);
  }
  if (c.moe.num_experts > 0)
    MM_CHECK(c.moe.top_k <= c.moe.num_experts, "{}: num_experts_per_tok {} exceeds the {} experts", d.config_file,
             c.moe.top_k, c.moe.num_experts);
  return d;
}

std::vector<HfKey> hf_decoder_keys(const HfDecoder& dec) {
  const LLMConfig& c = dec.llm;
  const bool mixtral = dec.model_type == "mixtral";
  std::vector<HfKey> k = {
      {"vocab_size", c.vocab_size, "vocab_size"},
      {"dim", c.dim, "hidden_size"},
      {"layers", c.layers, "num_hidden_layers"},
      {"heads", c.heads, "num_attention_heads"},
      {"kv_heads", c.kv_heads, "num_key_value_heads"},
      {"ffn_hidden", c.ffn_hidden, "intermediate_size"},
      {"rope_theta", c.rope_theta, "rope_theta"},
      {"norm_eps", c.norm_eps, "rms_norm_eps"},
      {"tie_embeddings", c.tie_embeddings, "tie_word_embeddings"},
      {"max_seq_len", c.max_seq_len, "max_position_embeddings (or sliding_window)"},
      {"head_dim", c.head_dim, "head_dim"},
      {"attention_bias", c.attention_bias, "the q/k/v biases of model_type " + dec.model_type + ":"},
      {"rope_scaling.type", c.rope_scaling.type, "rope_scaling"},
      {"moe.num_experts", c.moe.num_experts, mixtral ? "num_local_experts" : "num_experts"}};
  if (c.rope_scaling.type == "llama3") {
    k.push_back({"rope_scaling.factor", c.rope_scaling.factor, "rope_scaling.factor"});
    k.push_back({"rope_scaling.low_freq_factor", c.rope_scaling.low_freq_factor, "rope_scaling.low_freq_factor"});
    k.push_back({"rope_scaling.high_freq_factor", c.rope_scaling.high_freq_factor, "rope_scaling.high_freq_factor"});
    k.push_back({"rope_scaling.original_max_position_embeddings", c.rope_scaling.original_max_position_embeddings,
                 "rope_scaling.original_max_position_embeddings"});
  }
  if (c.moe.num_experts > 0) {
    k.push_back({"moe.top_k", c.moe.top_k, "num_experts_per_tok"});
    k.push_back({"moe.every", c.moe.every, mixtral ? "every layer of model_type mixtral:" : "decoder_sparse_step"});
    k.push_back({"moe.expert_hidden", c.moe.expert_hidden, mixtral ? "intermediate_size" : "moe_intermediate_size"});
    k.push_back({"moe.aux_loss_coef", c.moe.aux_loss_coef, "router_aux_loss_coef", true});
    k.push_back({"moe.z_loss_coef", c.moe.z_loss_coef, "mm_router_z_loss_coef", true});
  }
  return k;
}

TensorMap read_hf_decoder_weights(const HfDecoder& dec, const hf::WeightFiles& files, torch::ScalarType dtype) {
  const TensorMap hf_state = hf::read_all(files, dtype);
  try {
    return llm_state_from_hf(hf_state, dec.llm);
  } catch (const mm::Error& e) {
    MM_FAIL("{}: {}", dec.dir, without_location(e.what()));
  }
}

std::string grow_vocab_rows(TensorMap& state, const std::map<std::string, std::vector<int64_t>>& shapes,
                            int64_t folder_vocab) {
  int64_t rows = folder_vocab;
  int64_t grown = 0;
  for (auto& [name, t] : state) {
    auto it = shapes.find(name);
    if (it == shapes.end() || t.dim() != 2 || t.size(0) != folder_vocab || it->second.size() != 2 ||
        it->second[0] <= folder_vocab || it->second[1] != t.size(1))
      continue;
    rows = it->second[0];
    torch::NoGradGuard no_grad;
    const torch::Tensor mean = t.to(torch::kFloat64).mean(0, /*keepdim=*/true).to(t.scalar_type());
    t = torch::cat({t, mean.expand({rows - folder_vocab, t.size(1)})}, 0).contiguous();
    ++grown;
  }
  if (grown == 0) return "";
  return fmt::format(", vocabulary {} -> {} rows ({} tensor(s), new rows at the mean)", folder_vocab, rows, grown);
}

std::string load_hf_decoder(DecoderImpl& decoder) {
  const HfDecoder dec = read_hf_decoder(decoder.cfg.from);
  const hf::WeightFiles files = hf::list_weights(dec.dir);
  auto params = decoder.named_parameters();
  MM_CHECK(params.size() > 0, "load_hf_decoder: the decoder has no parameters");
  const torch::ScalarType dtype = params.begin()->value().scalar_type();
  std::map<std::string, std::vector<int64_t>> shapes;
  for (const auto& p : params) shapes["llm." + p.key()] = p.value().sizes().vec();
  {
    torch::NoGradGuard no_grad;
    for (auto& p : params) p.value().set_data(torch::empty({0}, p.value().options()));
  }
  TensorMap state = read_hf_decoder_weights(dec, files, dtype);
  const std::string grown = grow_vocab_rows(state, shapes, dec.llm.vocab_size);
  for (const auto& [name, shape] : shapes) {
    auto it = state.find(name);
    MM_CHECK(it != state.end() && it->second.sizes().vec() == shape,
             "{}: the decoder was not built from {} (parameter '{}')", dec.dir, dec.config_file, name);
  }
  MM_CHECK(state.size() == shapes.size(), "{}: {} tensors for the decoder's {} parameters", dec.dir, state.size(),
           shapes.size());
  torch::NoGradGuard no_grad;
  for (auto& p : params) p.value().set_data(state.at("llm." + p.key()));
  return fmt::format("{} ({}, {} tensors, {} on disk -> {}){}", dec.dir, dec.architecture, state.size(),
                     fmt::join(files.dtypes, "+"), c10::toString(dtype), grown);
}

std::vector<std::string> describe_hf_decoder(const HfDecoder& dec, const hf::WeightFiles& files) {
  const LLMConfig& c = dec.llm;
  const ParamCount pc = llm_param_count(c);
  std::vector<std::string> out;
  out.push_back(fmt::format("pretrained decoder: {} ({})", dec.dir, dec.config_file));
  out.push_back(fmt::format("  architecture {}, model_type {}, torch_dtype {}, on disk {}", dec.architecture,
                            dec.model_type, dec.torch_dtype.empty() ? "(none)" : dec.torch_dtype,
                            fmt::join(files.dtypes, "+")));
  out.push_back(
      fmt::format("  vocab {}, hidden {}, layers {}, heads {} (kv {}, head_dim {}), intermediate {}, rope_theta {}, "
                  "rope_scaling {}, rms_norm_eps {}, {} embeddings, q/k/v biases {}, max_seq_len {}",
                  c.vocab_size, c.dim, c.layers, c.heads, c.kv_heads, head_dim_of(c), c.ffn_hidden, c.rope_theta,
                  c.rope_scaling.type, c.norm_eps, c.tie_embeddings ? "tied" : "untied",
                  c.attention_bias ? "yes" : "no", c.max_seq_len));
  if (c.moe.num_experts > 0)
    out.push_back(fmt::format("  experts {}, top_k {}, every {} layer(s), expert width {}", c.moe.num_experts,
                              c.moe.top_k, c.moe.every, c.moe.expert_hidden));
  out.push_back(fmt::format("  parameters {} (active {}), {} tensors, {:.1f} MiB on disk in {} file(s){}", pc.total,
                            pc.active, files.info.size(), static_cast<double>(files.bytes) / (1024.0 * 1024.0),
                            files.files.size(), files.index.empty() ? "" : " + " + files.index));
  for (const auto& n : dec.notes) out.push_back("  note: " + n);
  return out;
}

}  // namespace mm::llm
