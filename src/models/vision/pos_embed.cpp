// Bicubic resize of a square grid of position embeddings.
#include "models/vision/pos_embed.h"

#include "core/check.h"

namespace mm::vision {

torch::Tensor resize_pos_grid(const torch::Tensor& pos, int64_t g, int64_t h, int64_t w) {
  MM_CHECK(pos.dim() == 3 && pos.size(0) == 1 && pos.size(1) == g * g,
           "position embedding of shape [{}] does not hold a {}x{} grid", fmt::join(pos.sizes(), ", "), g, g);
  if (h == g && w == g) return pos;
  const int64_t d = pos.size(2);
  namespace F = torch::nn::functional;
  auto grid = pos.reshape({1, g, g, d}).permute({0, 3, 1, 2});  // (1, D, g, g)
  grid = F::interpolate(grid, F::InterpolateFuncOptions()
                                  .size(std::vector<int64_t>{h, w})
                                  .mode(torch::kBicubic)
                                  .align_corners(false));    // (1, D, h, w)
  return grid.permute({0, 2, 3, 1}).reshape({1, h * w, d});  // (1, h*w, D)
}

}  // namespace mm::vision
