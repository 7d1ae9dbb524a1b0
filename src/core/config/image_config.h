// Typed configuration of image preprocessing: decode limits, the MM1.5 split (single | static |
// dynamic), position indicators, resize quality and CLIP normalisation (visit() pattern).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace mm {

struct ImageConfig {
  std::string mode = "dynamic";      // single | static | dynamic (docs/images.md)
  int64_t tile_size = 672;           // r: tile side in pixels; must equal model.vision.image_size
  int64_t nmin = 4;                  // dynamic: fewest tiles of a candidate grid
  int64_t nmax = 9;                  // dynamic: most tiles of a candidate grid
  std::string indicators = "index";  // none | index | seps
  bool overview = true;              // append the whole image resized to r x r after the tiles
  int64_t split_below_images = 3;    // split only samples with fewer images; others: overview only
  int64_t max_pixels = 64000000;     // reject images with more pixels (checked before decoding)
  std::string downscale = "area";    // resize filter when shrinking: nearest|linear|area|cubic|lanczos
  std::string upscale = "cubic";     // resize filter when enlarging (bicubic)
  std::string alpha = "white";       // white: composite on white | drop: ignore the alpha channel
  std::vector<double> mean = {0.48145466, 0.4578275, 0.40821073};   // CLIP, RGB
  std::vector<double> std = {0.26862954, 0.26130258, 0.27577711};   // CLIP, RGB

  template <class V>
  void visit(V& v) {
    v("mode", mode, "splitting: single (one r x r image) | static (2x2 + overview) | dynamic");
    v("tile_size", tile_size, "tile side r in pixels (= model.vision.image_size)");
    v("nmin", nmin, "dynamic: fewest tiles in a candidate grid");
    v("nmax", nmax, "dynamic: most tiles in a candidate grid");
    v("indicators", indicators, "tile position indicators: none | index | seps");
    v("overview", overview, "append the whole image resized to r x r after the tiles");
    v("split_below_images", split_below_images, "split only samples with fewer images than this");
    v("max_pixels", max_pixels, "largest accepted image (width x height), checked before decoding");
    v("downscale", downscale, "resize filter when shrinking: nearest|linear|area|cubic|lanczos");
    v("upscale", upscale, "resize filter when enlarging: nearest|linear|area|cubic|lanczos");
    v("alpha", alpha, "transparent images: white (composite on white) | drop (ignore alpha)");
    v("mean", mean, "per-channel RGB mean (0..1) subtracted before dividing by std");
    v("std", std, "per-channel RGB standard deviation (0..1)");
  }
};

}  // namespace mm
