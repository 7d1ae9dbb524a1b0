// C-Abstractor forward (Honeybee, timm RegStage semantics).
#include "models/connectors/c_abstractor.h"

#include "core/check.h"
#include "models/connectors/regnet.h"
#include "models/vision/pos_embed.h"

namespace mm::connectors {

CAbstractorImpl::CAbstractorImpl(const ConnectorConfig& cfg, int64_t vision_width, int64_t vision_grid, int64_t llm_dim)
    : grid_(vision_grid), side_(square_side(cfg.num_tokens)) {
  MM_CHECK(side_ > 0, "connector.num_tokens = {} is not a perfect square (c_abstractor pools to sqrt(M) x sqrt(M))",
           cfg.num_tokens);
  MM_CHECK(cfg.hidden > 0, "connector.hidden must be positive, got {}", cfg.hidden);
  pos_emb = register_parameter("pos_emb", torch::randn({1, vision_grid * vision_grid, vision_width}) * 0.02);
  net = register_module(
      "net", torch::nn::Sequential(RegStage(cfg.depth, vision_width, cfg.hidden, cfg.se_ratio),
                                   torch::nn::AdaptiveAvgPool2d(torch::nn::AdaptiveAvgPool2dOptions({side_, side_})),
                                   RegStage(cfg.depth, cfg.hidden, cfg.hidden, cfg.se_ratio)));
  readout = register_module("readout", make_readout(cfg.hidden, llm_dim, "silu"));
}

torch::Tensor CAbstractorImpl::forward(const torch::Tensor& x) {
  MM_CHECK(x.dim() == 3 && x.size(2) == pos_emb.size(2), "c_abstractor: expected features (N, P, {}), got shape [{}]",
           pos_emb.size(2), fmt::join(x.sizes(), ", "));
  const int64_t n = x.size(0), p = x.size(1), d = x.size(2), h = square_side(p);
  MM_CHECK(h > 0, "c_abstractor: {} patches per tile do not form a square grid", p);
  auto y = x + vision::resize_pos_grid(pos_emb, grid_, h, h);  // (N, P, D)
  y = y.transpose(1, 2).reshape({n, d, h, h});                 // (N, D, h, h)
  y = net->forward(y);                                         // (N, hidden, s, s)
  y = y.flatten(2).transpose(1, 2);                            // (N, M, hidden)
  return readout->forward(y);                                  // (N, M, d_llm)
}

}  // namespace mm::connectors
