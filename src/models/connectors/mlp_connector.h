// Plain MLP connector (LLaVA-1.5's mlp2x_gelu): Linear, GELU, Linear on every patch; M = P.
#pragma once
#include "models/connectors/connector.h"

namespace mm::connectors {

class MlpConnectorImpl : public ConnectorImpl {
 public:
  // Fails unless cfg.num_tokens == vision_grid^2 (the MLP keeps one token per patch).
  MlpConnectorImpl(const ConnectorConfig& cfg, int64_t vision_width, int64_t vision_grid, int64_t llm_dim);
  torch::Tensor forward(const torch::Tensor& x) override;  // (N, M, D) -> (N, M, d_llm)
  int64_t num_tokens() const override { return tokens_; }

  torch::nn::Sequential readout{nullptr};  // 0: Linear(D, d_llm), 1: GELU, 2: Linear(d_llm, d_llm)

 private:
  int64_t tokens_;
};
TORCH_MODULE(MlpConnector);

}  // namespace mm::connectors
