// The MM1.5 image split as a plan: which grid of r x r tiles, how the image is scaled and where it
// sits on the padded canvas, whether an overview follows. A pure function of (h, w, config):
// no pixels, no OpenCV, no torch (the pixel work is in tiles.h). Algorithm: docs/images.md.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/config/image_config.h"

namespace mm::data {

enum class SplitMode { Single, Static, Dynamic };
SplitMode parse_split_mode(const std::string& name);  // throws mm::Error listing the valid names

// One candidate grid of the dynamic split, with the quantities the choice is made on.
struct GridCandidate {
  int64_t rows = 0, cols = 0;
  double scale = 0;    // s = min(rows*r/h, cols*r/w)
  double padding = 0;  // rows*cols*r^2 - s^2*h*w (canvas pixels not covered by the image)
  int fit_case = 0;    // 1: s >= 1 (no downscaling), 2: s < 1
};

struct SplitPlan {
  int64_t image_h = 0, image_w = 0;    // source size
  int64_t tile = 0;                    // r
  int64_t rows = 0, cols = 0;          // grid; 0 x 0 = no tiles (the overview is the only image)
  double scale = 0;                    // s: image resized by s (aspect kept), 0 without a grid
  int64_t scaled_h = 0, scaled_w = 0;  // resized image, placed at the canvas' top-left corner
  int64_t canvas_h = 0, canvas_w = 0;  // rows*r x cols*r; right/bottom remainder is padding
  bool overview = false;               // the whole image stretched to r x r, after the tiles
  int fit_case = 0;                    // dynamic: 1 or 2 (see GridCandidate); 0: fixed grid or none

  int64_t num_tiles() const { return rows * cols; }                        // sub-images, overview excluded
  int64_t num_images() const { return num_tiles() + (overview ? 1 : 0); }  // tiles + overview
  int64_t padding() const { return canvas_h * canvas_w - scaled_h * scaled_w; }
  int64_t tokens(int64_t tokens_per_tile) const { return num_images() * tokens_per_tile; }
};

// All grids with nmin <= rows*cols <= nmax, row-major in (rows, cols).
std::vector<GridCandidate> candidate_grids(int64_t h, int64_t w, int64_t r, int64_t nmin, int64_t nmax);

// The dynamic choice: case 1 (s >= 1) beats case 2; case 1 takes the least padding, case 2 the
// largest s; ties go to fewer tiles, then fewer rows. Returns an index into `cands`.
size_t choose_grid(const std::vector<GridCandidate>& cands);

// The plan of a fixed (rows x cols) grid: s = min(rows*r/h, cols*r/w), image at top-left.
SplitPlan plan_grid(int64_t h, int64_t w, int64_t r, int64_t rows, int64_t cols, bool overview);

// The plan for an image of h x w inside a sample holding `images_in_sample` images. Single mode,
// and any sample with >= cfg.split_below_images images, give the overview alone (one r x r image).
SplitPlan plan_split(int64_t h, int64_t w, const ImageConfig& cfg, int64_t images_in_sample = 1);

// Throws mm::Error naming the key when the config cannot be used (tile_size, nmin/nmax, mode,
// indicators, filters, alpha, mean/std).
void validate_image_config(const ImageConfig& cfg);

}  // namespace mm::data
