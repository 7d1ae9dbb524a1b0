// Honeybee's C-Abstractor: position embedding on the patch grid -> RegStage -> adaptive average
// pooling to sqrt(M) x sqrt(M) -> RegStage -> flatten -> MLP readout (Linear, SiLU, Linear).
#pragma once
#include "models/connectors/connector.h"

namespace mm::connectors {

class CAbstractorImpl : public ConnectorImpl {
 public:
  CAbstractorImpl(const ConnectorConfig& cfg, int64_t vision_width, int64_t vision_grid, int64_t llm_dim);
  // x (N, P, D), P = h*h a square (grids other than vision_grid^2 get a bicubic-resized
  // position embedding) -> (N, M, d_llm)
  torch::Tensor forward(const torch::Tensor& x) override;
  int64_t num_tokens() const override { return side_ * side_; }

  torch::Tensor pos_emb;                   // (1, g*g, D), g = vision_grid
  torch::nn::Sequential net{nullptr};      // 0: RegStage D -> hidden, 1: AdaptiveAvgPool2d, 2: RegStage
  torch::nn::Sequential readout{nullptr};  // 0: Linear(hidden, d_llm), 1: SiLU, 2: Linear(d_llm, d_llm)

 private:
  int64_t grid_, side_;
};
TORCH_MODULE(CAbstractor);

}  // namespace mm::connectors
