#include "data_pipeline/image/tiles.h"

#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <array>
#include <cmath>

#include "core/check.h"

namespace mm::data {
namespace {

int filter_flag(const std::string& name) {
  if (name == "nearest") return cv::INTER_NEAREST;
  if (name == "linear") return cv::INTER_LINEAR;
  if (name == "area") return cv::INTER_AREA;
  if (name == "cubic") return cv::INTER_CUBIC;
  if (name == "lanczos") return cv::INTER_LANCZOS4;
  MM_FAIL("image resize filter: unknown '{}' (expected nearest|linear|area|cubic|lanczos)", name);
}

// Per channel: out = pixel * scale + shift = (pixel / 255 - mean) / std.
struct Affine {
  std::array<double, 3> scale, shift;
};

Affine make_affine(const ImageConfig& cfg) {
  MM_CHECK(cfg.mean.size() == 3 && cfg.std.size() == 3, "image.mean/std: expected 3 values each");
  Affine a;
  for (int c = 0; c < 3; ++c) {
    a.scale[c] = 1.0 / (255.0 * cfg.std[c]);
    a.shift[c] = -cfg.mean[c] / cfg.std[c];
  }
  return a;
}

// Writes the r x r window at (y0, x0) of an image given as its 3 uint8 planes into a (3, r, r)
// float block, zero where the window leaves the image. OpenCV's convertTo does the per-pixel
// affine map with its runtime-dispatched SIMD kernels.
void write_tile(const std::array<cv::Mat, 3>& planes, int64_t y0, int64_t x0, int64_t r, const Affine& a, float* dst) {
  const int rr = int(r);
  const int vh = int(std::clamp<int64_t>(planes[0].rows - y0, 0, r));
  const int vw = int(std::clamp<int64_t>(planes[0].cols - x0, 0, r));
  for (int c = 0; c < 3; ++c) {
    cv::Mat out(rr, rr, CV_32F, dst + int64_t(c) * r * r);
    if (vh > 0 && vw > 0) {
      cv::Mat roi = out(cv::Rect(0, 0, vw, vh));
      planes[c](cv::Rect(int(x0), int(y0), vw, vh)).convertTo(roi, CV_32F, a.scale[c], a.shift[c]);
    }
    if (vw < rr && vh > 0) out(cv::Rect(vw, 0, rr - vw, vh)).setTo(0);
    if (vh < rr) out(cv::Rect(0, vh, rr, rr - vh)).setTo(0);
  }
}

std::array<cv::Mat, 3> split_planes(const cv::Mat& rgb) {
  std::array<cv::Mat, 3> planes;
  cv::split(rgb, planes.data());
  return planes;
}

void check_input(const cv::Mat& rgb, const SplitPlan& plan) {
  MM_CHECK(rgb.type() == CV_8UC3, "normalize_tiles: expected an RGB uint8 image (CV_8UC3)");
  MM_CHECK(rgb.rows == plan.image_h && rgb.cols == plan.image_w, "normalize_tiles: image is {}x{}, plan expects {}x{}",
           rgb.rows, rgb.cols, plan.image_h, plan.image_w);
}

}  // namespace

int resize_filter(int64_t src_h, int64_t src_w, int64_t dst_h, int64_t dst_w, const ImageConfig& cfg) {
  return filter_flag(dst_h <= src_h && dst_w <= src_w ? cfg.downscale : cfg.upscale);
}

cv::Mat resize_rgb(const cv::Mat& rgb, int64_t h, int64_t w, const ImageConfig& cfg) {
  if (rgb.rows == h && rgb.cols == w) return rgb;
  cv::Mat out;
  cv::resize(rgb, out, cv::Size(int(w), int(h)), 0, 0, resize_filter(rgb.rows, rgb.cols, h, w, cfg));
  return out;
}

void normalize_tiles(const cv::Mat& rgb, const SplitPlan& plan, const ImageConfig& cfg, float* out) {
  check_input(rgb, plan);
  const Affine a = make_affine(cfg);
  const int64_t r = plan.tile;
  const int64_t block = 3 * r * r;
  if (plan.num_tiles() > 0) {
    const auto planes = split_planes(resize_rgb(rgb, plan.scaled_h, plan.scaled_w, cfg));
    for (int64_t i = 0; i < plan.rows; ++i) {
      for (int64_t j = 0; j < plan.cols; ++j) write_tile(planes, i * r, j * r, r, a, out + (i * plan.cols + j) * block);
    }
  }
  if (plan.overview) write_tile(split_planes(resize_rgb(rgb, r, r, cfg)), 0, 0, r, a, out + plan.num_tiles() * block);
}

std::vector<cv::Mat> render_tiles(const cv::Mat& rgb, const SplitPlan& plan, const ImageConfig& cfg) {
  check_input(rgb, plan);
  const int r = int(plan.tile);
  const cv::Scalar pad(std::lround(cfg.mean[0] * 255), std::lround(cfg.mean[1] * 255), std::lround(cfg.mean[2] * 255));
  std::vector<cv::Mat> tiles;
  if (plan.num_tiles() > 0) {
    cv::Mat canvas(int(plan.canvas_h), int(plan.canvas_w), CV_8UC3, pad);
    resize_rgb(rgb, plan.scaled_h, plan.scaled_w, cfg)
        .copyTo(canvas(cv::Rect(0, 0, int(plan.scaled_w), int(plan.scaled_h))));
    for (int i = 0; i < plan.rows; ++i) {
      for (int j = 0; j < plan.cols; ++j) tiles.push_back(canvas(cv::Rect(j * r, i * r, r, r)).clone());
    }
  }
  if (plan.overview) tiles.push_back(resize_rgb(rgb, r, r, cfg).clone());
  return tiles;
}

}  // namespace mm::data
