// Plain MLP connector.
#include "models/connectors/mlp_connector.h"

#include "core/check.h"

namespace mm::connectors {

MlpConnectorImpl::MlpConnectorImpl(const ConnectorConfig& cfg, int64_t vision_width, int64_t vision_grid,
                                   int64_t llm_dim)
    : tokens_(cfg.num_tokens) {
  MM_CHECK(cfg.num_tokens == vision_grid * vision_grid,
           "connector.num_tokens = {} must equal the patches per tile ({}x{} = {}) for the mlp connector",
           cfg.num_tokens, vision_grid, vision_grid, vision_grid * vision_grid);
  readout = register_module("readout", make_readout(vision_width, llm_dim, "gelu"));
}

torch::Tensor MlpConnectorImpl::forward(const torch::Tensor& x) {
  MM_CHECK(x.dim() == 3 && x.size(1) == tokens_,
           "mlp connector: expected (N, {}, D) features (connector.num_tokens = patches per tile), got shape [{}]",
           tokens_, fmt::join(x.sizes(), ", "));
  return readout->forward(x);  // (N, M, d_llm)
}

}  // namespace mm::connectors
