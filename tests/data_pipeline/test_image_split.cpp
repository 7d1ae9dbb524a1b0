// The dynamic split's grid choice (sizes worked out by hand below), fixed modes, the
// fewer-than-3-images rule and the position indicator layouts.
#include <catch2/catch.hpp>

#include "data_pipeline/image/split_plan.h"

using namespace mm::data;

namespace {

mm::ImageConfig dynamic_cfg(int64_t r = 672, int64_t nmin = 4, int64_t nmax = 9) {
  mm::ImageConfig c;
  c.mode = "dynamic";
  c.tile_size = r;
  c.nmin = nmin;
  c.nmax = nmax;
  return c;
}

}  // namespace

TEST_CASE("dynamic split picks the spec's grid for a table of sizes", "[image][split]") {
  // r = 672, (nmin, nmax) = (4, 9). Sizes are (h, w). Candidate grids: 1x4..1x9, 2x2..2x4, 3x2,
  // 3x3, 4x1, 4x2, 5x1..9x1. Paddings below in units of r^2.
  struct Row {
    int64_t h, w, rows, cols, fit_case;
    const char* why;
  };
  const Row table[] = {
      // 2x2: s = min(1344/1000, 1344/1000) = 1.344 >= 1, padding 4 - 4 = 0; 3x3 also pads 0 ->
      // the tie goes to fewer tiles.
      {1000, 1000, 2, 2, 1, "square, fits 2x2 after upscaling"},
      // 2x2: s = 0.667 (case 2); 3x3: s = 2016/2016 = 1, padding 0 -> case 1 wins.
      {2016, 2016, 3, 3, 1, "square, exact 3x3 multiple"},
      // Wide 300 x 4000 (h x w): only 1xN grids with N*672 >= 4000 fit (N >= 6); s = N*672/4000
      // limited by the width, padding = N - N^2 * 300/4000 = N - 0.075 N^2:
      // 1x6: 3.30, 1x7: 3.325, 1x8: 3.20, 1x9: 2.925 (least) -> 1x9 (scaled 454 x 6048).
      {300, 4000, 1, 9, 1, "wide strip"},
      // Mirror image of the above.
      {4000, 300, 9, 1, 1, "tall strip"},
      // Tiny square: every grid has s >= 1; 2x2 and 3x3 pad 0 -> fewer tiles: 2x2 (50 -> 1344).
      {50, 50, 2, 2, 1, "tiny square"},
      // 672 x 1344 (h x w): 2x4 has s = min(2, 2) = 2 and padding 0; 1x4 and 2x2 pad 2, 2x3 pads
      // 6 - 4.5 = 1.5 -> 2x4.
      {672, 1344, 2, 4, 1, "exact multiple 1x2 of the tile"},
      // 1344 x 2688: only 2x4 reaches s >= 1 (s = 1, padding 0); 1xN and Nx1 give s <= 0.5.
      {1344, 2688, 2, 4, 1, "exact multiple 2x4 of the tile"},
      // 672 x 672: 2x2 s = 2 padding 0, 3x3 s = 3 padding 0 -> fewer tiles: 2x2.
      {672, 672, 2, 2, 1, "exactly one tile"},
      // Huge square: every s < 1; the largest is 3x3's 2016/10000 -> case 2, 3x3.
      {10000, 10000, 3, 3, 2, "huge square"},
      // Huge panorama 1000 x 20000: s < 1 everywhere; 1x9 gives min(0.672, 6048/20000 = 0.3024),
      // 2x4 gives min(1.344, 0.1344) -> 1x9.
      {1000, 20000, 1, 9, 2, "huge panorama"},
  };
  for (const auto& row : table) {
    INFO(row.why << " (" << row.h << " x " << row.w << ")");
    const SplitPlan p = plan_split(row.h, row.w, dynamic_cfg());
    CHECK(p.rows == row.rows);
    CHECK(p.cols == row.cols);
    CHECK(p.fit_case == row.fit_case);
    CHECK(p.overview);
    CHECK(p.canvas_h == row.rows * 672);
    CHECK(p.canvas_w == row.cols * 672);
    CHECK(p.scaled_h <= p.canvas_h);
    CHECK(p.scaled_w <= p.canvas_w);
    // One side fills the canvas exactly: the image touches the right or the bottom edge.
    CHECK((p.scaled_h == p.canvas_h || p.scaled_w == p.canvas_w));
  }
}

TEST_CASE("dynamic split scale, scaled size and padding", "[image][split]") {
  // 300 x 4000 on 1x9: s = 6048/4000 = 1.512, height 300 * 1.512 = 453.6 -> 454.
  const SplitPlan p = plan_split(300, 4000, dynamic_cfg());
  CHECK(p.scale == Approx(1.512));
  CHECK(p.scaled_h == 454);
  CHECK(p.scaled_w == 6048);
  CHECK(p.padding() == 672 * 6048 - 454 * 6048);
  // 2016 x 2016 on 3x3 needs no resize at all.
  const SplitPlan q = plan_split(2016, 2016, dynamic_cfg());
  CHECK(q.scale == 1.0);
  CHECK(q.scaled_h == 2016);
  CHECK(q.padding() == 0);
  CHECK(q.num_tiles() == 9);
  CHECK(q.num_images() == 10);
  CHECK(q.tokens(144) == 1440);  // the spec's "up to 1440" for (4, 9)
}

TEST_CASE("dynamic split tie-breaks: fewer tiles, then fewer rows", "[image][split]") {
  // nmax = 8 removes 3x3: for a huge square 2x2, 2x3, 3x2, 2x4, 4x2 all reach s = 1344/10000;
  // fewer tiles -> 2x2.
  SplitPlan p = plan_split(10000, 10000, dynamic_cfg(672, 4, 8));
  CHECK(p.rows == 2);
  CHECK(p.cols == 2);
  // (nmin, nmax) = (4, 4), 2000 x 4000: 1x4 s = min(672/2000, 2688/4000) = 0.336 and 2x2
  // s = min(1344/2000, 1344/4000) = 0.336 tie on s and tile count -> fewer rows: 1x4.
  p = plan_split(2000, 4000, dynamic_cfg(672, 4, 4));
  CHECK(p.rows == 1);
  CHECK(p.cols == 4);
  // (6, 6) on a huge square: 2x3 and 3x2 both s = 0.1344 -> 2x3.
  p = plan_split(10000, 10000, dynamic_cfg(672, 6, 6));
  CHECK(p.rows == 2);
  CHECK(p.cols == 3);
}

TEST_CASE("candidate grids cover exactly nmin..nmax tiles", "[image][split]") {
  const auto c = candidate_grids(100, 100, 672, 4, 9);
  // tile counts 4..9: 4 -> 3 grids, 5 -> 2, 6 -> 4, 7 -> 2, 8 -> 4, 9 -> 3 = 18.
  CHECK(c.size() == 18);
  for (const auto& g : c) {
    CHECK(g.rows * g.cols >= 4);
    CHECK(g.rows * g.cols <= 9);
  }
  mm::ImageConfig bad = dynamic_cfg(672, 5, 4);
  CHECK_THROWS_WITH(plan_split(100, 100, bad), Catch::Contains("nmin"));
  bad = dynamic_cfg();
  bad.mode = "tiled";
  CHECK_THROWS_WITH(plan_split(100, 100, bad), Catch::Contains("single | static | dynamic"));
}

TEST_CASE("static mode is a fixed 2x2 grid plus overview", "[image][split]") {
  mm::ImageConfig c = dynamic_cfg();
  c.mode = "static";
  for (auto [h, w] : {std::pair<int64_t, int64_t>{50, 50}, {300, 4000}, {10000, 10000}}) {
    const SplitPlan p = plan_split(h, w, c);
    CHECK(p.rows == 2);
    CHECK(p.cols == 2);
    CHECK(p.overview);
    CHECK(p.tokens(144) == 720);
  }
  // 300 x 4000 on 2x2: s = 1344/4000 = 0.336, 100.8 -> 101 rows of image, the rest padding.
  const SplitPlan p = plan_split(300, 4000, c);
  CHECK(p.scaled_w == 1344);
  CHECK(p.scaled_h == 101);
}

TEST_CASE("single mode and samples with >= 3 images give one tile per image", "[image][split]") {
  mm::ImageConfig c = dynamic_cfg();
  c.mode = "single";
  SplitPlan p = plan_split(2016, 2016, c);
  CHECK(p.num_tiles() == 0);
  CHECK(p.overview);
  CHECK(p.num_images() == 1);
  CHECK(p.tokens(144) == 144);

  c.mode = "dynamic";
  CHECK(plan_split(2016, 2016, c, 1).num_images() == 10);
  CHECK(plan_split(2016, 2016, c, 2).num_images() == 10);
  p = plan_split(2016, 2016, c, 3);  // the spec's "< 3 images" rule
  CHECK(p.num_tiles() == 0);
  CHECK(p.num_images() == 1);
  c.split_below_images = 5;
  CHECK(plan_split(2016, 2016, c, 4).num_images() == 10);
  // A single image is the overview even when overviews are switched off.
  c.overview = false;
  CHECK(plan_split(2016, 2016, c, 5).num_images() == 1);
  CHECK(plan_split(2016, 2016, c, 1).num_images() == 9);
}
