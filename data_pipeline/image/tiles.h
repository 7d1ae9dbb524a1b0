// The pixel side of a SplitPlan: resize the decoded RGB image, cut the padded canvas into r x r
// tiles (row-major, overview last) and normalise with mean/std into a float CHW buffer. No torch.
#pragma once
#include <opencv2/core.hpp>

#include <cstdint>
#include <vector>

#include "core/config/image_config.h"
#include "data_pipeline/image/split_plan.h"

namespace mm::data {

// The OpenCV interpolation flag for a resize from (src_h, src_w) to (dst_h, dst_w): cfg.downscale
// when neither side grows, else cfg.upscale.
int resize_filter(int64_t src_h, int64_t src_w, int64_t dst_h, int64_t dst_w, const ImageConfig& cfg);

// rgb resized to h x w with resize_filter (a shallow copy when the size already matches).
cv::Mat resize_rgb(const cv::Mat& rgb, int64_t h, int64_t w, const ImageConfig& cfg);

// Writes the plan's images as float CHW into `out`, which holds plan.num_images() * 3 * r * r
// floats: out[t][c][y][x] = (pixel/255 - mean[c]) / std[c]; padding is exactly 0 (the mean colour).
// rgb: CV_8UC3, RGB, plan.image_h x plan.image_w.
void normalize_tiles(const cv::Mat& rgb, const SplitPlan& plan, const ImageConfig& cfg, float* out);

// The same images as uint8 RGB r x r Mats (padding = the mean colour rounded to uint8), to look at.
std::vector<cv::Mat> render_tiles(const cv::Mat& rgb, const SplitPlan& plan, const ImageConfig& cfg);

}  // namespace mm::data
