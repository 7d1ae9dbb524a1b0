// Average-pooling connector (MM1's baseline): adaptive average pooling of the patch grid to
// sqrt(M) x sqrt(M), then an MLP (Linear, GELU, Linear) to the LLM width.
#pragma once
#include "models/connectors/connector.h"

namespace mm::connectors {

class AvgPoolConnectorImpl : public ConnectorImpl {
 public:
  AvgPoolConnectorImpl(const ConnectorConfig& cfg, int64_t vision_width, int64_t vision_grid, int64_t llm_dim);
  torch::Tensor forward(const torch::Tensor& x) override;  // (N, P, D), P a square -> (N, M, d_llm)
  int64_t num_tokens() const override { return side_ * side_; }

  torch::nn::Sequential readout{nullptr};  // 0: Linear(D, d_llm), 1: GELU, 2: Linear(d_llm, d_llm)

 private:
  int64_t side_;
};
TORCH_MODULE(AvgPoolConnector);

}  // namespace mm::connectors
