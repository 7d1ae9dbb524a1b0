// Resizing of learned 2-D position embeddings to another patch grid: bicubic, align_corners=false,
// the same resampling as HF CLIP's interpolate_pos_encoding (used by the ViT and the C-Abstractor).
#pragma once
#include <torch/torch.h>

namespace mm::vision {

// pos (1, g*g, D) laid out row-major on a g x g grid -> (1, h*w, D). Returns pos itself when the
// grid is unchanged (h == w == g).
torch::Tensor resize_pos_grid(const torch::Tensor& pos, int64_t g, int64_t h, int64_t w);

}  // namespace mm::vision
