// The synthetic world's pictures: scenes of coloured shapes with their exact boxes, and rendered
// text (key: value documents, tall receipts, long strips, signs) in Hershey fonts whose glyph
// height is a fraction of the model's tile, so text is legible only after the dynamic split.
#pragma once
#include <opencv2/core.hpp>

#include <array>
#include <string>
#include <vector>

#include "data_pipeline/mixture/counter_rng.h"

namespace mm::data::synth {

// The small answer vocabulary a tiny model can learn.
inline const std::vector<std::string> kColours = {"red", "green", "blue", "yellow", "purple", "orange"};
inline const std::vector<std::string> kKinds = {"circle", "square", "triangle", "star"};

struct Shape {
  int kind = 0;               // index into kKinds
  int colour = 0;             // index into kColours
  int cx = 0, cy = 0, r = 0;  // centre and half extent in pixels
  cv::Rect box;               // pixels the shape covers (inclusive x..x+width-1)
  std::string name() const { return kColours[colour] + " " + kKinds[kind]; }
};

struct Scene {
  cv::Mat image;  // CV_8UC3, BGR
  std::vector<Shape> shapes;
};

struct SceneSpec {
  int width = 128, height = 128;
  int min_shapes = 1, max_shapes = 4;
  double min_r = 0.14, max_r = 0.28;  // half extent as a fraction of min(width, height); shrunk
                                      // step by step when the requested count does not fit
  bool unique_pairs = true;           // no two shapes with the same (colour, kind)
  bool unique_colours = false;        // every colour at most once (referring by colour)
};

// BGR of a palette colour; backgrounds are greys that never equal a palette colour.
cv::Scalar colour_bgr(int colour);

// A scene of non-overlapping shapes (at least 3 px apart), drawn without anti-aliasing so each
// shape's pixels carry exactly its colour. Sizes are drawn from [min_r, max_r]; every 25 failed
// placements shrink that range by 15% so crowded scenes still get their count.
Scene make_scene(CounterRng& rng, const SceneSpec& spec);

// Ferret box of a shape on the 0..999 grid of a w x h image: [x1, y1, x2, y2] with
// x' = int(x * 1000 / w) on the pixel edges (x2 is the right edge, x + width), clamped to 999.
std::array<int, 4> grid_box(const cv::Rect& box, int w, int h);
std::string box_text(const std::array<int, 4>& b);  // "[x1, y1, x2, y2]"

// Region words of a point: "top left", "bottom right", ...
std::string region_words(int x, int y, int w, int h);

// Text rendering with a fixed cap height in pixels.
struct TextStyle {
  double cap_px = 10;    // height of a capital / digit
  int thickness = 1;     // stroke width in pixels (World::from: about cap_px / 8)
  double scale() const;  // Hershey simplex font scale giving cap_px
  int line_height() const { return static_cast<int>(cap_px * 1.9 + 0.5); }
  int text_width(const std::string& s) const;
};

// A page of lines (black on off-white) sized to fit them with margins; `min_w`/`min_h` pad it.
cv::Mat render_lines(const std::vector<std::string>& lines, const TextStyle& st, int min_w = 0, int min_h = 0);

// A scene with a sign: a coloured plate with one word or number, on a grey background.
cv::Mat render_sign(CounterRng& rng, const std::string& word, const TextStyle& st, int w, int h);

// Encodes to PNG (fast compression) or JPEG.
std::string encode_image(const cv::Mat& img, const std::string& ext, int jpeg_quality);

}  // namespace mm::data::synth
