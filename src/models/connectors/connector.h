// The connector interface (vision features (N, P, D) -> LLM tokens (N, M, d_llm)) and the
// connector registry: one table name -> builder (c_abstractor, avg_pool, mlp).
#pragma once
#include <torch/torch.h>

#include <functional>
#include <string>
#include <vector>

#include "core/config/model_config.h"

namespace mm::connectors {

// Base of every connector, so the multimodal model can hold any of them.
class ConnectorImpl : public torch::nn::Module {
 public:
  ~ConnectorImpl() override = default;
  virtual torch::Tensor forward(const torch::Tensor& x) = 0;  // (N, P, D) -> (N, M, d_llm)
  virtual int64_t num_tokens() const = 0;                     // M, image tokens per tile
};
TORCH_MODULE(Connector);

// vision_grid: patches per side at the encoder's trained resolution (P = vision_grid^2).
using ConnectorBuilder =
    std::function<Connector(const ConnectorConfig& cfg, int64_t vision_width, int64_t vision_grid, int64_t llm_dim)>;

// Builds connector cfg.type; an unknown type fails listing the valid ones.
Connector build_connector(const ConnectorConfig& cfg, int64_t vision_width, int64_t vision_grid, int64_t llm_dim);

// Registered names, sorted.
std::vector<std::string> connector_names();

// sqrt(n) when n is a perfect square >= 1, else -1.
int64_t square_side(int64_t n);

// Linear(in, out) -> act -> Linear(out, out) as a Sequential (children "0", "1", "2", the layout of
// Honeybee's readout and LLaVA's mm_projector). act: "silu" | "gelu".
torch::nn::Sequential make_readout(int64_t in, int64_t out, const std::string& act);

}  // namespace mm::connectors
