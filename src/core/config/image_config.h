// Typed configuration of image preprocessing: decode limits, the MM1.5 split (single | static |
// dynamic), position indicators, resize quality and CLIP normalisation (visit() pattern).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/config/rules.h"

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
  std::vector<double> mean = {0.48145466, 0.4578275, 0.40821073};  // CLIP, RGB
  std::vector<double> std = {0.26862954, 0.26130258, 0.27577711};  // CLIP, RGB

  template <class V>
  void visit(V& v) {
    const auto filters = cfg::one_of({"nearest", "linear", "area", "cubic", "lanczos"});
    v("mode", mode, "splitting: single (one r x r image) | static (2x2 + overview) | dynamic",
      cfg::one_of({"single", "static", "dynamic"}));
    v("tile_size", tile_size, "tile side r in pixels (= model.vision.image_size)", cfg::positive());
    v("nmin", nmin, "dynamic: fewest tiles in a candidate grid", cfg::in_range(1, kMaxTiles));
    v("nmax", nmax, "dynamic: most tiles in a candidate grid", cfg::in_range(1, kMaxTiles));
    v("indicators", indicators, "tile position indicators: none | index | seps",
      cfg::one_of({"none", "index", "seps"}));
    v("overview", overview, "append the whole image resized to r x r after the tiles");
    v("split_below_images", split_below_images, "split only samples with fewer images than this", cfg::non_negative());
    v("max_pixels", max_pixels, "largest accepted image (width x height), checked before decoding", cfg::positive());
    v("downscale", downscale, "resize filter when shrinking: nearest|linear|area|cubic|lanczos", filters);
    v("upscale", upscale, "resize filter when enlarging: nearest|linear|area|cubic|lanczos", filters);
    v("alpha", alpha, "transparent images: white (composite on white) | drop (ignore alpha)",
      cfg::one_of({"white", "drop"}));
    v("mean", mean, "per-channel RGB mean (0..1) subtracted before dividing by std", cfg::in_range(0, 1));
    v("std", std, "per-channel RGB standard deviation (0..1)", cfg::positive() & cfg::at_most(1));
  }

  static constexpr int64_t kMaxTiles = 64;  // the most tiles a grid may have (data::validate_image_config)

  void validate(cfg::Problems& p) const {
    if (nmin > nmax) p.add("nmin", "must not exceed nmax (" + std::to_string(nmax) + ")");
    if (mean.size() != 3) p.add("mean", "must hold 3 values (R, G, B), got " + std::to_string(mean.size()));
    if (std.size() != 3) p.add("std", "must hold 3 values (R, G, B), got " + std::to_string(std.size()));
  }
};

}  // namespace mm
