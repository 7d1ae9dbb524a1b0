#include "data_pipeline/image/split_plan.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "core/check.h"

namespace mm::data {
namespace {

// Relative tolerance for comparing scales and paddings computed in double: equal rationals
// (e.g. two zero paddings, or the same s reached by two grids) must compare equal.
bool close(double a, double b) { return std::abs(a - b) <= 1e-9 * std::max({1.0, std::abs(a), std::abs(b)}); }

// Round-to-nearest of num/den for positive integers.
int64_t div_round(int64_t num, int64_t den) { return (2 * num + den) / (2 * den); }

}  // namespace

SplitMode parse_split_mode(const std::string& name) {
  if (name == "single") return SplitMode::Single;
  if (name == "static") return SplitMode::Static;
  if (name == "dynamic") return SplitMode::Dynamic;
  MM_FAIL("image.mode: unknown mode '{}' (expected single | static | dynamic)", name);
}

void validate_image_config(const ImageConfig& cfg) {
  parse_split_mode(cfg.mode);
  MM_CHECK(cfg.tile_size > 0, "image.tile_size: expected a positive tile side, got {}", cfg.tile_size);
  MM_CHECK(cfg.nmin >= 1 && cfg.nmin <= cfg.nmax, "image.nmin/nmax: expected 1 <= nmin <= nmax, got nmin={} nmax={}",
           cfg.nmin, cfg.nmax);
  MM_CHECK(cfg.nmax <= 64, "image.nmax: expected at most 64 tiles, got {}", cfg.nmax);
  MM_CHECK(cfg.indicators == "none" || cfg.indicators == "index" || cfg.indicators == "seps",
           "image.indicators: unknown '{}' (expected none | index | seps)", cfg.indicators);
  MM_CHECK(cfg.split_below_images >= 0, "image.split_below_images: expected >= 0, got {}", cfg.split_below_images);
  MM_CHECK(cfg.max_pixels > 0, "image.max_pixels: expected a positive pixel count, got {}", cfg.max_pixels);
  static const std::set<std::string> filters = {"nearest", "linear", "area", "cubic", "lanczos"};
  MM_CHECK(filters.count(cfg.downscale),
           "image.downscale: unknown filter '{}' (expected nearest|linear|area|cubic|lanczos)", cfg.downscale);
  MM_CHECK(filters.count(cfg.upscale),
           "image.upscale: unknown filter '{}' (expected nearest|linear|area|cubic|lanczos)", cfg.upscale);
  MM_CHECK(cfg.alpha == "white" || cfg.alpha == "drop", "image.alpha: unknown '{}' (expected white | drop)", cfg.alpha);
  MM_CHECK(cfg.mean.size() == 3 && cfg.std.size() == 3, "image.mean/std: expected 3 values each (RGB), got {} and {}",
           cfg.mean.size(), cfg.std.size());
  for (double s : cfg.std) MM_CHECK(s > 0, "image.std: expected positive values, got {}", s);
}

std::vector<GridCandidate> candidate_grids(int64_t h, int64_t w, int64_t r, int64_t nmin, int64_t nmax) {
  MM_CHECK(h > 0 && w > 0, "image size must be positive, got {}x{} (h x w)", h, w);
  std::vector<GridCandidate> out;
  for (int64_t rows = 1; rows <= nmax; ++rows) {
    for (int64_t cols = 1; rows * cols <= nmax; ++cols) {
      if (rows * cols < nmin) continue;
      GridCandidate c;
      c.rows = rows;
      c.cols = cols;
      c.scale = std::min(double(rows * r) / double(h), double(cols * r) / double(w));
      c.padding = double(rows * cols * r * r) - c.scale * c.scale * double(h) * double(w);
      c.fit_case = c.scale >= 1.0 ? 1 : 2;
      out.push_back(c);
    }
  }
  return out;
}

size_t choose_grid(const std::vector<GridCandidate>& cands) {
  MM_CHECK(!cands.empty(), "no candidate grid (check image.nmin/nmax)");
  // true when a is strictly better than b.
  auto better = [&](const GridCandidate& a, const GridCandidate& b) {
    if (a.fit_case != b.fit_case) return a.fit_case < b.fit_case;  // case 1 beats case 2
    if (a.fit_case == 1 && !close(a.padding, b.padding)) return a.padding < b.padding;
    if (a.fit_case == 2 && !close(a.scale, b.scale)) return a.scale > b.scale;
    // Equal s (or equal padding) with equal tile counts only happens for grids mirrored around the
    // image's aspect (e.g. 1x4 and 2x2 for a 1:2 image), so an aspect criterion never decides;
    // fewer rows (the wider grid) does.
    if (a.rows * a.cols != b.rows * b.cols) return a.rows * a.cols < b.rows * b.cols;
    return a.rows < b.rows;
  };
  size_t best = 0;
  for (size_t i = 1; i < cands.size(); ++i) {
    if (better(cands[i], cands[best])) best = i;
  }
  return best;
}

SplitPlan plan_grid(int64_t h, int64_t w, int64_t r, int64_t rows, int64_t cols, bool overview) {
  MM_CHECK(h > 0 && w > 0, "image size must be positive, got {}x{} (h x w)", h, w);
  MM_CHECK(rows > 0 && cols > 0 && r > 0, "grid {}x{} of tile {} is invalid", rows, cols, r);
  SplitPlan p;
  p.image_h = h;
  p.image_w = w;
  p.tile = r;
  p.rows = rows;
  p.cols = cols;
  p.canvas_h = rows * r;
  p.canvas_w = cols * r;
  p.overview = overview;
  // Height limits the scale when rows*r/h <= cols*r/w, i.e. rows*w <= cols*h (exact in integers).
  if (rows * w <= cols * h) {
    p.scale = double(p.canvas_h) / double(h);
    p.scaled_h = p.canvas_h;
    p.scaled_w = std::clamp<int64_t>(div_round(w * p.canvas_h, h), 1, p.canvas_w);
  } else {
    p.scale = double(p.canvas_w) / double(w);
    p.scaled_w = p.canvas_w;
    p.scaled_h = std::clamp<int64_t>(div_round(h * p.canvas_w, w), 1, p.canvas_h);
  }
  return p;
}

SplitPlan plan_split(int64_t h, int64_t w, const ImageConfig& cfg, int64_t images_in_sample) {
  validate_image_config(cfg);
  MM_CHECK(h > 0 && w > 0, "image size must be positive, got {}x{} (h x w)", h, w);
  const SplitMode mode = parse_split_mode(cfg.mode);
  const int64_t r = cfg.tile_size;
  if (mode == SplitMode::Single || images_in_sample >= cfg.split_below_images) {
    SplitPlan p;  // the overview alone: one r x r image, no grid
    p.image_h = h;
    p.image_w = w;
    p.tile = r;
    p.overview = true;
    return p;
  }
  if (mode == SplitMode::Static) return plan_grid(h, w, r, 2, 2, cfg.overview);
  const auto cands = candidate_grids(h, w, r, cfg.nmin, cfg.nmax);
  const GridCandidate& c = cands[choose_grid(cands)];
  SplitPlan p = plan_grid(h, w, r, c.rows, c.cols, cfg.overview);
  p.fit_case = c.fit_case;
  return p;
}

}  // namespace mm::data
