// process_image: bytes (or an ImageRef) -> decoded, split, normalised tiles as a torch tensor, with
// the split plan. The token layout of the tiles (position indicators) is the tokenizer's
// (tokenizer/image_layout.h make_image_layout from plan.rows, plan.cols, plan.overview).
#pragma once
#include <torch/torch.h>
#include <opencv2/core.hpp>

#include <string_view>

#include "core/config/image_config.h"
#include "data_pipeline/image/image_probe.h"
#include "data_pipeline/image/split_plan.h"
#include "data_pipeline/sample.h"

namespace mm::data {

struct ProcessedImage {
  ImageSize size;  // header size (as displayed)
  SplitPlan plan;
  torch::Tensor tiles;  // (N, 3, r, r) float32, N = plan.num_images(): tiles row-major, overview last
};

// (N, 3, r, r) float32 normalised tiles of a decoded RGB image (tiles.h normalize_tiles), in a
// recycled buffer (tile_buffers.h).
torch::Tensor tiles_tensor(const cv::Mat& rgb, const SplitPlan& plan, const ImageConfig& cfg);

// One image of a sample holding `images_in_sample` images (the split depends on it). Throws ImageError.
ProcessedImage process_image(std::string_view bytes, const ImageConfig& cfg, int64_t images_in_sample);

// Same from an ImageRef; ImageError messages are prefixed with the image's display name.
ProcessedImage process_image(const ImageRef& ref, const ImageConfig& cfg, int64_t images_in_sample);

}  // namespace mm::data
