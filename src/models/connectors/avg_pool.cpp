// Average-pooling connector.
#include "models/connectors/avg_pool.h"

#include "core/check.h"

namespace mm::connectors {

AvgPoolConnectorImpl::AvgPoolConnectorImpl(const ConnectorConfig& cfg, int64_t vision_width, int64_t /*vision_grid*/,
                                           int64_t llm_dim)
    : side_(square_side(cfg.num_tokens)) {
  MM_CHECK(side_ > 0, "connector.num_tokens = {} is not a perfect square (avg_pool pools to sqrt(M) x sqrt(M))",
           cfg.num_tokens);
  readout = register_module("readout", make_readout(vision_width, llm_dim, "gelu"));
}

torch::Tensor AvgPoolConnectorImpl::forward(const torch::Tensor& x) {
  MM_CHECK(x.dim() == 3, "avg_pool: expected features (N, P, D), got shape [{}]", fmt::join(x.sizes(), ", "));
  const int64_t n = x.size(0), p = x.size(1), d = x.size(2), h = square_side(p);
  MM_CHECK(h > 0, "avg_pool: {} patches per tile do not form a square grid", p);
  auto y = x.transpose(1, 2).reshape({n, d, h, h});   // (N, D, h, h)
  y = torch::adaptive_avg_pool2d(y, {side_, side_});  // (N, D, s, s)
  y = y.flatten(2).transpose(1, 2);                   // (N, M, D)
  return readout->forward(y);                         // (N, M, d_llm)
}

}  // namespace mm::connectors
