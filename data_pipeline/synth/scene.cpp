#include "data_pipeline/synth/scene.h"

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>

#include "core/check.h"

namespace mm::data::synth {

cv::Scalar colour_bgr(int colour) {
  static const cv::Scalar table[] = {
      {30, 30, 220},   // red
      {40, 180, 40},   // green
      {220, 80, 30},   // blue
      {30, 220, 240},  // yellow
      {170, 40, 150},  // purple
      {20, 140, 255},  // orange
  };
  return table[colour];
}

namespace {

std::vector<cv::Point> shape_polygon(const Shape& s) {
  std::vector<cv::Point> pts;
  if (s.kind == 2) {  // triangle: apex up, base at the bottom of the box
    pts = {{s.cx, s.cy - s.r}, {s.cx + s.r, s.cy + s.r}, {s.cx - s.r, s.cy + s.r}};
  } else if (s.kind == 3) {  // five-pointed star
    for (int i = 0; i < 10; ++i) {
      const double a = -M_PI / 2 + i * M_PI / 5;
      const double rad = (i % 2 == 0) ? s.r : s.r * 0.45;
      pts.emplace_back(s.cx + static_cast<int>(std::lround(rad * std::cos(a))),
                       s.cy + static_cast<int>(std::lround(rad * std::sin(a))));
    }
  }
  return pts;
}

void draw_shape(cv::Mat& img, const Shape& s) {
  const cv::Scalar c = colour_bgr(s.colour);
  if (s.kind == 0) {
    cv::circle(img, {s.cx, s.cy}, s.r, c, cv::FILLED, cv::LINE_8);
  } else if (s.kind == 1) {
    cv::rectangle(img, cv::Point(s.cx - s.r, s.cy - s.r), cv::Point(s.cx + s.r, s.cy + s.r), c, cv::FILLED, cv::LINE_8);
  } else {
    const auto pts = shape_polygon(s);
    cv::fillPoly(img, std::vector<std::vector<cv::Point>>{pts}, c, cv::LINE_8);
  }
}

cv::Rect shape_box(const Shape& s) {
  if (s.kind <= 1) return {s.cx - s.r, s.cy - s.r, 2 * s.r + 1, 2 * s.r + 1};
  const auto pts = shape_polygon(s);
  return cv::boundingRect(pts);
}

}  // namespace

Scene make_scene(CounterRng& rng, const SceneSpec& spec) {
  static const int greys[] = {35, 70, 110, 150, 200};
  const int g = greys[rng.below(5)];
  Scene scene;
  scene.image = cv::Mat(spec.height, spec.width, CV_8UC3, cv::Scalar(g, g, g));
  const int side = std::min(spec.width, spec.height);
  const int n = static_cast<int>(rng.range(spec.min_shapes, spec.max_shapes));
  double shrink = 1.0;
  for (int attempt = 0; attempt < 400 && static_cast<int>(scene.shapes.size()) < n; ++attempt) {
    if (attempt > 0 && attempt % 25 == 0) shrink *= 0.85;
    Shape s;
    s.kind = static_cast<int>(rng.below(kKinds.size()));
    s.colour = static_cast<int>(rng.below(kColours.size()));
    s.r = std::max(3, static_cast<int>(side * shrink * (spec.min_r + (spec.max_r - spec.min_r) * rng.uniform())));
    s.cx = static_cast<int>(rng.range(s.r + 2, spec.width - s.r - 3));
    s.cy = static_cast<int>(rng.range(s.r + 2, spec.height - s.r - 3));
    s.box = shape_box(s);
    bool ok = true;
    for (const auto& o : scene.shapes) {
      if (spec.unique_pairs && o.kind == s.kind && o.colour == s.colour) ok = false;
      if (spec.unique_colours && o.colour == s.colour) ok = false;
      const cv::Rect grown(o.box.x - 3, o.box.y - 3, o.box.width + 6, o.box.height + 6);
      if ((grown & s.box).area() > 0) ok = false;
    }
    if (ok) scene.shapes.push_back(s);
  }
  MM_CHECK(!scene.shapes.empty(), "synth: could not place shapes in a {}x{} scene", spec.width, spec.height);
  for (const auto& s : scene.shapes) draw_shape(scene.image, s);
  return scene;
}

std::array<int, 4> grid_box(const cv::Rect& b, int w, int h) {
  auto gx = [&](int x) { return std::min(999, static_cast<int>(static_cast<int64_t>(x) * 1000 / w)); };
  auto gy = [&](int y) { return std::min(999, static_cast<int>(static_cast<int64_t>(y) * 1000 / h)); };
  return {gx(b.x), gy(b.y), gx(b.x + b.width), gy(b.y + b.height)};
}

std::string box_text(const std::array<int, 4>& b) {
  return "[" + std::to_string(b[0]) + ", " + std::to_string(b[1]) + ", " + std::to_string(b[2]) + ", " +
         std::to_string(b[3]) + "]";
}

std::string region_words(int x, int y, int w, int h) {
  const std::string v = y < h / 3 ? "top" : (y >= 2 * h / 3 ? "bottom" : "middle");
  const std::string u = x < w / 3 ? "left" : (x >= 2 * w / 3 ? "right" : "centre");
  if (v == "middle" && u == "centre") return "centre";
  if (v == "middle") return u;
  if (u == "centre") return v;
  return v + " " + u;
}

double TextStyle::scale() const {
  // Hershey simplex: a digit is 21 px tall at scale 1 (getTextSize reports the cap height).
  int base = 0;
  const cv::Size sz = cv::getTextSize("0", cv::FONT_HERSHEY_SIMPLEX, 1.0, thickness, &base);
  return cap_px / sz.height;
}

int TextStyle::text_width(const std::string& s) const {
  int base = 0;
  return cv::getTextSize(s, cv::FONT_HERSHEY_SIMPLEX, scale(), thickness, &base).width;
}

cv::Mat render_lines(const std::vector<std::string>& lines, const TextStyle& st, int min_w, int min_h) {
  const int margin = static_cast<int>(st.cap_px * 0.8) + 2;
  int w = 0;
  for (const auto& l : lines) w = std::max(w, st.text_width(l));
  w = std::max(min_w, w + 2 * margin);
  const int h = std::max(min_h, static_cast<int>(lines.size()) * st.line_height() + 2 * margin);
  cv::Mat img(h, w, CV_8UC3, cv::Scalar(235, 245, 250));
  const double scale = st.scale();
  for (size_t i = 0; i < lines.size(); ++i) {
    const int baseline = margin + static_cast<int>(i) * st.line_height() + static_cast<int>(st.cap_px + 0.5);
    cv::putText(img, lines[i], {margin, baseline}, cv::FONT_HERSHEY_SIMPLEX, scale, cv::Scalar(20, 20, 20),
                st.thickness, cv::LINE_AA);
  }
  return img;
}

cv::Mat render_sign(CounterRng& rng, const std::string& word, const TextStyle& st, int w, int h) {
  const int g = 60 + static_cast<int>(rng.below(120));
  cv::Mat img(h, w, CV_8UC3, cv::Scalar(g, g, g));
  const int tw = st.text_width(word);
  const int pad = static_cast<int>(st.cap_px * 0.7) + 2;
  const int pw = std::min(w - 2, tw + 2 * pad), ph = std::min(h - 2, static_cast<int>(st.cap_px) + 2 * pad);
  const int x = static_cast<int>(rng.range(1, std::max(1, w - pw - 1)));
  const int y = static_cast<int>(rng.range(1, std::max(1, h - ph - 1)));
  const int plate = static_cast<int>(rng.below(3));  // white, yellow or green plate
  const cv::Scalar plate_bgr = plate == 0   ? cv::Scalar(245, 245, 245)
                               : plate == 1 ? cv::Scalar(40, 215, 245)
                                            : cv::Scalar(60, 150, 40);
  const cv::Scalar ink = plate == 2 ? cv::Scalar(250, 250, 250) : cv::Scalar(15, 15, 15);
  cv::rectangle(img, cv::Rect(x, y, pw, ph), plate_bgr, cv::FILLED);
  cv::putText(img, word, {x + pad, y + pad + static_cast<int>(st.cap_px + 0.5)}, cv::FONT_HERSHEY_SIMPLEX, st.scale(),
              ink, st.thickness, cv::LINE_AA);
  return img;
}

std::string encode_image(const cv::Mat& img, const std::string& ext, int jpeg_quality) {
  std::vector<uchar> buf;
  std::vector<int> params;
  if (ext == "png")
    params = {cv::IMWRITE_PNG_COMPRESSION, 1};
  else
    params = {cv::IMWRITE_JPEG_QUALITY, jpeg_quality};
  MM_CHECK(cv::imencode("." + ext, img, buf, params), "synth: could not encode a {} image", ext);
  return std::string(buf.begin(), buf.end());
}

}  // namespace mm::data::synth
