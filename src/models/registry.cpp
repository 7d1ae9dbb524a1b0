// Model presets and the analytic parameter counts of a ModelConfig.
#include "models/registry.h"

#include <fmt/format.h>

#include <cmath>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>

#include "core/check.h"
#include "models/llm/param_count.h"

namespace mm {
namespace {

// The paper's connector: C-Abstractor, 144 tokens per tile, RegStage width 1024, 3 blocks.
void paper_connector(ModelConfig& c) {
  c.connector.type = "c_abstractor";
  c.connector.num_tokens = 144;
  c.connector.hidden = 1024;
  c.connector.depth = 3;
  c.connector.se_ratio = 0.25;
}

// CLIP ViT-L/14 at 336 (the ablation encoder).
void vit_l14_336(ModelConfig& c) {
  auto& v = c.vision;
  v.image_size = 336, v.patch_size = 14, v.width = 1024, v.layers = 24, v.heads = 16, v.mlp_dim = 4096;
  v.class_token = true, v.act = "quick_gelu", v.feature_layer = -1, v.pre_norm = true, v.norm_eps = 1e-5;
  paper_connector(c);
}

// CLIP ViT-H/14 at 378 (MM1.5's encoder).
void vit_h14_378(ModelConfig& c) {
  auto& v = c.vision;
  v.image_size = 378, v.patch_size = 14, v.width = 1280, v.layers = 32, v.heads = 16, v.mlp_dim = 5120;
  v.class_token = true, v.act = "gelu", v.feature_layer = -1, v.pre_norm = true, v.norm_eps = 1e-5;
  paper_connector(c);
}

void decoder(ModelConfig& c, int64_t dim, int64_t layers, int64_t heads, int64_t kv_heads, int64_t ffn, bool tie) {
  auto& l = c.llm;
  l.vocab_size = 32000, l.dim = dim, l.layers = layers, l.heads = heads, l.kv_heads = kv_heads;
  l.ffn_hidden = ffn, l.rope_theta = 500000.0, l.norm_eps = 1e-5, l.tie_embeddings = tie, l.max_seq_len = 4096;
}

void moe64(ModelConfig& c) {
  c.llm.moe.num_experts = 64, c.llm.moe.top_k = 2, c.llm.moe.every = 2, c.llm.moe.expert_hidden = 0;
  c.llm.moe.aux_loss_coef = 0.01, c.llm.moe.z_loss_coef = 0.001;
}

void small(ModelConfig& c) {
  auto& v = c.vision;
  v.image_size = 112, v.patch_size = 14, v.width = 256, v.layers = 6, v.heads = 4, v.mlp_dim = 1024;
  c.connector.num_tokens = 16, c.connector.hidden = 256, c.connector.depth = 2;
  auto& l = c.llm;
  l.vocab_size = 4096, l.dim = 512, l.layers = 8, l.heads = 8, l.kv_heads = 4, l.ffn_hidden = 1408;
}

using Builder = std::function<void(ModelConfig&)>;

const std::vector<std::pair<std::string, Builder>>& presets() {
  static const std::vector<std::pair<std::string, Builder>> table = {
      {"debug", [](ModelConfig&) {}},
      {"small", small},
      {"vit-l14-336", vit_l14_336},
      {"vit-h14-378", vit_h14_378},
      {"1b", [](ModelConfig& c) { vit_h14_378(c), decoder(c, 2048, 16, 32, 8, 8192, true); }},
      {"3b", [](ModelConfig& c) { vit_h14_378(c), decoder(c, 3072, 28, 24, 8, 8192, true); }},
      {"7b", [](ModelConfig& c) { vit_h14_378(c), decoder(c, 4096, 32, 32, 8, 14336, false); }},
      {"30b", [](ModelConfig& c) { vit_h14_378(c), decoder(c, 6656, 64, 52, 4, 17920, false); }},
      {"1b-moe", [](ModelConfig& c) { vit_h14_378(c), decoder(c, 2048, 16, 32, 8, 8192, true), moe64(c); }},
      {"3b-moe", [](ModelConfig& c) { vit_h14_378(c), decoder(c, 3072, 28, 24, 8, 8192, true), moe64(c); }},
  };
  return table;
}

int64_t layer_norm(int64_t d) { return 2 * d; }
int64_t linear(int64_t in, int64_t out, bool bias = true) { return in * out + (bias ? out : 0); }

// timm RegNet bottleneck as models/connectors/regnet.cpp builds it.
int64_t reg_bottleneck(int64_t in, int64_t out, double se_ratio) {
  int64_t n = in * out + layer_norm(out);          // conv1 1x1
  n += out * 9 + layer_norm(out);                  // conv2 3x3 depthwise
  if (se_ratio > 0) {
    const auto se = static_cast<int64_t>(std::lround(static_cast<double>(in) * se_ratio));
    n += out * se + se + se * out + out;           // fc1, fc2 (1x1 convs with bias)
  }
  n += out * out + layer_norm(out);                // conv3 1x1
  if (in != out) n += in * out + layer_norm(out);  // downsample
  return n;
}

int64_t reg_stage(int64_t depth, int64_t in, int64_t out, double se_ratio) {
  int64_t n = 0;
  for (int64_t i = 0; i < depth; ++i) n += reg_bottleneck(i == 0 ? in : out, out, se_ratio);
  return n;
}

}  // namespace

std::vector<std::string> model_preset_names() {
  std::vector<std::string> names;
  for (const auto& kv : presets()) names.push_back(kv.first);
  return names;
}

ModelConfig model_preset(const std::string& name) {
  for (const auto& kv : presets()) {
    if (kv.first == name) {
      ModelConfig c;
      kv.second(c);
      c.name = name;
      return c;
    }
  }
  MM_FAIL("model preset '{}' is unknown; valid presets: {}", name, fmt::join(model_preset_names(), ", "));
}

int64_t vision_param_count(const VisionConfig& v) {
  const int64_t d = v.width, g = v.image_size / v.patch_size;
  int64_t n = 3 * v.patch_size * v.patch_size * d;        // patch_embedding (no bias)
  n += (g * g + (v.class_token ? 1 : 0)) * d;             // position_embedding
  if (v.class_token) n += d;                              // class_embedding
  if (v.pre_norm) n += layer_norm(d);
  const int64_t idx = v.feature_layer < 0 ? v.layers + 1 + v.feature_layer : v.feature_layer;
  MM_CHECK(idx >= 0 && idx <= v.layers, "vision.feature_layer = {} is out of range for {} layers", v.feature_layer,
           v.layers);
  const int64_t block = 2 * layer_norm(d) + 4 * linear(d, d) + linear(d, v.mlp_dim) + linear(v.mlp_dim, d);
  return n + idx * block;
}

int64_t connector_param_count(const ConnectorConfig& c, const VisionConfig& v, int64_t llm_dim) {
  const int64_t g = v.image_size / v.patch_size;
  if (c.type == "c_abstractor") {
    return g * g * v.width + reg_stage(c.depth, v.width, c.hidden, c.se_ratio) +
           reg_stage(c.depth, c.hidden, c.hidden, c.se_ratio) + linear(c.hidden, llm_dim) + linear(llm_dim, llm_dim);
  }
  MM_CHECK(c.type == "avg_pool" || c.type == "mlp", "connector.type = '{}' is unknown", c.type);
  return linear(v.width, llm_dim) + linear(llm_dim, llm_dim);
}

ModelSize model_size(const ModelConfig& cfg) {
  ModelSize s;
  s.vision = vision_param_count(cfg.vision);
  s.connector = connector_param_count(cfg.connector, cfg.vision, cfg.llm.dim);
  const auto llm = llm::llm_param_count(cfg.llm);
  s.llm = llm.total;
  s.llm_active = llm.active;
  s.total = s.vision + s.connector + s.llm;
  s.active = s.vision + s.connector + s.llm_active;
  return s;
}

int64_t image_token_budget(const ModelConfig& cfg, int64_t tiles) { return tiles * cfg.connector.num_tokens; }

nlohmann::ordered_json model_summary_json(const ModelConfig& cfg) {
  const ModelSize s = model_size(cfg);
  nlohmann::ordered_json j;
  j["name"] = cfg.name;
  j["params"] = {{"total", s.total},         {"active", s.active}, {"vision", s.vision},
                 {"connector", s.connector}, {"llm", s.llm},       {"llm_active", s.llm_active}};
  j["tokens_per_tile"] = cfg.connector.num_tokens;
  j["image_tokens"] = {{"single", image_token_budget(cfg, 1)},
                       {"static", image_token_budget(cfg, 5)},
                       {"dynamic_4_9", image_token_budget(cfg, 10)}};
  return j;
}

namespace {
std::string human(int64_t n) {
  const double x = static_cast<double>(n);
  if (x >= 1e9) return fmt::format("{:.2f}B", x / 1e9);
  if (x >= 1e6) return fmt::format("{:.2f}M", x / 1e6);
  if (x >= 1e3) return fmt::format("{:.1f}K", x / 1e3);
  return std::to_string(n);
}
}  // namespace

std::string model_summary_text(const ModelConfig& cfg) {
  const ModelSize s = model_size(cfg);
  std::string out = fmt::format("# model {}: {} parameters ({}), {} active per token ({})\n", cfg.name, s.total,
                                human(s.total), s.active, human(s.active));
  out += fmt::format("#   vision {} ({}), connector {} ({}), llm {} ({}; {} active)\n", s.vision, human(s.vision),
                     s.connector, human(s.connector), s.llm, human(s.llm), human(s.llm_active));
  out += fmt::format("#   image tokens per sample: {} per tile; 1 tile {}, static 2x2+overview {}, dynamic (4,9)+overview {}\n",
                     cfg.connector.num_tokens, image_token_budget(cfg, 1), image_token_budget(cfg, 5),
                     image_token_budget(cfg, 10));
  return out;
}

}  // namespace mm
