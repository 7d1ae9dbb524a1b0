// Analytic step FLOPs (flops.h): plain arithmetic on the config, mirroring the modules' shapes.
#include "trainers/bench/flops.h"

#include <cmath>

#include "core/check.h"
#include "models/llm/param_count.h"
#include "models/vision/vit.h"

namespace mm::bench {
namespace {

// Weights of one RegNet bottleneck (regnet.cpp): {at every position, squeeze-excitation (once)}.
std::pair<double, double> reg_bottleneck_weights(int64_t in, int64_t out, double se_ratio) {
  double spatial = static_cast<double>(in) * out            // conv1 1x1
                   + 9.0 * out                              // conv2 3x3 depthwise
                   + static_cast<double>(out) * out;        // conv3 1x1
  if (in != out) spatial += static_cast<double>(in) * out;  // downsample 1x1
  double se = 0;
  if (se_ratio > 0) se = 2.0 * out * std::lround(static_cast<double>(in) * se_ratio);
  return {spatial, se};
}

// Forward FLOPs of a RegStage of `depth` blocks (in -> out) on a grid of `positions` cells.
double reg_stage_forward(int64_t depth, int64_t in, int64_t out, double se_ratio, double positions) {
  double f = 0;
  for (int64_t i = 0; i < depth; ++i) {
    auto [spatial, se] = reg_bottleneck_weights(i == 0 ? in : out, out, se_ratio);
    f += 2.0 * spatial * positions + 2.0 * se;
  }
  return f;
}

}  // namespace

int64_t decoder_matmul_params(const LLMConfig& cfg) {
  const auto pc = llm::llm_param_count(cfg);
  const int64_t norms = cfg.dim * (2 * cfg.layers + 1);
  const int64_t embed_lookup = cfg.tie_embeddings ? 0 : cfg.vocab_size * cfg.dim;
  return pc.active - norms - embed_lookup;
}

double vit_forward_flops_per_tile(const VisionConfig& cfg) {
  const double g = static_cast<double>(cfg.image_size / cfg.patch_size);
  const double patches = g * g, tokens = patches + (cfg.class_token ? 1 : 0);
  const double w = static_cast<double>(cfg.width), f = static_cast<double>(cfg.mlp_dim);
  const double layers = static_cast<double>(vision::vit_blocks_used(cfg));
  const double patch_embed = 2.0 * (3.0 * cfg.patch_size * cfg.patch_size * w) * patches;
  const double block_matmul = 2.0 * (4.0 * w * w + 2.0 * w * f) * tokens;
  const double block_attention = 4.0 * tokens * tokens * w;  // QK^T + PV
  return patch_embed + layers * (block_matmul + block_attention);
}

double connector_forward_flops_per_tile(const ModelConfig& cfg) {
  const auto& c = cfg.connector;
  const double g = static_cast<double>(cfg.vision.image_size / cfg.vision.patch_size);
  const double m = static_cast<double>(c.num_tokens), d = static_cast<double>(cfg.llm.dim);
  const auto readout = [&](double in) { return 2.0 * (in * d + d * d) * m; };
  if (c.type == "c_abstractor") {
    const double side = std::sqrt(m);
    return reg_stage_forward(c.depth, cfg.vision.width, c.hidden, c.se_ratio, g * g) +
           reg_stage_forward(c.depth, c.hidden, c.hidden, c.se_ratio, side * side) + readout(c.hidden);
  }
  if (c.type == "avg_pool" || c.type == "mlp") return readout(static_cast<double>(cfg.vision.width));
  MM_FAIL("bench: no FLOP formula for connector.type '{}' (expected c_abstractor | avg_pool | mlp)", c.type);
}

StepFlops training_step_flops(const ModelConfig& cfg, int64_t batch, int64_t seq_len, int64_t tiles) {
  StepFlops f;
  const double tokens = static_cast<double>(batch) * static_cast<double>(seq_len);
  f.decoder_matmul = 6.0 * static_cast<double>(decoder_matmul_params(cfg.llm)) * tokens;
  f.decoder_attention = 12.0 * cfg.llm.layers * tokens * static_cast<double>(seq_len) * cfg.llm.dim;
  if (tiles > 0) {
    f.vision = 3.0 * vit_forward_flops_per_tile(cfg.vision) * static_cast<double>(tiles);
    f.connector = 3.0 * connector_forward_flops_per_tile(cfg) * static_cast<double>(tiles);
  }
  return f;
}

}  // namespace mm::bench
