// The analytic parameter counts of a ModelConfig and the model summaries (see model_size.h).
#include "models/model_size.h"

#include <fmt/format.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "core/check.h"
#include "models/llm/param_count.h"

namespace mm {
namespace {

int64_t layer_norm(int64_t d) { return 2 * d; }
int64_t linear(int64_t in, int64_t out, bool bias = true) { return in * out + (bias ? out : 0); }

// timm RegNet bottleneck as models/connectors/regnet.cpp builds it.
int64_t reg_bottleneck(int64_t in, int64_t out, double se_ratio) {
  int64_t n = in * out + layer_norm(out);  // conv1 1x1
  n += out * 9 + layer_norm(out);          // conv2 3x3 depthwise
  if (se_ratio > 0) {
    const auto se = static_cast<int64_t>(std::lround(static_cast<double>(in) * se_ratio));
    n += out * se + se + se * out + out;  // fc1, fc2 (1x1 convs with bias)
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

int64_t vision_param_count(const VisionConfig& v) {
  const int64_t d = v.width, g = v.image_size / v.patch_size;
  int64_t n = 3 * v.patch_size * v.patch_size * d + (v.patch_bias ? d : 0);  // patch_embedding (SigLIP: + bias)
  n += (g * g + (v.class_token ? 1 : 0)) * d;                                // position_embedding
  if (v.class_token) n += d;                                                 // class_embedding
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
  out += fmt::format(
      "#   image tokens per sample: {} per tile; 1 tile {}, static 2x2+overview {}, "
      "dynamic (4,9)+overview {}\n",
      cfg.connector.num_tokens, image_token_budget(cfg, 1), image_token_budget(cfg, 5), image_token_budget(cfg, 10));
  return out;
}

}  // namespace mm
